/* Shared by the fixture plugins: hooks that do the least a valid plugin must
 * do, so that each fixture file shows only the one thing it gets wrong.
 * Plain C99 and only the public header, like a real plugin. */
#ifndef AIGW_TEST_ABI_FIXTURE_H
#define AIGW_TEST_ABI_FIXTURE_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "aigw_plugin.h"

/* Not every fixture uses every hook; unused static functions would trip
 * -Werror. */
#if defined(__GNUC__)
#define FX_MAYBE_UNUSED __attribute__((unused))
#else
#define FX_MAYBE_UNUSED
#endif

typedef struct fx_config {
  const aigw_host* host;
} fx_config;

typedef struct fx_request {
  const aigw_host* host;
  aigw_request* req;
  int started;   /* respond_start was called */
  int committed; /* host->commit was called (ABI 1.2) */
  int32_t status;
  char content_type[128];
} fx_request;

FX_MAYBE_UNUSED static aigw_status fx_config_new(const aigw_host* host, aigw_host_plugin* plugin,
                                                 aigw_config_source* src, void** config_out,
                                                 aigw_errbuf* err) {
  fx_config* c = (fx_config*)malloc(sizeof *c);
  (void)plugin;
  (void)src;
  (void)err;
  if (!c) return AIGW_ERR_NO_MEMORY;
  c->host = host;
  *config_out = c;
  return AIGW_OK;
}

FX_MAYBE_UNUSED static void fx_config_destroy(void* config) { free(config); }

/* The instance is the config: the fixtures keep no per-worker state. */
FX_MAYBE_UNUSED static aigw_status fx_instance_new(void* config, const aigw_worker_info* worker,
                                                   void** instance_out, aigw_errbuf* err) {
  (void)worker;
  (void)err;
  *instance_out = config;
  return AIGW_OK;
}

FX_MAYBE_UNUSED static void fx_instance_destroy(void* instance) { (void)instance; }

FX_MAYBE_UNUSED static aigw_status fx_request_new(void* instance, aigw_request* req,
                                                  const aigw_client_request* client,
                                                  void** ctx_out, aigw_errbuf* err) {
  fx_request* r = (fx_request*)malloc(sizeof *r);
  (void)client;
  (void)err;
  if (!r) return AIGW_ERR_NO_MEMORY;
  r->host = ((fx_config*)instance)->host;
  r->req = req;
  r->started = 0;
  r->committed = 0;
  r->status = 0;
  r->content_type[0] = 0;
  *ctx_out = r;
  return AIGW_OK;
}

FX_MAYBE_UNUSED static void fx_request_destroy(void* ctx) { free(ctx); }

FX_MAYBE_UNUSED static aigw_status fx_build_upstream(void* ctx, aigw_upstream_request* up,
                                                     aigw_errbuf* err) {
  (void)ctx;
  (void)up;
  (void)err;
  return AIGW_OK; /* the host's defaults: forward the client request as is */
}

FX_MAYBE_UNUSED static int fx_is_content_type(aigw_host_str name) {
  static const char want[] = "content-type";
  size_t i;
  if (name.len != sizeof want - 1) return 0;
  for (i = 0; i < name.len; ++i) {
    char c = name.ptr[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != want[i]) return 0;
  }
  return 1;
}

/* Starts the client's response with the upstream's status and
 * Content-Type, as the header requires in HTTP mode too. */
FX_MAYBE_UNUSED static aigw_status fx_start(fx_request* r) {
  aigw_plugin_header h;
  size_t n = 0;
  if (r->started) return AIGW_OK;
  r->started = 1;
  h.name.ptr = "content-type";
  h.name.len = 12;
  h.value.ptr = r->content_type;
  for (h.value.len = 0; r->content_type[h.value.len] != 0; ++h.value.len) {
  }
  if (h.value.len > 0) n = 1;
  return r->host->respond_start(r->req, r->status, &h, n);
}

/* A head the plugin answers from: respond_start now. A retryable one may be
 * replaced by another channel's; if the host delivers it anyway (the last
 * attempt), the body starts the response. */
FX_MAYBE_UNUSED static aigw_status fx_on_upstream_head(void* ctx, int32_t status,
                                                       const aigw_host_header* headers,
                                                       size_t header_count,
                                                       aigw_upstream_verdict* verdict) {
  fx_request* r = (fx_request*)ctx;
  size_t i;
  r->status = status;
  for (i = 0; i < header_count; ++i) {
    if (fx_is_content_type(headers[i].name) && headers[i].value.len < sizeof r->content_type) {
      size_t k;
      for (k = 0; k < headers[i].value.len; ++k) r->content_type[k] = headers[i].value.ptr[k];
      r->content_type[headers[i].value.len] = 0;
    }
  }
  verdict->error_class = status < 400 ? AIGW_ERROR_NONE : AIGW_ERROR_RETRYABLE;
  if (status < 400) return fx_start(r);
  return AIGW_OK;
}

