/*
 * aigw_plugin.h -- the stable C ABI between aigw and provider plugins.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `aigw_plugin_entry` (see AIGW_PLUGIN_ENTRY_SYMBOL), and is built against
 * nothing but this header. C99, no includes beyond the fixed-width types.
 *
 * ---------------------------------------------------------------------------
 * VERSIONING RULE
 *   AIGW_ABI_MAJOR changes when anything existing changes: a field moved,
 *   removed or retyped, a function's signature or meaning changed.
 *   AIGW_ABI_MINOR changes when something is added AT THE END: a new field at
 *   the end of a table, a new function pointer at the end of a table, a new
 *   status or enum value.
 *   The host loads a plugin whose major equals its own and whose minor is at
 *   most its own; it refuses anything else with a message naming both
 *   versions. Both sides then speak the lower minor: every table starts with
 *   `struct_size`, and neither side reads a field that lies beyond the
 *   struct_size the other side wrote. The history is in docs/abi/CHANGELOG.md.
 *   AIGW_ABI_SIGNATURE (pointer size, byte order) must match exactly.
 *
 * NAMES
 *   aigw_*            types and constants
 *   aigw_hooks.*      hooks: functions the PLUGIN implements, the host calls
 *   aigw_host.*       host callbacks: functions the HOST implements, the
 *                     plugin calls
 *
 * OWNERSHIP (every declaration below has an OWNERSHIP: line)
 *   aigw_host_str / aigw_host_bytes      owned by the host; the plugin may
 *       read them only until the hook it was given to returns (borrowed).
 *   aigw_plugin_str / aigw_plugin_bytes  owned by the plugin; the host reads
 *       them only during the call they are passed to and copies what it keeps.
 *   Each side frees only what it allocated. Plugin errors are written into
 *   a host-provided aigw_errbuf, so no memory crosses allocators.
 *
 * THREADS (every hook and callback has a THREAD: line)
 *   CONTROL  the control thread: loading, configuration, model listing.
 *   WORKER   the worker thread that owns the instance/request. Each worker
 *            has its own instance, so a plugin needs no locks for per-worker
 *            state. A request never moves between workers.
 *   ANY      any thread, concurrently.
 *
 * LIFECYCLE
 *   entry() -> config_new (CONTROL, once per provider table)
 *           -> instance_new (WORKER, once per worker per config)
 *           -> request_new ... request_destroy (WORKER, per request)
 *           -> instance_destroy (WORKER) -> config_destroy (CONTROL)
 *   Nothing relies on constructors or destructors in the shared object. When
 *   a plugin is replaced (hot swap), requests in flight finish on the old
 *   generation; its instances and configs are destroyed, and the object is
 *   unloaded, only when no worker uses it any more -- unless the plugin sets
 *   AIGW_PLUGIN_FLAG_NO_UNLOAD.
 *
 * TRUST
 *   A plugin runs inside the gateway's process, on its worker threads, with
 *   all of its privileges: it can read every client's request and every
 *   upstream key. The ABI protects against mistakes (sizes, versions,
 *   ownership), not against a hostile plugin. Load only plugins you would
 *   trust with the gateway's own binary.
 *
 * RETURNS (every callback has a Returns: line)
 *   Callbacks answer with an aigw_status. AIGW_ERR_CLOSED always means "this
 *   request is over (finished, or the client left): stop producing"; it is
 *   not an error to report.
 * ---------------------------------------------------------------------------
 */
#ifndef AIGW_PLUGIN_H
#define AIGW_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AIGW_ABI_MAJOR 1
#define AIGW_ABI_MINOR 5

/* Refuses a binary built for another pointer size or byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define AIGW_ABI_BYTE_ORDER "be"
#else
#define AIGW_ABI_BYTE_ORDER "le"
#endif
#if UINTPTR_MAX == 0xFFFFFFFFu
#define AIGW_ABI_PTR "p32"
#else
#define AIGW_ABI_PTR "p64"
#endif
#define AIGW_ABI_STR_(x) #x
#define AIGW_ABI_STR(x) AIGW_ABI_STR_(x)
#define AIGW_ABI_SIGNATURE \
  "aigw-abi" AIGW_ABI_STR(AIGW_ABI_MAJOR) "-" AIGW_ABI_PTR "-" AIGW_ABI_BYTE_ORDER

#define AIGW_PLUGIN_ENTRY_SYMBOL "aigw_plugin_entry"

#if defined(__GNUC__)
#define AIGW_EXPORT __attribute__((visibility("default")))
#else
#define AIGW_EXPORT
#endif

/* ===========================================================================
 * Types
 * ======================================================================== */

