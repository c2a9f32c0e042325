// What aigw does with a request body on the way to a provider: extract the
// routing fields with simdjson On-Demand (as src/gateway/runtime.cpp
// does) and splice a mapped model name into the original bytes (as the openai
// plugin does) instead of re-serialising. And what the openai plugin's JSON
// scanner costs on a body: a short completion, one with logprobs, and a long
// conversation with tool calls (a stream request is scanned for its
// stream_options). And reading the usage object the scanner copied out.
#include <benchmark/benchmark.h>

#include "micro.h"
#include <simdjson.h>

#include <string>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "json_scan.h"
#include "splice.h"
#include "usage.h"

namespace {

// A realistic ~600-byte chat-completion request.
const std::string kBody =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant that answers briefly and precisely."},{"role":"user","content":"I am )"
    R"(planning a three day trip to Lisbon in early spring. Which neighbourhoods should I )"
    R"(stay in if I want to walk to most sights, and what are two day trips worth taking )"
    R"(by train? Please keep the answer under two hundred words."}],"temperature":0.7,)"
    R"("top_p":1,"max_tokens":400,"presence_penalty":0,"frequency_penalty":0,"stream":true,)"
    R"("stream_options":{"include_usage":true},"user":"user-1234567890","n":1})";

void BM_ExtractModelAndStream(benchmark::State& state) {
  simdjson::ondemand::parser parser;
  std::string json;
  json.reserve(kBody.size() + simdjson::SIMDJSON_PADDING);
  json.assign(kBody);
  for (auto _ : state) {
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(json.data(), json.size(), json.capacity()).get(doc) || doc.get_object().get(obj)) {
      state.SkipWithError("parse failed");
      return;
    }
    std::string_view model, raw;
    bool stream = false;
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      if (key == "model") {
        raw = field.value().raw_json_token();
        if (field.value().get_string().get(model)) break;
      } else if (key == "stream") {
        if (field.value().get_bool().get(stream)) break;
      }
    }
    benchmark::DoNotOptimize(model);
    benchmark::DoNotOptimize(raw);
    benchmark::DoNotOptimize(stream);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBody.size()));
}
AIGW_MICRO(BM_ExtractModelAndStream);

void BM_SpliceModelName(benchmark::State& state) {
  aigw_host_bytes body{reinterpret_cast<const uint8_t*>(kBody.data()), kBody.size()};
  const uint64_t off = kBody.find("gpt-4o-mini");
  for (auto _ : state) {
    std::string name;
    aigw::sdk::append_json_escaped(name, "gpt-4o-mini-2024-07-18");
    aigw::openai_plugin::Edit edit{off, 11, name};
    aigw_plugin_bytes out[3];
    size_t n = aigw::openai_plugin::splice_chunks(&body, 1, &edit, 1, out);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_SpliceModelName);

// The mock's non-stream answer (16 words), as a provider sends it.
const std::string kCompletion =
    R"({"id":"chatcmpl-mock-0-1","object":"chat.completion","created":1796613595,"model":"mock-model",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"tok0 tok1 tok2 tok3 tok4 tok5 )"
    R"(tok6 tok7 tok8 tok9 tok10 tok11 tok12 tok13 tok14 tok15","refusal":null},"logprobs":null,)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":22,"completion_tokens":16,"total_tokens":38}})";

// An answer of 100 tokens with logprobs and two alternatives each (~19 KB).
std::string logprobs_completion() {
  std::string lp;
  for (int i = 0; i < 100; ++i) {
    if (i > 0) lp += ",";
    lp += R"({"token":"tok)" + std::to_string(i) + R"(","logprob":-0.)" + std::to_string(i) +
          R"(,"bytes":[116,111,107],"top_logprobs":[{"token":"a","logprob":-1.0,"bytes":[97]},)"
          R"({"token":"b","logprob":-2.0,"bytes":[98]}]})";
  }
  std::string content;
  for (int i = 0; i < 100; ++i) content += "hello ";
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,)"
         R"("message":{"role":"assistant","content":")" + content + R"(","refusal":null},"logprobs":{"content":[)" +
         lp + R"(]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":100,)"
         R"("total_tokens":1100,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0}}})";
}

