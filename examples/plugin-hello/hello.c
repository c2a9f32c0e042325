/*
 * hello.c -- a complete aigw plugin in plain C99.
 *
 * Direct mode: no upstream. Every chat completion is answered with a fixed
 * greeting (provider key `greeting`), as an OpenAI chat.completion object or,
 * when the client asks for "stream": true, as server-sent events ending in
 * `data: [DONE]`. It reports token usage and the finish reason like a real
 * provider would.
 *
 * It includes nothing from aigw but aigw_plugin.h. Build:
 *   cc -std=c99 -pedantic -Wall -Wextra -Werror -shared -fPIC \
 *      -fvisibility=hidden -I../../include hello.c -o libaigw_hello.so
 * The walk-through is docs/plugins.md.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aigw_plugin.h"

#define HELLO_VERSION "1.0.0"
#define HELLO_DEFAULT_GREETING "Hello from a C plugin!"

/* One per [[provider]] table; read-only once config_new returns, so every
 * worker may read it without locks. */
typedef struct hello_config {
  const aigw_host* host;
  aigw_host_plugin* plugin;
  char* greeting; /* our own copy: the host's string dies with config_new */
  size_t greeting_len;
} hello_config;

/* One per worker. Only that worker touches it, so the counter needs no
 * atomics. */
typedef struct hello_instance {
  const hello_config* config;
  uint32_t worker_index;
  uint64_t next_id;
} hello_instance;

/* One per request. */
typedef struct hello_request {
  hello_instance* instance;
  aigw_request* req;
  aigw_host_str model; /* borrowed from the client request, valid until request_destroy */
  int stream;
  uint64_t prompt_bytes;
} hello_request;

/* --- small helpers ---------------------------------------------------------- */

static aigw_plugin_str plugin_str(const char* s, size_t len) {
  aigw_plugin_str out;
  out.ptr = s;
  out.len = len;
  return out;
}

static aigw_plugin_str cstr(const char* s) { return plugin_str(s, strlen(s)); }

/* Errors go into the host's buffer: no memory crosses the boundary. */
static void set_error(aigw_errbuf* err, const char* msg) {
  if (err && err->ptr && err->cap > 0) snprintf(err->ptr, err->cap, "%s", msg);
}

/* Bytes needed for `s` inside a JSON string. */
static size_t json_escaped_len(const char* s, size_t len) {
  size_t n = 0, i;
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') n += 2;
    else if (c < 0x20) n += 6; /* \u00XX */
    else n += 1;
  }
  return n;
}

/* A fixed-capacity text buffer, sized up front from the escaped lengths so
 * that appending can never run out. */
typedef struct text_buf {
  char* ptr;
  size_t len;
  size_t cap;
} text_buf;

static void put(text_buf* b, const char* s, size_t len) {
  if (len > b->cap - b->len) len = b->cap - b->len; /* cannot happen; never overflow */
  memcpy(b->ptr + b->len, s, len);
  b->len += len;
}

static void put_cstr(text_buf* b, const char* s) { put(b, s, strlen(s)); }

static void put_json_string(text_buf* b, const char* s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  put(b, "\"", 1);
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      char esc[2];
      esc[0] = '\\';
      esc[1] = (char)c;
      put(b, esc, 2);
    } else if (c < 0x20) {
      char esc[6] = {'\\', 'u', '0', '0', 0, 0};
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      put(b, esc, 6);
    } else {
      put(b, s + i, 1);
    }
  }
  put(b, "\"", 1);
}

static void put_u64(text_buf* b, uint64_t v) {
  char num[24];
  int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
  if (n > 0) put(b, num, (size_t)n);
}

/* Rough token counts: a real provider gets them from its model; hello
 * counts words of its answer and estimates four bytes per prompt token. */