/* Every host call and most hooks return one of these. Results travel
 * through out-parameters. New values may be added (minor). */
typedef int32_t aigw_status;
enum {
  AIGW_OK = 0,
  AIGW_ERR_INVALID = 1,     /* an argument is wrong (null, out of range) */
  AIGW_ERR_NOT_FOUND = 2,   /* no such key, model, process */
  AIGW_ERR_NO_MEMORY = 3,
  AIGW_ERR_UNSUPPORTED = 4, /* not available in this mode or version */
  AIGW_ERR_CLOSED = 5,      /* the request already finished or the client left */
  AIGW_ERR_LIMIT = 6,       /* a configured cap was reached */
  AIGW_ERR_CONFIG = 7,      /* configuration rejected; message in the errbuf */
  AIGW_ERR_INTERNAL = 8
};

/* OWNERSHIP: host. Borrowed by the plugin until the hook returns. */
typedef struct aigw_host_str {
  const char* ptr; /* not NUL-terminated */
  size_t len;
} aigw_host_str;

/* OWNERSHIP: host. Borrowed by the plugin until the hook returns. */
typedef struct aigw_host_bytes {
  const uint8_t* ptr;
  size_t len;
} aigw_host_bytes;

/* OWNERSHIP: plugin. The host reads it during the call and copies it. */
typedef struct aigw_plugin_str {
  const char* ptr; /* not NUL-terminated */
  size_t len;
} aigw_plugin_str;

/* OWNERSHIP: plugin. The host reads it during the call and copies it. */
typedef struct aigw_plugin_bytes {
  const uint8_t* ptr;
  size_t len;
} aigw_plugin_bytes;

/* A header the host shows the plugin. OWNERSHIP: host, borrowed. */
typedef struct aigw_host_header {
  aigw_host_str name;
  aigw_host_str value;
} aigw_host_header;

/* A header the plugin gives the host. OWNERSHIP: plugin; the host copies. */
typedef struct aigw_plugin_header {
  aigw_plugin_str name;
  aigw_plugin_str value;
} aigw_plugin_header;

/* Where a plugin writes an error message: a host-owned buffer of `cap`
 * bytes. Write a NUL-terminated message, truncated to fit.
 * OWNERSHIP: host. THREAD: the thread of the hook it is given to. */
typedef struct aigw_errbuf {
  char* ptr;
  size_t cap;
} aigw_errbuf;

typedef int32_t aigw_log_level;
enum { AIGW_LOG_DEBUG = 0, AIGW_LOG_INFO = 1, AIGW_LOG_WARN = 2, AIGW_LOG_ERROR = 3 };

/* Which OpenAI endpoint a client called. */
typedef int32_t aigw_endpoint;
enum {
  AIGW_ENDPOINT_CHAT_COMPLETIONS = 1, /* POST /v1/chat/completions */
  AIGW_ENDPOINT_COMPLETIONS = 2,      /* POST /v1/completions */
  AIGW_ENDPOINT_EMBEDDINGS = 3,       /* POST /v1/embeddings */
  /* ABI 1.1: an active health probe of one key (aigw_client_request.key_index),
   * made by the host on its own, with no client and no body. The host
   * pre-fills the upstream request with health_probe's method and path; the
   * plugin adds what the provider needs (its credential) in build_upstream.
   * The host judges the answer by its status alone and reads no body. Sent
   * only to plugins built for 1.1 or later that have a health_probe hook. */
  AIGW_ENDPOINT_HEALTH_PROBE = 4,
  /* ABI 1.3: Anthropic's Messages API, sent only to a plugin that declares
   * AIGW_DIALECT_ANTHROPIC_MESSAGES in aigw_hooks.native_dialects. The body
   * is the client's Anthropic request, as sent (model_value_offset and
   * model_value_len point at its "model" as for the OpenAI endpoints); the
   * plugin answers in Anthropic's shape (JSON, or the event stream
   * message_start .. message_stop) and the host forwards it unchanged.
   * Other plugins never see these endpoints: the host translates the
   * request to AIGW_ENDPOINT_CHAT_COMPLETIONS and the answer back. */
  AIGW_ENDPOINT_MESSAGES = 5,             /* POST /v1/messages */
  AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS = 6 /* POST /v1/messages/count_tokens */
};

/* ABI 1.3: client dialects a plugin can serve natively, as bits of
 * aigw_hooks.native_dialects. */