// A stream request carrying a conversation of 40 turns, a tool call every
// fourth (~18 KB).
std::string long_conversation() {
  std::string m = R"({"role":"system","content":"You are a helpful assistant."})";
  for (int i = 0; i < 40; ++i) {
    m += R"(,{"role":"user","content":"Question )" + std::to_string(i) + R"(: lorem ipsum dolor sit amet )"
         R"(lorem ipsum dolor sit amet lorem ipsum dolor sit amet"})";
    if (i % 4 == 0) {
      const std::string id = "call_" + std::to_string(i);
      m += R"(,{"role":"assistant","content":null,"tool_calls":[{"id":")" + id +
           R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]})";
      m += R"(,{"role":"tool","tool_call_id":")" + id + R"(","content":"{\"temp\": [12, 13, 14]}"})";
    } else {
      m += R"(,{"role":"assistant","content":"Answer )" + std::to_string(i) +
           R"(: consectetur adipiscing elit consectetur adipiscing elit consectetur adipiscing elit"})";
    }
  }
  return R"({"model":"gpt-4o","messages":[)" + m +
         R"(],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object",)"
         R"("properties":{"city":{"type":"string"},"days":{"type":"array","items":{"type":"integer"}}},)"
         R"("required":["city"]}}}],"stream":true})";
}

void scan(benchmark::State& state, const std::string& doc, uint32_t captures) {
  using aigw::openai_plugin::JsonScanner;
  JsonScanner scanner;
  for (auto _ : state) {
    scanner.reset(captures);
    scanner.feed(doc);
    if (!scanner.complete_object()) {
      state.SkipWithError("not a complete object");
      return;
    }
    benchmark::DoNotOptimize(scanner.usage());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * doc.size()));
}

using aigw::openai_plugin::JsonScanner;
constexpr uint32_t kAnswer = JsonScanner::kUsage | JsonScanner::kFinishReasons;

void BM_ScanCompletion(benchmark::State& state) { scan(state, kCompletion, kAnswer); }
AIGW_MICRO(BM_ScanCompletion);

void BM_ScanLogprobsCompletion(benchmark::State& state) { scan(state, logprobs_completion(), kAnswer); }
AIGW_MICRO(BM_ScanLogprobsCompletion);

void BM_ScanLongConversation(benchmark::State& state) {
  scan(state, long_conversation(), JsonScanner::kStreamOptions);
}
AIGW_MICRO(BM_ScanLongConversation);


// The usage object the scanner copies out of an answer, read for its counts
// (simdjson On-Demand): as the mock sends it, and as OpenAI does, with the
// details objects. A hand-written one-pass reader of the usual shape was
// tried (stop 29): 882 and 3,037 instructions against these 1,148 and
// 3,131, too little for a second parser to keep in step with simdjson.
const std::string kUsage = R"({"prompt_tokens":22,"completion_tokens":16,"total_tokens":38})";
const std::string kUsageDetails =
    R"({"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":)"
    R"({"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":192,)"
    R"("audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})";

void usage(benchmark::State& state, const std::string& text) {
  aigw::openai_plugin::ValueParser values;
  for (auto _ : state) {
    aigw_usage u{};
    if (!values.usage(text, u)) {
      state.SkipWithError("no usage");
      return;
    }
    benchmark::DoNotOptimize(u);
  }
}

void BM_Usage(benchmark::State& state) { usage(state, kUsage); }
AIGW_MICRO(BM_Usage);
void BM_UsageDetails(benchmark::State& state) { usage(state, kUsageDetails); }
AIGW_MICRO(BM_UsageDetails);

}  // namespace

BENCHMARK_MAIN();
