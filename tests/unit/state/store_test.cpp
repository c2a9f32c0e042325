// The usage store against a real SQLite file: schema and migration,
// aggregation, request rows and retention, quota sums, and the errors a
// file can give at open (read-only, corrupt, newer schema).
#include "state/store.h"

#include "state/report.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

namespace aigw::state {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aigw-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/usage.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string dir_, path_;
};

using Sums = std::map<std::tuple<std::string, std::string, std::string, std::string>, Totals>;

UsageRecord record(std::string_view key, std::string_view model, int status, uint64_t prompt, uint64_t completion,
                   int64_t wall_ms) {
  UsageRecord r;
  r.key.set(key);
  r.model.set(model);
  r.provider.set("p1");
  r.request_id.set("req-1");
  r.status = static_cast<uint16_t>(status);
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.total_tokens = prompt + completion;
  r.latency_ms = 100;
  r.has_ttft = true;
  r.ttft_ms = 10;
  r.wall_ms = wall_ms;
  return r;
}

constexpr int64_t kDec3 = 1796256000000;  // 2026-12-03T00:00:00Z in ms

TEST_F(StoreTest, CreatesTheSchemaInWalMode) {
  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, MigratesFromTheVersionBefore) {
  // A version 1 file as the first release wrote it, with a row in it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  const char* v1 =
      "CREATE TABLE usage_daily (day TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL,"
      " requests INTEGER NOT NULL DEFAULT 0, errors_4xx INTEGER NOT NULL DEFAULT 0,"
      " errors_429 INTEGER NOT NULL DEFAULT 0, errors_5xx INTEGER NOT NULL DEFAULT 0,"
      " client_closed INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,"
      " completion_tokens INTEGER NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,"
      " latency_ms_sum INTEGER NOT NULL DEFAULT 0, ttft_ms_sum INTEGER NOT NULL DEFAULT 0,"
      " ttft_count INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, key, model, provider)) WITHOUT ROWID;"
      "CREATE TABLE requests (ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL, key TEXT NOT NULL,"
      " model TEXT NOT NULL, provider TEXT NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL,"
      " stream INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,"
      " total_tokens INTEGER NOT NULL, latency_ms INTEGER NOT NULL, ttft_ms INTEGER);"
      "CREATE INDEX requests_ts ON requests (ts_ms);"
      "INSERT INTO usage_daily (day, key, model, provider, requests, total_tokens)"
      " VALUES ('2026-12-03', 'alice', 'gpt', 'p1', 7, 70);"
      "PRAGMA user_version = 1;";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->schema_version(), kSchemaVersion);
  Sums sums;
  sums[{"2026-12-03", "alice", "gpt", "p1"}].add(record("alice", "gpt", 200, 1, 2, kDec3));
  ASSERT_TRUE(s->write(sums, {}, why)) << why;
  UsageQuery q{"2026-12-01", "2026-12-31", {"key"}, "", "", "", ""};
  std::vector<UsageRow> rows;
  ASSERT_TRUE(s->usage(q, rows, why)) << why;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].totals.requests, 8u);
  EXPECT_EQ(rows[0].totals.total_tokens, 73u);
  EXPECT_EQ(rows[0].totals.cached_tokens, 0u);
  // The buckets count only what was written after the migration.
  EXPECT_EQ(rows[0].totals.latency_le_100ms, 1u);
  EXPECT_EQ(rows[0].totals.ttft_le_100ms, 1u);
}

TEST(Totals, BucketsAreCumulative) {
  Totals t;
  UsageRecord r;
  for (uint32_t ms : {0u, 100u, 101u, 999u, 1000u, 4000u, 30000u, 30001u}) {
    r.latency_ms = ms;
    r.has_ttft = ms != 0;  // one request without a first byte
    r.ttft_ms = ms;
    t.add(r);
  }
  EXPECT_EQ(t.requests, 8u);
  EXPECT_EQ(t.latency_le_100ms, 2u);
  EXPECT_EQ(t.latency_le_500ms, 3u);
  EXPECT_EQ(t.latency_le_1s, 5u);
  EXPECT_EQ(t.latency_le_5s, 6u);
  EXPECT_EQ(t.latency_le_30s, 7u);
  EXPECT_EQ(t.ttft_count, 7u);
  EXPECT_EQ(t.ttft_le_100ms, 1u);
  EXPECT_EQ(t.ttft_le_500ms, 2u);
  EXPECT_EQ(t.ttft_le_1s, 4u);
  EXPECT_EQ(t.ttft_le_5s, 5u);
}

