// The hook table: C entry points that check the ABI contract and keep C++
// exceptions from crossing it.
#include "openai_plugin.h"

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>

#include "aigw_plugin.h"
#include "openai_config.h"
#include "request.h"

namespace aigw::openai_plugin {
namespace {

// Writes a NUL-terminated message, cut at a UTF-8 boundary if it is too long.
void set_error(aigw_errbuf* err, std::string_view message) {
  if (err == nullptr || err->ptr == nullptr || err->cap == 0) return;
  size_t n = message.size() < err->cap - 1 ? message.size() : err->cap - 1;
  if (n < message.size()) {
    while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(err->ptr, message.data(), n);
  err->ptr[n] = '\0';
}

// Exceptions (std::bad_alloc in practice) must not unwind into the host's C
// frames.
template <typename Fn>
aigw_status guarded(aigw_errbuf* err, Fn fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    set_error(err, "openai plugin: out of memory");
    return AIGW_ERR_NO_MEMORY;
  } catch (...) {
    set_error(err, "openai plugin: internal error");
    return AIGW_ERR_INTERNAL;
  }
}

// For body events: an exception ends the request with the error.
template <typename Fn>
void guarded_event(Request& r, Fn fn) {
  aigw_status st;
  try {
    fn();
    return;
  } catch (const std::bad_alloc&) {
    st = AIGW_ERR_NO_MEMORY;
  } catch (...) {
    st = AIGW_ERR_INTERNAL;
  }
  r.fail(st, "openai plugin: internal error");
}

aigw_status config_new(const aigw_host* host, aigw_host_plugin* plugin, aigw_config_source* src,
                       void** config_out, aigw_errbuf* err) {
  return guarded(err, [&]() -> aigw_status {
    if (host == nullptr || config_out == nullptr) return AIGW_ERR_INVALID;
    // ABI 1.0 has every callback we call; an older table would be read past
    // its end.
    if (host->abi_major != AIGW_ABI_MAJOR || host->struct_size < sizeof(aigw_host)) {
      set_error(err, "openai plugin: host callback table too old (ABI " +
                         std::to_string(host->abi_major) + "." + std::to_string(host->abi_minor) +
                         ", " + std::to_string(host->struct_size) + " bytes)");
      return AIGW_ERR_UNSUPPORTED;
    }
    auto config = std::make_unique<Config>();
    config->host = host;
    config->plugin = plugin;
    std::string error;
    aigw_status st = load_config(host, src, *config, error);
    if (st != AIGW_OK) {
      set_error(err, error);
      return st;
    }
    *config_out = config.release();
    return AIGW_OK;
  });
}

void config_destroy(void* config) { delete static_cast<Config*>(config); }

aigw_status instance_new(void* config, const aigw_worker_info* worker, void** instance_out,
                         aigw_errbuf* err) {
  return guarded(err, [&]() -> aigw_status {
    if (config == nullptr || instance_out == nullptr) return AIGW_ERR_INVALID;
    auto instance = std::make_unique<Instance>();
    instance->config_ = static_cast<const Config*>(config);
    if (worker != nullptr && worker->struct_size >= offsetof(aigw_worker_info, reserved)) {
      instance->next_key_ = worker->worker_index % instance->config_->credentials.size();
    }
    *instance_out = instance.release();
    return AIGW_OK;
  });
}

void instance_destroy(void* instance) { delete static_cast<Instance*>(instance); }

aigw_status request_new(void* instance, aigw_request* req, const aigw_client_request* client,
                        void** ctx_out, aigw_errbuf* err) {
  return guarded(err, [&]() -> aigw_status {
    if (instance == nullptr || client == nullptr || ctx_out == nullptr ||
        client->struct_size < offsetof(aigw_client_request, key_index)) {
      set_error(err, "openai plugin: malformed client request");
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

void request_destroy(void* ctx) { delete static_cast<Request*>(ctx); }

aigw_status build_upstream(void* ctx, aigw_upstream_request* up, aigw_errbuf* err) {
  return guarded(err, [&]() -> aigw_status {
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
  const auto& c = *static_cast<const Config*>(config);
  if (probe->struct_size < sizeof(aigw_health_probe)) return AIGW_ERR_UNSUPPORTED;
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

void on_client_gone(void* ctx) {
  // The host aborts the upstream request; all that is left is to ignore
  // whatever still arrives.
  if (ctx != nullptr) static_cast<Request*>(ctx)->client_gone();
}

constexpr aigw_hooks kHooks = {
    sizeof(aigw_hooks),
    AIGW_MODE_HTTP,
    config_new,
    config_destroy,
    instance_new,
    instance_destroy,
    nullptr,  // list_models: the operator's `models` list is the whole story
    request_new,
    request_destroy,
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
