#include "metrics/history.h"

#include <algorithm>
#include <cstdio>

namespace aigw::metrics {

namespace {

// The start of wall_s's bucket (rounded down, also before 1970).
int64_t bucket_start(int64_t wall_s) {
  return wall_s - (wall_s % History::kSeconds + History::kSeconds) % History::kSeconds;
}

size_t latency_bucket(double seconds) {
  // kBuckets is ascending; the first bound at or above the value, as
  // Histogram::observe counts it.
  return static_cast<size_t>(std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin());
}

}  // namespace

void History::add(const RequestRecord& r, int64_t wall_s) {
  const int64_t start = bucket_start(wall_s);
  Bucket& b = ring_[static_cast<size_t>(start / kSeconds) % kSlots];
  if (b.start_s != start) b = Bucket{start};
  ++b.requests;
  if (r.status >= 400) ++b.errors;
  b.tokens += r.prompt_tokens + r.completion_tokens;
  const double seconds = r.end_ns > r.start_ns ? static_cast<double>(r.end_ns - r.start_ns) / 1e9 : 0.0;
  ++b.latency[latency_bucket(seconds)];
}

void History::copy_to(std::vector<Bucket>& out, int64_t now_s) const {
  const int64_t newest = bucket_start(now_s);
  const int64_t oldest = newest - static_cast<int64_t>(kSlots - 1) * kSeconds;
  for (const Bucket& b : ring_) {
    if (b.start_s >= oldest && b.start_s <= newest) out.push_back(b);
  }
}

void History::write_json(std::string& out, const std::vector<std::vector<Bucket>>& workers, int64_t now_s) {
  const int64_t newest = bucket_start(now_s);
  const int64_t oldest = newest - static_cast<int64_t>(kSlots - 1) * kSeconds;
  std::array<Bucket, kSlots> sum{};
  for (size_t i = 0; i < kSlots; ++i) sum[i].start_s = oldest + static_cast<int64_t>(i) * kSeconds;
  for (const auto& part : workers) {
    for (const Bucket& b : part) {
      if (b.start_s < oldest || b.start_s > newest) continue;
      Bucket& s = sum[static_cast<size_t>((b.start_s - oldest) / kSeconds)];
      s.requests += b.requests;
      s.errors += b.errors;
      s.tokens += b.tokens;
      for (size_t l = 0; l < s.latency.size(); ++l) s.latency[l] += b.latency[l];
    }
  }
  out += "{\"bucket_seconds\":" + std::to_string(kSeconds) + ",\"now_s\":" + std::to_string(now_s) + ",\"le\":[";
  for (size_t l = 0; l < kBuckets.size(); ++l) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", kBuckets[l]);
    if (l) out += ',';
    out += buf;
  }
  out += "],\"buckets\":[";
  for (size_t i = 0; i < kSlots; ++i) {
    const Bucket& s = sum[i];
    if (i) out += ',';
    out += "{\"start_s\":" + std::to_string(s.start_s) + ",\"requests\":" + std::to_string(s.requests) +
           ",\"errors\":" + std::to_string(s.errors) + ",\"tokens\":" + std::to_string(s.tokens) + ",\"latency\":[";
    for (size_t l = 0; l < s.latency.size(); ++l) {
      if (l) out += ',';
      out += std::to_string(s.latency[l]);
    }
    out += "]}";
  }
  out += "]}";
}

}  // namespace aigw::metrics