enum {
  /* The Anthropic Messages API (AIGW_ENDPOINT_MESSAGES and
   * AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS). */
  AIGW_DIALECT_ANTHROPIC_MESSAGES = 1u << 0
};

/* ABI 1.5: what the host learned of a request body's top level while it
 * read the body, as bits of aigw_client_request.body_facts, so that a
 * plugin need not read the body again to learn it. */
enum {
  /* The body is one JSON object that the host read to its end, with
   * nothing but whitespace after it. The bits below mean something only
   * with this one; without it (a body the host did not read this way, or a
   * host older than 1.5) a plugin reads the body itself if it must. */
  AIGW_BODY_READ = 1u << 0,
  /* The object has a "stream_options" member (its key compared after JSON
   * unescaping, as any JSON reader, the provider's included, compares it). */
  AIGW_BODY_HAS_STREAM_OPTIONS = 1u << 1
};

/* How a plugin serves a provider. */
typedef int32_t aigw_mode;
enum {
  /* The host sends an upstream HTTP request the plugin describes, and feeds
   * the upstream response to the plugin, which turns it into OpenAI bytes. */
  AIGW_MODE_HTTP = 1,
  /* The plugin produces the response itself, asynchronously, through host
   * callbacks (emit, timers, subprocesses). For providers that are not HTTP. */
  AIGW_MODE_DIRECT = 2
};

/* How an upstream failure should steer routing. */
typedef int32_t aigw_error_class;
enum {
  AIGW_ERROR_NONE = 0,         /* not an error */
  AIGW_ERROR_CLIENT = 1,       /* the request itself is bad: never retry */
  AIGW_ERROR_RETRYABLE = 2,    /* try another channel (5xx, overload) */
  AIGW_ERROR_RATE_LIMITED = 3, /* cool this key down for retry_after_ms */
  AIGW_ERROR_KEY_INVALID = 4   /* disable this key (401/403) */
};

typedef int32_t aigw_finish_reason;
enum {
  AIGW_FINISH_UNKNOWN = 0,
  AIGW_FINISH_STOP = 1,
  AIGW_FINISH_LENGTH = 2,
  AIGW_FINISH_TOOL_CALLS = 3,
  AIGW_FINISH_CONTENT_FILTER = 4,
  AIGW_FINISH_ERROR = 5
};

/* Opaque host halves. The plugin holds pointers to them and passes them
 * back; it never looks inside. */
typedef struct aigw_host_plugin aigw_host_plugin;   /* one loaded plugin generation */
typedef struct aigw_config_source aigw_config_source; /* a provider's TOML table */
typedef struct aigw_request aigw_request;           /* one client request */
typedef struct aigw_process aigw_process;           /* a child process (direct mode) */

/* The plugin's own halves, named for the reader. They are plain void: the
 * host never looks inside and hands each back exactly as the plugin gave it.
 *   aigw_plugin_config    from config_new, one per provider table (CONTROL)
 *   aigw_plugin_instance  from instance_new, one per worker per config
 *   aigw_request_ctx      from request_new, one per request (WORKER) */
typedef void aigw_plugin_config;
typedef void aigw_plugin_instance;
typedef void aigw_request_ctx;

/* Token usage, reported once per request. */
typedef struct aigw_usage {
  uint32_t struct_size;
  uint32_t reserved;
  uint64_t prompt_tokens;
  uint64_t completion_tokens;
  uint64_t total_tokens;
  /* ABI 1.4: parts of the counts above, when the provider reports them:
   * prompt tokens served from the provider's prompt cache (included in
   * prompt_tokens), and completion tokens spent on reasoning or thinking
   * (included in completion_tokens). 0: none, or not reported. A 1.3 or
   * older host reads neither (struct_size tells it where to stop). */
  uint64_t cached_tokens;
  uint64_t reasoning_tokens;
} aigw_usage;

/* What the host knows about a client request when it asks a plugin to serve
 * it. OWNERSHIP: host; every pointer inside is valid until request_destroy
 * returns (the host keeps the request bytes alive for the whole request, so
 * a plugin may keep these views without copying).
 * THREAD: WORKER. */
