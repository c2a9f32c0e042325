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

// CLOCK_REALTIME minus CLOCK_MONOTONIC in nanoseconds, read back to back:
// a monotonic time plus this is the wall-clock time of that moment. The
// access log stamps its lines this way from the request's end, with the
// offset read once per worker tick rather than the wall clock per line; a
// step of the wall clock shows in lines from the next tick on.
inline int64_t wall_minus_mono_ns() {
  timespec wall, mono;
  clock_gettime(CLOCK_REALTIME, &wall);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  return (static_cast<int64_t>(wall.tv_sec) - static_cast<int64_t>(mono.tv_sec)) * 1'000'000'000 +
         (wall.tv_nsec - mono.tv_nsec);
}

}  // namespace aigw::io
