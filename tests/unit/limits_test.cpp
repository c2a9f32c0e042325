// Rate limits and quotas: the shared source, the per-worker limiter, the
// response headers and the token estimate. Time is injected everywhere.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "limits/estimate.h"
#include "limits/limiter.h"
#include "limits/source.h"

namespace aigw::limits {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'000 * kSec;  // an arbitrary monotonic start

int64_t utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  using namespace std::chrono;
  sys_days date{year{y} / month{m} / day{d}};
  return date.time_since_epoch().count() * 86400 + hh * 3600 + mm * 60 + ss;
}

const int64_t kWall = utc(2024, 3, 10, 12);

config::KeyConfig key(std::string name, uint64_t rpm, uint64_t tpm = 0, uint64_t concurrent = 0,
                      uint64_t daily = 0, uint64_t monthly = 0) {
  config::KeyConfig k;
  k.name = std::move(name);
  k.rpm = rpm;
  k.tpm = tpm;
  k.max_concurrent = concurrent;
  k.daily_tokens = daily;
  k.monthly_tokens = monthly;
  return k;
}

// What the key has left as one worker sees it: the source plus its own credit.
uint64_t left(const LeaseSource& src, const WorkerLimiter& w, uint32_t k, Resource r, int64_t now_ns,
              int64_t wall_s) {
  return src.level(k, r, Now{now_ns, wall_s}).remaining + w.held(k, r);
}

// --- the source on its own ---------------------------------------------------------

TEST(LimitsSource, TokenBucketLeaseGiveBackCharge) {
  auto src = LocalLeaseSource::build({key("a", 600)});
  Now now{kT0, kWall};
  EXPECT_EQ(src->level(0, Resource::rpm, now).remaining, 600u);
  EXPECT_EQ(src->lease(0, Resource::rpm, 500, now), 500u);
  EXPECT_EQ(src->lease(0, Resource::rpm, 500, now), 100u);  // partial grant
  EXPECT_EQ(src->lease(0, Resource::rpm, 1, now), 0u);
  EXPECT_EQ(src->level(0, Resource::rpm, now).reset_ns, 60 * kSec);
  src->give_back(0, Resource::rpm, 50, now);
  EXPECT_EQ(src->level(0, Resource::rpm, now).remaining, 50u);
  // 10 per second refill.
  EXPECT_EQ(src->level(0, Resource::rpm, Now{kT0 + 3 * kSec, kWall}).remaining, 80u);
  // Overdraw: nothing is granted until the debt has refilled.
  src->charge(0, Resource::rpm, 650, now);
  EXPECT_EQ(src->level(0, Resource::rpm, now).remaining, 0u);
  EXPECT_EQ(src->lease(0, Resource::rpm, 1, Now{kT0 + 60 * kSec, kWall}), 0u);
  EXPECT_EQ(src->lease(0, Resource::rpm, 10, Now{kT0 + 61 * kSec, kWall}), 10u);
  // A full bucket never holds more than its capacity.
  src->give_back(0, Resource::rpm, 1'000'000, now);
  EXPECT_EQ(src->level(0, Resource::rpm, now).remaining, 600u);
}

TEST(LimitsSource, UnlimitedGrantsEverything) {
  auto src = LocalLeaseSource::build({key("a", 0)});
  EXPECT_EQ(src->lease(0, Resource::rpm, 12345, Now{kT0, kWall}), 12345u);
  EXPECT_EQ(src->level(0, Resource::tpm, Now{kT0, kWall}).limit, 0u);
}

TEST(LimitsSource, UtcWindows) {
  EXPECT_EQ(day_of(utc(1970, 1, 1)), 0);
  EXPECT_EQ(day_of(utc(1970, 1, 1) - 1), -1);
  EXPECT_EQ(next_day_start(utc(2024, 3, 10, 12)), utc(2024, 3, 11));
  EXPECT_EQ(next_day_start(utc(2024, 3, 10, 23, 59, 59)), utc(2024, 3, 11));
  EXPECT_EQ(next_day_start(utc(2024, 3, 11)), utc(2024, 3, 12));
  EXPECT_EQ(month_of(utc(2024, 1, 31, 23, 59, 59)), 2024 * 12 + 0);
  EXPECT_EQ(month_of(utc(2024, 12, 1)), 2024 * 12 + 11);
  EXPECT_EQ(next_month_start(utc(2024, 2, 10)), utc(2024, 3, 1));
  EXPECT_EQ(next_month_start(utc(2024, 2, 29, 23, 59, 59)), utc(2024, 3, 1));
  EXPECT_EQ(next_month_start(utc(2023, 12, 31, 23)), utc(2024, 1, 1));
}

