// Request parsing cost per request: the head of a typical chat completion as
// the OpenAI python SDK sends it, and a chunked body. Figures and method are
// in docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include "micro.h"

#include <string>
#include <string_view>

#include "http/request.h"

namespace {

using aigw::http::ChunkedDecoder;
using aigw::http::Limits;
using aigw::http::parse_request_head;
using aigw::http::ParseError;
using aigw::http::ParseStatus;
using aigw::http::RequestHead;

// 10 headers, about 400 bytes: the shape of a real SDK request.
const std::string kChatHead =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: api.openai.com\r\n"
    "User-Agent: OpenAI/Python 1.51.2\r\n"
    "Authorization: Bearer sk-proj-Xq3vN8dK2mLpR7tY1wZ5bC9hF4jG6sA0eU2iO8nM3kQ7rT1v\r\n"
    "Content-Type: application/json\r\n"
    "Accept: application/json\r\n"
    "Content-Length: 1187\r\n"
    "X-Stainless-Lang: python\r\n"
    "X-Stainless-Package-Version: 1.51.2\r\n"
    "X-Stainless-Runtime-Version: 3.12.4\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

void BM_ParseChatHead(benchmark::State& state) {
  const Limits limits;
  RequestHead head;
  ParseError err;
  for (auto _ : state) {
    const ParseStatus s = parse_request_head(kChatHead, limits, head, err);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(head.content_length);
  }
  if (parse_request_head(kChatHead, limits, head, err) != ParseStatus::complete ||
      head.headers.size() != 10) {
    state.SkipWithError("head did not parse");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kChatHead.size()));
  state.counters["head_bytes"] = static_cast<double>(kChatHead.size());
}
AIGW_MICRO(BM_ParseChatHead);

// Minimal GET: the fixed cost of a parse.
void BM_ParseSmallGet(benchmark::State& state) {
  const std::string req = "GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n";
  const Limits limits;
  RequestHead head;
  ParseError err;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_request_head(req, limits, head, err));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
AIGW_MICRO(BM_ParseSmallGet);

// 4 KiB of payload in 512-byte chunks, fed in one piece.
std::string make_chunked_body() {
  std::string body;
  const std::string chunk(512, 'x');
  for (int i = 0; i < 8; ++i) body += "200\r\n" + chunk + "\r\n";
  body += "0\r\n\r\n";
  return body;
}

void BM_ChunkedDecode4K(benchmark::State& state) {
  const std::string in = make_chunked_body();
  const Limits limits;
  std::string out;
  out.reserve(4096);
  ParseError err;
  for (auto _ : state) {
    ChunkedDecoder dec;
    out.clear();
    size_t consumed = 0;
    benchmark::DoNotOptimize(dec.feed(in, consumed, out, limits, err));
    benchmark::DoNotOptimize(out.data());
  }
  if (out.size() != 4096) state.SkipWithError("body did not decode");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 4096));
}
AIGW_MICRO(BM_ChunkedDecode4K);

}  // namespace

BENCHMARK_MAIN();
