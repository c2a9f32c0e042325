// The usage copy in Redis (src/redis/usage_mirror.h): its field encoding,
// and UsageMirror + UsageReader against a real redis-server (started here
// on a free loopback port; skipped, saying so, when it is not installed):
// what two mirrors add, one reader answers whole; what waits while Redis
// is away arrives once it is back, counted once.
#include "redis/usage_mirror.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "redis_server.h"
#include "state/report.h"

namespace aigw::redis {
namespace {

using namespace std::chrono_literals;

TEST(UsageField, RoundTripsAnyName) {
  const std::vector<std::string> names = {"", "a", "key:with:colons", "12:34", std::string("nul\0byte", 8),
                                          std::string(300, 'x'), "{tag}", "\xff\xfe"};
  for (const std::string& k : names) {
    for (const std::string& m : names) {
      for (size_t c = 0; c < std::size(state::kTotalColumns); ++c) {
        std::string f = usage_field(k, m, "prov", state::kTotalColumns[c].name);
        std::string k2, m2, p2;
        size_t c2 = 99;
        ASSERT_TRUE(parse_usage_field(f, k2, m2, p2, c2)) << f;
        EXPECT_EQ(k2, k);
        EXPECT_EQ(m2, m);
        EXPECT_EQ(p2, "prov");
        EXPECT_EQ(c2, c);
      }
    }
  }
}

TEST(UsageField, RefusesWhatItDidNotWrite) {
  std::string k, m, p;
  size_t c = 0;
  for (std::string_view f : {"", "requests", "1:a1:b1:c", "1:a1:b1:cnot_a_column", "9:a1:b1:crequests",
                             "1:a1:b:crequests", "x:a1:b1:crequests", "1:a1:b1:crequests_", ":a1:b1:crequests",
                             "9999999:a"}) {
    EXPECT_FALSE(parse_usage_field(f, k, m, p, c)) << f;
  }
}

TEST(UsageField, CountsAreDecimalsThatFit) {
  uint64_t n = 7;
  EXPECT_TRUE(parse_usage_count("0", n));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(parse_usage_count("18446744073709551615", n));
  EXPECT_EQ(n, UINT64_MAX);
  for (std::string_view v : {"", "-1", "+1", " 1", "1 ", "1.5", "abc", "12abc", "18446744073709551616", "0x10"}) {
    EXPECT_FALSE(parse_usage_count(v, n)) << v;
  }
}

state::Aggregates one(const std::string& day, const std::string& key, uint64_t requests, uint64_t tokens) {
  state::Totals t;
  t.requests = requests;
  t.total_tokens = tokens;
  t.latency_ms_sum = 10 * requests;
  state::Aggregates a;
  a[{day, key, "model:1", "prov"}] = t;
  return a;
}

using test::eventually;

class UsageCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::RedisServer::binary().empty()) GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)";
    ASSERT_TRUE(server_.start()) << "redis-server did not start";
    cfg_ = server_.config();
    reader_ = std::make_unique<UsageReader>(cfg_);
  }

  // Requests per key over the days, as the reader answers for every instance.
  std::map<std::string, uint64_t> requests_by_key(const std::string& from, const std::string& to) {
    state::UsageQuery q;
    q.from = from;
    q.to = to;
    q.group_by = {"key"};
    std::vector<std::string> days;
    std::string why;
    EXPECT_TRUE(state::days_of(q, UsageReader::kMaxDays, days, why)) << why;
    std::vector<state::UsageRow> rows;
    std::map<std::string, uint64_t> out;
    if (!reader_->usage(q, days, rows, why)) return {{"<error>", 0}};
    for (const auto& r : rows) out[r.key] = r.totals.requests;
    return out;
  }

  test::RedisServer server_;
  config::RedisConfig cfg_;
  std::unique_ptr<UsageReader> reader_;  // one connection, opened again after a failure
};