TEST(LimitsBatch, Formula) {
  EXPECT_EQ(WorkerLimiter::batch(60, 4), 1u);
  EXPECT_EQ(WorkerLimiter::batch(600, 4), 18u);
  EXPECT_EQ(WorkerLimiter::batch(10000, 16), 78u);
  EXPECT_EQ(WorkerLimiter::batch(0, 4), 1u);
  EXPECT_EQ(WorkerLimiter::batch(100, 0), 12u);  // workers clamped to 1
}

// --- requests per minute ------------------------------------------------------------

TEST(LimitsRpm, RefusalRetryAndRefill) {
  auto src = LocalLeaseSource::build({key("a", 60)});
  WorkerLimiter w(src, 1);
  for (int i = 0; i < 60; ++i) {
    Decision d = w.admit(0, 0, kT0, kWall);
    ASSERT_TRUE(d.ok) << i;
    EXPECT_EQ(d.remaining_requests, 59u - i);
    w.settle(d.ticket, 0, kT0, kWall);
  }
  Decision d = w.admit(0, 0, kT0, kWall);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::rpm);
  EXPECT_EQ(d.retry_after_ms, 1000u);  // one request per second refills
  EXPECT_EQ(d.reset_requests_ms, 60'000u);
  EXPECT_FALSE(d.ticket.valid);
  EXPECT_FALSE(w.admit(0, 0, kT0 + kSec - 1, kWall).ok);
  EXPECT_TRUE(w.admit(0, 0, kT0 + kSec, kWall).ok);
  // Half a minute later, half the bucket is back.
  EXPECT_EQ(w.admit(0, 0, kT0 + 31 * kSec, kWall).remaining_requests, 29u);
}

