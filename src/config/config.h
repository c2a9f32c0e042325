// The configuration model: what `aigw serve -c file.toml` runs with.
//
// A Config is built once on the control thread, validated completely, and then
// never changed: workers receive it as std::shared_ptr<const Config> and a
// reload builds a new one. Nothing here is touched on the request path except
// through that immutable snapshot.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::config {

using Duration = std::chrono::milliseconds;

struct ListenAddr {
  std::string text;           // as written, normalised: "127.0.0.1:8080", "[::1]:8080"
  sockaddr_storage addr{};    // resolved numeric address (no DNS: listen takes IP literals)
  socklen_t addr_len = 0;
};

struct ServerLimits {
  uint64_t max_header_bytes = 32 * 1024;
  uint64_t max_header_count = 100;
  uint64_t max_uri_bytes = 8 * 1024;
  uint64_t max_body_bytes = 32ull << 20;
  uint64_t max_requests_per_connection = 10000;
  uint64_t max_connections_per_worker = 16384;
};

struct ServerTimeouts {
  Duration header_read{10'000};     // whole request head must arrive within this -> 408
  Duration body_read_gap{60'000};   // longest pause between body bytes -> 408
  Duration keepalive_idle{75'000};  // idle keep-alive connection is closed after this
  Duration send{60'000};            // a client that does not read our response for this long is dropped
};

struct ServerIo {
  uint64_t ring_entries = 1024;     // submission queue size per worker
  uint64_t buffer_size = 16 * 1024; // one provided receive buffer
  uint64_t buffer_count = 1024;     // provided receive buffers per worker (power of two)
  // SO_SNDBUF of the public listeners, which the client sockets accepted
  // from them inherit; 0: the kernel's default, which grows with the
  // connection (tcp_wmem). Caps the kernel memory a slow reader can hold.
  uint64_t send_buffer = 0;
};

// [server.tls]: TLS on the public listeners (the admin listener stays plain).
struct ServerTls {
  std::string cert_file;  // PEM chain, leaf first
  std::string key_file;   // its private key
  bool enabled() const { return !cert_file.empty(); }
};

struct ServerConfig {
  std::vector<ListenAddr> listen;   // default: 127.0.0.1:8080
  ServerTls tls;
  uint64_t workers = 0;             // 0 = one per online CPU
  bool pin_workers = false;         // pin worker i to the i-th allowed CPU
  // SIGTERM: /ready answers 503 this long before draining starts, while
  // requests are still accepted and served (a load balancer's health check
  // needs time to notice). SIGINT skips it.
  Duration shutdown_delay{5'000};
  Duration shutdown_grace{30'000};
  ServerLimits limits;
  ServerTimeouts timeouts;
  ServerIo io;
};

enum class LogLevel : uint8_t { debug, info, warn, error };

struct LogConfig {
  LogLevel level = LogLevel::info;
};

// A [[plugin]] entry: which shared object provides a plugin name.
struct PluginConfig {
  std::string name;
  std::string path;  // empty: searched in AIGW_PLUGIN_PATH, the build and install dirs
};

// The plugins built and installed with aigw. A provider may name one without
// a [[plugin]] table (config.plugins then gets an entry without a path, as
// if one had been written); `local` is compiled into the binary. Keep the
// list in step with plugins/meson.build.
inline constexpr std::string_view kBundledPlugins[] = {"openai", "gemini", "anthropic"};
inline constexpr std::string_view kBundledPluginList = "the bundled plugins local, openai, gemini and anthropic";
bool is_bundled_plugin(std::string_view name);

// The raw TOML table of one [[provider]], kept so that the provider's plugin
// can read its own keys (through the ABI's config callbacks) and problems are
// still reported as file:line:column. Defined in config/provider_table.h.
struct ProviderTable;

// Where an HTTP-mode provider is, and how long aigw waits for it.
struct UpstreamConfig {
  std::string base_url;   // as written, for messages
  bool tls = false;       // https
  std::string host;       // name or IP literal (without brackets)
  uint16_t port = 0;
  std::string base_path;  // "/v1" (no trailing slash; may be empty)
  std::string host_header;  // "api.openai.com" or "host:port" when the port is not the default
  Duration connect_timeout{5'000};
  Duration first_byte_timeout{300'000};  // long enough for slow models to start answering
  Duration stream_idle_timeout{120'000}; // longest gap between body bytes
  Duration request_timeout{900'000};     // the whole exchange
  // Per worker. 0: no cap of its own; the worker's share of file descriptors
  // bounds it (a client connection is admitted only with room for one
  // upstream connection). Reaching a cap answers 503 at once.
  uint64_t max_connections = 0;
  // Keep-alive connections kept idle per worker for reuse (nginx's
  // `keepalive N`); more are closed when their response ends.
  uint64_t max_idle_connections = 64;
  std::string ca_file;                   // empty: the system bundle
  bool tls_verify = true;
};

// A [[provider]] entry. The host reads the keys below; every other key of
// the table belongs to the provider's plugin.
struct ProviderConfig {
  std::string name;
  std::string plugin;
  std::vector<std::string> models;  // public model names served
  std::vector<std::pair<std::string, std::string>> model_map;  // public -> upstream name
  bool has_upstream = false;  // base_url given
  UpstreamConfig upstream;
  // Routing (issue 5): share of traffic among the providers of one model
  // (weighted strategies) and the tier (priority strategy: lower first).
  uint32_t weight = 1;
  uint32_t priority = 0;
  // Active health probe: 0 = off. Needs a plugin with a health_probe hook.
  Duration probe_interval{0};
  Duration probe_timeout{5'000};
  std::shared_ptr<const ProviderTable> table;
};

// [admin]: a separate listener for operator endpoints, never the public port.
struct AdminConfig {
  std::vector<ListenAddr> listen;  // empty: no admin listener
  std::string api_key;             // resolved secret; empty: no key required (loopback only)
};

// How a route spreads requests over its channels.
enum class Strategy : uint8_t {
  weighted,        // weighted random (default)
  priority,        // lowest priority tier with a usable channel, weighted inside it
  least_inflight,  // power of two choices on requests in flight
  latency,         // power of two choices on the EWMA of time to first byte
};
std::string_view strategy_name(Strategy s);

// One provider of a [[route]]: which provider, and the model name to ask it
// for (its public name there, before that provider's model_map).
struct RouteTarget {
  std::string provider;
  std::string model;        // empty: the name the client asked for
  uint32_t weight = 0;
  bool weight_set = false;    // false: the provider's weight (0 when set: never picked)
  uint32_t priority = 0;
  bool priority_set = false;  // false: the provider's priority
};

// A [[route]]: a public model name or pattern ("gpt-4o", "gpt-4o*") and
// the providers that serve it. Provider `models` entries make implicit
// routes; a [[route]] of the same name replaces that implicit route.
struct RouteConfig {
  std::string model;  // may contain '*' (any run of characters)
  Strategy strategy = Strategy::weighted;
  std::vector<RouteTarget> targets;
};

// [routing]: retries, failover and the passive circuit breaker.
struct RoutingConfig {
  uint64_t max_attempts = 3;          // channels tried per request, the first included
  Duration attempt_deadline{60'000};  // no new attempt starts later than this after the request
  // Circuit breaker, per channel and worker.
  uint64_t failure_threshold = 5;     // consecutive failures that open it
  double error_ratio = 0.5;           // or this share of failures ...
  uint64_t min_requests = 20;         // ... once a window holds this many requests
  Duration window{10'000};
  Duration cooldown{5'000};           // first open; doubles on each re-open ...
  Duration max_cooldown{300'000};     // ... up to this
  Duration rate_limit_cooldown{10'000};  // a 429 without Retry-After
};

// A [[key]]: a client credential for aigw itself (issue 6).
struct KeyConfig {
  std::string name;
  uint8_t sha256[32] = {0};           // digest of the secret; the secret itself is not kept
  std::vector<std::string> models;    // allowed names or patterns; empty = every model
  uint64_t rpm = 0;                   // requests per minute; 0 = unlimited
  uint64_t tpm = 0;                   // tokens per minute
  uint64_t max_concurrent = 0;        // requests in flight
  uint64_t daily_tokens = 0;          // token quota per UTC day
  uint64_t monthly_tokens = 0;        // per UTC calendar month
};

// [limits]: how token limits estimate a request before it runs.
struct LimitsConfig {
  uint64_t default_max_tokens = 1024;  // charged when a request names no max_tokens
};

// [access_log]
struct AccessLogConfig {
  bool enabled = true;
  std::string path;    // empty: stderr
  double sample = 1.0; // share of requests logged (errors are always logged)
};

// [state]: the usage store (src/state, docs/state.md).
struct StateConfig {
  bool enabled = true;
  std::string path;                       // empty: the default (state::default_path)
  Duration flush_interval{1000};          // one transaction per interval
  bool requests = false;                  // keep one row per request too
  Duration keep{30LL * 24 * 3600 * 1000}; // how long request rows are kept
};

// [state.redis]: rate limits and quotas shared by every aigw instance through
// one Redis (src/redis, docs/state.md). Absent: each process enforces its own.
struct RedisConfig {
  enum class OnUnavailable : uint8_t { local, deny };
  bool enabled = false;   // the table is present
  std::string url;        // as written: redis://host[:port][/db], never a secret
  std::string host;
  uint16_t port = 6379;
  uint64_t db = 0;
  std::string username;   // ACL user; empty: AUTH with the password alone
  std::string password;   // resolved (env:NAME); never logged
  OnUnavailable on_unavailable = OnUnavailable::local;
  uint64_t instances = 1;              // the local share while Redis is away is limit / instances
  Duration connect_timeout{500};
  Duration command_timeout{250};
  Duration slot_ttl{10'000};           // a silent instance's concurrency slots come back after this
};

struct Config {
  std::string source;  // file path, or "<built-in>"
  ServerConfig server;
  LogConfig log;
  AdminConfig admin;
  std::vector<PluginConfig> plugins;
  std::vector<ProviderConfig> providers;
  std::vector<RouteConfig> routes;
  RoutingConfig routing;
  std::vector<KeyConfig> keys;
  LimitsConfig limits;
  AccessLogConfig access_log;
  StateConfig state;  // [state]
  RedisConfig redis;  // [state.redis]

  // The first provider that lists `model` in its models (not routes).
  const ProviderConfig* provider_for_model(std::string_view model) const;
  int provider_index(std::string_view name) const;  // -1 when absent
};

// Result of loading: either a config or one message per problem found, each
// naming file, line, column and key, e.g.
//   "aigw.toml:3:11: server.workers: expected an integer, got a string"
struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<std::string> errors;
  // When the file parsed but has errors: what could be read of it, so the
  // providers' plugins can still judge their keys and one run reports every
  // problem (see plugin::config_problems). Never served. A provider whose
  // plugin could not be named has an empty `plugin` here.
  std::shared_ptr<const Config> partial;
};

// Puts problem lines of the file `source` ("<source>:<line>:<column>: ...")
// in file order and drops repeated lines. Lines without a position (a plugin
// file that cannot be loaded) keep their order, after the others.
void in_file_order(std::vector<std::string>& problems, std::string_view source);

LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view toml_text, std::string_view source_name);

// The built-in default configuration used when aigw runs without -c.
std::string_view default_config_toml();

// "10s", "250ms", "1m30s", "2h", "0s": Go-style sequences of <integer><unit>,
// units ms, s, m, h. Returns false (with a reason) on anything else.
bool parse_duration(std::string_view text, Duration& out, std::string& why);

// "32MiB", "8KiB", "1GiB", "512B", "10MB", "4KB", or a plain integer string:
// byte sizes. Returns false (with a reason) on anything else or on overflow.
bool parse_size(std::string_view text, uint64_t& out, std::string& why);

// Secret values may be written "env:NAME": the value is read from the
// environment variable NAME. Anything else is returned unchanged. Fails when
// the variable is unset or empty. Never put the resolved value in a message.
bool resolve_secret(std::string_view value, std::string& out, std::string& why);
// "redis://host[:port][/db]" into out.host, port, db; credentials in the
// URL are refused (they belong in `password`, as env:NAME).
bool parse_redis_url(std::string_view text, RedisConfig& out, std::string& why);
// A URL's authority, host[:port] or [v6][:port]: the host (letters, digits,
// '-', '.', '_', and ':' inside brackets) and the port (default_port when
// absent). Shared by base_url and [state.redis] url. False with `why`.
bool split_authority(std::string_view authority, uint16_t default_port, std::string_view& host, uint16_t& port,
                     std::string& why);

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:0". Port 0 asks the kernel for one.
bool parse_listen_addr(std::string_view text, ListenAddr& out, std::string& why);

// "https://api.openai.com/v1", "http://127.0.0.1:8000/v1", "http://[::1]:11434".
// Only http and https; no user info, query or fragment.
bool parse_base_url(std::string_view text, UpstreamConfig& out, std::string& why);

// Model patterns: '*' matches any run of characters (also none); every
// other character matches itself. "gpt-4o*" matches "gpt-4o" and
// "gpt-4o-mini"; "*" matches everything. Linear in practice (the usual
// greedy star algorithm with one backtrack point).
bool glob_match(std::string_view pattern, std::string_view name);
inline bool is_pattern(std::string_view s) { return s.find('*') != std::string_view::npos; }

std::string_view log_level_name(LogLevel l);

// "debug", "info", "warn", "error" (exactly, lower case): the inverse of
// log_level_name. Returns false (with a reason) on anything else.
bool parse_log_level(std::string_view text, LogLevel& out, std::string& why);

// Render values in the syntax parse_duration / parse_size accept, using the
// largest unit that is exact: 90000ms -> "1m30s", 0 -> "0s", 1536 -> "1536B",
// 32768 -> "32KiB". Used in messages and when printing a config.
std::string format_duration(Duration d);
std::string format_size(uint64_t bytes);

}  // namespace aigw::config
