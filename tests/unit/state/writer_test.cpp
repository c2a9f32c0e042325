// The writer thread and its hand-over: several producer threads (standing in
// for workers) push records while the writer drains and commits; every
// record lands once. Built into state_unit_tests, which scripts/run-tests
// also runs under ThreadSanitizer.
#include "state/writer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <thread>

#include "state/report.h"

namespace aigw::state {
namespace {

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aigw-writer-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/usage.db";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  Totals totals(const std::string& key = "") {
    std::string why;
    auto reader = Store::open(path_, true, why);
    EXPECT_TRUE(reader) << why;
    std::vector<UsageRow> rows;
    UsageQuery q{"2000-01-01", "2100-01-01", {}, key, "", "", ""};
    EXPECT_TRUE(reader->usage(q, rows, why)) << why;
    Totals t;
    for (const auto& r : rows) t.add(r.totals);
    return t;
  }

  std::string dir_, path_;
};

UsageRecord record(unsigned worker, uint64_t tokens) {
  UsageRecord r;
  r.wall_ms = 1796256000000 + worker;
  r.key.set(worker % 2 ? "odd" : "even");
  r.model.set("gpt");
  r.status = 200;
  r.total_tokens = tokens;
  r.prompt_tokens = tokens;
  return r;
}

TEST_F(WriterTest, EveryRecordOfEveryWorkerLandsOnce) {
  std::string why;
  auto store = Store::open(path_, false, why);
  ASSERT_TRUE(store) << why;
  config::StateConfig cfg;
  cfg.flush_interval = config::Duration(30);
  cfg.requests = true;
  constexpr unsigned kWorkers = 3;
  constexpr int kEach = 3000;
  Writer w(std::move(store), cfg, kWorkers);
  std::vector<std::thread> producers;
  for (unsigned i = 0; i < kWorkers; ++i) {
    producers.emplace_back([&w, i] {
      for (int n = 0; n < kEach; ++n) {
        w.queue(i).push(record(i, 2));
        if (n % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  for (auto& t : producers) t.join();
  w.stop();  // a clean stop commits what is left
  EXPECT_EQ(w.dropped(), 0u);
  EXPECT_EQ(w.failed(), 0u);
  EXPECT_EQ(w.written(), uint64_t{kWorkers} * kEach);
  Totals t = totals();
  EXPECT_EQ(t.requests, uint64_t{kWorkers} * kEach);
  EXPECT_EQ(t.total_tokens, uint64_t{kWorkers} * kEach * 2);
  EXPECT_EQ(totals("odd").requests, uint64_t{kEach});
}

TEST_F(WriterTest, CommitsEveryFlushIntervalWithoutAStop) {
  std::string why;
  auto store = Store::open(path_, false, why);
  ASSERT_TRUE(store) << why;
  config::StateConfig cfg;
  cfg.flush_interval = config::Duration(50);
  Writer w(std::move(store), cfg, 1);
  for (int n = 0; n < 10; ++n) w.queue(0).push(record(0, 1));
  // Readable by another connection within a few intervals, before stop().
  uint64_t seen = 0;
  for (int tries = 0; tries < 100 && seen < 10; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    seen = totals().requests;
  }
  EXPECT_EQ(seen, 10u);
}

TEST_F(WriterTest, AFailedCommitIsCountedAndTheProducersGoOn) {
  std::string why;
  auto store = Store::open(path_, false, why);
  ASSERT_TRUE(store) << why;
  // Another connection breaks the schema under the writer: every commit
  // from now on fails, as on a full disk.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE usage_daily", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  config::StateConfig cfg;
  cfg.flush_interval = config::Duration(20);
  Writer w(std::move(store), cfg, 1);
  for (int n = 0; n < 5; ++n) w.queue(0).push(record(0, 1));
  for (int tries = 0; tries < 150 && w.failed() < 5; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(w.failed(), 5u);
  EXPECT_EQ(w.written(), 0u);
  // The queue still takes records; the next failure is counted too.
  w.queue(0).push(record(0, 1));
  w.stop();
  EXPECT_EQ(w.failed(), 6u);
  EXPECT_EQ(w.dropped(), 0u);
}

TEST_F(WriterTest, AFullQueueDropsAndCounts) {
  UsageQueue q;
  for (uint32_t i = 0; i < UsageQueue::kCapacity + 5; ++i) q.push(record(0, 1));
  EXPECT_EQ(q.dropped(), 5u);
}

TEST(Report, ParsesAndRejectsQueries) {
  UsageQuery q;
  std::string why;
  ASSERT_TRUE(parse_url_query("from=2026-12-01&to=2026-12-04&group_by=key%2Cmodel&key=alice", "2026-12-05", q, why))
      << why;
  EXPECT_EQ(q.from, "2026-12-01");
  EXPECT_EQ(q.to, "2026-12-04");
  EXPECT_EQ(q.group_by, (std::vector<std::string>{"key", "model"}));
  EXPECT_EQ(q.key, "alice");

  for (const char* good : {"from=2028-02-29&to=2028-03-01", "from=2000-02-29&to=2000-02-29", "from=2026-12-31&to=2026-12-31"}) {
    UsageQuery g;
    EXPECT_TRUE(parse_url_query(good, "2026-12-05", g, why)) << good << ": " << why;
  }

  UsageQuery d;
  ASSERT_TRUE(parse_url_query("", "2026-12-05", d, why)) << why;
  EXPECT_EQ(d.from, "2026-12-01");
  EXPECT_EQ(d.to, "2026-12-05");

  for (const char* bad : {"from=2026-13-01", "to=yesterday", "group_by=key,secret", "from=2026-12-05&to=2026-12-01",
                          "colour=red", "key=%zz", "model=",
                          // days that do not exist (the fuzzer found November 31 accepted)
                          "from=2026-11-31", "to=2026-02-29", "from=2100-02-29", "from=2026-04-31"}) {
    UsageQuery b;
    EXPECT_FALSE(parse_url_query(bad, "2026-12-05", b, why)) << bad;
    EXPECT_FALSE(why.empty());
  }
}

TEST(Report, CsvAndJsonShapes) {
  UsageQuery q{"2026-12-01", "2026-12-02", {"key", "model"}, "", "", "", ""};
  UsageRow row;
  row.key = "alice";
  row.model = "a,\"b\"";
  row.totals.requests = 3;
  row.totals.total_tokens = 30;
  std::string csv;
  format_csv(q, {row}, csv);
  EXPECT_EQ(csv.substr(0, csv.find("\r\n")),
            "key,model,requests,errors_4xx,errors_429,errors_5xx,client_closed,prompt_tokens,cached_tokens,"
            "completion_tokens,reasoning_tokens,total_tokens,latency_ms_sum,ttft_ms_sum,ttft_count,"
            "latency_le_100ms,latency_le_500ms,latency_le_1s,latency_le_5s,latency_le_30s,"
            "ttft_le_100ms,ttft_le_500ms,ttft_le_1s,ttft_le_5s");
  EXPECT_NE(csv.find("alice,\"a,\"\"b\"\"\",3,"), std::string::npos) << csv;
  std::string json;
  format_json(q, {row}, json);
  EXPECT_NE(json.find("\"data\":[{\"key\":\"alice\",\"model\":\"a,\\\"b\\\"\",\"requests\":3,"), std::string::npos)
      << json;
}

}  // namespace
}  // namespace aigw::state