typedef struct aigw_client_request {
  uint32_t struct_size;
  aigw_endpoint endpoint;
  int32_t stream;              /* 1 when the client asked for "stream": true */
  int32_t reserved;
  aigw_host_str model;         /* the public model name the client asked for */
  aigw_host_str upstream_model;/* after the provider's model_map */
  aigw_host_str method;        /* "POST" */
  aigw_host_str path;          /* "/v1/chat/completions" */
  const aigw_host_header* headers; /* client headers minus hop-by-hop and credentials */
  size_t header_count;
  const aigw_host_bytes* body; /* the request body as chunks */
  size_t body_count;
  /* Byte offsets of the "model" string value (inside its quotes) in the
   * body seen as one sequence, so a plugin can splice a new name without
   * re-serialising. model_value_len is 0 when the body has no model. */
  uint64_t model_value_offset;
  uint64_t model_value_len;
  /* ABI 1.1: which of the provider's upstream keys serves this request
   * (0 .. key_count-1), chosen by the host's routing so that it can track
   * each key's health and fail over to another. Read it only when
   * struct_size covers it; a 1.0 host leaves key choice to the plugin. */
  uint32_t key_index;
  uint32_t reserved2;
  /* ABI 1.5: AIGW_BODY_* bits for `body`. Read it only when struct_size
   * covers it; 0 from a host that read nothing of the body's top level. */
  uint32_t body_facts;
  uint32_t reserved3;
} aigw_client_request;

/* Worker identity. OWNERSHIP: host, borrowed. THREAD: WORKER. */
typedef struct aigw_worker_info {
  uint32_t struct_size;
  uint32_t worker_index; /* 0 .. worker_count-1 */
  uint32_t worker_count;
  uint32_t reserved;
} aigw_worker_info;

/* --- HTTP mode -------------------------------------------------------------- */

/* The upstream request a plugin describes. The host fills it in with
 * defaults (method POST, path, body = the client body) before calling
 * build_upstream; the plugin changes what it must.
 * OWNERSHIP: the struct is host-owned; pointers the plugin stores in it must
 * stay valid until request_destroy (allocate them with host->arena_alloc, or
 * point into the client request, which lives as long).
 * THREAD: WORKER. */
typedef struct aigw_upstream_request {
  uint32_t struct_size;
  int32_t body_unchanged;          /* 1: send the client body as is (zero-copy) */
  aigw_plugin_str method;
  aigw_plugin_str path_and_query;  /* appended to the provider's base URL path */
  const aigw_plugin_header* headers; /* added to the host's own (Host, Content-Length) */
  size_t header_count;
  const aigw_plugin_bytes* body;   /* used when body_unchanged == 0 */
  size_t body_count;
} aigw_upstream_request;

/* What the plugin concludes from an upstream status and headers.
 * OWNERSHIP: host-owned struct, plugin fills it. THREAD: WORKER. */
typedef struct aigw_upstream_verdict {
  uint32_t struct_size;
  aigw_error_class error_class;
  uint64_t retry_after_ms; /* for AIGW_ERROR_RATE_LIMITED; 0 = host default */
} aigw_upstream_verdict;

/* A cheap health probe the host runs against the provider (never a billed
 * completion). OWNERSHIP: plugin strings, copied by the host. */
typedef struct aigw_health_probe {
  uint32_t struct_size;
  int32_t expect_status; /* e.g. 200 */
  aigw_plugin_str method; /* "GET" */
  aigw_plugin_str path;   /* appended to the base URL path, e.g. "/models" */
} aigw_health_probe;

/* --- Direct mode: subprocesses ---------------------------------------------- */

/* OWNERSHIP: plugin; the host copies everything during spawn. */
typedef struct aigw_spawn_options {
  uint32_t struct_size;
  uint32_t reserved;
  const aigw_plugin_str* argv; /* argv[0] is the program; searched in PATH */
  size_t argc;
  const aigw_plugin_str* env;  /* "NAME=value"; NULL = inherit the host's */
  size_t env_count;
  uint64_t timeout_ms;         /* killed (SIGKILL) after this; 0 = no limit */
} aigw_spawn_options;

/* ===========================================================================
 * Host callbacks: implemented by aigw, called by the plugin.
 * The table is valid from config_new until config_destroy returns.
 * ======================================================================== */
