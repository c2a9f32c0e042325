// The hook table: C entry points that check the ABI contract and keep C++
// exceptions from crossing it.
#include "openai_plugin.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "openai_config.h"
#include "request.h"

namespace aigw::openai_plugin {
namespace {

using sdk::set_error;

constexpr std::string_view kWho = "openai plugin";
struct Who {
  static constexpr std::string_view name = kWho;
};
using Hooks = sdk::HttpRequestHooks<Request, Instance, Who>;

aigw_status config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                       void** config_out, aigw_errbuf* err) {
  // The whole ABI 1.0 table, which this plugin was written against
  // (process_kill is its last callback).
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
    if (worker != nullptr && sdk::has_field(*worker, &aigw_worker_info::worker_count)) {
      instance->next_key_ = worker->worker_index % instance->config_->credentials.size();
    }
    *instance_out = instance.release();
    return AIGW_OK;
  });
}

aigw_status health_probe(void* config, aigw_health_probe* probe) {
  if (config == nullptr || probe == nullptr) return AIGW_ERR_INVALID;
  const auto& c = *static_cast<const Config*>(config);
  if (!sdk::has_field(*probe, &aigw_health_probe::path)) return AIGW_ERR_UNSUPPORTED;
  static constexpr std::string_view kGet = "GET";
  probe->expect_status = 200;
  probe->method = {kGet.data(), kGet.size()};
  probe->path = {c.probe_path.data(), c.probe_path.size()};
  return AIGW_OK;
}

uint32_t key_count(void* config) {
  if (config == nullptr) return 0;
  return static_cast<uint32_t>(static_cast<const Config*>(config)->credentials.size());
}

constexpr aigw_hooks kHooks = {
    sizeof(aigw_hooks),
    AIGW_MODE_HTTP,
    config_new,
    sdk::destroy<Config>,
    instance_new,
    sdk::destroy<Instance>,
    nullptr,  // list_models: the operator's `models` list is the whole story
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

constexpr aigw_plugin_def kDef = {
    AIGW_PLUGIN_DEF_HEADER,
    "openai",
    "0.1.0",
    0,  // flags: nothing keeps this object from unloading
    0,
    &kHooks,
};

}  // namespace
}  // namespace aigw::openai_plugin

extern "C" const aigw_plugin_def* aigw_openai_plugin_entry(void) {
  return &aigw::openai_plugin::kDef;
}

#ifndef AIGW_OPENAI_STATIC
extern "C" {
AIGW_PLUGIN_ENTRY { return &aigw::openai_plugin::kDef; }
}
#endif