TEST_F(StoreTest, AggregatesAcrossCommitsAndGroups) {
  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  for (int round = 0; round < 3; ++round) {
    Sums sums;
    for (const auto& r : {record("alice", "gpt", 200, 10, 5, kDec3), record("alice", "gpt", 500, 0, 0, kDec3),
                          record("bob", "claude", 429, 0, 0, kDec3 + 86400000),
                          record("bob", "gpt", 499, 3, 0, kDec3)}) {
      sums[{day_of_ms(r.wall_ms), std::string(r.key.view()), std::string(r.model.view()),
            std::string(r.provider.view())}]
          .add(r);
    }
    ASSERT_TRUE(s->write(sums, {}, why)) << why;
  }
  std::vector<UsageRow> rows;
  UsageQuery by_key{"2026-12-01", "2026-12-31", {"key"}, "", "", "", ""};
  ASSERT_TRUE(s->usage(by_key, rows, why)) << why;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key, "alice");
  EXPECT_EQ(rows[0].totals.requests, 6u);
  EXPECT_EQ(rows[0].totals.errors_5xx, 3u);
  EXPECT_EQ(rows[0].totals.total_tokens, 45u);
  EXPECT_EQ(rows[0].totals.ttft_count, 6u);
  EXPECT_EQ(rows[0].totals.latency_ms_sum, 600u);
  EXPECT_EQ(rows[1].key, "bob");
  EXPECT_EQ(rows[1].totals.errors_429, 3u);
  EXPECT_EQ(rows[1].totals.client_closed, 3u);

  // A day range and a filter.
  rows.clear();
  UsageQuery one_day{"2026-12-04", "2026-12-04", {"day", "model"}, "bob", "", "", ""};
  ASSERT_TRUE(s->usage(one_day, rows, why)) << why;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].day, "2026-12-04");
  EXPECT_EQ(rows[0].model, "claude");
  EXPECT_EQ(rows[0].totals.requests, 3u);

  // Quota sums: the day of Dec 3 and its month.
  std::map<std::string, Store::QuotaUse> use;
  ASSERT_TRUE(s->quota_use(kDec3 / 1000 + 3600, use, why)) << why;
  EXPECT_EQ(use["alice"].daily, 45u);
  EXPECT_EQ(use["alice"].monthly, 45u);
  EXPECT_EQ(use["bob"].daily, 9u);
  use.clear();
  ASSERT_TRUE(s->quota_use(kDec3 / 1000 + 86400 + 60, use, why)) << why;
  EXPECT_EQ(use["alice"].daily, 0u);
  EXPECT_EQ(use["alice"].monthly, 45u);
}

// group_rows answers, for rows of full detail from elsewhere (the Redis
// copy), what the store's SQL answers for the same rows: every grouping,
// every filter, the same order.
TEST_F(StoreTest, GroupRowsAnswersAsTheStoreDoes) {
  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  Sums sums;
  std::vector<UsageRow> detail;
  const char* days[] = {"2026-12-02", "2026-12-03", "2026-12-04"};
  const char* keys[] = {"", "alice", "bob", "B"};
  const char* models[] = {"m1", "", "m,2"};
  uint64_t n = 1;
  for (const char* d : days) {
    for (const char* k : keys) {
      for (const char* m : models) {
        for (const char* p : {"p1", "p2"}) {
          if (++n % 3 == 0) continue;
          Totals t;
          t.requests = n;
          t.total_tokens = n * 7;
          t.errors_5xx = n % 2;
          t.ttft_count = n / 2;
          sums[{d, k, m, p}] = t;
          detail.push_back(UsageRow{d, k, m, p, t});
        }
      }
    }
  }
  ASSERT_TRUE(s->write(sums, {}, why)) << why;
  const std::vector<std::vector<std::string>> groupings = {
      {}, {"key"}, {"model", "key"}, {"day", "provider"}, {"provider", "model", "key", "day"}};
  for (const auto& g : groupings) {
    for (const char* key : {"", "bob", "nobody"}) {
      for (const char* from : {"2026-12-01", "2026-12-03"}) {
        UsageQuery q{from, "2026-12-03", g, key, "", "", ""};
        if (std::string(key) == "bob") q.model = "m,2";
        std::vector<UsageRow> want, got;
        ASSERT_TRUE(s->usage(q, want, why)) << why;
        group_rows(q, detail, got);
        ASSERT_EQ(got.size(), want.size()) << "grouping " << g.size() << " key " << key << " from " << from;
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_EQ(std::tie(got[i].day, got[i].key, got[i].model, got[i].provider),
                    std::tie(want[i].day, want[i].key, want[i].model, want[i].provider));
          for (const TotalColumn& c : kTotalColumns) EXPECT_EQ(got[i].totals.*c.field, want[i].totals.*c.field);
        }
      }
    }
  }
}

TEST(Report, DaysOfARange) {
  std::vector<std::string> days;
  std::string why;
  UsageQuery q;
  q.from = "2024-02-27";
  q.to = "2024-03-02";
  ASSERT_TRUE(days_of(q, 10, days, why)) << why;
  EXPECT_EQ(days, (std::vector<std::string>{"2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"}));
  q.from = "2025-12-31";
  q.to = "2026-01-01";
  ASSERT_TRUE(days_of(q, 2, days, why));
  EXPECT_EQ(days, (std::vector<std::string>{"2025-12-31", "2026-01-01"}));
  q.from = "2025-01-01";
  EXPECT_FALSE(days_of(q, 365, days, why));
  EXPECT_NE(why.find("at most 365 days"), std::string::npos) << why;
  q.from = "2026-01-02";
  EXPECT_FALSE(days_of(q, 365, days, why));
}