// Every thread tries until it is refused, with the clock stopped: exactly the
// limit gets through, whatever the interleaving.
void hammer_frozen(uint32_t threads) {
  const uint64_t limit = 1000;
  auto src = LocalLeaseSource::build({key("a", limit)});
  std::atomic<uint64_t> admitted{0};
  std::vector<std::thread> ts;
  for (uint32_t t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      WorkerLimiter w(src, threads);
      for (int i = 0; i < 3000; ++i) {
        Decision d = w.admit(0, 10, kT0, kWall);
        if (d.ok) {
          admitted.fetch_add(1);
          w.settle(d.ticket, 10, kT0, kWall);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(admitted.load(), limit);
}

TEST(LimitsRpm, FrozenClockTwoThreads) { hammer_frozen(2); }
TEST(LimitsRpm, FrozenClockFourThreads) { hammer_frozen(4); }

// Workers that hold leased requests when the bucket refills add at most W*b
// to the next minute: the stated tolerance.
void hammer_after_refill(uint32_t threads) {
  const uint64_t limit = 640;
  const uint64_t b = WorkerLimiter::batch(limit, threads);
  auto src = LocalLeaseSource::build({key("a", limit)});
  std::vector<std::unique_ptr<WorkerLimiter>> ws;
  uint64_t first = 0;
  for (uint32_t t = 0; t < threads; ++t) {
    ws.push_back(std::make_unique<WorkerLimiter>(src, threads));
    ASSERT_TRUE(ws.back()->admit(0, 0, kT0, kWall).ok);
    ++first;
    EXPECT_EQ(ws.back()->held(0, Resource::rpm), b - 1);
  }
  std::atomic<uint64_t> admitted{0};
  std::vector<std::thread> ts;
  const int64_t later = kT0 + 60 * kSec;
  for (uint32_t t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (ws[t]->admit(0, 0, later, kWall).ok) admitted.fetch_add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  // The bucket holds at most `limit`; what the workers kept from before the
  // refill adds at most W*b.
  EXPECT_LE(admitted.load(), limit + threads * b);
  EXPECT_GE(admitted.load(), limit);
  EXPECT_LE(first + admitted.load(), limit + threads * b);
}

TEST(LimitsRpm, ToleranceAfterRefillTwoThreads) { hammer_after_refill(2); }
TEST(LimitsRpm, ToleranceAfterRefillFourThreads) { hammer_after_refill(4); }

// A running clock: over D seconds at most limit + limit*D/60 + W*b.
void hammer_running(uint32_t threads) {
  const uint64_t limit = 600;
  const uint64_t b = WorkerLimiter::batch(limit, threads);
  auto src = LocalLeaseSource::build({key("a", limit)});
  std::atomic<uint64_t> admitted{0};
  const int attempts = 3000;
  const int64_t step = 10'000'000;  // 10 ms per attempt: 30 s in all
  std::vector<std::thread> ts;
  for (uint32_t t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      WorkerLimiter w(src, threads);
      for (int i = 0; i < attempts; ++i) {
        int64_t now = kT0 + i * step;
        Decision d = w.admit(0, 0, now, kWall);
        if (d.ok) {
          admitted.fetch_add(1);
          w.settle(d.ticket, 0, now, kWall);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  const uint64_t refill = limit * (attempts * step) / (60 * kSec);
  EXPECT_LE(admitted.load(), limit + refill + threads * b);
  EXPECT_GE(admitted.load(), limit - threads * b);
}

TEST(LimitsRpm, RunningClockTwoThreads) { hammer_running(2); }
TEST(LimitsRpm, RunningClockFourThreads) { hammer_running(4); }

TEST(LimitsRpm, TickReturnsIdleCredit) {
  auto src = LocalLeaseSource::build({key("a", 320)});
  WorkerLimiter w(src, 4);  // b = 10
  ASSERT_TRUE(w.admit(0, 0, kT0, kWall).ok);
  EXPECT_EQ(w.held(0, Resource::rpm), 9u);
  EXPECT_EQ(src->level(0, Resource::rpm, Now{kT0, kWall}).remaining, 310u);
  w.tick(kT0 + kSec / 2, kWall);
  EXPECT_EQ(w.held(0, Resource::rpm), 9u);  // not idle yet
  w.tick(kT0 + kSec + 1, kWall);
  EXPECT_EQ(w.held(0, Resource::rpm), 0u);
  EXPECT_EQ(src->level(0, Resource::rpm, Now{kT0, kWall}).remaining, 319u);
}

TEST(LimitsRpm, DestructorGivesBack) {
  auto src = LocalLeaseSource::build({key("a", 320)});
  {
    WorkerLimiter w(src, 4);
    ASSERT_TRUE(w.admit(0, 0, kT0, kWall).ok);
  }
  EXPECT_EQ(src->level(0, Resource::rpm, Now{kT0, kWall}).remaining, 319u);
}

TEST(LimitsRpm, UnknownAndUnlimitedKeys) {
  auto src = LocalLeaseSource::build({key("free", 0)});
  WorkerLimiter w(src, 2);
  Decision d = w.admit(0, 5000, kT0, kWall);
  EXPECT_TRUE(d.ok);
  EXPECT_FALSE(d.has_requests);
  EXPECT_FALSE(d.has_tokens);
  w.settle(d.ticket, 10, kT0, kWall);
  Decision u = w.admit(7, 5000, kT0, kWall);  // not in the table
  EXPECT_TRUE(u.ok);
  EXPECT_FALSE(u.ticket.valid);
  w.settle(u.ticket, 10, kT0, kWall);  // harmless
}

// --- tokens per minute -----------------------------------------------------------------

TEST(LimitsTpm, ChargeThenSettleRefund) {
  auto src = LocalLeaseSource::build({key("a", 0, 10000)});
  WorkerLimiter w(src, 1);  // b = 1250
  Decision d = w.admit(0, 3000, kT0, kWall);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.has_tokens);
  EXPECT_FALSE(d.has_requests);
  EXPECT_EQ(d.limit_tokens, 10000u);
  EXPECT_EQ(d.remaining_tokens, 7000u);
  w.settle(d.ticket, 1000, kT0, kWall);
  EXPECT_EQ(left(*src, w, 0, Resource::tpm, kT0, kWall), 9000u);
  // Refunds above 2b go back to the source, down to b held.
  Decision e = w.admit(0, 4000, kT0, kWall);
  ASSERT_TRUE(e.ok);
  w.settle(e.ticket, 0, kT0, kWall);
  EXPECT_EQ(left(*src, w, 0, Resource::tpm, kT0, kWall), 9000u);
  EXPECT_LE(w.held(0, Resource::tpm), 2 * WorkerLimiter::batch(10000, 1));
}

TEST(LimitsTpm, SettleChargesTheExtra) {
  auto src = LocalLeaseSource::build({key("a", 0, 10000)});
  WorkerLimiter w(src, 1);
  Decision d = w.admit(0, 1000, kT0, kWall);
  ASSERT_TRUE(d.ok);
  w.settle(d.ticket, 12000, kT0, kWall);  // far over the estimate: the bucket is overdrawn
  EXPECT_EQ(left(*src, w, 0, Resource::tpm, kT0, kWall), 0u);
  Decision e = w.admit(0, 1, kT0 + 6 * kSec, kWall);
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.failed, Resource::tpm);
  // The bucket owes 2000 tokens until kT0 + 12 s; one token takes 6 ms more.
  EXPECT_EQ(e.retry_after_ms, 6006u);
}

TEST(LimitsTpm, RequestMustFitAndRetryIsWhenItWill) {
  auto src = LocalLeaseSource::build({key("a", 0, 10000)});
  WorkerLimiter w(src, 1);
  ASSERT_TRUE(w.admit(0, 9000, kT0, kWall).ok);
  Decision d = w.admit(0, 2000, kT0, kWall);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::tpm);
  EXPECT_EQ(d.remaining_tokens, 1000u);
  // 1000 more tokens refill in 6 s.
  EXPECT_EQ(d.retry_after_ms, 6000u);
  EXPECT_EQ(d.reset_tokens_ms, 54'000u);
  EXPECT_TRUE(w.admit(0, 1000, kT0, kWall).ok);
  EXPECT_TRUE(w.admit(0, 1000, kT0 + 6 * kSec, kWall).ok);
}

TEST(LimitsTpm, LargerThanTheWholeBucketOnlyWhenFull) {
  auto src = LocalLeaseSource::build({key("a", 0, 1000)});
  WorkerLimiter w(src, 1);
  Decision d = w.admit(0, 5000, kT0, kWall);
  ASSERT_TRUE(d.ok);  // full: admitted, and the bucket owes 4000 (4 minutes)
  EXPECT_EQ(d.remaining_tokens, 0u);
  EXPECT_EQ(d.reset_tokens_ms, 300'000u);
  EXPECT_FALSE(w.admit(0, 1, kT0 + 240 * kSec, kWall).ok);
  EXPECT_TRUE(w.admit(0, 1, kT0 + 241 * kSec, kWall).ok);
  EXPECT_FALSE(w.admit(0, 5000, kT0 + 241 * kSec, kWall).ok);  // not full: refused
  EXPECT_TRUE(w.admit(0, 5000, kT0 + 301 * kSec, kWall).ok);
}

TEST(LimitsTpm, ZeroEstimateAlwaysFits) {
  auto src = LocalLeaseSource::build({key("a", 0, 100)});
  WorkerLimiter w(src, 1);
  ASSERT_TRUE(w.admit(0, 100, kT0, kWall).ok);
  EXPECT_TRUE(w.admit(0, 0, kT0, kWall).ok);
}

// --- daily and monthly quotas ------------------------------------------------------------

TEST(LimitsQuota, SeededCountsCountInTheirWindowsOnly) {
  // What the usage store hands over at start: a restart keeps the budget.
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 5000, 20000), key("b", 0, 0, 0, 5000)});
  const int64_t noon = utc(2024, 3, 10, 12);
  src->seed_quota("a", 4800, 15000, noon);
  src->seed_quota("nobody", 1, 1, noon);  // a key no longer configured: ignored
  EXPECT_EQ(src->level(0, Resource::daily, Now{kT0, noon}).remaining, 200u);
  EXPECT_EQ(src->level(0, Resource::monthly, Now{kT0, noon}).remaining, 5000u);
  EXPECT_EQ(src->level(1, Resource::daily, Now{kT0, noon}).remaining, 5000u);
  // The next day starts from zero; the month goes on.
  EXPECT_EQ(src->level(0, Resource::daily, Now{kT0, utc(2024, 3, 11)}).remaining, 5000u);
  WorkerLimiter w(src, 1);
  EXPECT_TRUE(w.admit(0, 300, kT0, noon).ok);  // 200 left: admitted, ends over
  EXPECT_FALSE(w.admit(0, 1, kT0, noon).ok);
}

TEST(LimitsQuota, DailyExhaustionAndMidnightReset) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 5000)});
  WorkerLimiter w(src, 1);
  const int64_t noon = utc(2024, 3, 10, 12);
  EXPECT_TRUE(w.admit(0, 2000, kT0, noon).ok);
  EXPECT_TRUE(w.admit(0, 2000, kT0, noon).ok);
  EXPECT_TRUE(w.admit(0, 2000, kT0, noon).ok);  // 1000 left: not exhausted, ends over
  Decision d = w.admit(0, 1, kT0, noon);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::daily);
  EXPECT_EQ(d.retry_after_ms, 12u * 3600 * 1000);
  EXPECT_FALSE(w.admit(0, 1, kT0, utc(2024, 3, 10, 23, 59, 59)).ok);
  EXPECT_EQ(w.admit(0, 1, kT0, utc(2024, 3, 10, 23, 59, 59)).retry_after_ms, 1000u);
  EXPECT_TRUE(w.admit(0, 1, kT0, utc(2024, 3, 11)).ok);
  EXPECT_EQ(left(*src, w, 0, Resource::daily, kT0, utc(2024, 3, 11)), 4999u);
}

