// The request path's clock: CLOCK_MONOTONIC in nanoseconds (a vDSO read).
// One definition so that deadlines, health news and latency samples taken
// in different files (and on different workers) compare.
#pragma once

#include <time.h>

#include <cstdint>

namespace aigw::server {

inline int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace aigw::server
