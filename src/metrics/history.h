// The last 15 minutes of one worker's traffic in 10-second buckets, for
// GET /admin/history and the dashboard's Now chart, so a page opened now
// shows the quarter of an hour before it. A fixed ring written on the
// worker's own thread when a request is recorded and copied on that thread
// when the control thread asks for a report: no lock, no allocation on the
// request path. Buckets are keyed by wall-clock time, so every worker's
// bucket for the same 10 seconds merges into one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "metrics/metrics.h"
#include "metrics/record.h"

namespace aigw::metrics {

class History {
 public:
  static constexpr int64_t kSeconds = 10;  // one bucket
  static constexpr size_t kSlots = 90;     // 15 minutes

  struct Bucket {
    int64_t start_s = -1;  // wall clock, a multiple of kSeconds; -1: never used
    uint64_t requests = 0;
    uint64_t errors = 0;  // status >= 400
    uint64_t tokens = 0;
    // Request durations per bucket of metrics::kBuckets (not cumulative),
    // the last one +Inf.
    std::array<uint64_t, kBuckets.size() + 1> latency{};
  };

  // Counts `r` in the bucket of `wall_s`, starting that bucket afresh when
  // it last held an older one.
  void add(const RequestRecord& r, int64_t wall_s);

  // Appends the buckets of the 15 minutes up to `now_s` that hold anything.
  void copy_to(std::vector<Bucket>& out, int64_t now_s) const;

  // {"bucket_seconds":10,"le":[...],"buckets":[{"start_s",...}, ...]}: every
  // bucket of the 15 minutes up to now_s, oldest first, empty ones as
  // zeros, each the sum of the workers' buckets of the same start.
  static void write_json(std::string& out, const std::vector<std::vector<Bucket>>& workers, int64_t now_s);

 private:
  std::array<Bucket, kSlots> ring_{};
};

}  // namespace aigw::metrics