TEST(LimitsQuota, SettleCorrectsWithinTheDayOnly) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 10000)});
  WorkerLimiter w(src, 1);
  const int64_t noon = utc(2024, 3, 10, 12);
  Decision d = w.admit(0, 3000, kT0, noon);
  ASSERT_TRUE(d.ok);
  w.settle(d.ticket, 500, kT0, noon);
  EXPECT_EQ(left(*src, w, 0, Resource::daily, kT0, noon), 9500u);
  Decision e = w.admit(0, 1000, kT0, noon);
  ASSERT_TRUE(e.ok);
  w.settle(e.ticket, 4000, kT0, noon);  // extra 3000 charged
  EXPECT_EQ(left(*src, w, 0, Resource::daily, kT0, noon), 5500u);
  // Admitted before midnight, settled after: yesterday's count is left alone
  // and today's is not touched.
  Decision f = w.admit(0, 1000, kT0, utc(2024, 3, 10, 23, 59));
  ASSERT_TRUE(f.ok);
  const int64_t next = utc(2024, 3, 11, 0, 1);
  w.settle(f.ticket, 0, kT0, next);
  w.tick(kT0, next);  // drops the credit this worker still held for yesterday
  EXPECT_EQ(w.held(0, Resource::daily), 0u);
  EXPECT_EQ(left(*src, w, 0, Resource::daily, kT0, next), 10000u);
}

