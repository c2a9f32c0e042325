// src/routing/health.cpp: strategies, circuit breaker, key disabling,
// rate-limit cooling, News between workers, and the JSON status.
#include "routing/health.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace aigw::routing {
namespace {

using config::Strategy;
using namespace std::chrono_literals;
using None = Pick::None;

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1000 * kSec;  // a plausible CLOCK_MONOTONIC reading

struct Spec {
  std::string name;
  uint32_t weight = 1;
  uint32_t priority = 0;
  uint32_t keys = 1;
};

config::RoutingConfig routing_cfg() {
  config::RoutingConfig r;
  r.failure_threshold = 3;
  r.error_ratio = 0.5;
  r.min_requests = 10;
  r.window = 10s;
  r.cooldown = 1s;
  r.max_cooldown = 5s;
  r.rate_limit_cooldown = 7s;
  return r;
}

// One route "m" over the given providers.
std::shared_ptr<const Table> table_for(const std::vector<Spec>& specs, Strategy strategy = Strategy::weighted,
                                       uint64_t id = 1) {
  config::Config cfg;
  config::RouteConfig rc;
  rc.model = "m";
  rc.strategy = strategy;
  std::vector<uint32_t> keys;
  for (const Spec& s : specs) {
    config::ProviderConfig p;
    p.name = s.name;
    p.models = {"m"};
    p.weight = s.weight;
    p.priority = s.priority;
    cfg.providers.push_back(p);
    config::RouteTarget t;
    t.provider = s.name;
    rc.targets.push_back(t);
    keys.push_back(s.keys);
  }
  cfg.routes = {rc};
  return Table::build(cfg, keys, id);
}

struct Fixture {
  explicit Fixture(const std::vector<Spec>& specs, Strategy s = Strategy::weighted,
                   config::RoutingConfig rc = routing_cfg())
      : table(table_for(specs, s)), health(table, rc, 42), route(*table->find("m")) {}
  std::shared_ptr<const Table> table;
  Health health;
  const Route& route;

  Pick pick(int64_t now = kT0, std::vector<uint32_t> tried = {}) {
    return health.pick(route, now, tried.data(), tried.size());
  }
  // Fails `c` with a breaker failure until it opens.
  News open_channel(uint32_t c, int64_t now = kT0) {
    News n{};
    for (int i = 0; i < 100; ++i) {
      health.begin(c);
      if (health.failure(c, Failure::server_error, now, 0, &n)) break;
    }
    EXPECT_EQ(n.kind, News::Kind::opened);
    return n;
  }
  std::map<int32_t, int> count_targets(int picks, int64_t now = kT0) {
    std::map<int32_t, int> seen;
    for (int i = 0; i < picks; ++i) ++seen[pick(now).target];
    return seen;
  }
};

TEST(RoutingHealth, WeightsHonouredOver100kPicks) {
  Fixture f({{"a", 1}, {"b", 2}, {"c", 7}, {"z", 0}});
  const int n = 100'000;
  auto seen = f.count_targets(n);
  // Binomial sd is below 0.15% here; 1% absolute is ~7 sd with a fixed seed.
  EXPECT_NEAR(seen[0] / double(n), 0.1, 0.01);
  EXPECT_NEAR(seen[1] / double(n), 0.2, 0.01);
  EXPECT_NEAR(seen[2] / double(n), 0.7, 0.01);
  EXPECT_EQ(seen.count(3), 0u);  // weight 0 is never picked
  EXPECT_EQ(seen.count(-1), 0u);
}

TEST(RoutingHealth, WeightsHonouredBeyondTheStackFastPath) {
  std::vector<Spec> specs;
  for (int i = 0; i < 100; ++i) specs.push_back({"p" + std::to_string(i), i < 50 ? 1u : 3u});
  Fixture f(specs);
  const int n = 100'000;
  auto seen = f.count_targets(n);
  int low = 0, high = 0;
  for (auto [t, k] : seen) (t < 50 ? low : high) += k;
  EXPECT_NEAR(low / double(n), 0.25, 0.01);
  EXPECT_NEAR(high / double(n), 0.75, 0.01);
  EXPECT_GT(seen[99], 0);
}

TEST(RoutingHealth, AllWeightZeroIsDisabled) {
  Fixture f({{"a", 0}});
  EXPECT_EQ(f.pick().why, None::all_disabled);
}

TEST(RoutingHealth, RoundRobinOverTheKeysOfATarget) {
  Fixture f({{"a", 1, 0, 3}});
  std::vector<int32_t> got;
  for (int i = 0; i < 6; ++i) got.push_back(f.pick().channel);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 1, 2, 0, 1, 2}));
  f.health.failure(1, Failure::rate_limited, kT0, 0, nullptr);
  got.clear();
  for (int i = 0; i < 4; ++i) got.push_back(f.pick().channel);
  EXPECT_EQ(got, (std::vector<int32_t>{0, 2, 0, 2}));
}