/* Forwards the upstream bytes. Built against 1.2 or later, it says "content
 * has begun" after the first bytes it sends (it knows no dialect, so all
 * bytes count); built against 1.1 it cannot, and the host sniffs. */
FX_MAYBE_UNUSED static aigw_status fx_on_upstream_body(void* ctx, const aigw_host_bytes* chunks,
                                                       size_t count, int32_t end_of_body) {
  fx_request* r = (fx_request*)ctx;
  aigw_plugin_str none = {0, 0};
  size_t i;
  fx_start(r); /* a refusal (client gone) shows in emit */
  for (i = 0; i < count; ++i) {
    aigw_plugin_bytes b;
    if (chunks[i].len == 0) continue;
    b.ptr = chunks[i].ptr;
    b.len = chunks[i].len;
    if (r->host->emit(r->req, &b, 1) != AIGW_OK) return AIGW_OK;
#if AIGW_ABI_MINOR >= 2
    if (!r->committed && r->host->struct_size >= offsetof(aigw_host, commit) + sizeof r->host->commit) {
      r->committed = 1;
      if (r->host->commit(r->req) != AIGW_OK) return AIGW_OK;
    }
#endif
  }
  if (end_of_body) {
    /* Usage as this header knows it, followed in memory by bytes that are
     * not part of it: a host must read no further than struct_size says
     * (against the 1.1 header the struct ends at total_tokens, where a
     * 1.4 host's cached_tokens and reasoning_tokens would lie). */
    struct {
      aigw_usage u;
      uint64_t beyond[2];
    } usage;
    memset(&usage, 0, sizeof usage);
    usage.u.struct_size = (uint32_t)sizeof usage.u;
    usage.u.prompt_tokens = 3;
    usage.u.completion_tokens = 4;
    usage.u.total_tokens = 7;
    usage.beyond[0] = 777;
    usage.beyond[1] = 888;
    r->host->report_usage(r->req, &usage.u);
    r->host->finish(r->req, AIGW_OK, none);
  }
  return AIGW_OK;
}

/* A whole answer at once, as a direct-mode plugin gives it: 200 with this
 * Content-Type, the body, finish. */
FX_MAYBE_UNUSED static aigw_status fx_answer(fx_request* r, const char* content_type, const char* body,
                                             size_t len) {
  aigw_plugin_header h;
  aigw_plugin_bytes b;
  aigw_plugin_str none = {0, 0};
  h.name.ptr = "content-type";
  h.name.len = 12;
  h.value.ptr = content_type;
  h.value.len = strlen(content_type);
  b.ptr = (const uint8_t*)body;
  b.len = len;
  r->host->respond_start(r->req, 200, &h, 1);
  r->host->emit(r->req, &b, 1);
  return r->host->finish(r->req, AIGW_OK, none);
}

FX_MAYBE_UNUSED static aigw_status fx_request_start(void* ctx) {
  return fx_answer((fx_request*)ctx, "application/json", "{}", 2);
}

/* Complete hooks tables, positional in 1.3 field order. A fixture that
 * breaks a table passes its own value for the one field it breaks. */
/* The fields later minors appended, when the header in use has them (the
 * 1.1 fixture builds against the frozen 1.1 header). */
#if AIGW_ABI_MINOR >= 3
#define FX_HOOKS_1_3 , 0 /* native_dialects */
#else
#define FX_HOOKS_1_3
#endif

#define FX_HOOKS_COMMON                                                       \
  fx_config_new, fx_config_destroy, fx_instance_new, fx_instance_destroy,     \
      NULL /* list_models */, fx_request_new, fx_request_destroy

/* A direct-mode table with its own config and request hooks, for a
 * fixture whose point is one of them. */
#define FX_DIRECT_HOOKS_OF(config_new, config_destroy, request_new, request_destroy, start) \
  {                                                                           \
    sizeof(aigw_hooks), AIGW_MODE_DIRECT, config_new, config_destroy,         \
        fx_instance_new, fx_instance_destroy, NULL /* list_models */,         \
        request_new, request_destroy,                                         \
        NULL, NULL, NULL, NULL, /* HTTP hooks */                              \
        start, NULL, NULL, NULL, /* request_start, timer, process hooks */    \
        NULL, /* on_client_gone */                                            \
        NULL /* key_count (1.1) */ FX_HOOKS_1_3                               \
  }

#define FX_DIRECT_HOOKS(start) \
  FX_DIRECT_HOOKS_OF(fx_config_new, fx_config_destroy, fx_request_new, fx_request_destroy, start)

#define FX_HTTP_HOOKS                                                         \
  {                                                                           \
    sizeof(aigw_hooks), AIGW_MODE_HTTP, FX_HOOKS_COMMON,                      \
        fx_build_upstream, fx_on_upstream_head, fx_on_upstream_body,          \
        NULL, /* health_probe */                                              \
        NULL, NULL, NULL, NULL, /* direct-mode hooks */                       \
        NULL, /* on_client_gone */                                            \
        NULL /* key_count (1.1) */ FX_HOOKS_1_3                               \
  }

#endif /* AIGW_TEST_ABI_FIXTURE_H */