typedef struct aigw_host {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Logs one line tagged with the plugin's name. Never log secrets.
   * OWNERSHIP: msg is plugin-owned, copied. THREAD: ANY. Returns: nothing. */
  void (*log)(aigw_host_plugin* plugin, aigw_log_level level, aigw_plugin_str msg);

  /* Monotonic clock. THREAD: ANY. Returns: nanoseconds since an arbitrary
   * point, never decreasing. */
  uint64_t (*now_ns)(void);

  /* --- configuration: THREAD: CONTROL, only during config_new ------------ */
  /* The provider's TOML table. Reading a key marks it as known; after
   * config_new returns AIGW_OK the host reports every key nobody read as
   * unknown (with the nearest known key as a suggestion).
   * Returns: AIGW_OK; AIGW_ERR_NOT_FOUND when the key is absent;
   * AIGW_ERR_INVALID when it has another type (the host records an error
   * naming file, line, column and key, and the configuration is refused).
   * OWNERSHIP: out strings are host-owned, valid until config_new returns:
   * copy what you keep. */
  aigw_status (*config_string)(aigw_config_source* src, aigw_plugin_str key, aigw_host_str* out);
  aigw_status (*config_int)(aigw_config_source* src, aigw_plugin_str key, int64_t* out);
  aigw_status (*config_bool)(aigw_config_source* src, aigw_plugin_str key, int32_t* out);
  /* A duration string ("10s", "250ms") in milliseconds. Returns: as above. */
  aigw_status (*config_duration_ms)(aigw_config_source* src, aigw_plugin_str key, uint64_t* out);
  /* Arrays of strings: length, then items by index. Returns: as above;
   * AIGW_ERR_NOT_FOUND for an index past the end. */
  aigw_status (*config_array_len)(aigw_config_source* src, aigw_plugin_str key, size_t* out);
  aigw_status (*config_array_string)(aigw_config_source* src, aigw_plugin_str key, size_t index,
                                     aigw_host_str* out);
  /* A secret: the value of `key` (or its index-th item when it is an array),
   * with "env:NAME" resolved from the environment. The host never logs it.
   * Wipe your copy when you free it. Returns: as above; AIGW_ERR_INVALID
   * also when "env:NAME" names an unset variable (the error says which). */
  aigw_status (*config_secret)(aigw_config_source* src, aigw_plugin_str key, size_t index,
                               aigw_host_str* out);

  /* --- per request: THREAD: WORKER owning the request -------------------- */
  /* Memory freed by the host when the request is destroyed.
   * Returns: the memory, or NULL for size 0, an align that is not a power of
   * two up to 4096, or out of memory. OWNERSHIP: host; never free it. */
  void* (*arena_alloc)(aigw_request* req, size_t size, size_t align);

  /* Starts the response to the client: its status and headers. Required in
   * BOTH modes before the first emit: in HTTP mode too, typically from
   * on_upstream_head with the upstream's status and Content-Type (a plugin
   * that emits without it gets AIGW_ERR_INVALID, and the client a 502).
   * The host adds framing (Content-Length or chunked, Date, Server) and
   * drops framing headers the plugin passes.
   * Returns: AIGW_OK; AIGW_ERR_INVALID when called twice, for a status
   * outside 200..599 or NULL headers with a count; AIGW_ERR_CLOSED.
   * OWNERSHIP: headers plugin-owned, copied. */
  aigw_status (*respond_start)(aigw_request* req, int32_t status, const aigw_plugin_header* headers,
                               size_t header_count);
  /* Sends bytes to the client (both modes: in HTTP mode, the client-format
   * bytes the plugin made from upstream bytes). The host copies them and
   * writes them out in the same loop turn (one event in, one write out),
   * except that the start of a stream is held back until content begins
   * (see commit). Returns: AIGW_OK; AIGW_ERR_INVALID before respond_start;
   * AIGW_ERR_CLOSED when the client is gone: stop producing.
   * OWNERSHIP: chunks plugin-owned, copied. */
  aigw_status (*emit)(aigw_request* req, const aigw_plugin_bytes* chunks, size_t count);
  /* Ends the response. status AIGW_OK: complete. Anything else: the host
   * answers with an OpenAI-style error (if nothing was sent yet) or ends the
   * stream with an error event, carrying `message`; AIGW_ERR_INTERNAL or
   * AIGW_ERR_LIMIT before any content reached the client may instead be
   * retried on another channel. After finish the plugin gets no more events
   * for this request except request_destroy.
   * Returns: AIGW_OK; AIGW_ERR_CLOSED when already finished or the client
   * is gone. OWNERSHIP: message plugin-owned, copied. */
  aigw_status (*finish)(aigw_request* req, aigw_status status, aigw_plugin_str message);
  /* Token usage, for accounting: it feeds the access log, the metrics and
   * the client key's token budget. Call before finish; a later call
   * replaces an earlier one. Returns: AIGW_OK; AIGW_ERR_INVALID for a NULL
   * or too small struct. */
  aigw_status (*report_usage)(aigw_request* req, const aigw_usage* usage);
  /* Why the model stopped, for accounting: the access log's finish_reason
   * field and the aigw_finish_reasons_total metric (per provider). Call
   * before finish; a later call replaces an earlier one. Returns: AIGW_OK;
   * AIGW_ERR_INVALID for a value outside aigw_finish_reason. */
  aigw_status (*report_finish_reason)(aigw_request* req, aigw_finish_reason reason);

  /* Direct mode: calls hooks.on_timer(ctx, token) after delay_ns, on the
   * worker's ring. Timers die with the request. Returns: AIGW_OK;
   * AIGW_ERR_CLOSED. */
  aigw_status (*timer_start)(aigw_request* req, uint64_t delay_ns, uint64_t token);

  /* Direct mode: runs a child process (in its own process group) with
   * stdin/stdout pipes on the worker's ring; stdout arrives through
   * hooks.on_process_output, the exit through hooks.on_process_exit. The
   * child's group is killed when the request ends (client gone, timeout,
   * finish). Returns: AIGW_OK; AIGW_ERR_UNSUPPORTED when the plugin has no
   * on_process_exit hook; AIGW_ERR_INVALID for bad options; AIGW_ERR_LIMIT
   * when the worker's share of file descriptors cannot spare the three a
   * child needs (a process can be retried later; the client gets 429 if the
   * plugin passes it on); AIGW_ERR_NOT_FOUND when argv[0] cannot be run;
   * AIGW_ERR_INTERNAL when the system refuses (fork, pipes); AIGW_ERR_CLOSED.
   * OWNERSHIP: options plugin-owned, copied; *out is host-owned, valid until
   * on_process_exit returns. */
  aigw_status (*spawn)(aigw_request* req, const aigw_spawn_options* options, aigw_process** out);
  /* Writes to the child's stdin. Returns: AIGW_OK; AIGW_ERR_CLOSED once
   * stdin is closed or the child gone. OWNERSHIP: chunks copied. */
  aigw_status (*process_write)(aigw_process* proc, const aigw_plugin_bytes* chunks, size_t count);
  /* Closes the child's stdin after what was written. Returns: AIGW_OK. */
  aigw_status (*process_close_stdin)(aigw_process* proc);
  /* Kills the child's process group (SIGKILL). Returns: AIGW_OK. */
  aigw_status (*process_kill)(aigw_process* proc);

  /* --- ABI 1.2 --------------------------------------------------------- */

  /* Says "the response's content has begun": the host sends the held-back
   * start of a stream now and from then on never retries the request on
   * another channel. Until a stream is committed, the host holds what the
   * plugin emits (up to 64 KiB) so that a provider failing before its first
   * token can still be replaced by another; a stream is also committed by
   * finish and when the held bytes pass the cap. Call it right after
   * emitting the first event that carries content (a token, a tool call,
   * the end of the stream), in any output dialect. A plugin that declares
   * minor 2 or later must call it; for older plugins the host instead
   * sniffs the emitted bytes for OpenAI chunk fields. No effect on a
   * response that is not a stream (it is sent whole at finish).
   * Returns: AIGW_OK (also when already committed); AIGW_ERR_INVALID before
   * respond_start; AIGW_ERR_CLOSED. THREAD: WORKER owning the request.
   * Check host->struct_size covers it before calling on an older host. */
  aigw_status (*commit)(aigw_request* req);
} aigw_host;

