// Per-worker request metrics and their Prometheus text exposition (0.0.4).
//
// Threading: each worker thread owns one WorkerMetrics and is its only user,
// so nothing here is atomic or locked. A scrape asks every worker (by message)
// for snapshot(), a deep copy taken on the worker's own thread; the control
// thread then passes the copies to render(), which merges them. No I/O here.
//
// Label values come only from the config (route, provider, key and channel
// names) or from the fixed enums below, never from a request: that is what
// bounds the number of series. Series are never removed, so a reload that
// drops a name leaves its counters as they were (a counter must not go
// backwards) and one that adds a name adds series.
//
// The request path: resolve the labels once with WorkerMetrics::series()
// (one hash lookup, no allocation once the series exists) and keep the
// pointer for the request; every later count is an array increment.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/series_map.h"

namespace aigw::metrics {

// Content-Type of render()'s output, for the /metrics response.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Histogram upper bounds in seconds, spanning a cached answer (5 ms) to a
// long generation (5 min); +Inf is implicit.
inline constexpr std::array<double, 15> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                    2.5,   5,    10,    30,   60,  120, 300};

struct Histogram {
  std::array<uint64_t, kBuckets.size() + 1> counts{};  // per bucket, not cumulative; last is +Inf
  double sum = 0;
  uint64_t count = 0;

  void observe(double seconds);  // below 0 counts as 0; NaN is ignored
  void add(const Histogram& other);
};

// label kind= of aigw_upstream_errors_total
enum class UpstreamError : uint8_t {
  connect, timeout, status_5xx, status_429, status_401, protocol, tls,
  interrupted,  // the response died after a good head (closed or reset mid-body)
  pool_full,    // no connection could be opened: the provider's cap or the worker's descriptors
  count_
};
// label result= of aigw_attempts_total: ok = the attempt answered the client,
// failover = it failed and another channel was tried, failed = it failed and
// it was the last one.
enum class AttemptResult : uint8_t { ok, failover, failed, count_ };
// label reason= of aigw_auth_failures_total
enum class AuthFailure : uint8_t { missing, unknown, model_not_allowed, count_ };
// label limit= of aigw_rate_limited_total: which [[key]] limit refused
enum class RateLimit : uint8_t { rpm, tpm, concurrent, daily_tokens, monthly_tokens, count_ };
// label reason= of aigw_connections_refused_total: a connection accepted only
// to be answered 503 and closed (max_connections_per_worker, or the worker's
// share of file descriptors, see io/fd_budget.h)
enum class Refusal : uint8_t { connection_limit, fd_limit, count_ };
// label reason= of aigw_finish_reasons_total: why the model stopped, as the
// provider's plugin reported it (report_finish_reason in the plugin ABI)
enum class FinishReason : uint8_t { unknown, stop, length, tool_calls, content_filter, error, count_ };
// value of aigw_channel_state (the numbers are part of the exposition)
enum class ChannelState : uint8_t {
  closed = 0, open = 1, half_open = 2, key_disabled = 3, cooling = 4
};

std::string_view label(UpstreamError e);
std::string_view label(AttemptResult r);
std::string_view label(AuthFailure a);
std::string_view label(RateLimit l);
std::string_view label(Refusal r);
// Constexpr: the access log's line ends are made from these at compile
// time.
constexpr std::string_view label(FinishReason f) {
  switch (f) {
    case FinishReason::unknown: return "unknown";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::tool_calls: return "tool_calls";
    case FinishReason::content_filter: return "content_filter";
    case FinishReason::error: return "error";
    case FinishReason::count_: break;
  }
  return "unknown";
}

template <class E>
constexpr size_t count_of() { return static_cast<size_t>(E::count_); }

struct StatusCount {
  uint16_t status;  // 100..599, or 0 for a status outside that range (a caller bug, kept visible)
  uint64_t count;
};

// {model, provider}: the latency histograms.
struct RouteSeries {
  Histogram duration;  // aigw_request_duration_seconds
  Histogram ttft;      // aigw_time_to_first_token_seconds
};

// {model, provider, key}: what one request counts. Got from
// WorkerMetrics::series(); the pointer stays valid for the life of the
// WorkerMetrics.
class RequestSeries {
 public:
  void count(int status);  // once per finished request, with the status sent to the client
  void add_tokens(uint64_t prompt, uint64_t completion) {
    prompt_tokens_ += prompt;
    completion_tokens_ += completion;
  }
  void observe_duration(double seconds) { route_->duration.observe(seconds); }
  void observe_ttft(double seconds) { route_->ttft.observe(seconds); }

 private:
  friend class WorkerMetrics;
  RouteSeries* route_ = nullptr;
  // A handful of statuses per series in practice, the common one first:
  // a scan beats a 500-slot array per series in memory and in snapshot cost.
  std::vector<StatusCount> statuses_;
  uint64_t prompt_tokens_ = 0;
  uint64_t completion_tokens_ = 0;
};

// {provider}: upstream errors, attempts and finish reasons.
struct ProviderCounts {
  std::array<uint64_t, count_of<UpstreamError>()> errors{};
  std::array<uint64_t, count_of<AttemptResult>()> attempts{};
  std::array<uint64_t, count_of<FinishReason>()> finish_reasons{};

  void count_error(UpstreamError e) { ++errors[static_cast<size_t>(e)]; }
  void count_attempt(AttemptResult r) { ++attempts[static_cast<size_t>(r)]; }
  void count_finish(FinishReason f) { ++finish_reasons[static_cast<size_t>(f)]; }
};

