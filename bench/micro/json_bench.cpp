// What aigw does with a request body on the way to a provider: extract the
// routing fields with simdjson On-Demand (as src/gateway/runtime.cpp
// does) and splice a mapped model name into the original bytes (as the openai
// plugin does) instead of re-serialising.
#include <benchmark/benchmark.h>

#include "micro.h"
#include <simdjson.h>

#include <string>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "splice.h"

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

}  // namespace

BENCHMARK_MAIN();