/* ===========================================================================
 * Hooks: implemented by the plugin, called by aigw.
 * A hook the plugin does not implement is NULL; the host checks the hooks a
 * mode requires at load time and refuses the plugin if one is missing.
 * ======================================================================== */
typedef struct aigw_hooks {
  uint32_t struct_size;
  aigw_mode mode;

  /* --- every mode: all required except list_models ------------------------ */

  /* Builds the plugin's configuration for one provider table, validating it.
   * Return AIGW_ERR_CONFIG with a message in `err` to reject it; the operator
   * sees the message. `host` and `plugin` stay valid until config_destroy.
   * Returns: AIGW_OK with *config_out set, or an error with `err` filled.
   * OWNERSHIP: *config_out is plugin-owned until config_destroy.
   * THREAD: CONTROL. */
  aigw_status (*config_new)(const aigw_host* host, aigw_host_plugin* plugin,
                            aigw_config_source* src, aigw_plugin_config** config_out,
                            aigw_errbuf* err);
  /* THREAD: CONTROL, after every instance of this config is destroyed. */
  void (*config_destroy)(aigw_plugin_config* config);

  /* Per-worker state. Returns: AIGW_OK with *instance_out set, or an error
   * with `err` filled (the configuration is refused). OWNERSHIP:
   * *instance_out plugin-owned until instance_destroy. THREAD: WORKER (the
   * worker it belongs to). */
  aigw_status (*instance_new)(aigw_plugin_config* config, const aigw_worker_info* worker,
                              aigw_plugin_instance** instance_out, aigw_errbuf* err);
  /* THREAD: WORKER, after every request of this instance is destroyed. */
  void (*instance_destroy)(aigw_plugin_instance* instance);

  /* DEPRECATED (1.2): no aigw host has ever called it, and none will in
   * 1.x; the models a provider serves are the routes the operator writes in
   * TOML. Leave it NULL. The slot stays so that the layout does not move.
   * (Meant as: call add(sink, name) for each model the provider serves.) */
  aigw_status (*list_models)(aigw_plugin_config* config, void* sink,
                             void (*add)(void* sink, aigw_plugin_str model_name));

  /* A new request. The host owns `req` and `client` until request_destroy.
   * Return an error (message in err) to refuse it: the client gets a 400 for
   * AIGW_ERR_INVALID, 404 for AIGW_ERR_NOT_FOUND, 501 for
   * AIGW_ERR_UNSUPPORTED, 429 for AIGW_ERR_LIMIT, 503 for
   * AIGW_ERR_NO_MEMORY, 502 otherwise (and the host may first try another
   * provider of the model, ABI 1.1 hosts do).
   * Returns: AIGW_OK with *ctx_out set, or the error above.
   * OWNERSHIP: *ctx_out plugin-owned until request_destroy.
   * THREAD: WORKER. */
  aigw_status (*request_new)(aigw_plugin_instance* instance, aigw_request* req,
                             const aigw_client_request* client, aigw_request_ctx** ctx_out,
                             aigw_errbuf* err);
  /* Always called exactly once per successful request_new, also when the
   * client went away. THREAD: WORKER. */
  void (*request_destroy)(aigw_request_ctx* ctx);

  /* --- AIGW_MODE_HTTP: build_upstream, on_upstream_head and on_upstream_body
   * are required; health_probe is optional.
   * The steps of one attempt: build_upstream -> the host sends it ->
   * on_upstream_head (fill the verdict; for a good head call
   * host->respond_start) -> on_upstream_body ... (host->emit, host->commit
   * once content begins) -> at end_of_body host->report_usage and
   * host->finish. ------------------------------------------------------- */

  /* Describes the upstream request (pre-filled by the host). Returns:
   * AIGW_OK, or an error with `err` filled (the client gets it as for
   * request_new). THREAD: WORKER. */
  aigw_status (*build_upstream)(aigw_request_ctx* ctx, aigw_upstream_request* up, aigw_errbuf* err);
  /* Upstream status and headers arrived. Fill `verdict`; for a retryable
   * verdict the host may try another channel and destroy this request
   * instead of delivering a body. For a head the plugin will answer from,
   * call host->respond_start here: the host sends nothing the plugin has
   * not started. Returns: AIGW_OK; an error fails the attempt (502).
   * THREAD: WORKER. OWNERSHIP: headers borrowed until return. */
  aigw_status (*on_upstream_head)(aigw_request_ctx* ctx, int32_t status,
                                  const aigw_host_header* headers, size_t header_count,
                                  aigw_upstream_verdict* verdict);
  /* Upstream body bytes, incrementally (for streams: as they arrive).
   * The plugin emits client bytes with host->emit and, at end_of_body,
   * reports usage and calls host->finish. Returns: AIGW_OK; an error makes
   * the host finish the request with it if the plugin did not.
   * THREAD: WORKER. OWNERSHIP: chunks borrowed until return. */
  aigw_status (*on_upstream_body)(aigw_request_ctx* ctx, const aigw_host_bytes* chunks,
                                  size_t count, int32_t end_of_body);
  /* The provider's health probe: fill `probe`. Returns: AIGW_OK; an error
   * refuses a configuration with probe_interval. May be NULL (no active
   * probing). THREAD: CONTROL. */
  aigw_status (*health_probe)(aigw_plugin_config* config, aigw_health_probe* probe);

  /* --- AIGW_MODE_DIRECT: request_start is required; on_timer and the
   * on_process_* hooks are needed only by plugins that start timers or
   * processes (host->spawn returns AIGW_ERR_UNSUPPORTED when on_process_exit
   * is NULL) --------------------------------------------------------------- */

  /* Starts producing the response: respond_start, emit..., finish, now or
   * later from on_timer / on_process_* hooks. A status other than AIGW_OK
   * without a finish makes the host finish the request with that status.
   * Returns: AIGW_OK or that status. THREAD: WORKER. */
  aigw_status (*request_start)(aigw_request_ctx* ctx);
  /* A timer from host->timer_start fired. THREAD: WORKER. May be NULL if
   * the plugin starts no timers. */
  void (*on_timer)(aigw_request_ctx* ctx, uint64_t token);
  /* Child stdout bytes (eof = 1 once, when stdout closes). THREAD: WORKER.
   * OWNERSHIP: chunks borrowed until return. May be NULL if no spawn. */
  void (*on_process_output)(aigw_request_ctx* ctx, aigw_process* proc,
                            const aigw_host_bytes* chunks, size_t count, int32_t eof);
  /* The child exited: exit_code, or -signal if killed. Called after the
   * last on_process_output (eof). THREAD: WORKER. May be NULL (see above). */
  void (*on_process_exit)(aigw_request_ctx* ctx, aigw_process* proc, int32_t exit_status);

  /* --- optional, both modes ------------------------------------------------ */

  /* The client disconnected before the response finished. The plugin should
   * stop work; request_destroy follows. THREAD: WORKER. May be NULL. */
  void (*on_client_gone)(aigw_request_ctx* ctx);

  /* --- ABI 1.1 --------------------------------------------------------- */

  /* How many upstream keys (credentials) this provider has. The host makes
   * one routing channel of each, passes the chosen one as
   * aigw_client_request.key_index, and disables or cools down that key
   * alone on a KEY_INVALID or RATE_LIMITED verdict. NULL or 0: one channel,
   * and the plugin picks keys itself. Returns: the count. THREAD: CONTROL. */
  uint32_t (*key_count)(aigw_plugin_config* config);

  /* --- ABI 1.3 --------------------------------------------------------- */

  /* The client dialects (AIGW_DIALECT_* bits) this plugin serves natively:
   * for those the host passes the client's request through untranslated
   * (its own endpoint value, e.g. AIGW_ENDPOINT_MESSAGES) and forwards the
   * plugin's answer unchanged. 0, or a plugin built for an older minor: the
   * host translates to the OpenAI dialect and back. HTTP mode only; read
   * at load time. */
  uint64_t native_dialects;
} aigw_hooks;