// {key}: refusals by the key's limits.
struct KeyCounts {
  std::array<uint64_t, count_of<RateLimit>()> rate_limited{};

  void count_rate_limited(RateLimit l) { ++rate_limited[static_cast<size_t>(l)]; }
};

// A deep copy of one worker's metrics (or, after merge(), of all of them).
struct Snapshot {
  struct Request {
    std::string model, provider, key;
    std::vector<StatusCount> statuses;  // ascending by status
    uint64_t prompt_tokens = 0;
    uint64_t completion_tokens = 0;
  };
  struct Route {
    std::string model, provider;
    RouteSeries series;
  };
  struct Provider {
    std::string name;
    ProviderCounts counts;
  };
  struct Key {
    std::string name;
    KeyCounts counts;
  };
  struct Channel {
    std::string name;
    ChannelState state;
  };

  std::vector<Request> requests;
  std::vector<Route> routes;
  std::vector<Provider> providers;
  std::vector<Key> keys;
  std::array<uint64_t, count_of<AuthFailure>()> auth_failures{};
  std::array<uint64_t, count_of<Refusal>()> refused{};
  int64_t active_connections = 0;
  int64_t active_streams = 0;
  // Set by the worker that takes the snapshot: what it had to drop rather
  // than block (access-log lines past the buffer cap, health news to a
  // worker whose ring was full).
  uint64_t log_lines_dropped = 0;
  uint64_t health_news_dropped = 0;
  std::vector<Channel> channels;  // empty until set_channel_state()

  // Channel states are not kept by WorkerMetrics: the worker that builds its
  // snapshot copies its breakers' states in here (routing::Health is per
  // worker). Setting a channel twice keeps the last state. A control thread
  // that knows states itself can add a Snapshot holding only channels to
  // the vector it renders.
  void set_channel_state(std::string_view channel, ChannelState state);
};

// All snapshots as one: every series once, sorted by its labels; counters
// and gauges summed; a channel in different states on different workers is
// reported in the worst (key_disabled > open > cooling > half_open > closed),
// so one worker's open breaker is not hidden by the others.
Snapshot merge(const std::vector<Snapshot>& workers);

class WorkerMetrics {
 public:
  WorkerMetrics() = default;
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  // model: the route name from the config ("none" when no route matched,
  // never the name the client sent); provider, key: config names or "none".
  // Never null; stable for the life of this object.
  RequestSeries* series(std::string_view model, std::string_view provider, std::string_view key);
  ProviderCounts* provider(std::string_view name);
  KeyCounts* key(std::string_view name);

  void count_auth_failure(AuthFailure why) { ++auth_failures_[static_cast<size_t>(why)]; }

  void count_refused(Refusal why) { ++refused_[static_cast<size_t>(why)]; }
  void connection_opened() { ++active_connections_; }
  void connection_closed() { --active_connections_; }
  void stream_opened() { ++active_streams_; }
  void stream_closed() { --active_streams_; }

  Snapshot snapshot() const;

 private:
  SeriesMap<2, RouteSeries> routes_;
  SeriesMap<3, RequestSeries> requests_;
  SeriesMap<1, ProviderCounts> providers_;
  SeriesMap<1, KeyCounts> keys_;
  std::array<uint64_t, count_of<AuthFailure>()> auth_failures_{};
  std::array<uint64_t, count_of<Refusal>()> refused_{};
  int64_t active_connections_ = 0;
  int64_t active_streams_ = 0;
};

// Process-wide values the control thread owns.
struct Info {
  std::string_view version;        // aigw_build_info{version}
  uint64_t plugin_generation = 0;  // aigw_plugin_generation
  uint64_t config_reloads_ok = 0;  // aigw_config_reloads_total{result="ok"}
  uint64_t config_reloads_error = 0;
  // [state.redis] (src/redis): written only when it is configured.
  bool redis_configured = false;
  bool redis_up = false;       // aigw_redis_up
  uint64_t redis_errors = 0;   // aigw_redis_errors_total
  uint64_t redis_calls = 0;    // aigw_redis_calls_total
  // The usage store (src/state): records committed, lost by a failed
  // commit, dropped because a worker's queue was full. Absent when off.
  bool state_enabled = false;
  // The usage copy in Redis (src/redis/usage_mirror.h), with [state.redis]:
  // aggregate rows sent, lost (a call failed after it was sent, or too many
  // waited), waiting for Redis now.
  bool usage_copy_configured = false;
  uint64_t usage_copy_sent = 0, usage_copy_lost = 0, usage_copy_pending = 0;
  uint64_t state_written = 0, state_failed = 0, state_dropped = 0;
  // Token quotas of the keys that have one, by key NAME (never a secret):
  // aigw_key_quota_used_tokens / aigw_key_quota_remaining_tokens{key,window}.
  struct KeyQuota {
    std::string key;
    std::string_view window;  // "daily" or "monthly"
    uint64_t used = 0, remaining = 0;
  };
  std::vector<KeyQuota> quotas;
};

// Appends the whole exposition to `out`: merge(workers), then every family
// once with HELP and TYPE, in a fixed order. Enum-labelled counters are
// written for every enum value, zeros included, so rate() has a start.
void render(const std::vector<Snapshot>& workers, const Info& info, std::string& out);

// Appends a label value escaped for the text format (backslash, double quote,
// newline); an invalid UTF-8 byte becomes U+FFFD, since one would make
// Prometheus reject the whole scrape.
void append_label_value(std::string_view value, std::string& out);

}  // namespace aigw::metrics