TEST(RoutingHealth, PriorityFallsBackTierByTier) {
  Fixture f({{"a", 1, 0, 2}, {"b", 1, 1}, {"c", 3, 1}, {"d", 1, 2}}, Strategy::priority);
  EXPECT_EQ(f.count_targets(1000)[0], 1000);
  f.open_channel(0);
  f.health.failure(1, Failure::key_invalid, kT0, 0, nullptr);
  auto seen = f.count_targets(40'000);
  EXPECT_EQ(seen.count(0), 0u);
  EXPECT_EQ(seen.count(3), 0u);
  EXPECT_NEAR(seen[1] / 40'000.0, 0.25, 0.015);
  EXPECT_NEAR(seen[2] / 40'000.0, 0.75, 0.015);
  f.health.failure(2, Failure::rate_limited, kT0, 0, nullptr);  // b cools
  f.health.failure(3, Failure::rate_limited, kT0, 0, nullptr);  // c cools
  EXPECT_EQ(f.count_targets(100)[3], 100);
  // Once a's breaker cooldown ends, its tier is back.
  EXPECT_EQ(f.pick(kT0 + kSec).target, 0);
}

TEST(RoutingHealth, LeastInflightPrefersTheIdleTarget) {
  Fixture f({{"a"}, {"b"}}, Strategy::least_inflight);
  f.health.begin(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(f.pick().target, 1);
  f.health.begin(1);
  f.health.begin(1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(f.pick().target, 0);
  f.health.abandon(0);
  f.health.abandon(1);
  f.health.abandon(1);
  auto seen = f.count_targets(1000);  // tie: the first of the two random choices
  EXPECT_NEAR(seen[0], 500, 100);

  Fixture three({{"a"}, {"b"}, {"c"}}, Strategy::least_inflight);
  three.health.begin(0);
  three.health.begin(0);
  three.health.begin(1);
  auto s3 = three.count_targets(3000);
  EXPECT_EQ(s3.count(0), 0u);  // the busiest loses every comparison
  EXPECT_GT(s3[2], s3[1]);     // c wins against both, b only against a
}

TEST(RoutingHealth, LatencyPrefersFastAndExploresUnsampled) {
  Fixture f({{"slow"}, {"fast"}, {"new"}}, Strategy::latency);
  f.health.begin(0);
  f.health.success(0, kT0, 200'000'000, nullptr);
  f.health.begin(1);
  f.health.success(1, kT0, 20'000'000, nullptr);
  auto seen = f.count_targets(3000);
  EXPECT_EQ(seen.count(0), 0u);
  EXPECT_GT(seen[2], seen[1]);  // no sample counts as 0 ms
  f.health.begin(2);
  f.health.success(2, kT0, 500'000'000, nullptr);
  seen = f.count_targets(3000);
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_GT(seen[1], seen[0]);
}

TEST(RoutingHealth, BreakerOpensOnConsecutiveFailures) {
  Fixture f({{"a", 1, 0, 2}});
  News n{};
  f.health.begin(0);
  EXPECT_FALSE(f.health.failure(0, Failure::connect, kT0, 0, &n));
  f.health.begin(0);
  EXPECT_FALSE(f.health.failure(0, Failure::timeout, kT0, 0, &n));
  f.health.begin(0);
  f.health.success(0, kT0, -1, nullptr);  // resets the run
  for (int i = 0; i < 2; ++i) {
    f.health.begin(0);
    EXPECT_FALSE(f.health.failure(0, Failure::server_error, kT0, 0, &n));
  }
  // Rate limits are not breaker failures and do not break the run either.
  EXPECT_TRUE(f.health.failure(0, Failure::rate_limited, kT0, 1, &n));
  EXPECT_EQ(n.kind, News::Kind::rate_limited);
  f.health.begin(0);
  ASSERT_TRUE(f.health.failure(0, Failure::server_error, kT0 + 10, 0, &n));
  EXPECT_EQ(n.kind, News::Kind::opened);
  EXPECT_EQ(n.channel, 0u);
  EXPECT_EQ(n.table_id, 1u);
  EXPECT_EQ(n.until_ns, kT0 + 10 + kSec);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.pick(kT0 + 20).channel, 1);
}

TEST(RoutingHealth, BreakerOpensOnErrorRatio) {
  auto rc = routing_cfg();
  rc.failure_threshold = 100;
  Fixture f({{"a"}}, Strategy::weighted, rc);
  News n{};
  for (int i = 0; i < 9; ++i) {
    f.health.begin(0);
    bool changed = i % 2 ? f.health.failure(0, Failure::server_error, kT0, 0, &n)
                         : f.health.success(0, kT0, -1, &n);
    EXPECT_FALSE(changed) << i;
  }
  f.health.begin(0);  // 10th attempt, 5th failure: 50% of a full window
  ASSERT_TRUE(f.health.failure(0, Failure::server_error, kT0, 0, &n));
  EXPECT_EQ(n.kind, News::Kind::opened);

  Fixture g({{"a"}}, Strategy::weighted, rc);
  for (int i = 0; i < 9; ++i) {
    g.health.begin(0);
    if (i % 2) {
      g.health.failure(0, Failure::server_error, kT0, 0, &n);
    } else {
      g.health.success(0, kT0, -1, &n);
    }
  }
  g.health.begin(0);  // a new window: the old attempts no longer count
  EXPECT_FALSE(g.health.failure(0, Failure::server_error, kT0 + 11 * kSec, 0, &n));
}

TEST(RoutingHealth, CooldownDoublesUpToTheCapAndResetsAfterStayingClosed) {
  Fixture f({{"a"}});
  int64_t now = kT0;
  News n = f.open_channel(0, now);
  std::vector<int64_t> cooldowns{n.until_ns - now};
  for (int i = 0; i < 4; ++i) {
    now = n.until_ns;
    Pick p = f.pick(now);
    ASSERT_EQ(p.channel, 0);  // the half-open trial
    f.health.begin(0);
    ASSERT_TRUE(f.health.failure(0, Failure::connect, now, 0, &n));
    EXPECT_EQ(n.kind, News::Kind::opened);
    cooldowns.push_back(n.until_ns - now);
  }
  EXPECT_EQ(cooldowns, (std::vector<int64_t>{kSec, 2 * kSec, 4 * kSec, 5 * kSec, 5 * kSec}));

  now = n.until_ns;
  ASSERT_EQ(f.pick(now).channel, 0);
  f.health.begin(0);
  ASSERT_TRUE(f.health.success(0, now, -1, &n));
  EXPECT_EQ(n.kind, News::Kind::closed);
  // Re-opened soon after closing: the doubling goes on.
  n = f.open_channel(0, now + kSec);
  EXPECT_EQ(n.until_ns - (now + kSec), 5 * kSec);
  now = n.until_ns;
  ASSERT_EQ(f.pick(now).channel, 0);
  f.health.begin(0);
  ASSERT_TRUE(f.health.success(0, now, -1, &n));
  // Closed for max_cooldown: back to the first cooldown.
  n = f.open_channel(0, now + 5 * kSec);
  EXPECT_EQ(n.until_ns - (now + 5 * kSec), kSec);
}

TEST(RoutingHealth, HalfOpenAllowsOneTrial) {
  Fixture f({{"a"}});
  News n = f.open_channel(0);
  Pick p = f.pick(kT0 + 1);
  EXPECT_EQ(p.why, None::all_open);
  EXPECT_EQ(p.retry_at_ns, n.until_ns);
  int64_t later = n.until_ns;
  ASSERT_EQ(f.pick(later).channel, 0);  // claims the trial
  p = f.pick(later);
  EXPECT_EQ(p.why, None::all_open);
  EXPECT_EQ(p.retry_at_ns, 0);
  f.health.begin(0);
  f.health.abandon(0);  // no verdict: the trial is free again
  ASSERT_EQ(f.pick(later).channel, 0);
  f.health.begin(0);
  News closed{};
  ASSERT_TRUE(f.health.success(0, later, 1000, &closed));
  EXPECT_EQ(closed.kind, News::Kind::closed);
  EXPECT_EQ(closed.until_ns, later);
  EXPECT_EQ(f.pick(later).channel, 0);
  EXPECT_EQ(f.pick(later).channel, 0);  // closed: no trial limit
}

// A stream whose head was good and whose body died: the channel hears
// first_byte, then completed(false), and a provider that always does this
// opens its breaker like one that fails outright (issue 11, defect 4).
TEST(RoutingHealth, ResponsesCutShortAfterTheHeadOpenTheBreaker) {
  Fixture f({{"a"}, {"b"}});
  News n{};
  for (int i = 0; i < 2; ++i) {
    f.health.begin(0);
    EXPECT_FALSE(f.health.first_byte(0, kT0, 1000, &n));
    EXPECT_FALSE(f.health.completed(0, false, kT0, &n));
  }
  f.health.begin(0);
  EXPECT_FALSE(f.health.first_byte(0, kT0, 1000, &n));
  ASSERT_TRUE(f.health.completed(0, false, kT0 + 5, &n));
  EXPECT_EQ(n.kind, News::Kind::opened);
  EXPECT_EQ(n.channel, 0u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.pick(kT0 + 6).channel, 1);
}

TEST(RoutingHealth, ACompletedResponseResetsTheRunAtItsEnd) {
  Fixture f({{"a"}});
  News n{};
  for (int i = 0; i < 2; ++i) {
    f.health.begin(0);
    EXPECT_FALSE(f.health.failure(0, Failure::server_error, kT0, 0, &n));
  }
  // The head alone decides nothing about the run; the whole response does.
  f.health.begin(0);
  EXPECT_FALSE(f.health.first_byte(0, kT0, 1000, &n));
  EXPECT_FALSE(f.health.completed(0, true, kT0, &n));
  for (int i = 0; i < 2; ++i) {
    f.health.begin(0);
    EXPECT_FALSE(f.health.failure(0, Failure::server_error, kT0, 0, &n));
  }
  f.health.begin(0);
  EXPECT_TRUE(f.health.failure(0, Failure::server_error, kT0, 0, &n));
}

TEST(RoutingHealth, FirstByteEndsTheInFlightCountAndClosesATrial) {
  Fixture f({{"a"}});
  News n = f.open_channel(0);
  int64_t later = n.until_ns;
  ASSERT_EQ(f.pick(later).channel, 0);  // claims the trial
  f.health.begin(0);
  News closed{};
  ASSERT_TRUE(f.health.first_byte(0, later, 1000, &closed));
  EXPECT_EQ(closed.kind, News::Kind::closed);
  std::string out;
  f.health.write_json(out, 0, later);
  EXPECT_NE(out.find("\"in_flight\":0"), std::string::npos) << out;
  // The trial's body then dies: the breaker closed on a good head, and the
  // death counts as the first failure of a new run.
  EXPECT_FALSE(f.health.completed(0, false, later + 1, &n));
  out.clear();
  f.health.write_json(out, 0, later + 1);
  EXPECT_NE(out.find("\"consecutive_failures\":1"), std::string::npos) << out;
  EXPECT_EQ(f.pick(later + 1).channel, 0);
}

TEST(RoutingHealth, AttemptsFromBeforeTheOpenDoNotDecide) {
  Fixture f({{"a"}});
  f.health.begin(0);  // an older attempt still in flight
  News n = f.open_channel(0);
  News out{};
  EXPECT_FALSE(f.health.success(0, kT0 + 1, -1, &out));
  f.health.begin(0);
  EXPECT_FALSE(f.health.failure(0, Failure::timeout, kT0 + 1, 0, &out));
  EXPECT_EQ(f.pick(kT0 + 2).why, None::all_open);
  EXPECT_EQ(f.pick(n.until_ns).channel, 0);
}

TEST(RoutingHealth, KeyDisabledUntilReenabled) {
  Fixture f({{"a", 1, 0, 2}});
  News n{};
  f.health.begin(1);
  ASSERT_TRUE(f.health.failure(1, Failure::key_invalid, kT0, 0, &n));
  EXPECT_EQ(n.kind, News::Kind::key_disabled);
  EXPECT_EQ(n.channel, 1u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.pick(kT0 + 1000 * kSec).channel, 0);
  f.health.begin(1);
  EXPECT_FALSE(f.health.failure(1, Failure::key_invalid, kT0, 0, &n));  // already disabled

  ASSERT_TRUE(f.health.probe_result(1, true, kT0, &n));
  EXPECT_EQ(n.kind, News::Kind::key_enabled);
  std::set<int32_t> seen{f.pick().channel, f.pick().channel};
  EXPECT_EQ(seen, (std::set<int32_t>{0, 1}));

  // An attempt that began before the key was disabled and then worked.
  f.health.begin(0);
  f.health.begin(0);
  ASSERT_TRUE(f.health.failure(0, Failure::key_invalid, kT0, 0, &n));
  ASSERT_TRUE(f.health.success(0, kT0, -1, &n));
  EXPECT_EQ(n.kind, News::Kind::key_enabled);
}

TEST(RoutingHealth, RateLimitCoolsWithAndWithoutRetryAfter) {
  Fixture f({{"a", 1, 0, 2}});
  News n{};
  f.health.begin(0);
  ASSERT_TRUE(f.health.failure(0, Failure::rate_limited, kT0, 3 * kSec, &n));
  EXPECT_EQ(n.kind, News::Kind::rate_limited);
  EXPECT_EQ(n.until_ns, kT0 + 3 * kSec);
  f.health.begin(1);
  ASSERT_TRUE(f.health.failure(1, Failure::rate_limited, kT0, 0, &n));
  EXPECT_EQ(n.until_ns, kT0 + 7 * kSec);  // rate_limit_cooldown
  f.health.begin(1);
  EXPECT_FALSE(f.health.failure(1, Failure::rate_limited, kT0, kSec, &n));  // ends earlier: no news

  Pick p = f.pick(kT0 + kSec);
  EXPECT_EQ(p.why, None::all_cooling);
  EXPECT_EQ(p.retry_at_ns, kT0 + 3 * kSec);
  EXPECT_EQ(f.pick(kT0 + 3 * kSec).channel, 0);
  EXPECT_EQ(f.pick(kT0 + 7 * kSec).channel, 1);
}

TEST(RoutingHealth, TriedChannelsAreSkippedAndEveryNoneReason) {
  Fixture f({{"a", 1, 0, 2}, {"b", 1, 0, 1}});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(f.pick(kT0, {0, 1}).channel, 2);
  EXPECT_EQ(f.pick(kT0, {2, 0}).channel, 1);
  Pick p = f.pick(kT0, {0, 1, 2});
  EXPECT_EQ(p.why, None::all_tried);
  EXPECT_EQ(p.channel, -1);
  EXPECT_EQ(p.target, -1);

  f.health.failure(2, Failure::key_invalid, kT0, 0, nullptr);
  EXPECT_EQ(f.pick(kT0, {0, 1}).why, None::all_disabled);
  f.health.failure(1, Failure::rate_limited, kT0, 2 * kSec, nullptr);
  p = f.pick(kT0, {0});
  EXPECT_EQ(p.why, None::all_cooling);  // disabled ones aside, everything cools
  EXPECT_EQ(p.retry_at_ns, kT0 + 2 * kSec);
  News n = f.open_channel(0);
  p = f.pick(kT0);
  EXPECT_EQ(p.why, None::all_open);  // an open breaker outweighs a cooldown
  EXPECT_EQ(p.retry_at_ns, n.until_ns);
  EXPECT_EQ(f.pick(kT0, {0, 1}).why, None::all_disabled);
}

TEST(RoutingHealth, ApplyEveryKindOfNews) {
  auto table = table_for({{"a", 1, 0, 2}});
  Health w0(table, routing_cfg(), 1), w1(table, routing_cfg(), 2);
  const Route& r = *table->find("m");
  auto pick1 = [&](int64_t now) { return w1.pick(r, now, nullptr, 0); };

  News n{};
  for (int i = 0; i < 3; ++i) w0.failure(0, Failure::timeout, kT0, 0, &n);
  w1.apply(n);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pick1(kT0).channel, 1);
  w1.apply(News{1, 0, News::Kind::opened, kT0 + 1});  // keeps the later end
  EXPECT_EQ(pick1(kT0 + kSec / 2).channel, 1);
  w1.apply(News{1, 0, News::Kind::closed, kT0 + 2});
  std::set<int32_t> both{pick1(kT0).channel, pick1(kT0).channel};
  EXPECT_EQ(both.size(), 2u);
  // Counters were reset: two more failures do not open it.
  EXPECT_FALSE(w1.failure(0, Failure::timeout, kT0, 0, &n));
  EXPECT_FALSE(w1.failure(0, Failure::timeout, kT0, 0, &n));

  w1.apply(News{1, 1, News::Kind::key_disabled, kT0});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pick1(kT0).channel, 0);
  w1.apply(News{1, 1, News::Kind::key_enabled, kT0});
  both = {pick1(kT0).channel, pick1(kT0).channel};
  EXPECT_EQ(both.size(), 2u);

  w1.apply(News{1, 1, News::Kind::rate_limited, kT0 + 5 * kSec});
  w1.apply(News{1, 1, News::Kind::rate_limited, kT0 + kSec});  // keeps the later end
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pick1(kT0 + 4 * kSec).channel, 0);
  EXPECT_EQ(pick1(kT0 + 5 * kSec).channel, 1);

  // News about another table is ignored.
  w1.apply(News{2, 0, News::Kind::key_disabled, kT0});
  w1.apply(News{2, 1, News::Kind::key_disabled, kT0});
  EXPECT_NE(pick1(kT0).why, None::all_disabled);
  w1.apply(News{1, 99, News::Kind::key_disabled, kT0});  // out of range: ignored
}

TEST(RoutingHealth, NewsKeepsWorkersInStep) {
  auto table = table_for({{"a"}, {"b"}});
  Health w0(table, routing_cfg(), 1), w1(table, routing_cfg(), 2);
  const Route& r = *table->find("m");
  News n{};
  for (int i = 0; i < 3; ++i) w0.failure(0, Failure::connect, kT0, 0, &n);
  w1.apply(n);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(w1.pick(r, kT0, nullptr, 0).channel, 1);
  // w0 runs the trial and closes; w1 hears of it before its own cooldown ends.
  int64_t later = n.until_ns;
  uint32_t tried[1] = {1};
  ASSERT_EQ(w0.pick(r, later, tried, 1).channel, 0);
  w0.begin(0);
  ASSERT_TRUE(w0.success(0, later, -1, &n));
  w1.apply(n);
  EXPECT_EQ(w1.pick(r, later, tried, 1).channel, 0);
  EXPECT_EQ(w1.pick(r, later, tried, 1).channel, 0);  // closed, not a half-open trial
}

TEST(RoutingHealth, RouteOfAnotherTableIsRefused) {
  Fixture f({{"a"}});
  auto other = table_for({{"a"}});
  EXPECT_EQ(f.health.pick(*other->find("m"), kT0, nullptr, 0).why, None::all_disabled);
}

TEST(RoutingHealth, ProbeResults) {
  Fixture f({{"a"}});
  News n{};
  EXPECT_FALSE(f.health.probe_result(0, true, kT0, &n));  // nothing to report
  ASSERT_TRUE(f.health.probe_result(0, false, kT0, &n));
  EXPECT_EQ(n.kind, News::Kind::opened);
  EXPECT_EQ(n.until_ns, kT0 + kSec);
  EXPECT_FALSE(f.health.probe_result(0, false, kT0 + 1, &n));  // already open
  ASSERT_TRUE(f.health.probe_result(0, true, kT0 + 2, &n));
  EXPECT_EQ(n.kind, News::Kind::closed);
  EXPECT_EQ(f.pick(kT0 + 3).channel, 0);
}

TEST(RoutingHealth, WriteJsonHoldsOnlyNamesAndNumbers) {
  Fixture f({{"open\"ai", 1, 0, 2}, {"local"}});
  f.health.begin(0);
  f.health.success(0, kT0, 1'500'000, nullptr);
  f.open_channel(1);
  f.health.failure(2, Failure::rate_limited, kT0, 2 * kSec + 1, nullptr);
  f.health.begin(2);
  std::string out;
  f.health.write_json(out, 3, kT0);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  EXPECT_EQ(int64_t(doc["worker"]), 3);
  simdjson::dom::array chans = doc["channels"];
  ASSERT_EQ(chans.size(), 3u);
  std::set<std::string> allowed{"open\"ai#0", "open\"ai#1", "local#0", "open\"ai", "local",
                                "closed",    "open",      "half_open", "key_disabled", "rate_limited",
                                "server_error", "ok", "failed"};
  std::vector<std::string> states;
  for (simdjson::dom::object ch : chans) {
    for (auto field : ch) {
      if (field.value.is_string()) {
        EXPECT_TRUE(allowed.count(std::string(std::string_view(field.value)))) << field.key;
      } else if (field.value.is_null()) {
        EXPECT_TRUE(std::string_view(field.key).starts_with("last_error") ||
                    std::string_view(field.key).starts_with("probe"))
            << field.key;
      } else {
        EXPECT_TRUE(field.value.is_number()) << field.key;
      }
    }
    states.emplace_back(std::string_view(ch["state"]));
  }
  EXPECT_EQ(states, (std::vector<std::string>{"closed", "open", "closed"}));
  simdjson::dom::element first = chans.at(0);
  EXPECT_EQ(std::string_view(first["channel"]), "open\"ai#0");
  EXPECT_EQ(std::string_view(first["provider"]), "open\"ai");
  EXPECT_EQ(int64_t(first["requests"]), 1);
  EXPECT_DOUBLE_EQ(double(first["ewma_ttfb_ms"]), 1.5);
  simdjson::dom::element second = chans.at(1);
  EXPECT_EQ(int64_t(second["key"]), 1);
  EXPECT_EQ(int64_t(second["open_ms"]), 1000);
  EXPECT_EQ(int64_t(second["failures"]), 3);
  EXPECT_EQ(int64_t(second["consecutive_failures"]), 0);
  simdjson::dom::element third = chans.at(2);
  EXPECT_EQ(int64_t(third["cooling_ms"]), 2001);
  EXPECT_EQ(int64_t(third["in_flight"]), 1);
  // The last failure's kind and age; none on a channel that never failed.
  EXPECT_TRUE(first["last_error"].is_null());
  EXPECT_TRUE(first["probe"].is_null());
  EXPECT_EQ(std::string_view(third["last_error"]), "rate_limited");
  EXPECT_EQ(int64_t(third["last_error_ago_ms"]), 0);
  EXPECT_EQ(std::string_view(second["last_error"]), "server_error");

  out.clear();
  f.health.probe_result(2, false, kT0 + kSec / 2, nullptr);
  f.health.write_json(out, 0, kT0 + kSec);
  EXPECT_NE(out.find("\"state\":\"half_open\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"probe\":\"failed\",\"probe_ago_ms\":500}"), std::string::npos) << out;
  EXPECT_NE(out.find("\"last_error\":\"rate_limited\",\"last_error_ago_ms\":1000,"), std::string::npos) << out;
}

// Names are written by json::append_string, like every JSON string aigw
// writes: a newline in its short escape (not as a \u escape), a bad byte
// as U+FFFD.
TEST(RoutingHealth, WriteJsonEscapesNamesLikeEveryOtherWriter) {
  Fixture f({{"line\nbreak\xFF"}});
  std::string out;
  f.health.write_json(out, 0, kT0);
  EXPECT_NE(out.find(R"("provider":"line\nbreak\ufffd")"), std::string::npos) << out;
  EXPECT_EQ(out.find("\\u000a"), std::string::npos) << out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
}

}  // namespace
}  // namespace aigw::routing
