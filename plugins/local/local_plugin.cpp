// The hook table: C entry points that check the ABI contract, keep C++
// exceptions from crossing it, and hand each request to demo or process
// mode.
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "demo_mode.h"
#include "local_config.h"
#include "local_plugin.h"
#include "process_mode.h"
#include "request.h"

namespace aigw::local_plugin {
namespace {

using sdk::set_error;

constexpr std::string_view kWho = "local plugin";

// The SDK's barrier, plus what only this plugin knows: a running child is
// killed before the request ends with the error.
template <typename Fn>
void guarded_event(Request& r, Fn&& fn) {
  sdk::guarded_event(std::forward<Fn>(fn), [&r](aigw_status st) {
    if (r.done_) return;
    if (r.proc_ != nullptr && !r.exited_) r.host_->process_kill(r.proc_);
    r.finish_error(st, "local plugin: internal error", 0);
  });
}

aigw_status config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                       void** config_out, aigw_errbuf* err) {
  // process_kill is the last callback we call (all of ABI 1.0).
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
    auto instance = new Instance;
    instance->config_ = static_cast<const Config*>(config);
    if (worker != nullptr && sdk::has_field(*worker, &aigw_worker_info::worker_count) &&
        worker->worker_count > 0) {
      instance->worker_index_ = worker->worker_index;
      instance->worker_count_ = worker->worker_count;
    }
    *instance_out = instance;
    return AIGW_OK;
  });
}

aigw_status request_new_inner(Instance& inst, aigw_request* req, const aigw_client_request* client,
                              void** ctx_out, aigw_errbuf* err) {
  if (client == nullptr || ctx_out == nullptr ||
      !sdk::has_field(*client, &aigw_client_request::body_count)) {
    set_error(err, "local plugin: malformed client request");
    return AIGW_ERR_INVALID;
  }
  aigw_endpoint ep = client->endpoint;
  if (ep != AIGW_ENDPOINT_CHAT_COMPLETIONS && ep != AIGW_ENDPOINT_COMPLETIONS &&
      ep != AIGW_ENDPOINT_EMBEDDINGS) {
    set_error(err, "the local provider does not serve endpoint " + std::to_string(ep));
    return AIGW_ERR_UNSUPPORTED;
  }
  auto r = std::make_unique<Request>();
  r->instance_ = &inst;
  r->config_ = inst.config_;
  r->host_ = inst.config_->host;
  r->req_ = req;
  r->model_ = sdk::view(client->model);
  r->stream_ = client->stream == 1 && ep != AIGW_ENDPOINT_EMBEDDINGS;
  std::string error;
  aigw_status st = inst.parser_.parse(ep, client->body, client->body_count, r->parsed_, error);
  if (st != AIGW_OK) {
    set_error(err, error);
    return st;
  }
  if (ep != AIGW_ENDPOINT_EMBEDDINGS) {
    ReplyKind kind = ep == AIGW_ENDPOINT_CHAT_COMPLETIONS ? ReplyKind::chat : ReplyKind::completion;
    // Wall time, as OpenAI's "created" is Unix seconds; the host only offers
    // a monotonic clock.
    r->framer_.emplace(kind, inst.next_serial(), static_cast<int64_t>(std::time(nullptr)),
                       r->model_, r->stream_ && r->parsed_.include_usage);
  }
  if (inst.config_->mode == Mode::process) {
    st = process_admit(*r, error);
    if (st != AIGW_OK) {
      set_error(err, error);
      return st;
    }
  } else {
    demo_prepare(*r);
  }
  *ctx_out = r.release();
  return AIGW_OK;
}

aigw_status request_new(void* instance, aigw_request* req, const aigw_client_request* client,
                        void** ctx_out, aigw_errbuf* err) {
  return sdk::guarded(kWho, err, [&] {
    return request_new_inner(*static_cast<Instance*>(instance), req, client, ctx_out, err);
  });
}

void request_destroy(void* ctx) {
  auto r = static_cast<Request*>(ctx);
  process_release(*r);
  delete r;
}

aigw_status request_start(void* ctx) {
  auto& r = *static_cast<Request*>(ctx);
  aigw_status st = AIGW_OK;
  guarded_event(r, [&] {
    if (r.done_) return;
    st = r.config_->mode == Mode::process ? process_start(r) : demo_start(r);
  });
  return st;
}

void on_timer(void* ctx, uint64_t token) {
  auto& r = *static_cast<Request*>(ctx);
  guarded_event(r, [&] {
    if (r.config_->mode == Mode::process) {
      process_on_timer(r, token);
    } else {
      demo_on_timer(r, token);
    }
  });
}

void on_process_output(void* ctx, aigw_process* proc, const aigw_host_bytes* chunks, size_t count,
                       int32_t eof) {
  auto& r = *static_cast<Request*>(ctx);
  if (proc == nullptr || proc != r.proc_id_) return;
  guarded_event(r, [&] { process_on_output(r, chunks, count, eof); });
}

void on_process_exit(void* ctx, aigw_process* proc, int32_t exit_status) {
  auto& r = *static_cast<Request*>(ctx);
  if (proc == nullptr || proc != r.proc_id_ || r.exited_) return;
  guarded_event(r, [&] { process_on_exit(r, exit_status); });
}

void on_client_gone(void* ctx) {
  auto& r = *static_cast<Request*>(ctx);
  if (r.config_->mode == Mode::process) {
    process_client_gone(r);
  } else {
    r.done_ = true;  // a pending timer finds done_ and does nothing
  }
}

constexpr aigw_hooks kHooks = {
    sizeof(aigw_hooks),
    AIGW_MODE_DIRECT,
    config_new,
    sdk::destroy<Config>,
    instance_new,
    sdk::destroy<Instance>,
    nullptr,  // list_models: the operator's `models` list is the whole story
    request_new,
    request_destroy,
    nullptr,  // build_upstream: HTTP mode only
    nullptr,  // on_upstream_head
    nullptr,  // on_upstream_body
    nullptr,  // health_probe
    request_start,
    on_timer,
    on_process_output,
    on_process_exit,
    on_client_gone,
    nullptr,  // key_count: no upstream keys
    0,        // native_dialects: OpenAI only, the host translates
};

constexpr aigw_plugin_def kDef = {
    AIGW_PLUGIN_DEF_HEADER,
    "local",
    "0.1.0",
    0,  // flags: nothing keeps this object from unloading
    0,
    &kHooks,
};

}  // namespace
}  // namespace aigw::local_plugin

#ifdef AIGW_LOCAL_BUILTIN
extern "C" const aigw_plugin_def* aigw_local_plugin_entry(void) {
  return &aigw::local_plugin::kDef;
}
#else
extern "C" {
AIGW_PLUGIN_ENTRY { return &aigw::local_plugin::kDef; }
}
#endif
