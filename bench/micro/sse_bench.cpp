// SSE framing both ways: reading upstream events (src/http/sse.h, what a
// stream's bytes go through) and writing an event.
#include <benchmark/benchmark.h>

#include "micro.h"

#include <string>

#include "http/sse.h"

namespace {

std::string make_stream(int events) {
  std::string s;
  for (int i = 0; i < events; ++i) {
    aigw::http::append_sse_event(
        s, R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",)"
           R"("choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]})");
  }
  aigw::http::append_sse_event(s, "[DONE]");
  return s;
}

void BM_SseReadEvents(benchmark::State& state) {
  const std::string stream = make_stream(50);
  for (auto _ : state) {
    aigw::http::SseReader reader;
    size_t n = 0;
    reader.feed(stream, [&](const aigw::http::SseEvent& e) { n += e.data.size(); });
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * 51);  // events
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
AIGW_MICRO(BM_SseReadEvents);

void BM_SseWriteEvent(benchmark::State& state) {
  const std::string data =
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[]})";
  std::string out;
  for (auto _ : state) {
    out.clear();
    aigw::http::append_sse_event(out, data);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_SseWriteEvent);

}  // namespace

BENCHMARK_MAIN();
