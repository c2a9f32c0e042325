// RedisLeaseSource and its Lua scripts against a real redis-server (started
// here on a free loopback port; the tests skip, saying so, when
// redis-server is not installed). Also built and run under ThreadSanitizer
// (scripts/run-tests): workers lease from the pools while the background
// thread refills them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "limits/limiter.h"
#include "redis/connection.h"
#include "redis/lease_source.h"
#include "redis/scripts.h"
#include "redis_server.h"

namespace aigw::redis {
namespace {

using limits::Now;
using limits::Resource;
using namespace std::chrono_literals;

int64_t mono() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
Now now() { return Now{mono(), std::time(nullptr)}; }

config::KeyConfig key(std::string name, uint64_t rpm = 0, uint64_t tpm = 0, uint64_t daily = 0,
                      uint64_t concurrent = 0) {
  config::KeyConfig k;
  k.name = std::move(name);
  k.rpm = rpm;
  k.tpm = tpm;
  k.daily_tokens = daily;
  k.max_concurrent = concurrent;
  return k;
}

using test::eventually;

class Redis : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)";
    ASSERT_TRUE(server_.start()) << "redis-server did not start";
    cfg_ = server_.config(2);
  }

  // A direct connection with the scripts loaded.
  void connect(Connection& c) {
    Script* list[] = {&rate_, &quota_, &slots_};
    std::string why;
    ASSERT_TRUE(c.connect(list, why)) << why;
  }

  std::vector<int64_t> eval(Connection& c, Script& s, std::vector<std::string> keys, std::vector<std::string> args) {
    std::vector<int64_t> out;
    std::string why;
    EXPECT_TRUE(c.eval(s, keys, args, out, why)) << why;
    return out;
  }

  std::string cmd(Connection& c, std::vector<std::string> argv) {
    std::string out, why;
    EXPECT_TRUE(c.command(argv, out, why)) << why;
    return out;
  }

  test::RedisServer server_;
  config::RedisConfig cfg_;
  Script rate_{scripts::kRate, {}};
  Script quota_{scripts::kQuota, {}};
  Script slots_{scripts::kSlots, {}};
};

TEST_F(Redis, RateScriptIsAGcraBucket) {
  Connection c(cfg_);
  connect(c);
  // A full bucket of 60 grants 60 of 100 asked, then nothing.
  auto r = eval(c, rate_, {"aigw:{k}:rpm"}, {"lease", "60", "100"});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], 60);
  EXPECT_EQ(r[1], 0);
  EXPECT_GT(r[2], 59'000'000);  // about a minute until full
  EXPECT_EQ(eval(c, rate_, {"aigw:{k}:rpm"}, {"lease", "60", "5"})[0], 0);
  // Given back units can be leased again; never more than were returned.
  eval(c, rate_, {"aigw:{k}:rpm"}, {"give", "60", "10"});
  EXPECT_EQ(eval(c, rate_, {"aigw:{k}:rpm"}, {"lease", "60", "20"})[0], 10);
  // A charge overdraws: the bucket owes a minute more and grants nothing.
  eval(c, rate_, {"aigw:{k}:rpm"}, {"charge", "60", "60"});
  r = eval(c, rate_, {"aigw:{k}:rpm"}, {"lease", "60", "1"});
  EXPECT_EQ(r[0], 0);
  EXPECT_GT(r[2], 119'000'000);
  // The state expires with the bucket: a TTL, never a key left behind.
  EXPECT_GT(std::stoll(cmd(c, {"PTTL", "aigw:{k}:rpm"})), 0);
  // A fresh key refills continuously: 6000/min is 1 unit per 10 ms.
  EXPECT_EQ(eval(c, rate_, {"aigw:{j}:rpm"}, {"lease", "6000", "6000"})[0], 6000);
  std::this_thread::sleep_for(60ms);
  int64_t g = eval(c, rate_, {"aigw:{j}:rpm"}, {"lease", "6000", "100"})[0];
  EXPECT_GE(g, 4);
  EXPECT_LE(g, 30);
}

