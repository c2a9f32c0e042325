// bench/load/schedule.cpp: open-loop intended times, and latency from the
// intended time when the server is late, driven by a fake clock.
#include "load/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <vector>

namespace aigw::bench {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kStart = 1'000 * kMs;  // an arbitrary clock origin

PlanParams open_params(double rate, uint64_t duration, uint64_t warmup = 0) {
  PlanParams p;
  p.mode = Mode::open;
  p.start_ns = kStart;
  p.warmup_end_ns = kStart + warmup;
  p.stop_ns = p.warmup_end_ns + duration;
  p.grace_ns = 1'000 * kMs;
  p.rate = rate;
  return p;
}

TEST(BenchSchedule, IntendedTimesAreEvenlySpacedFromTheStart) {
  LoadPlan plan(open_params(1000, 10'000 * kMs));
  for (uint64_t k = 0; k < 5000; ++k) ASSERT_EQ(plan.intended(k), kStart + k * kMs);
  // No drift after many requests: computed from the start, not accumulated.
  LoadPlan odd(open_params(3, 10'000 * kMs));
  EXPECT_EQ(odd.intended(3'000'000), kStart + 1'000'000ull * 1'000 * kMs);
  EXPECT_EQ(odd.intended(1), kStart + 333'333'333);
}

TEST(BenchSchedule, ThreadsInterleaveIntoOneEvenSequence) {
  // 2 threads at 1000 req/s in total: thread 0 owns 0, 2, 4 ms; thread 1 owns 1, 3, 5 ms.
  PlanParams p = open_params(1000, 10'000 * kMs);
  p.stride = 2;
  std::vector<uint64_t> all;
  for (unsigned t = 0; t < 2; ++t) {
    p.offset = t;
    LoadPlan plan(p);
    for (uint64_t k = 0; k < 100; ++k) all.push_back(plan.intended(k));
  }
  std::sort(all.begin(), all.end());
  for (uint64_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], kStart + i * kMs);
}

TEST(BenchSchedule, OpenLoopHandsOutRequestsOnlyWhenDue) {
  LoadPlan plan(open_params(10, 1'000 * kMs));  // every 100 ms
  Ticket t;
  ASSERT_TRUE(plan.next(kStart, t));
  EXPECT_EQ(t.seq, 0u);
  EXPECT_EQ(t.intended, kStart);
  EXPECT_FALSE(plan.next(kStart + 99 * kMs, t));
  EXPECT_EQ(plan.wake_at(), kStart + 100 * kMs);
  ASSERT_TRUE(plan.next(kStart + 100 * kMs, t));
  EXPECT_EQ(t.intended, kStart + 100 * kMs);
  // Late: both overdue requests come out, each with its own intended time.
  ASSERT_TRUE(plan.next(kStart + 450 * kMs, t));
  EXPECT_EQ(t.intended, kStart + 200 * kMs);
  ASSERT_TRUE(plan.next(kStart + 450 * kMs, t));
  EXPECT_EQ(t.intended, kStart + 300 * kMs);
  ASSERT_TRUE(plan.next(kStart + 450 * kMs, t));
  EXPECT_EQ(t.intended, kStart + 400 * kMs);
  EXPECT_FALSE(plan.next(kStart + 450 * kMs, t));
}

// One connection, 10 requests/s (one every 100 ms). Each answer takes 10 ms,
// except request 2 which takes 350 ms: a stall. Requests 3, 4 and 5 come due
// during the stall and wait for the connection; their latency must count that
// wait, from the intended time, not from when they could finally be sent.
struct Outcome {
  uint64_t intended, sent, done, latency, service;
};

std::vector<Outcome> simulate(LoadPlan& plan, const std::function<uint64_t(uint64_t)>& service) {
  std::vector<Outcome> out;
  uint64_t now = plan.params().start_ns;
  uint64_t free_at = now;  // when the one connection is idle again
  while (now < plan.hard_end()) {
    Ticket t;
    if (free_at <= now && plan.next(now, t)) {
      uint64_t done = now + service(t.seq);
      out.push_back({t.intended, now, done, LoadPlan::latency(Mode::open, t.intended, now, done),
                     done - now});
      free_at = done;
      continue;
    }
    if (plan.issuing_over(now) && free_at <= now) break;
    // The fake clock jumps to the next thing that can happen.
    uint64_t next = std::min(plan.wake_at(), plan.hard_end());
    if (free_at > now) next = std::max(next, free_at);
    if (next <= now) next = free_at > now ? free_at : plan.hard_end();
    now = next;
  }
  return out;
}

TEST(BenchSchedule, LateResponseCountsFromTheIntendedTime) {
  LoadPlan plan(open_params(10, 1'000 * kMs));
  auto out = simulate(plan, [](uint64_t seq) { return (seq == 2 ? 350 : 10) * kMs; });
  ASSERT_EQ(out.size(), 10u);
  const uint64_t expect_sent[] = {0, 100, 200, 550, 560, 570, 600, 700, 800, 900};
  const uint64_t expect_latency[] = {10, 10, 350, 260, 170, 80, 10, 10, 10, 10};
  for (size_t k = 0; k < out.size(); ++k) {
    EXPECT_EQ(out[k].intended, kStart + k * 100 * kMs) << "request " << k;
    EXPECT_EQ(out[k].sent, kStart + expect_sent[k] * kMs) << "request " << k;
    EXPECT_EQ(out[k].latency, expect_latency[k] * kMs) << "request " << k;
  }
  // Measured from the send instead (closed-loop accounting), the stall would
  // hide in one request: the waiting ones look as fast as any other.
  EXPECT_EQ(out[3].service, 10 * kMs);
  EXPECT_EQ(LoadPlan::latency(Mode::closed, out[3].intended, out[3].sent, out[3].done), 10 * kMs);
}

TEST(BenchSchedule, WarmupRequestsAreNotMeasured) {
  LoadPlan plan(open_params(10, 1'000 * kMs, 300 * kMs));
  Ticket t;
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(plan.next(kStart + k * 100 * kMs, t));
    EXPECT_FALSE(t.measured) << k;
  }
  ASSERT_TRUE(plan.next(kStart + 300 * kMs, t));
  EXPECT_TRUE(t.measured);
  EXPECT_EQ(plan.measured_taken(), 1u);
}

TEST(BenchSchedule, NothingDueAtOrAfterTheStopStartsButTheBacklogDrains) {
  LoadPlan plan(open_params(10, 500 * kMs));  // due: 0, 100, 200, 300, 400 ms
  Ticket t;
  ASSERT_TRUE(plan.next(kStart, t));
  // The connection was busy until after the stop: the overdue ones still go
  // out during the grace period, measured from their intended times.
  uint64_t late = kStart + 700 * kMs;
  EXPECT_FALSE(plan.issuing_over(late));
  EXPECT_EQ(plan.not_sent(late), 4u);
  for (int k = 1; k <= 4; ++k) {
    ASSERT_TRUE(plan.next(late, t));
    EXPECT_EQ(t.intended, kStart + k * 100 * kMs);
  }
  EXPECT_FALSE(plan.next(late, t));  // 500 ms is the stop: not due
  EXPECT_TRUE(plan.issuing_over(late));
  EXPECT_EQ(plan.not_sent(late), 0u);
  EXPECT_EQ(plan.wake_at(), UINT64_MAX);
}

TEST(BenchSchedule, BacklogLeftAtTheHardEndIsNotSent) {
  LoadPlan plan(open_params(1000, 1'000 * kMs));
  Ticket t;
  ASSERT_TRUE(plan.next(kStart, t));  // then the server hangs
  EXPECT_FALSE(plan.next(plan.hard_end(), t));
  EXPECT_TRUE(plan.issuing_over(plan.hard_end()));
  EXPECT_EQ(plan.not_sent(plan.hard_end()), 999u);
  // With a warm-up, only the measured part of the backlog is reported.
  LoadPlan warm(open_params(1000, 1'000 * kMs, 500 * kMs));
  ASSERT_TRUE(warm.next(kStart, t));
  EXPECT_EQ(warm.not_sent(warm.hard_end()), 1000u);
}

TEST(BenchSchedule, RequestBudgetEndsTheRun) {
  PlanParams p = open_params(1000, 60'000 * kMs);
  p.max_measured = 3;
  LoadPlan plan(p);
  Ticket t;
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(plan.next(kStart + k * kMs, t));
  EXPECT_FALSE(plan.next(kStart + 10 * kMs, t));
  EXPECT_TRUE(plan.issuing_over(kStart + 10 * kMs));
  EXPECT_EQ(plan.not_sent(kStart + 10 * kMs), 0u);
}

TEST(BenchSchedule, ClosedLoopTakesRequestsUntilTheStop) {
  PlanParams p;
  p.mode = Mode::closed;
  p.start_ns = kStart;
  p.warmup_end_ns = kStart + 100 * kMs;
  p.stop_ns = kStart + 1'100 * kMs;
  p.grace_ns = 500 * kMs;
  LoadPlan plan(p);
  Ticket t;
  ASSERT_TRUE(plan.next(kStart + 5, t));
  EXPECT_EQ(t.intended, kStart + 5);
  EXPECT_FALSE(t.measured);
  ASSERT_TRUE(plan.next(kStart + 100 * kMs, t));
  EXPECT_TRUE(t.measured);
  EXPECT_EQ(t.seq, 1u);
  EXPECT_EQ(plan.wake_at(), UINT64_MAX);
  EXPECT_FALSE(plan.issuing_over(kStart + 1'099 * kMs));
  EXPECT_FALSE(plan.next(kStart + 1'100 * kMs, t));
  EXPECT_TRUE(plan.issuing_over(kStart + 1'100 * kMs));
  EXPECT_EQ(plan.hard_end(), kStart + 1'600 * kMs);
  EXPECT_EQ(plan.not_sent(kStart + 1'600 * kMs), 0u);
  EXPECT_EQ(LoadPlan::latency(Mode::closed, kStart, kStart + 7, kStart + 19), 12u);
}

}  // namespace
}  // namespace aigw::bench
