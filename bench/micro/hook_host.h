// A minimal host for putting plugins' hooks under Google Benchmark, shared by
// the micro-benchmarks that compare plugins (gemini_bench, messages_bench):
// the callbacks the plugins use in HTTP mode, one configured plugin with a
// worker instance, a request through request_new and build_upstream, and
// the per-event benchmark body (one upstream SSE event per on_upstream_body
// call, everything the plugin does for it up to and including its emit).
// Also the recorded fixtures both read (AIGW_FIXTURES_DIR).
#pragma once

#include <benchmark/benchmark.h>

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace aigw::micro {

// --- fixtures ---------------------------------------------------------------

inline std::string read_file(const std::string& rel) {
  std::ifstream in(std::string(AIGW_FIXTURES_DIR) + "/" + rel, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Event `index` of the recorded OpenAI stream (openai/chat-streaming.json),
// with its blank line. Event 1 is a one-token text delta ("Hi").
inline std::string openai_event(size_t index) {
  simdjson::dom::parser p;
  simdjson::dom::element root;
  std::string_view body;
  std::string text = read_file("openai/chat-streaming.json");
  if (p.parse(text).get(root) != simdjson::SUCCESS ||
      root["interactions"].at(0)["response"]["body"].get(body) != simdjson::SUCCESS) {
    return {};
  }
  size_t start = 0;
  for (size_t i = 0; i < index; ++i) {
    start = body.find("\n\n", start);
    if (start == std::string_view::npos) return {};
    start += 2;
  }
  size_t end = body.find("\n\n", start);
  if (end == std::string_view::npos) return {};
  return std::string(body.substr(start, end + 2 - start));
}

// --- a host for the hooks ---------------------------------------------------

// The callbacks the plugins use in HTTP mode, doing as little as the real
// host's contract allows: the configuration has one API key and nothing
// else; emit copies the bytes once into a reused buffer (the real host's
// first step); arena memory lives until the request goes.
struct BenchRequest {
  std::vector<std::unique_ptr<std::max_align_t[]>> arena;
  std::string sink;       // the last emit's bytes
  uint64_t emitted = 0;   // bytes over all emits
  int finish_calls = 0;
  void* user = nullptr;   // for a benchmark's own emit
  aigw_request* handle() { return reinterpret_cast<aigw_request*>(this); }
};

inline BenchRequest& from(aigw_request* r) { return *reinterpret_cast<BenchRequest*>(r); }

inline constexpr char kKey[] = "bench-key-0123456789";

inline aigw_host make_host() {
  aigw_host h{};
  h.struct_size = sizeof h;
  h.abi_major = AIGW_ABI_MAJOR;
  h.abi_minor = AIGW_ABI_MINOR;
  h.log = [](aigw_host_plugin*, aigw_log_level, aigw_plugin_str) {};
  h.now_ns = []() -> uint64_t { return 1'000'000'000; };
  h.config_string = [](aigw_config_source*, aigw_plugin_str, aigw_host_str*) -> aigw_status { return AIGW_ERR_NOT_FOUND; };
  h.config_int = [](aigw_config_source*, aigw_plugin_str, int64_t*) -> aigw_status { return AIGW_ERR_NOT_FOUND; };
  h.config_bool = [](aigw_config_source*, aigw_plugin_str, int32_t*) -> aigw_status { return AIGW_ERR_NOT_FOUND; };
  h.config_duration_ms = [](aigw_config_source*, aigw_plugin_str, uint64_t*) -> aigw_status { return AIGW_ERR_NOT_FOUND; };
  h.config_array_len = [](aigw_config_source*, aigw_plugin_str key, size_t* out) -> aigw_status {
    if (std::string_view(key.ptr, key.len) != "api_keys") return AIGW_ERR_NOT_FOUND;
    *out = 1;
    return AIGW_OK;
  };
  h.config_array_string = [](aigw_config_source*, aigw_plugin_str key, size_t index, aigw_host_str* out) -> aigw_status {
    if (std::string_view(key.ptr, key.len) != "api_keys" || index != 0) return AIGW_ERR_NOT_FOUND;
    *out = {kKey, sizeof kKey - 1};
    return AIGW_OK;
  };
  h.config_secret = [](aigw_config_source*, aigw_plugin_str key, size_t index, aigw_host_str* out) -> aigw_status {
    if (std::string_view(key.ptr, key.len) != "api_keys" || index != 0) return AIGW_ERR_NOT_FOUND;
    *out = {kKey, sizeof kKey - 1};
    return AIGW_OK;
  };
  h.arena_alloc = [](aigw_request* r, size_t size, size_t) -> void* {
    auto& a = from(r).arena;
    a.emplace_back(new std::max_align_t[(size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t)]);
    return a.back().get();
  };
  h.respond_start = [](aigw_request*, int32_t, const aigw_plugin_header*, size_t) -> aigw_status { return AIGW_OK; };
  h.emit = [](aigw_request* r, const aigw_plugin_bytes* chunks, size_t n) -> aigw_status {
    BenchRequest& br = from(r);
    br.sink.clear();
    for (size_t i = 0; i < n; ++i) br.sink.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
    br.emitted += br.sink.size();
    return AIGW_OK;
  };
  h.finish = [](aigw_request* r, aigw_status, aigw_plugin_str) -> aigw_status {
    ++from(r).finish_calls;
    return AIGW_OK;
  };
  h.report_usage = [](aigw_request*, const aigw_usage*) -> aigw_status { return AIGW_OK; };
  h.report_finish_reason = [](aigw_request*, aigw_finish_reason) -> aigw_status { return AIGW_OK; };
  h.commit = [](aigw_request*) -> aigw_status { return AIGW_OK; };
  return h;
}

// One plugin, configured and with a worker instance.
struct Plugin {
  aigw_host host;
  const aigw_hooks* hooks = nullptr;
  void* config = nullptr;
  void* instance = nullptr;
  std::string error;

  explicit Plugin(const aigw_plugin_def* def, aigw_host h = make_host()) : host(h), hooks(def->hooks) {
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    if (hooks->config_new(&host, nullptr, nullptr, &config, &err) != AIGW_OK) {
      error = std::string("config_new: ") + buf;
      return;
    }
    aigw_worker_info info{sizeof(aigw_worker_info), 0, 1, 0};
    if (hooks->instance_new(config, &info, &instance, &err) != AIGW_OK) error = std::string("instance_new: ") + buf;
  }
  ~Plugin() {
    if (instance != nullptr) hooks->instance_destroy(instance);
    if (config != nullptr) hooks->config_destroy(config);
  }
};

// What the client asked: the body and how the host describes it to the
// plugin (the endpoint, its path, the model, whether it streams).
struct ClientCall {
  std::string body;
  std::string model;
  aigw_endpoint endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  std::string_view path = "/v1/chat/completions";
  bool stream = true;
};

// A request through request_new and build_upstream, as the host fills it in.
struct Exchange {
  BenchRequest br;
  std::string body;
  std::string model;
  std::string path;
  aigw_host_bytes chunk{};
  aigw_client_request client{};
  aigw_upstream_request up{};
  void* ctx = nullptr;
  const aigw_hooks* hooks = nullptr;
  std::string error;

  Exchange(Plugin& p, const ClientCall& call)
      : body(call.body), model(call.model), path(call.path), hooks(p.hooks) {
    chunk = {reinterpret_cast<const uint8_t*>(body.data()), body.size()};
    client.struct_size = sizeof client;
    client.endpoint = call.endpoint;
    client.stream = call.stream ? 1 : 0;
    client.model = {model.data(), model.size()};
    client.upstream_model = {model.data(), model.size()};
    client.method = {"POST", 4};
    client.path = {path.data(), path.size()};
    client.body = &chunk;
    client.body_count = 1;
    client.model_value_offset = body.find(model);
    client.model_value_len = model.size();
    client.key_index = 0;
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    if (hooks->request_new(p.instance, br.handle(), &client, &ctx, &err) != AIGW_OK) {
      ctx = nullptr;
      error = std::string("request_new: ") + buf;
      return;
    }
    up.struct_size = sizeof up;
    up.method = {"POST", 4};
    up.path_and_query = {path.data(), path.size()};
    up.body = nullptr;
    up.body_unchanged = 1;
    if (hooks->build_upstream(ctx, &up, &err) != AIGW_OK) error = std::string("build_upstream: ") + buf;
  }
  // The upstream's 200 head of an event stream.
  bool stream_head() {
    static const char kType[] = "Content-Type";
    static const char kSse[] = "text/event-stream";
    aigw_host_header h{{kType, sizeof kType - 1}, {kSse, sizeof kSse - 1}};
    aigw_upstream_verdict v{};
    v.struct_size = sizeof v;
    return hooks->on_upstream_head(ctx, 200, &h, 1, &v) == AIGW_OK;
  }
  ~Exchange() {
    if (ctx != nullptr) hooks->request_destroy(ctx);
  }
};

// One upstream event per on_upstream_body call, in the middle of a stream:
// the first event (role chunk, commit) went through before the timed loop.
// `user` is handed to the host's emit (BenchRequest::user) for a host of the
// benchmark's own.
inline void event_hook(benchmark::State& state, Plugin& p, const ClientCall& call, const std::string& event,
                       void* user = nullptr) {
  if (event.empty()) {
    state.SkipWithError("fixture not readable");
    return;
  }
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  Exchange x(p, call);
  x.br.user = user;
  if (!x.error.empty() || !x.stream_head()) {
    state.SkipWithError(x.error.empty() ? "on_upstream_head refused" : x.error.c_str());
    return;
  }
  const aigw_host_bytes chunk{reinterpret_cast<const uint8_t*>(event.data()), event.size()};
  if (p.hooks->on_upstream_body(x.ctx, &chunk, 1, 0) != AIGW_OK || x.br.finish_calls != 0) {
    state.SkipWithError("the plugin ended the stream");
    return;
  }
  const uint64_t before = x.br.emitted;
  for (auto _ : state) {
    aigw_status st = p.hooks->on_upstream_body(x.ctx, &chunk, 1, 0);
    benchmark::DoNotOptimize(st);
  }
  if (x.br.finish_calls != 0) state.SkipWithError("the plugin ended the stream");
  state.counters["in_bytes"] = static_cast<double>(event.size());
  state.counters["out_bytes"] =
      state.iterations() > 0 ? static_cast<double>(x.br.emitted - before) / static_cast<double>(state.iterations()) : 0;
  state.SetItemsProcessed(state.iterations());
}

}  // namespace aigw::micro
