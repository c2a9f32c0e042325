// The hook table: C entry points that check the ABI contract and keep C++
// exceptions from crossing it.
#include "gemini_plugin.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "gemini_config.h"
#include "request.h"

namespace aigw::gemini_plugin {
namespace {

using sdk::set_error;

constexpr std::string_view kWho = "gemini plugin";
struct Who {
  static constexpr std::string_view name = kWho;
};
using Hooks = sdk::HttpRequestHooks<Request, Instance, Who>;


aigw_status config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                       void** config_out, aigw_errbuf* err) {
  // Every 1.0 callback is used; commit (1.2) goes through sdk::commit,
  // which checks the table's size itself.
  return sdk::new_config<Config>(kWho, host, &aigw_host::process_kill, config_out, err,
                                 [&](Config& config, std::string& error) -> aigw_status {
                                   config.host = host;
                                   config.plugin = plugin;
                                   aigw_status st = load_config(host, src, config, error);
                                   // The refresher starts only for a valid
                                   // table; config_destroy stops it.
                                   if (st == AIGW_OK && !start_config(config, error)) {
                                     return AIGW_ERR_CONFIG;
                                   }
                                   return st;
                                 });
}

aigw_status instance_new(void* config, const aigw_worker_info* worker, void** instance_out,
                         aigw_errbuf* err) {
  return sdk::guarded(kWho, err, [&]() -> aigw_status {
    if (config == nullptr || instance_out == nullptr) return AIGW_ERR_INVALID;
    auto instance = std::make_unique<Instance>();
    instance->config_ = static_cast<const Config*>(config);
    if (worker != nullptr && sdk::has_field(*worker, &aigw_worker_info::worker_count) &&
        worker->worker_count > 0) {
      instance->worker_index_ = worker->worker_index;
      instance->worker_count_ = worker->worker_count;
      // A service account has no keys to rotate.
      if (!instance->config_->keys.empty()) {
        instance->next_key_ = worker->worker_index % instance->config_->keys.size();
      }
    }
    *instance_out = instance.release();
    return AIGW_OK;
  });
}

aigw_status health_probe(void* config, aigw_health_probe* probe) {
  if (config == nullptr || probe == nullptr) return AIGW_ERR_INVALID;
  if (!sdk::has_field(*probe, &aigw_health_probe::path)) return AIGW_ERR_UNSUPPORTED;
  // Free calls that prove the credential (gemini_config.cpp says which);
  // the host copies the path. health_probe is per provider, not per model,
  // so a model's own GET is out of reach here.
  const auto* c = static_cast<const Config*>(config);
  if (c->probe_path.empty()) return AIGW_ERR_UNSUPPORTED;
  static constexpr std::string_view kGet = "GET";
  probe->expect_status = 200;
  probe->method = sdk::str(kGet);
  probe->path = sdk::str(c->probe_path);
  return AIGW_OK;
}

uint32_t key_count(void* config) {
  if (config == nullptr) return 0;
  return static_cast<uint32_t>(static_cast<const Config*>(config)->channels());
}

constexpr aigw_hooks kHooks = {
    sizeof(aigw_hooks),
    AIGW_MODE_HTTP,
    config_new,
    sdk::destroy<Config>,
    instance_new,
    sdk::destroy<Instance>,
    nullptr,  // list_models: deprecated; the operator's `models` list is the whole story
    Hooks::request_new,
    sdk::destroy<Request>,
    Hooks::build_upstream,
    Hooks::on_upstream_head,
    Hooks::on_upstream_body,
    health_probe,
    nullptr,  // request_start: direct mode only
    nullptr,  // on_timer
    nullptr,  // on_process_output
    nullptr,  // on_process_exit
    Hooks::on_client_gone,
    key_count,
    0,  // native_dialects (1.3): OpenAI only; Anthropic clients get the host's translation
};

// ABI 1.2 (AIGW_PLUGIN_DEF_HEADER): the plugin calls host->commit once a
// stream's content begins, so the host does not sniff for OpenAI fields.
constexpr aigw_plugin_def kDef = {
    AIGW_PLUGIN_DEF_HEADER,
    "gemini",
    "0.1.0",
    // flags: nothing keeps this object from unloading. The Vertex token
    // refresher is a thread, but config_destroy joins it, and aigw unloads
    // an object only after destroying its configurations; mbedTLS keeps no
    // thread-local state or exit handlers.
    0,
    0,
    &kHooks,
};

}  // namespace
}  // namespace aigw::gemini_plugin

extern "C" const aigw_plugin_def* aigw_gemini_plugin_entry(void) {
  return &aigw::gemini_plugin::kDef;
}

#ifndef AIGW_GEMINI_STATIC
extern "C" {
AIGW_PLUGIN_ENTRY { return &aigw::gemini_plugin::kDef; }
}
#endif