// A provider may report any 64-bit token count. Uncapped, two such
// requests of one key on two days made SQLite's SUM overflow: the report
// failed and so did the quota sums read at start (aigw would not start).
TEST_F(StoreTest, ReportedTokenCountsAreCappedSoSumsHold) {
  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  const uint64_t huge = uint64_t{1} << 62;
  for (int64_t day = 0; day < 2; ++day) {
    Sums sums;
    UsageRecord r = record("alice", "gpt", 200, huge, huge, kDec3 + day * 86400000);
    sums[{day_of_ms(r.wall_ms), "alice", "gpt", "p1"}].add(r);
    ASSERT_TRUE(s->write(sums, {r}, why)) << why;
  }
  std::vector<UsageRow> rows;
  UsageQuery all{"2026-12-01", "2026-12-31", {"key"}, "", "", "", ""};
  ASSERT_TRUE(s->usage(all, rows, why)) << why;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].totals.prompt_tokens, 2 * kMaxRequestTokens);
  EXPECT_EQ(rows[0].totals.total_tokens, 2 * kMaxRequestTokens);
  std::map<std::string, Store::QuotaUse> use;
  ASSERT_TRUE(s->quota_use(kDec3 / 1000 + 86400 + 60, use, why)) << why;
  EXPECT_EQ(use["alice"].monthly, 2 * kMaxRequestTokens);
}

TEST_F(StoreTest, KeepsRequestRowsUntilPruned) {
  std::string why;
  auto s = Store::open(path_, false, why);
  ASSERT_TRUE(s) << why;
  std::vector<UsageRecord> reqs = {record("alice", "gpt", 200, 1, 1, kDec3), record("bob", "gpt", 200, 1, 1, kDec3 + 5000)};
  ASSERT_TRUE(s->write({}, reqs, why)) << why;
  EXPECT_EQ(s->request_rows(), 2);
  ASSERT_TRUE(s->prune(kDec3 + 1000, why)) << why;
  EXPECT_EQ(s->request_rows(), 1);
  // Later commits; then every row is old: all go.
  ASSERT_TRUE(s->write({}, {record("carol", "gpt", 200, 1, 1, kDec3 + 6000)}, why)) << why;
  ASSERT_TRUE(s->prune(kDec3 + 5500, why)) << why;
  EXPECT_EQ(s->request_rows(), 1);  // carol's is recent enough
  ASSERT_TRUE(s->prune(kDec3 + 60'000, why)) << why;
  EXPECT_EQ(s->request_rows(), 0);
  ASSERT_TRUE(s->prune(kDec3 + 60'000, why)) << why;  // an empty table
}

TEST_F(StoreTest, ReadOnlyFileIsAClearError) {
  std::string why;
  ASSERT_TRUE(Store::open(path_, false, why)) << why;
  ASSERT_EQ(chmod(path_.c_str(), 0444), 0);
  if (access(path_.c_str(), W_OK) == 0) GTEST_SKIP() << "running as root: the file stays writable";
  auto s = Store::open(path_, false, why);
  EXPECT_FALSE(s);
  EXPECT_NE(why.find(path_), std::string::npos) << why;
  EXPECT_NE(why.find("read-only"), std::string::npos) << why;
  // Reading it still works (the offline report).
  EXPECT_TRUE(Store::open(path_, true, why)) << why;
}

TEST_F(StoreTest, CorruptFileIsAClearError) {
  std::ofstream(path_) << std::string(8192, 'x');
  std::string why;
  EXPECT_FALSE(Store::open(path_, false, why));
  EXPECT_NE(why.find(path_), std::string::npos) << why;
  EXPECT_NE(why.find("not a sound SQLite database"), std::string::npos) << why;
}

TEST_F(StoreTest, MissingDirectoryIsAClearError) {
  std::string why;
  EXPECT_FALSE(Store::open(dir_ + "/no/such/dir/usage.db", false, why));
  EXPECT_NE(why.find("cannot be opened"), std::string::npos) << why;
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::string why;
  EXPECT_FALSE(Store::open(path_, false, why));
  EXPECT_NE(why.find("newer"), std::string::npos) << why;
}

TEST(StatePath, DefaultBesideTheConfigOrInStateDirectory) {
  config::Config c;
  c.source = "/etc/aigw/aigw.toml";
  unsetenv("STATE_DIRECTORY");
  EXPECT_EQ(default_path(c), "/etc/aigw/aigw-state.db");
  c.source = "<built-in>";
  EXPECT_EQ(default_path(c), "aigw-state.db");
  setenv("STATE_DIRECTORY", "/var/lib/aigw:/var/lib/other", 1);
  EXPECT_EQ(default_path(c), "/var/lib/aigw/aigw-state.db");
  unsetenv("STATE_DIRECTORY");
  c.state.path = "/x/y.db";
  EXPECT_EQ(path_of(c), "/x/y.db");
}

}  // namespace
}  // namespace aigw::state
