// What one finished request leaves behind: its metrics and its access-log
// line. Every request a worker answers on the public listener ends in one
// RequestRecord, whether a route answered it at once (404, 401, 400) or a
// plugin produced it over time; the worker turns it into counters in its own
// WorkerMetrics and, when sampled, a JSON line in its LogBuffer. Nothing here
// is shared with another thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "metrics/log_buffer.h"
#include "metrics/metrics.h"
#include "metrics/peer.h"

namespace aigw::metrics {

struct RequestRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;      // the route's canonical path
  Peer peer;
  std::string_view model;     // route name from the config; empty: none matched
  std::string_view provider;  // provider of the last attempt; empty: none
  std::string_view key;       // client key name; empty: none (open gateway or refused)
  int status = 0;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;
  uint64_t cached_tokens = 0;     // part of prompt_tokens (ABI 1.4 plugins)
  uint64_t reasoning_tokens = 0;  // part of completion_tokens (ABI 1.4 plugins)
  int64_t start_ns = 0;       // CLOCK_MONOTONIC: the request was complete
  int64_t first_byte_ns = 0;  // first response byte to the client; 0: none
  int64_t end_ns = 0;
  uint32_t attempts = 0;
  bool stream = false;
  std::string_view error;     // error code when status >= 400
  std::optional<FinishReason> finish_reason;  // as the plugin reported it; none: not reported
};

// Counts `r` in `m` and, when `log` is given and `cfg` says this request is
// logged (errors always, the rest sampled), appends its access-log line to
// `log`. The line's time is r.end_ns plus `wall_minus_mono_ns` (the wall
// clock's offset from CLOCK_MONOTONIC, io::wall_minus_mono_ns(), which the
// worker reads once per tick): no clock is read per line.
void record(const RequestRecord& r, WorkerMetrics& m, LogBuffer* log, const config::AccessLogConfig* cfg,
            uint64_t& sample_rng, int64_t wall_minus_mono_ns);

}  // namespace aigw::metrics