/* Flags in aigw_plugin_def.flags. */
enum {
  /* Never dlclose this object (for plugins whose libraries cannot unload).
   * Hot swap still replaces it; the old code just stays mapped. */
  AIGW_PLUGIN_FLAG_NO_UNLOAD = 1u << 0
};

/* What the entry symbol returns. The first five fields are frozen across
 * all majors so that the host can always read the versions and refuse an
 * incompatible plugin with a clear message.
 * OWNERSHIP: plugin, static storage for the life of the shared object.
 * THREAD: CONTROL. */
typedef struct aigw_plugin_def {
  uint32_t struct_size;
  uint16_t abi_major;          /* AIGW_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;          /* AIGW_ABI_MINOR the plugin was built with */
  const char* abi_signature;   /* AIGW_ABI_SIGNATURE */
  const char* name;            /* NUL-terminated, [a-z0-9_-]+, e.g. "openai" */
  const char* version;         /* the plugin's own version, free-form */
  uint32_t flags;
  uint32_t reserved;
  const aigw_hooks* hooks;
} aigw_plugin_def;

/* The one exported symbol. Must not allocate or start threads: the host may
 * call it only to read the definition (e.g. `aigw plugins`).
 * THREAD: CONTROL. */
typedef const aigw_plugin_def* (*aigw_plugin_entry_fn)(void);

/* The entry symbol, declared here so that a definition in C++ gets C
 * linkage (an unmangled name) from this declaration. */
AIGW_EXPORT const aigw_plugin_def* aigw_plugin_entry(void);

/* Convenience for plugin authors:  AIGW_PLUGIN_ENTRY { return &my_def; } */
#define AIGW_PLUGIN_ENTRY AIGW_EXPORT const aigw_plugin_def* aigw_plugin_entry(void)

/* Fills the version fields of a definition, for plugin authors:
 *   static const aigw_plugin_def def = { AIGW_PLUGIN_DEF_HEADER, "name", ... } */
#define AIGW_PLUGIN_DEF_HEADER \
  sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, AIGW_ABI_MINOR, AIGW_ABI_SIGNATURE

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* AIGW_PLUGIN_H */
