/* A direct-mode plugin that answers with what the host told it of the
 * client's request: the method, the path and every header, one per line
 * ("name: value"). The integration test reads it to check which client
 * headers a plugin may see (never the client's own credentials for aigw,
 * nor hop-by-hop ones). The response header x-echo-body-facts carries
 * aigw_client_request.body_facts (ABI 1.5) in decimal. */
#include <stdio.h>

#include "fixture.h"

typedef struct echo_request {
  fx_request base;
  char* text; /* the answer, built at request_new */
  size_t len;
  char facts[16]; /* body_facts in decimal, or "none" before 1.5 */
} echo_request;

static int append(echo_request* r, size_t* cap, const char* p, size_t n) {
  if (r->len + n > *cap) {
    size_t want = (r->len + n) * 2;
    char* grown = (char*)realloc(r->text, want);
    if (!grown) return 0;
    r->text = grown;
    *cap = want;
  }
  memcpy(r->text + r->len, p, n);
  r->len += n;
  return 1;
}

static aigw_status echo_request_new(void* instance, aigw_request* req, const aigw_client_request* client,
                                    void** ctx_out, aigw_errbuf* err) {
  echo_request* r = (echo_request*)malloc(sizeof *r);
  size_t cap = 0, i;
  int ok = 1;
  (void)err;
  if (!r) return AIGW_ERR_NO_MEMORY;
  r->base.host = ((fx_config*)instance)->host;
  r->base.req = req;
  r->text = NULL;
  r->len = 0;
  if (client->struct_size >= offsetof(aigw_client_request, body_facts) + sizeof client->body_facts) {
    snprintf(r->facts, sizeof r->facts, "%u", (unsigned)client->body_facts);
  } else {
    snprintf(r->facts, sizeof r->facts, "none");
  }
  ok = ok && append(r, &cap, client->method.ptr, client->method.len) && append(r, &cap, " ", 1) &&
       append(r, &cap, client->path.ptr, client->path.len) && append(r, &cap, "\n", 1);
  for (i = 0; ok && i < client->header_count; ++i) {
    const aigw_host_header* h = &client->headers[i];
    ok = append(r, &cap, h->name.ptr, h->name.len) && append(r, &cap, ": ", 2) &&
         append(r, &cap, h->value.ptr, h->value.len) && append(r, &cap, "\n", 1);
  }
  if (!ok) {
    free(r->text);
    free(r);
    return AIGW_ERR_NO_MEMORY;
  }
  *ctx_out = r;
  return AIGW_OK;
}

static void echo_request_destroy(void* ctx) {
  echo_request* r = (echo_request*)ctx;
  free(r->text);
  free(r);
}

static aigw_status echo_start(void* ctx) {
  echo_request* r = (echo_request*)ctx;
  aigw_plugin_header h[2];
  aigw_plugin_bytes b;
  aigw_plugin_str none = {0, 0};
  h[0].name.ptr = "content-type";
  h[0].name.len = 12;
  h[0].value.ptr = "text/plain";
  h[0].value.len = 10;
  h[1].name.ptr = "x-echo-body-facts";
  h[1].name.len = 17;
  h[1].value.ptr = r->facts;
  h[1].value.len = strlen(r->facts);
  b.ptr = (const uint8_t*)r->text;
  b.len = r->len;
  r->base.host->respond_start(r->base.req, 200, h, 2);
  r->base.host->emit(r->base.req, &b, 1);
  return r->base.host->finish(r->base.req, AIGW_OK, none);
}

static const aigw_hooks hooks =
    FX_DIRECT_HOOKS_OF(fx_config_new, fx_config_destroy, echo_request_new, echo_request_destroy, echo_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "echo_client", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