TEST_F(UsageCopy, TwoMirrorsOneAnswer) {
  UsageReader reader(cfg_);
  UsageMirror a(cfg_, config::Duration{20}), b(cfg_, config::Duration{20});
  a.add(one("2026-12-03", "alice", 2, 20));
  a.add(one("2026-12-04", "alice", 3, 30));
  b.add(one("2026-12-04", "alice", 4, 40));
  b.add(one("2026-12-04", "bob", 1, 10));
  ASSERT_TRUE(eventually([&] { return a.sent() == 2 && b.sent() == 2; }));
  state::UsageQuery q;
  q.from = "2026-12-01";
  q.to = "2026-12-04";
  q.group_by = {"day", "key", "model"};
  std::vector<std::string> days;
  std::string why;
  ASSERT_TRUE(state::days_of(q, UsageReader::kMaxDays, days, why));
  std::vector<state::UsageRow> rows;
  ASSERT_TRUE(reader.usage(q, days, rows, why)) << why;
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(std::tie(rows[0].day, rows[0].key, rows[0].model), std::make_tuple("2026-12-03", "alice", "model:1"));
  EXPECT_EQ(rows[0].totals.requests, 2u);
  EXPECT_EQ(rows[1].totals.requests, 7u);  // both instances' alice on the 4th
  EXPECT_EQ(rows[1].totals.total_tokens, 70u);
  EXPECT_EQ(rows[1].totals.latency_ms_sum, 70u);
  EXPECT_EQ(rows[2].key, "bob");
  EXPECT_EQ(a.lost() + b.lost(), 0u);
  // A filter, and a range with nothing in it.
  q.key = "bob";
  rows.clear();
  ASSERT_TRUE(reader.usage(q, days, rows, why));
  ASSERT_EQ(rows.size(), 1u);
  q.from = q.to = "2026-11-01";
  ASSERT_TRUE(state::days_of(q, UsageReader::kMaxDays, days, why));
  rows.clear();
  ASSERT_TRUE(reader.usage(q, days, rows, why));
  EXPECT_TRUE(rows.empty());
}

// Values another writer put in the hash: a negative count, text, a count
// past 64 bits are left out of the answer (strtoull made the first a huge
// number and the last UINT64_MAX); a count that fits is kept as it is.
TEST_F(UsageCopy, ForeignValuesAreLeftOut) {
  UsageMirror m(cfg_, config::Duration{20});
  m.add(one("2026-12-04", "alice", 3, 30));
  ASSERT_TRUE(eventually([&] { return m.sent() == 1; }));
  redis::Connection raw(cfg_);
  std::string why, reply;
  ASSERT_TRUE(raw.connect({}, why)) << why;
  const std::string hash = usage_hash("2026-12-04");
  auto hset = [&](const std::string& key, std::string_view column, const std::string& value) {
    const std::string argv[] = {"HSET", hash, usage_field(key, "model:1", "prov", column), value};
    ASSERT_TRUE(raw.command(argv, reply, why)) << why;
  };
  hset("bob", "requests", "-5");
  hset("carol", "requests", "many");
  hset("dave", "requests", "18446744073709551616");
  hset("erin", "requests", "18446744073709551615");
  auto by_key = requests_by_key("2026-12-04", "2026-12-04");
  EXPECT_EQ(by_key["alice"], 3u);
  EXPECT_EQ(by_key.count("carol") + by_key.count("dave") + by_key.count("bob"), 0u) << "no rows from foreign values";
  EXPECT_EQ(by_key["erin"], UINT64_MAX);
}

TEST_F(UsageCopy, WhatWaitsWhileRedisIsAwayArrivesOnce) {
  UsageMirror m(cfg_, config::Duration{20});
  m.add(one("2026-12-04", "alice", 1, 10));
  ASSERT_TRUE(eventually([&] { return m.sent() == 1; }));
  server_.stop();
  m.add(one("2026-12-04", "alice", 2, 20));
  m.add(one("2026-12-04", "alice", 3, 30));  // merged with the one before
  ASSERT_TRUE(eventually([&] { return m.pending() == 1; }));
  std::this_thread::sleep_for(100ms);  // several failed attempts, backing off
  EXPECT_EQ(m.pending(), 1u);
  EXPECT_EQ(m.lost(), 0u);
  EXPECT_EQ(requests_by_key("2026-12-04", "2026-12-04").count("<error>"), 1u);  // the reader says it failed
  ASSERT_TRUE(server_.start());  // the same port, empty (no persistence)
  ASSERT_TRUE(eventually([&] { return m.pending() == 0 && m.sent() == 2; }, 8000ms));
  EXPECT_EQ(requests_by_key("2026-12-04", "2026-12-04"), (std::map<std::string, uint64_t>{{"alice", 5}}));
  EXPECT_EQ(m.lost(), 0u);
}

TEST_F(UsageCopy, StopSendsWhatIsLeft) {
  {
    UsageMirror m(cfg_, config::Duration{60'000});  // no flush before the stop
    m.add(one("2026-12-04", "carol", 4, 40));
    m.stop();
    EXPECT_EQ(m.sent(), 1u);
  }
  EXPECT_EQ(requests_by_key("2026-12-04", "2026-12-04"), (std::map<std::string, uint64_t>{{"carol", 4}}));
}

}  // namespace
}  // namespace aigw::redis
