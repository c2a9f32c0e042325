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

// models.list with one entry: authenticated like any call, bills nothing,
// and small. health_probe is per provider, not per model, so the model's
// own GET /v1beta/models/{model} is out of reach here.
constexpr std::string_view kProbePath = "/v1beta/models?pageSize=1";

template <typename Fn>
void guarded_event(Request& r, Fn&& fn) {
  sdk::guarded_event(std::forward<Fn>(fn),
                     [&r](aigw_status st) { r.fail(st, "gemini plugin: internal error"); });
}

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

aigw_status request_new(void* instance, aigw_request* req, const aigw_client_request* client,
                        void** ctx_out, aigw_errbuf* err) {
  return sdk::guarded(kWho, err, [&]() -> aigw_status {
    if (instance == nullptr || client == nullptr || ctx_out == nullptr ||
        !sdk::has_field(*client, &aigw_client_request::model_value_len)) {
      set_error(err, "gemini plugin: malformed client request");
      return AIGW_ERR_INVALID;
    }
    auto r = std::make_unique<Request>(*static_cast<Instance*>(instance), req, *client);
    std::string error;
    aigw_status st = r->admit(error);
    if (st != AIGW_OK) {
      set_error(err, error);
      return st;
    }
    *ctx_out = r.release();
    return AIGW_OK;
  });
}

aigw_status build_upstream(void* ctx, aigw_upstream_request* up, aigw_errbuf* err) {
  return sdk::guarded(kWho, err, [&]() -> aigw_status {
    if (ctx == nullptr || up == nullptr) return AIGW_ERR_INVALID;
    std::string error;
    aigw_status st = static_cast<Request*>(ctx)->build_upstream(*up, error);
    if (st != AIGW_OK) set_error(err, error);
    return st;
  });
}

aigw_status on_upstream_head(void* ctx, int32_t status, const aigw_host_header* headers,
                             size_t header_count, aigw_upstream_verdict* verdict) {
  if (ctx == nullptr || verdict == nullptr) return AIGW_ERR_INVALID;
  auto& r = *static_cast<Request*>(ctx);
  aigw_status st = AIGW_OK;
  guarded_event(r, [&] { st = r.on_head(status, headers, header_count, *verdict); });
  return st;
}

aigw_status on_upstream_body(void* ctx, const aigw_host_bytes* chunks, size_t count,
                             int32_t end_of_body) {
  if (ctx == nullptr || (chunks == nullptr && count > 0)) return AIGW_ERR_INVALID;
  auto& r = *static_cast<Request*>(ctx);
  guarded_event(r, [&] { r.on_body(chunks, count, end_of_body != 0); });
  return AIGW_OK;
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

void on_client_gone(void* ctx) {
  // The host aborts the upstream request; what still arrives is ignored.
  if (ctx != nullptr) static_cast<Request*>(ctx)->client_gone();
}

constexpr aigw_hooks kHooks = {
    sizeof(aigw_hooks),
    AIGW_MODE_HTTP,
    config_new,
    sdk::destroy<Config>,
    instance_new,
    sdk::destroy<Instance>,
    nullptr,  // list_models: deprecated; the operator's `models` list is the whole story
    request_new,
    sdk::destroy<Request>,
    build_upstream,
    on_upstream_head,
    on_upstream_body,
    health_probe,
    nullptr,  // request_start: direct mode only
    nullptr,  // on_timer
    nullptr,  // on_process_output
    nullptr,  // on_process_exit
    on_client_gone,
    key_count,
};

// ABI 1.2 (AIGW_PLUGIN_DEF_HEADER): the plugin calls host->commit once a
// stream's content begins, so the host does not sniff for OpenAI fields.
constexpr aigw_plugin_def kDef = {
    AIGW_PLUGIN_DEF_HEADER,
    "gemini",
    "0.1.0",
    0,  // flags: nothing keeps this object from unloading
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