TEST(LimitsQuota, LargeEstimatesSmallUsageStillExhaust) {
  // Requests estimated far above the quota but using little: each settle
  // refunds most of its charge. The refunds must not become local credit
  // that keeps admitting after the real usage has spent the quota.
  auto src = LocalLeaseSource::build({key("q", 0, 0, 0, /*daily=*/100)});
  WorkerLimiter w(src, 1);
  int admitted = 0;
  for (int i = 0; i < 20; ++i) {
    Decision d = w.admit(0, 1034, kT0 + i, kWall);
    if (!d.ok) {
      EXPECT_EQ(d.failed, Resource::daily);
      break;
    }
    ++admitted;
    w.settle(d.ticket, 22, kT0 + i, kWall);
  }
  EXPECT_EQ(admitted, 5);  // 4 x 22 = 88 < 100 still admits; 5 x 22 = 110 is spent
}

TEST(LimitsQuota, MonthlyExhaustionAndMonthBoundary) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 0, 10000)});
  WorkerLimiter w(src, 1);
  const int64_t last = utc(2024, 2, 29, 23, 59, 59);  // leap year
  EXPECT_TRUE(w.admit(0, 10000, kT0, utc(2024, 2, 1)).ok);
  Decision d = w.admit(0, 1, kT0, last);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::monthly);
  EXPECT_EQ(d.retry_after_ms, 1000u);
  EXPECT_EQ(w.admit(0, 1, kT0, utc(2024, 2, 15)).retry_after_ms, 15u * 86400 * 1000);
  EXPECT_TRUE(w.admit(0, 1, kT0, utc(2024, 3, 1)).ok);
}

TEST(LimitsQuota, MonthlyReportedBeforeDaily) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 100, 100)});
  WorkerLimiter w(src, 1);
  ASSERT_TRUE(w.admit(0, 100, kT0, kWall).ok);
  Decision d = w.admit(0, 1, kT0, kWall);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::monthly);
  // A new day does not help while the month is used up.
  d = w.admit(0, 1, kT0, kWall + 86400);
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.failed, Resource::monthly);
}