TEST_F(Redis, QuotaScriptCountsPerWindowKey) {
  Connection c(cfg_);
  connect(c);
  const std::string k = "aigw:{q}:daily:20000";
  EXPECT_EQ(eval(c, quota_, {k}, {"lease", "1000", "700", "90000"})[0], 700);
  auto r = eval(c, quota_, {k}, {"lease", "1000", "700", "90000"});
  EXPECT_EQ(r[0], 300);
  EXPECT_EQ(r[1], 0);
  eval(c, quota_, {k}, {"give", "1000", "100", "90000"});
  EXPECT_EQ(cmd(c, {"GET", k}), "900");
  eval(c, quota_, {k}, {"charge", "1000", "500", "90000"});  // usage found after the fact
  EXPECT_EQ(cmd(c, {"GET", k}), "1400");
  EXPECT_EQ(eval(c, quota_, {k}, {"lease", "1000", "1", "90000"})[0], 0);
  EXPECT_GT(std::stoll(cmd(c, {"TTL", k})), 80000);
  // The next window is another key, starting at 0; a give-back to an ended
  // window that has gone creates nothing.
  EXPECT_EQ(eval(c, quota_, {"aigw:{q}:daily:20001"}, {"lease", "1000", "10", "90000"})[0], 10);
  eval(c, quota_, {"aigw:{q}:daily:19999"}, {"give", "1000", "10", "90000"});
  EXPECT_EQ(cmd(c, {"EXISTS", "aigw:{q}:daily:19999"}), "0");
}

TEST_F(Redis, SlotScriptReservesAndReclaimsADeadInstance) {
  Connection c(cfg_);
  connect(c);
  std::vector<std::string> keys = {"aigw:{s}:conc", "aigw:{s}:conc:seen"};
  EXPECT_EQ(eval(c, slots_, keys, {"a", "3", "4", "1"})[0], 3);
  auto r = eval(c, slots_, keys, {"b", "3", "4", "1"});
  EXPECT_EQ(r[0], 1);  // only what a leaves
  EXPECT_EQ(r[1], 3);
  EXPECT_EQ(eval(c, slots_, keys, {"a", "1", "4", "1"})[0], 1);  // shrinking is always granted
  EXPECT_EQ(eval(c, slots_, keys, {"b", "3", "4", "1"})[0], 3);
  // a goes silent: after its TTL (1 s, in whole Redis seconds) b can take
  // a's slot too.
  std::this_thread::sleep_for(2100ms);
  EXPECT_EQ(eval(c, slots_, keys, {"b", "4", "4", "1"})[0], 4);
  EXPECT_EQ(cmd(c, {"HEXISTS", "aigw:{s}:conc", "a"}), "0");
}

TEST_F(Redis, EvalFallsBackWhenTheServerLostTheScript) {
  Connection c(cfg_);
  connect(c);
  cmd(c, {"SCRIPT", "FLUSH"});
  EXPECT_EQ(eval(c, rate_, {"aigw:{n}:rpm"}, {"lease", "10", "3"})[0], 3);
  // EVAL cached it again: EVALSHA works once more.
  EXPECT_EQ(cmd(c, {"SCRIPT", "EXISTS", rate_.sha}), "1");
}

TEST_F(Redis, KeysAreNamedByKeyNameWithAHashTag) {
  auto src = RedisLeaseSource::build(cfg_, {key("team-a", 100, 1000, 5000, 2)});
  ASSERT_TRUE(src->redis_up());
  Now n = now();
  EXPECT_GT(src->lease(0, Resource::rpm, 1, n), 0u);
  EXPECT_GT(src->lease(0, Resource::concurrent, 1, n), 0u);
  Connection c(cfg_);
  connect(c);
  std::string keys = cmd(c, {"KEYS", "*"});
  EXPECT_NE(keys.find("aigw:{team-a}:rpm"), std::string::npos) << keys;
  EXPECT_NE(keys.find("aigw:{team-a}:tpm"), std::string::npos) << keys;
  EXPECT_NE(keys.find("aigw:{team-a}:daily:" + std::to_string(limits::day_of(n.wall_s))), std::string::npos) << keys;
  EXPECT_NE(keys.find("aigw:{team-a}:conc"), std::string::npos) << keys;
  for (size_t at = 0; (at = keys.find("aigw:", at)) != std::string::npos; ++at) {
    EXPECT_EQ(keys.compare(at, 14, "aigw:{team-a}:"), 0) << keys;
  }
}

