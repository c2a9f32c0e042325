// libFuzzer target for the anthropic plugin's translations, both ways
// (plugins/anthropic/translate_request.cpp, translate_response.cpp,
// thinking_carry.cpp). Their input is a client's body or a provider's
// answer: untrusted bytes that end up in JSON the gateway sends on.
//
// The first input byte picks what the rest is (mode & 3):
//   0  an OpenAI chat body -> a Messages body; with bit 2 the rest is also
//      carried through a tool-call id and must come back unchanged;
//   1  a whole Messages answer -> a chat.completion;
//   2  a /v1/messages SSE body, read with the SDK's SSE splitter and
//      translated event by event;
//   3  the same as 2, cut into pieces at points taken from a hash of the
//      input (so every finding reproduces from the file alone).
// Besides crashes and sanitizer reports it aborts when a property breaks:
//   - a translation that succeeds gives one valid JSON value; one that
//     fails gives an error with a status (answers) and a message;
//   - every stream event sent to the client is "data: <JSON>\n\n" or
//     "data: [DONE]\n\n", [DONE] is the last, and it comes exactly when
//     the translator says the answer ended;
//   - a stream gives the same bytes however it is cut.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aigw_plugin.hpp"
#include "thinking_carry.h"
#include "translate_request.h"
#include "translate_response.h"

namespace {

namespace a = aigw::anthropic_plugin;

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz check failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
  return h;
}

bool valid_json(std::string_view s) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  return parser.parse(s.data(), s.size()).get(e) == simdjson::SUCCESS;
}

void check_failure(const a::Outcome& oc) {
  FUZZ_CHECK(oc.error);
  FUZZ_CHECK(oc.status >= 400 && oc.status <= 599);
  FUZZ_CHECK(!oc.message.empty());
}

// Returns whether [DONE] was sent.
bool check_stream_output(std::string_view out) {
  size_t pos = 0;
  bool done = false;
  while (pos < out.size()) {
    FUZZ_CHECK(!done);  // nothing after [DONE]
    FUZZ_CHECK(out.substr(pos, 6) == "data: ");
    size_t end = out.find("\n\n", pos);
    FUZZ_CHECK(end != std::string_view::npos);
    std::string_view data = out.substr(pos + 6, end - pos - 6);
    if (data == "[DONE]") {
      done = true;
    } else {
      FUZZ_CHECK(data.find('\n') == std::string_view::npos);
      FUZZ_CHECK(valid_json(data));
    }
    pos = end + 2;
  }
  return done;
}

// Feeds `body` to a StreamTranslator through the SDK's splitter, in pieces
// of the given lengths (empty: all at once), as request.cpp does (events
// after the end or an error are not translated). Returns everything sent.
std::string run_stream(std::string_view body, const std::vector<size_t>& cuts) {
  a::ChatContext ctx;
  ctx.id = "chatcmpl-fuzz";
  ctx.model = "claude-fuzz";
  ctx.created = 1;
  ctx.include_usage = true;
  a::StreamTranslator t(ctx);
  aigw::sdk::SseSplitter sse;
  std::string out;
  bool stop = false, failed = false;
  auto on_event = [&](std::string_view event) {
    std::string data;
    int lines = 0;
    aigw::sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
      if (name != "data") return;
      if (lines++ != 0) data.push_back('\n');
      data.append(value);
    });
    if (lines == 0) return true;
    if (!t.on_event(data, out)) {
      failed = stop = true;
      return false;
    }
    if (t.ended()) stop = true;
    return !stop;
  };
  size_t pos = 0;
  for (size_t i = 0; pos < body.size() && !stop; ++i) {
    size_t n = cuts.empty() ? body.size() : cuts[i % cuts.size()];
    if (n > body.size() - pos) n = body.size() - pos;
    if (!sse.feed(body.substr(pos, n), on_event)) break;
    pos += n;
  }
  if (failed) check_failure(t.outcome());
  bool done = check_stream_output(out);
  FUZZ_CHECK(done == t.ended());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  static simdjson::dom::parser parser;

  switch (mode & 3) {
    case 0: {
      std::string out;
      a::ChatRequestInfo info;
      a::RequestError err;
      if (a::translate_chat_request(parser, body, "claude-sonnet-4-5", out, info, err)) {
        FUZZ_CHECK(valid_json(out));
      } else {
        FUZZ_CHECK(!err.message.empty());
      }
      if (mode & 4) {
        std::string id = a::make_tool_call_id("toolu_fuzz", body);
        std::string_view use_id;
        std::string back;
        FUZZ_CHECK(a::split_tool_call_id(id, use_id, back));
        FUZZ_CHECK(use_id == "toolu_fuzz");
        FUZZ_CHECK(back == body);
      }
      break;
    }
    case 1: {
      a::ChatContext ctx;
      ctx.id = "chatcmpl-fuzz";
      ctx.model = "claude-fuzz";
      std::string out;
      a::Outcome oc;
      a::translate_chat_response(parser, body, ctx, out, oc);
      if (oc.error) {
        check_failure(oc);
        FUZZ_CHECK(out.empty());
      } else {
        FUZZ_CHECK(valid_json(out));
      }
      break;
    }
    case 2:
      run_stream(body, {});
      break;
    case 3: {
      uint64_t h = fnv1a(data, size);
      std::vector<size_t> cuts;
      for (int i = 0; i < 8; ++i, h >>= 8) cuts.push_back(1 + (h & 0x3f));
      std::string whole = run_stream(body, {});
      std::string pieces = run_stream(body, cuts);
      FUZZ_CHECK(whole == pieces);
      break;
    }
  }
  return 0;
}