TEST(LimitsQuota, WorkersShareTheQuota) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 0, 8000)});
  WorkerLimiter a(src, 2), b(src, 2);  // batch 500 each
  uint64_t admitted = 0;
  for (int i = 0; i < 20; ++i) {
    admitted += a.admit(0, 300, kT0, kWall).ok;
    admitted += b.admit(0, 300, kT0, kWall).ok;
  }
  // 8000 / 300 = 26.7: the 27th is admitted while the quota is not
  // exhausted; beyond that, one more per worker at most.
  EXPECT_GE(admitted, 27u);
  EXPECT_LE(admitted, 29u);
}

// --- concurrency --------------------------------------------------------------------------

TEST(LimitsConcurrency, SlotsAcrossWorkers) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 2)});
  WorkerLimiter w1(src, 2), w2(src, 2);
  Decision a = w1.admit(0, 0, kT0, kWall);
  Decision b = w2.admit(0, 0, kT0, kWall);
  ASSERT_TRUE(a.ok && b.ok);
  Decision c = w1.admit(0, 0, kT0, kWall);
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.failed, Resource::concurrent);
  EXPECT_EQ(c.retry_after_ms, 1000u);
  w2.settle(b.ticket, 0, kT0, kWall);
  Decision d = w1.admit(0, 0, kT0, kWall);
  EXPECT_TRUE(d.ok);
  w1.settle(a.ticket, 0, kT0, kWall);
  w1.settle(d.ticket, 0, kT0, kWall);
  EXPECT_EQ(src->level(0, Resource::concurrent, Now{kT0, kWall}).remaining, 2u);
}

TEST(LimitsConcurrency, SecondSettleIsIgnored) {
  auto src = LocalLeaseSource::build({key("a", 0, 0, 1)});
  WorkerLimiter w(src, 1);
  Decision a = w.admit(0, 0, kT0, kWall);
  ASSERT_TRUE(a.ok);
  w.settle(a.ticket, 0, kT0, kWall);
  EXPECT_FALSE(a.ticket.valid);
  Decision b = w.admit(0, 0, kT0, kWall);
  ASSERT_TRUE(b.ok);
  w.settle(a.ticket, 0, kT0, kWall);  // must not free b's slot
  EXPECT_FALSE(w.admit(0, 0, kT0, kWall).ok);
  w.settle(b.ticket, 0, kT0, kWall);
  EXPECT_TRUE(w.admit(0, 0, kT0, kWall).ok);
}

TEST(LimitsConcurrency, RefusalByAnotherLimitHoldsNoSlot) {
  auto src = LocalLeaseSource::build({key("a", 1, 0, 5)});
  WorkerLimiter w(src, 1);
  ASSERT_TRUE(w.admit(0, 0, kT0, kWall).ok);
  EXPECT_FALSE(w.admit(0, 0, kT0, kWall).ok);  // rpm
  EXPECT_EQ(src->level(0, Resource::concurrent, Now{kT0, kWall}).remaining, 4u);
}