static uint64_t count_words(const char* s, size_t len) {
  uint64_t words = 0;
  size_t i;
  int in_word = 0;
  for (i = 0; i < len; ++i) {
    int space = s[i] == ' ' || s[i] == '\t' || s[i] == '\n';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

/* --- configuration: control thread --------------------------------------- */

static aigw_status hello_config_new(const aigw_host* host, aigw_host_plugin* plugin,
                                    aigw_config_source* src, void** config_out,
                                    aigw_errbuf* err) {
  const char* text = HELLO_DEFAULT_GREETING;
  size_t len = strlen(HELLO_DEFAULT_GREETING);
  aigw_host_str value;
  hello_config* c;
  aigw_status st = host->config_string(src, cstr("greeting"), &value);

  if (st == AIGW_OK) {
    if (value.len == 0) {
      set_error(err, "greeting must not be empty");
      return AIGW_ERR_CONFIG;
    }
    text = value.ptr;
    len = value.len;
  } else if (st != AIGW_ERR_NOT_FOUND) {
    /* The host has already recorded where and why; say what we expected. */
    set_error(err, "greeting must be a string");
    return AIGW_ERR_CONFIG;
  }

  c = (hello_config*)calloc(1, sizeof *c);
  if (!c) return AIGW_ERR_NO_MEMORY;
  c->greeting = (char*)malloc(len + 1);
  if (!c->greeting) {
    free(c);
    return AIGW_ERR_NO_MEMORY;
  }
  memcpy(c->greeting, text, len);
  c->greeting[len] = '\0';
  c->greeting_len = len;
  c->host = host;
  c->plugin = plugin;
  *config_out = c;
  host->log(plugin, AIGW_LOG_DEBUG, cstr("hello provider configured"));
  return AIGW_OK;
}

static void hello_config_destroy(void* config) {
  hello_config* c = (hello_config*)config;
  free(c->greeting);
  free(c);
}

/* --- per worker ------------------------------------------------------------ */

static aigw_status hello_instance_new(void* config, const aigw_worker_info* worker,
                                      void** instance_out, aigw_errbuf* err) {
  hello_instance* in = (hello_instance*)calloc(1, sizeof *in);
  (void)err;
  if (!in) return AIGW_ERR_NO_MEMORY;
  in->config = (const hello_config*)config;
  in->worker_index = worker->worker_index;
  *instance_out = in;
  return AIGW_OK;
}

static void hello_instance_destroy(void* instance) { free(instance); }

/* --- per request ----------------------------------------------------------- */

static aigw_status hello_request_new(void* instance, aigw_request* req,
                                     const aigw_client_request* client, void** ctx_out,
                                     aigw_errbuf* err) {
  hello_request* r;
  size_t i;
  if (client->endpoint != AIGW_ENDPOINT_CHAT_COMPLETIONS) {
    set_error(err, "the hello provider only answers /v1/chat/completions");
    return AIGW_ERR_UNSUPPORTED; /* the client gets a 501 */
  }
  r = (hello_request*)calloc(1, sizeof *r);
  if (!r) return AIGW_ERR_NO_MEMORY;
  r->instance = (hello_instance*)instance;
  r->req = req;
  r->model = client->model; /* no copy: valid until request_destroy */
  r->stream = client->stream != 0;
  for (i = 0; i < client->body_count; ++i) r->prompt_bytes += client->body[i].len;
  *ctx_out = r;
  return AIGW_OK;
}

static void hello_request_destroy(void* ctx) { free(ctx); }

/* Writes the fields every chat completion object and chunk share. */
static void put_head(text_buf* b, const hello_request* r, const char* id, const char* object,
                     uint64_t created) {
  put_cstr(b, "{\"id\":\"");
  put_cstr(b, id);
  put_cstr(b, "\",\"object\":\"");
  put_cstr(b, object);
  put_cstr(b, "\",\"created\":");
  put_u64(b, created);
  put_cstr(b, ",\"model\":");
  put_json_string(b, r->model.ptr, r->model.len);
}

/* Sends one buffer; nonzero when the client is gone and we should stop. */
static int emit_text(const aigw_host* host, const hello_request* r, const text_buf* b) {
  aigw_plugin_bytes chunk;
  chunk.ptr = (const uint8_t*)b->ptr;
  chunk.len = b->len;
  return host->emit(r->req, &chunk, 1) != AIGW_OK;
}

static aigw_status hello_request_start(void* ctx) {
  hello_request* r = (hello_request*)ctx;
  hello_instance* in = r->instance;
  const hello_config* c = in->config;
  const aigw_host* host = c->host;
  char id[64];
  uint64_t created = (uint64_t)time(NULL);
  aigw_usage usage;
  aigw_plugin_header headers[2];
  size_t header_count;
  text_buf b;

  snprintf(id, sizeof id, "chatcmpl-hello-%u-%llu", (unsigned)in->worker_index,
           (unsigned long long)in->next_id++);

  /* The longest thing we write is one whole answer (or one stream event):
   * the fixed text plus the escaped model and greeting. Arena memory is
   * freed by the host with the request. */
  b.cap = 512 + strlen(id) + json_escaped_len(r->model.ptr, r->model.len) +
          json_escaped_len(c->greeting, c->greeting_len);
  b.len = 0;
  b.ptr = (char*)host->arena_alloc(r->req, b.cap, 1);
  if (!b.ptr) return host->finish(r->req, AIGW_ERR_NO_MEMORY, cstr("out of memory"));

  usage.struct_size = sizeof usage;
  usage.reserved = 0;
  usage.prompt_tokens = (r->prompt_bytes + 3) / 4;
  usage.completion_tokens = count_words(c->greeting, c->greeting_len);
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;

  headers[0].name = cstr("content-type");
  if (r->stream) {
    headers[0].value = cstr("text/event-stream");
    headers[1].name = cstr("cache-control");
    headers[1].value = cstr("no-cache");
    header_count = 2;
  } else {
    headers[0].value = cstr("application/json");
    header_count = 1;
  }
  if (host->respond_start(r->req, 200, headers, header_count) != AIGW_OK) return AIGW_OK;

  if (!r->stream) {
    put_head(&b, r, id, "chat.completion", created);
    put_cstr(&b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    put_json_string(&b, c->greeting, c->greeting_len);
    put_cstr(&b, "},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":");
    put_u64(&b, usage.prompt_tokens);
    put_cstr(&b, ",\"completion_tokens\":");
    put_u64(&b, usage.completion_tokens);
    put_cstr(&b, ",\"total_tokens\":");
    put_u64(&b, usage.total_tokens);
    put_cstr(&b, "}}");
    if (emit_text(host, r, &b)) return AIGW_OK;
  } else {
    /* The role first, then one event per word (with the space after it),
     * then the finish reason, as OpenAI streams do. */
    size_t pos = 0;
    b.len = 0;
    put_cstr(&b, "data: ");
    put_head(&b, r, id, "chat.completion.chunk", created);
    put_cstr(&b, ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                 "\"finish_reason\":null}]}\n\n");
    if (emit_text(host, r, &b)) return AIGW_OK;
    while (pos < c->greeting_len) {
      size_t end = pos;
      while (end < c->greeting_len && c->greeting[end] != ' ') ++end;
      while (end < c->greeting_len && c->greeting[end] == ' ') ++end;
      b.len = 0;
      put_cstr(&b, "data: ");
      put_head(&b, r, id, "chat.completion.chunk", created);
      put_cstr(&b, ",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
      put_json_string(&b, c->greeting + pos, end - pos);
      put_cstr(&b, "},\"finish_reason\":null}]}\n\n");
      if (emit_text(host, r, &b)) return AIGW_OK; /* client gone: stop producing */
      /* The first word is the first content: commit (ABI 1.2) so the host
       * sends what it held back now and never retries this request
       * elsewhere. A host older than 1.2 has no commit (it sniffs). */
      if (pos == 0 && host->struct_size >= offsetof(aigw_host, commit) + sizeof host->commit &&
          host->commit(r->req) != AIGW_OK) {
        return AIGW_OK;
      }
      pos = end;
    }
    b.len = 0;
    put_cstr(&b, "data: ");
    put_head(&b, r, id, "chat.completion.chunk", created);
    put_cstr(&b, ",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
                 "data: [DONE]\n\n");
    if (emit_text(host, r, &b)) return AIGW_OK;
  }

  host->report_usage(r->req, &usage);
  host->report_finish_reason(r->req, AIGW_FINISH_STOP);
  return host->finish(r->req, AIGW_OK, plugin_str(NULL, 0));
}

/* --- the definition -------------------------------------------------------- */

static const aigw_hooks hello_hooks = {
  sizeof(aigw_hooks),
  AIGW_MODE_DIRECT,
  hello_config_new,
  hello_config_destroy,
  hello_instance_new,
  hello_instance_destroy,
  NULL, /* list_models: the operator lists the models in TOML */
  hello_request_new,
  hello_request_destroy,
  NULL, /* build_upstream: HTTP mode only */
  NULL, /* on_upstream_head */
  NULL, /* on_upstream_body */
  NULL, /* health_probe */
  hello_request_start,
  NULL, /* on_timer: we start no timers */
  NULL, /* on_process_output: we spawn nothing */
  NULL, /* on_process_exit */
  NULL, /* on_client_gone: we answer at once, nothing to stop */
  NULL, /* key_count (ABI 1.1): no upstream keys */
  0     /* native_dialects (ABI 1.3): OpenAI's dialect only */
};

static const aigw_plugin_def hello_def = {
  AIGW_PLUGIN_DEF_HEADER, "hello", HELLO_VERSION, 0, 0, &hello_hooks
};

AIGW_PLUGIN_ENTRY { return &hello_def; }
