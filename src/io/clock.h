// The request path's clocks, one definition for the whole process so that
// deadlines, health news and latency samples taken in different files (and on
// different workers) compare.
#pragma once

#include <time.h>

#include <cstdint>

namespace aigw::io {

// CLOCK_MONOTONIC in nanoseconds: a vDSO read, precise.
inline int64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// CLOCK_MONOTONIC_COARSE in milliseconds: the last tick, cheaper still.
// Millisecond timeouts (connection timers, the control thread) need no more.
inline int64_t coarse_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace aigw::io