// Two instances, each with two workers (WorkerLimiter threads), share one
// key's rpm: admitted stays within the stated tolerance
//   limit + limit * t / 1min + N * (2 * P + W * b)
// (README "Tolerance"), and the two together use the budget up (it is one
// budget, not one each).
TEST_F(Redis, TwoInstancesShareOneRpmWithinTheTolerance) {
  const uint64_t limit = 600;
  const uint32_t n_inst = 2, workers = 2;
  auto a = RedisLeaseSource::build(cfg_, {key("shared", limit)});
  auto b = RedisLeaseSource::build(cfg_, {key("shared", limit)});
  ASSERT_TRUE(a->redis_up() && b->redis_up());
  std::atomic<uint64_t> admitted{0};
  std::atomic<bool> stop{false};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (auto src : {a, b}) {
    for (uint32_t w = 0; w < workers; ++w) {
      threads.emplace_back([src, &admitted, &stop] {
        limits::WorkerLimiter lim(src, workers);
        while (!stop.load()) {
          Now n = now();
          limits::Decision d = lim.admit(0, 0, n.mono_ns, n.wall_s);
          if (d.ok) {
            admitted.fetch_add(1);
            lim.settle(d.ticket, 0, n.mono_ns, n.wall_s);
          } else {
            std::this_thread::sleep_for(100us);
          }
        }
      });
    }
  }
  std::this_thread::sleep_for(500ms);
  stop = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // P = max(T, the largest lease a worker asks: its batch b).
  const uint64_t b1 = limits::WorkerLimiter::batch(limit, workers * n_inst);
  const uint64_t P = std::max(RedisLeaseSource::pool_batch(limit, n_inst), b1);
  const uint64_t wb = workers * b1;
  const uint64_t bound = limit + static_cast<uint64_t>(limit * secs / 60) + 1 + n_inst * (2 * P + wb);
  EXPECT_LE(admitted.load(), bound) << "P=" << P << " W*b=" << wb << " t=" << secs;
  // Nearly all of it used, between both: at most what the pools and
  // workers still hold is unused (and far below the 2 x limit of two
  // separate budgets).
  EXPECT_GE(admitted.load(), limit - n_inst * (2 * P + wb));
  EXPECT_LT(admitted.load(), 2 * limit - n_inst * (2 * P + wb));
}

TEST_F(Redis, RefusedLeasesDoNotBecomeRedisCalls) {
  auto a = RedisLeaseSource::build(cfg_, {key("flood", 60, 0, 1000)});
  uint64_t got = 0;
  eventually([&] {
    got += a->lease(0, Resource::rpm, 10, now());
    return got >= 60;
  }, 1000ms);
  // The whole daily quota, however slowly the pool refills (a refused lease
  // may be a pool waiting for its refill, not an exhausted quota: under
  // ASan stopping at the first refusal left 938 units for the flood below).
  uint64_t daily = 0;
  eventually([&] {
    daily += a->lease(0, Resource::daily, 100, now());
    return daily >= 1000;
  }, 3000ms);
  ASSERT_EQ(daily, 1000u);
  // Both exhausted: a flood of refused leases for 300 ms.
  uint64_t calls = a->redis_calls();
  auto until = std::chrono::steady_clock::now() + 300ms;
  uint64_t more = 0;
  while (std::chrono::steady_clock::now() < until) {
    more += a->lease(0, Resource::rpm, 1, now()) + a->lease(0, Resource::daily, 1, now());
    std::this_thread::sleep_for(50us);
  }
  EXPECT_LE(more, 2u);  // an rpm unit refills each second
  // rpm waits until a quarter batch (>= 1 unit: 1 s at 60/min) can have
  // refilled, the quota 50 ms: about 6 calls plus PINGs, not thousands.
  EXPECT_LE(a->redis_calls() - calls, 15u);
}

