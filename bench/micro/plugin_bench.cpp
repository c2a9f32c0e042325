// The cost of calling a plugin hook through the ABI: an indirect call into a
// dlopen'ed object, measured on the example plugin as a plugin author would
// build it (examples/plugin-hello).
#include <benchmark/benchmark.h>

#include "micro.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "aigw_plugin.h"
#include "plugin/loader.h"

namespace {

struct Loaded {
  aigw::plugin::LoadedPlugin lp;
  void* instance = nullptr;
  bool ok = false;
  Loaded() {
    std::string dir, why;
    if (!aigw::plugin::create_runtime_dir(dir, why) ||
        !aigw::plugin::load(HELLO_PLUGIN_PATH, dir, lp, why)) {
      std::fprintf(stderr, "cannot load %s: %s\n", HELLO_PLUGIN_PATH, why.c_str());
      return;
    }
    // hello's instance_new only reads its config pointer: a zeroed stand-in
    // is enough for request_new, which is all the benchmark calls.
    static char fake_config[256];
    aigw_worker_info w{sizeof w, 0, 1, 0};
    char msg[128];
    aigw_errbuf err{msg, sizeof msg};
    ok = lp.hooks->instance_new(fake_config, &w, &instance, &err) == AIGW_OK;
  }
  ~Loaded() {
    if (instance) lp.hooks->instance_destroy(instance);
    aigw::plugin::remove_runtime_dir();
  }
};

Loaded& plugin() {
  static Loaded l;
  return l;
}

// A hook that refuses at once: the call itself plus a few instructions.
void BM_HookCallRefused(benchmark::State& state) {
  Loaded& l = plugin();
  if (!l.ok) {
    state.SkipWithError("plugin not loaded");
    return;
  }
  aigw_client_request client{};
  client.struct_size = sizeof client;
  client.endpoint = AIGW_ENDPOINT_EMBEDDINGS;
  char msg[128];
  aigw_errbuf err{msg, sizeof msg};
  for (auto _ : state) {
    void* ctx = nullptr;
    benchmark::DoNotOptimize(l.lp.hooks->request_new(l.instance, nullptr, &client, &ctx, &err));
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_HookCallRefused);

// request_new + request_destroy: two hook calls and the plugin's own
// allocation, what every request pays at least.
void BM_HookRequestNewDestroy(benchmark::State& state) {
  Loaded& l = plugin();
  if (!l.ok) {
    state.SkipWithError("plugin not loaded");
    return;
  }
  aigw_client_request client{};
  client.struct_size = sizeof client;
  client.endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  char msg[128];
  aigw_errbuf err{msg, sizeof msg};
  for (auto _ : state) {
    void* ctx = nullptr;
    l.lp.hooks->request_new(l.instance, nullptr, &client, &ctx, &err);
    l.lp.hooks->request_destroy(ctx);
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_HookRequestNewDestroy);

}  // namespace

BENCHMARK_MAIN();