TEST(LimitsConcurrency, NeverOverTheLimitUnderThreads) {
  const uint64_t limit = 3;
  auto src = LocalLeaseSource::build({key("a", 0, 0, limit)});
  std::atomic<uint64_t> in_flight{0}, worst{0}, admitted{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      WorkerLimiter w(src, 4);
      for (int i = 0; i < 5000; ++i) {
        Decision d = w.admit(0, 0, kT0, kWall);
        if (!d.ok) continue;
        uint64_t n = in_flight.fetch_add(1) + 1;
        uint64_t seen = worst.load();
        while (n > seen && !worst.compare_exchange_weak(seen, n)) {
        }
        admitted.fetch_add(1);
        in_flight.fetch_sub(1);
        w.settle(d.ticket, 0, kT0, kWall);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(worst.load(), limit);
  EXPECT_GT(admitted.load(), 0u);
  EXPECT_EQ(src->level(0, Resource::concurrent, Now{kT0, kWall}).remaining, limit);
}

// --- headers ------------------------------------------------------------------------------

TEST(LimitsHeaders, FormatReset) {
  EXPECT_EQ(format_reset(0), "0s");
  EXPECT_EQ(format_reset(1), "1ms");
  EXPECT_EQ(format_reset(20), "20ms");
  EXPECT_EQ(format_reset(999), "999ms");
  EXPECT_EQ(format_reset(1000), "1s");
  EXPECT_EQ(format_reset(1500), "1.5s");
  EXPECT_EQ(format_reset(8640), "8.64s");
  EXPECT_EQ(format_reset(59'999), "59.999s");
  EXPECT_EQ(format_reset(60'000), "1m0s");
  EXPECT_EQ(format_reset(360'000), "6m0s");
  EXPECT_EQ(format_reset(179'560), "2m59.56s");
  EXPECT_EQ(format_reset(3'600'000), "1h0m0s");
  EXPECT_EQ(format_reset(3'723'500), "1h2m3.5s");
}

TEST(LimitsHeaders, OkDecision) {
  auto src = LocalLeaseSource::build({key("a", 60, 150000)});
  WorkerLimiter w(src, 1);
  Decision d = w.admit(0, 1500, kT0, kWall);
  ASSERT_TRUE(d.ok);
  aigw::limits::HeaderList h;
  write_headers(d, h);
  HeaderList want{
      {"x-ratelimit-limit-requests", "60"},
      {"x-ratelimit-remaining-requests", "59"},
      {"x-ratelimit-reset-requests", "1s"},
      {"x-ratelimit-limit-tokens", "150000"},
      {"x-ratelimit-remaining-tokens", "148500"},
      {"x-ratelimit-reset-tokens", "600ms"},
  };
  EXPECT_EQ(h, want);
}

TEST(LimitsHeaders, RefusedDecisionAddsRetryAfter) {
  auto src = LocalLeaseSource::build({key("a", 0, 1000)});
  WorkerLimiter w(src, 1);
  ASSERT_TRUE(w.admit(0, 1000, kT0, kWall).ok);
  Decision d = w.admit(0, 100, kT0, kWall);
  ASSERT_FALSE(d.ok);
  EXPECT_EQ(d.retry_after_ms, 6000u);
  aigw::limits::HeaderList h;
  write_headers(d, h);
  HeaderList want{
      {"x-ratelimit-limit-tokens", "1000"},
      {"x-ratelimit-remaining-tokens", "0"},
      {"x-ratelimit-reset-tokens", "1m0s"},
      {"retry-after", "6"},
      {"retry-after-ms", "6000"},
  };
  EXPECT_EQ(h, want);
  EXPECT_EQ(error_code(d), "rate_limit_exceeded");
  EXPECT_NE(message(d).find("tokens per minute"), std::string::npos);
}

TEST(LimitsHeaders, RetryAfterRoundsUpToWholeSeconds) {
  Decision d;
  d.ok = false;
  d.failed = Resource::rpm;
  d.retry_after_ms = 1001;
  aigw::limits::HeaderList h;
  write_headers(d, h);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], (std::pair<std::string_view, std::string>{"retry-after", "2"}));
  d.failed = Resource::daily;
  EXPECT_EQ(error_code(d), "insufficient_quota");
  EXPECT_EQ(resource_name(Resource::concurrent), "concurrent");
}

TEST(LimitsHeaders, UnlimitedKeyWritesNothing) {
  aigw::limits::HeaderList h;
  write_headers(Decision{}, h);
  EXPECT_TRUE(h.empty());
}

// --- token estimate -------------------------------------------------------------------

TEST(LimitsEstimate, Cases) {
  std::string b19 = R"({"max_tokens": 100})";
  ASSERT_EQ(b19.size(), 19u);
  EXPECT_EQ(estimate_tokens(b19, 1024), 5u + 100);  // 19 bytes: 5 tokens, rounded up
  std::string b20 = R"({"max_tokens":  100})";
  EXPECT_EQ(estimate_tokens(b20, 1024), 5u + 100);
  std::string b21 = R"({"max_tokens":   100})";
  EXPECT_EQ(estimate_tokens(b21, 1024), 6u + 100);
  std::string both = R"({"max_tokens":100,"max_completion_tokens":50})";
  EXPECT_EQ(estimate_tokens(both, 1024), (both.size() + 3) / 4 + 50);
  std::string none = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi","max_tokens":7}]})";
  EXPECT_EQ(estimate_tokens(none, 1024), (none.size() + 3) / 4 + 1024);
  std::string n3 = R"({"max_tokens":10,"n":3})";
  EXPECT_EQ(estimate_tokens(n3, 1024), (n3.size() + 3) / 4 + 30);
  for (std::string bad : {R"({"max_tokens":-5})", R"({"max_tokens":"100"})", R"({"max_tokens":1.5})",
                          R"({"max_tokens":null})"}) {
    EXPECT_EQ(estimate_tokens(bad, 1024), (bad.size() + 3) / 4 + 1024) << bad;
  }
  EXPECT_EQ(estimate_tokens("", 1024), 1024u);
  EXPECT_EQ(estimate_tokens("not json at all", 64), 4u + 64);
  EXPECT_EQ(estimate_tokens("[1,2,3]", 64), 2u + 64);
  std::string truncated = R"({"max_tokens":10,"messages":[)";  // not JSON: the default
  EXPECT_EQ(estimate_tokens(truncated, 64), (truncated.size() + 3) / 4 + 64);
  std::string huge = R"({"max_tokens":18446744073709551615,"n":2})";
  EXPECT_EQ(estimate_tokens(huge, 1), UINT64_MAX);
}

TEST(LimitsEstimate, LargeBodyAndFieldsOverload) {
  std::string big = R"({"max_tokens":7,"messages":[{"content":")" + std::string(3 << 20, 'x') + R"("}]})";
  EXPECT_EQ(estimate_tokens(big, 1024), (big.size() + 3) / 4 + 7);
  EXPECT_EQ(estimate_tokens(R"({"max_tokens":9})", 1024), 4u + 9);  // the per-thread parser still works

  CompletionFields f;
  EXPECT_EQ(estimate_tokens(uint64_t{8}, f, 100), 2u + 100);
  f.max_tokens = 10;
  EXPECT_EQ(estimate_tokens(uint64_t{8}, f, 100), 2u + 10);
  f.max_completion_tokens = 20;
  f.n = 3;
  EXPECT_EQ(estimate_tokens(uint64_t{8}, f, 100), 2u + 60);
  f.n = 0;  // treated as 1
  EXPECT_EQ(estimate_tokens(uint64_t{8}, f, 100), 2u + 20);
}

// --- reload ----------------------------------------------------------------------------

TEST(LimitsReload, StateKeptByName) {
  auto v1 = LocalLeaseSource::build({key("a", 10), key("b", 10)});
  WorkerLimiter w(v1, 1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w.admit(0, 0, kT0, kWall).ok);
  ASSERT_FALSE(w.admit(0, 0, kT0, kWall).ok);
  // "a" moves to index 1, "b" is removed, "c" is new.
  auto v2 = v1->rebuild({key("c", 10), key("a", 10)});
  w.reload(v2);
  EXPECT_FALSE(w.admit(1, 0, kT0, kWall).ok);  // "a" is still used up
  EXPECT_TRUE(w.admit(0, 0, kT0, kWall).ok);   // "c" starts fresh
  EXPECT_TRUE(w.admit(1, 0, kT0 + 6 * kSec, kWall).ok);
}

TEST(LimitsReload, QuotaAndLimitChangesCarryOver) {
  auto v1 = LocalLeaseSource::build({key("a", 100, 0, 0, 10000)});
  WorkerLimiter w(v1, 1);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(w.admit(0, 100, kT0, kWall).ok);
  // Doubling rpm keeps the share in use: half of the new 200.
  auto v2 = v1->rebuild({key("a", 200, 0, 0, 6000)});
  w.reload(v2);
  EXPECT_EQ(left(*v2, w, 0, Resource::rpm, kT0, kWall), 100u);
  // 5000 of the day's tokens were used: 1000 left of the new 6000.
  EXPECT_EQ(left(*v2, w, 0, Resource::daily, kT0, kWall), 1000u);
}

TEST(LimitsReload, InFlightRequestsSettleAcrossReloads) {
  auto v1 = LocalLeaseSource::build({key("a", 0, 10000, 1)});
  WorkerLimiter w(v1, 1);
  Decision d = w.admit(0, 4000, kT0, kWall);
  ASSERT_TRUE(d.ok);
  auto v2 = v1->rebuild({key("x", 0), key("a", 0, 10000, 1)});
  w.reload(v2);
  auto v3 = v2->rebuild({key("a", 0, 10000, 1)});
  w.reload(v3);
  EXPECT_FALSE(w.admit(0, 0, kT0, kWall).ok);  // the slot is still held
  w.settle(d.ticket, 1000, kT0, kWall);        // settles against v1's generation
  EXPECT_EQ(left(*v3, w, 0, Resource::tpm, kT0, kWall), 9000u);
  Decision e = w.admit(0, 0, kT0, kWall);
  EXPECT_TRUE(e.ok);
  w.settle(e.ticket, 0, kT0, kWall);
  w.settle(d.ticket, 1000, kT0, kWall);  // a second settle of a retired ticket is ignored
  EXPECT_EQ(v3->level(0, Resource::concurrent, Now{kT0, kWall}).remaining, 1u);
}

}  // namespace
}  // namespace aigw::limits