TEST_F(Redis, DailyQuotaIsShared) {
  auto a = RedisLeaseSource::build(cfg_, {key("q", 0, 0, 10'000)});
  auto b = RedisLeaseSource::build(cfg_, {key("q", 0, 0, 10'000)});
  uint64_t got = 0;
  for (int i = 0; i < 2000 && got < 10'000; ++i) {
    got += a->lease(0, Resource::daily, 100, now());
    std::this_thread::sleep_for(100us);
  }
  ASSERT_TRUE(eventually([&] {
    got += a->lease(0, Resource::daily, 100, now());
    return got >= 10'000 - b->pooled(0, Resource::daily);
  }));
  // What b still pools is all that is left anywhere.
  uint64_t b_got = 0;
  for (int i = 0; i < 50; ++i) b_got += b->lease(0, Resource::daily, 100, now());
  EXPECT_LE(got + b_got, 10'000u);
  EXPECT_GE(got + b_got + a->pooled(0, Resource::daily), 10'000u - 2);
  EXPECT_EQ(a->lease(0, Resource::daily, 1, now()), 0u);
}

TEST_F(Redis, ConcurrencySlotsNeverExceedTheLimitAcrossInstances) {
  auto a = RedisLeaseSource::build(cfg_, {key("c", 0, 0, 0, 4)});
  auto b = RedisLeaseSource::build(cfg_, {key("c", 0, 0, 0, 4)});
  uint64_t held_a = 0, held_b = 0;
  // Each takes what it can get, asking again as the background grows its
  // reservation.
  eventually([&] {
    held_a += a->lease(0, Resource::concurrent, 1, now());
    return held_a >= 3;
  }, 1000ms);
  eventually([&] {
    held_b += b->lease(0, Resource::concurrent, 1, now());
    return held_a + held_b >= 4;
  }, 1000ms);
  EXPECT_EQ(held_a + held_b, 4u);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(a->lease(0, Resource::concurrent, 1, now()) + b->lease(0, Resource::concurrent, 1, now()), 0u);
  // a's releases come back to b through Redis, all but the one spare slot
  // an idle instance keeps (max(1, 4 / (8 * 2))).
  a->give_back(0, Resource::concurrent, held_a, now());
  uint64_t more = 0;
  EXPECT_TRUE(eventually([&] {
    more += b->lease(0, Resource::concurrent, 1, now());
    return more >= held_a - 1;
  }));
  std::this_thread::sleep_for(50ms);
  more += b->lease(0, Resource::concurrent, 1, now());
  EXPECT_EQ(more, held_a - 1);
  EXPECT_EQ(a->pooled(0, Resource::concurrent), 1u);
  EXPECT_EQ(a->lease(0, Resource::concurrent, 1, now()), 1u);  // the spare, at once
}

TEST_F(Redis, AnInstanceThatStopsHandsItsSlotsBack) {
  auto b = RedisLeaseSource::build(cfg_, {key("c", 0, 0, 0, 2)});
  {
    auto a = RedisLeaseSource::build(cfg_, {key("c", 0, 0, 0, 2)});
    uint64_t held = 0;
    eventually([&] {
      held += a->lease(0, Resource::concurrent, 1, now());
      return held >= 2;
    }, 500ms);
  }  // a's thread releases its reservation on the way out
  uint64_t got = 0;
  EXPECT_TRUE(eventually([&] {
    got += b->lease(0, Resource::concurrent, 1, now());
    return got == 2;
  }));
}

TEST_F(Redis, RebuildKeepsPoolsByName) {
  auto a = RedisLeaseSource::build(cfg_, {key("x", 1000), key("y", 100)});
  ASSERT_TRUE(eventually([&] { return a->pooled(0, Resource::rpm) > 0; }));
  auto next = a->rebuild({key("new", 50), key("x", 1000)});
  EXPECT_EQ(next->size(), 2u);
  EXPECT_EQ(next->pooled(1, Resource::rpm), a->pooled(0, Resource::rpm));
  EXPECT_TRUE(eventually([&] { return next->lease(0, Resource::rpm, 1, now()) == 1; }));
  EXPECT_EQ(next->limits(0).rpm, 50u);
  // A lower limit: the pooled credit keeps its share of the minute, in
  // units of the new limit.
  uint64_t pooled = next->pooled(1, Resource::rpm);
  auto lower = next->rebuild({key("x", 100)});
  EXPECT_EQ(lower->pooled(0, Resource::rpm), pooled / 10);
}

TEST_F(Redis, RedisDownFallsBackToTheLocalShareAndRecovers) {
  cfg_.on_unavailable = config::RedisConfig::OnUnavailable::local;
  auto a = RedisLeaseSource::build(cfg_, {key("f", 100, 0, 0, 4)});
  ASSERT_TRUE(a->redis_up());
  uint64_t errors = a->redis_errors();
  server_.stop();
  ASSERT_TRUE(eventually([&] { return !a->redis_up(); })) << "the loss went unnoticed";
  EXPECT_GT(a->redis_errors(), errors);
  // Local share: 100 / 2 instances; never a wait.
  auto t0 = std::chrono::steady_clock::now();
  uint64_t got = 0;
  for (int i = 0; i < 200; ++i) got += a->lease(0, Resource::rpm, 1, now());
  EXPECT_EQ(got, 50u);
  uint64_t slots = 0;
  for (int i = 0; i < 10; ++i) slots += a->lease(0, Resource::concurrent, 1, now());
  EXPECT_EQ(slots, 2u);  // 4 / 2
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
  a->give_back(0, Resource::concurrent, slots, now());
  ASSERT_TRUE(server_.start());
  EXPECT_TRUE(eventually([&] { return a->redis_up(); }, 5000ms)) << "no reconnect";
  // Shared again: a fresh Redis has a full bucket.
  EXPECT_TRUE(eventually([&] { return a->lease(0, Resource::rpm, 1, now()) == 1; }));
}

TEST_F(Redis, RedisDownWithDenyRefuses) {
  cfg_.on_unavailable = config::RedisConfig::OnUnavailable::deny;
  auto a = RedisLeaseSource::build(cfg_, {key("d", 100)});
  ASSERT_TRUE(eventually([&] { return a->lease(0, Resource::rpm, 1, now()) == 1; }));
  server_.stop();
  ASSERT_TRUE(eventually([&] { return !a->redis_up(); }));
  EXPECT_EQ(a->lease(0, Resource::rpm, 1, now()), 0u);
  EXPECT_GT(a->level(0, Resource::rpm, now()).reset_ns, 0);
  ASSERT_TRUE(server_.start());
  EXPECT_TRUE(eventually([&] { return a->lease(0, Resource::rpm, 1, now()) == 1; }, 5000ms));
}

TEST_F(Redis, StartsOnTheFallbackWhenRedisIsAbsent) {
  server_.stop();
  auto t0 = std::chrono::steady_clock::now();
  auto a = RedisLeaseSource::build(cfg_, {key("z", 10)});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_FALSE(a->redis_up());
  EXPECT_EQ(a->lease(0, Resource::rpm, 10, now()), 5u);  // 10 / 2 instances
}

TEST_F(Redis, WrongPasswordIsAnErrorNotACrash) {
  cfg_.password = "not-the-password";
  auto a = RedisLeaseSource::build(cfg_, {key("p", 10)});
  EXPECT_FALSE(a->redis_up());  // redis-server has no password: AUTH fails
  EXPECT_GE(a->redis_errors(), 1u);
}

}  // namespace
}  // namespace aigw::redis
