// The hook table: C entry points that check the ABI contract and keep C++
// exceptions from crossing it.
#include "anthropic_plugin.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "anthropic_config.h"
#include "request.h"

namespace aigw::anthropic_plugin {
namespace {

using sdk::set_error;

constexpr std::string_view kWho = "anthropic plugin";
struct Who {
  static constexpr std::string_view name = kWho;
};
using Hooks = sdk::HttpRequestHooks<Request, Instance, Who>;

// The Models API's list with one entry: authenticated with the same key and
// version headers as a message, bills no tokens, and is small. A message
// would cost tokens on every probe.
constexpr std::string_view kProbePath = "/v1/models?limit=1";

aigw_status config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                       void** config_out, aigw_errbuf* err) {
  // Every 1.0 callback is used; commit (1.2) goes through sdk::commit,
  // which checks the table's size itself.
  return sdk::new_config<Config>(kWho, host, &aigw_host::process_kill, config_out, err,
                                 [&](Config& config, std::string& error) {
                                   config.host = host;
                                   config.plugin = plugin;
                                   return load_config(host, src, config, error);
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
      instance->next_key_ = worker->worker_index % instance->config_->keys.size();
    }
    *instance_out = instance.release();
    return AIGW_OK;
  });
}

aigw_status health_probe(void* config, aigw_health_probe* probe) {
  if (config == nullptr || probe == nullptr) return AIGW_ERR_INVALID;
  if (!sdk::has_field(*probe, &aigw_health_probe::path)) return AIGW_ERR_UNSUPPORTED;
  static constexpr std::string_view kGet = "GET";
  probe->expect_status = 200;
  probe->method = sdk::str(kGet);
  probe->path = sdk::str(kProbePath);
  return AIGW_OK;
}

uint32_t key_count(void* config) {
  if (config == nullptr) return 0;
  return static_cast<uint32_t>(static_cast<const Config*>(config)->keys.size());
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
    // ABI 1.3: Anthropic clients' /v1/messages and /v1/messages/count_tokens
    // come untranslated and go to Anthropic as they are (native_exchange.h).
    AIGW_DIALECT_ANTHROPIC_MESSAGES,
};

// ABI 1.3 (AIGW_PLUGIN_DEF_HEADER): native_dialects above. Since 1.2 the
// plugin calls host->commit once a stream's content begins, so the host
// does not sniff for OpenAI fields.
constexpr aigw_plugin_def kDef = {
    AIGW_PLUGIN_DEF_HEADER,
    "anthropic",
    "0.1.0",
    0,  // flags: nothing keeps this object from unloading
    0,
    &kHooks,
};

}  // namespace
}  // namespace aigw::anthropic_plugin

extern "C" const aigw_plugin_def* aigw_anthropic_plugin_entry(void) {
  return &aigw::anthropic_plugin::kDef;
}

#ifndef AIGW_ANTHROPIC_STATIC
extern "C" {
AIGW_PLUGIN_ENTRY { return &aigw::anthropic_plugin::kDef; }
}
#endif
