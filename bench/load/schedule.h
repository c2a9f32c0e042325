// When one worker thread starts its requests, and what each one counts as.
// Pure logic on nanosecond timestamps (no clock, no sockets), so the tests
// drive it with a fake clock.
//
// Closed loop: a connection asks for its next request as soon as the previous
// answer is complete; latency counts from the moment the request is sent.
//
// Open loop: requests are due at constant intended times, rate R over all
// threads: thread t of T owns the requests k*T + t, due at
// start + (k*T + t) / R. A request that finds every connection busy waits, and
// its latency still counts from its intended time: a stalled server shows up
// as the latency it caused, instead of as requests that were never sent
// (coordinated omission).
#pragma once

#include <cstdint>

namespace aigw::bench {

enum class Mode : uint8_t { closed, open };

// One request as the plan hands it out.
struct Ticket {
  uint64_t seq = 0;        // per thread, from 0; the request number is seq * stride + offset
  uint64_t intended = 0;   // open loop: when it was due; closed loop: when it was taken
  bool measured = false;   // after the warm-up: counts in the results
};

struct PlanParams {
  Mode mode = Mode::closed;
  uint64_t start_ns = 0;        // the run starts (warm-up begins)
  uint64_t warmup_end_ns = 0;   // measurement begins
  uint64_t stop_ns = 0;         // no request starts at or after this (open loop: is due)
  uint64_t grace_ns = 0;        // after stop: in-flight requests may finish, late ones start
  double rate = 0;              // open loop: requests per second over all threads
  unsigned stride = 1;          // number of threads
  unsigned offset = 0;          // this thread's index
  uint64_t max_measured = 0;    // --requests share of this thread; 0 = bounded by time only
};

class LoadPlan {
 public:
  explicit LoadPlan(const PlanParams& p) : p_(p) {}

  // A request to start now on an idle connection, if one is due. Closed loop:
  // always, until the stop time or the request budget. Open loop: the oldest
  // request whose intended time has come, also after stop_ns for requests
  // that were due before it (they waited for a connection: their wait is part
  // of the measurement), until stop + grace.
  bool next(uint64_t now, Ticket& out);

  // When next() can next say yes, for the event loop's sleep: the next
  // intended time in open loop; UINT64_MAX when no more will come, or in
  // closed loop (where completions drive everything).
  uint64_t wake_at() const;

  // No request will start any more (the stop time passed, the budget is
  // spent, or open loop has nothing left that was due before the stop).
  bool issuing_over(uint64_t now) const;

  // The run must end now, whatever is still in flight.
  uint64_t hard_end() const { return p_.stop_ns + p_.grace_ns; }

  // Open loop: measured requests that came due but never started (every
  // connection stayed busy until the hard end). Closed loop: 0.
  uint64_t not_sent(uint64_t now) const;

  // The intended time of request `seq` (open loop).
  uint64_t intended(uint64_t seq) const;

  uint64_t taken() const { return next_seq_; }
  uint64_t measured_taken() const { return measured_taken_; }
  const PlanParams& params() const { return p_; }

  // The latency to report for a request: from its intended time in open loop,
  // from its send time in closed loop.
  static uint64_t latency(Mode mode, uint64_t intended, uint64_t sent, uint64_t done) {
    uint64_t origin = mode == Mode::open ? intended : sent;
    return done > origin ? done - origin : 0;
  }

 private:
  uint64_t count_before(uint64_t t) const;  // requests with intended time < t
  bool budget_spent() const { return p_.max_measured != 0 && measured_taken_ >= p_.max_measured; }

  PlanParams p_;
  uint64_t next_seq_ = 0;
  uint64_t measured_taken_ = 0;
};

}  // namespace aigw::bench
