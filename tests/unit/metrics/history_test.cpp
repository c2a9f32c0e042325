// The per-worker 15-minute ring behind GET /admin/history.
#include "metrics/history.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace aigw::metrics {
namespace {

RequestRecord request(int status, double seconds, uint64_t tokens) {
  RequestRecord r;
  r.status = status;
  r.start_ns = 1'000'000'000;
  r.end_ns = r.start_ns + static_cast<int64_t>(seconds * 1e9);
  r.prompt_tokens = tokens;
  return r;
}

TEST(History, CountsIntoTenSecondBuckets) {
  History h;
  h.add(request(200, 0.004, 5), 1000);  // bucket 1000
  h.add(request(502, 2.0, 0), 1009);    // the same bucket
  h.add(request(200, 1000, 7), 1010);   // the next; past the last bound (300 s): +Inf
  std::vector<History::Bucket> out;
  h.copy_to(out, 1015);
  ASSERT_EQ(out.size(), 2u);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.start_s < b.start_s; });
  EXPECT_EQ(out[0].start_s, 1000);
  EXPECT_EQ(out[0].requests, 2u);
  EXPECT_EQ(out[0].errors, 1u);
  EXPECT_EQ(out[0].tokens, 5u);
  EXPECT_EQ(out[0].latency[0], 1u);  // le 0.005
  EXPECT_EQ(out[1].latency.back(), 1u);
}

TEST(History, ForgetsWhatIsOlderThanFifteenMinutes) {
  History h;
  h.add(request(200, 0.1, 1), 1000);
  // 900 s later the slot of 1000 is reused by 1900: it starts afresh.
  h.add(request(200, 0.1, 1), 1900);
  std::vector<History::Bucket> out;
  h.copy_to(out, 1905);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_s, 1900);
  EXPECT_EQ(out[0].requests, 1u);
  // A bucket still in the ring but out of the window is not copied.
  History g;
  g.add(request(200, 0.1, 1), 1000);
  out.clear();
  g.copy_to(out, 1000 + 900);
  EXPECT_TRUE(out.empty());
}

TEST(History, MergesWorkersIntoNinetyBuckets) {
  History a, b;
  a.add(request(200, 0.1, 3), 5000);
  b.add(request(429, 0.1, 0), 5003);
  b.add(request(200, 0.1, 4), 4500);
  std::vector<std::vector<History::Bucket>> parts(2);
  a.copy_to(parts[0], 5005);
  b.copy_to(parts[1], 5005);
  std::string out;
  History::write_json(out, parts, 5005);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  EXPECT_EQ(int64_t(doc["bucket_seconds"]), 10);
  EXPECT_EQ(simdjson::dom::array(doc["le"]).size(), kBuckets.size());
  simdjson::dom::array buckets = doc["buckets"];
  ASSERT_EQ(buckets.size(), 90u);
  EXPECT_EQ(int64_t(buckets.at(0)["start_s"]), 5000 - 890);
  simdjson::dom::element last = buckets.at(89);
  EXPECT_EQ(int64_t(last["start_s"]), 5000);
  EXPECT_EQ(uint64_t(last["requests"]), 2u);
  EXPECT_EQ(uint64_t(last["errors"]), 1u);
  EXPECT_EQ(uint64_t(last["tokens"]), 3u);
  EXPECT_EQ(uint64_t(buckets.at(89 - 50)["requests"]), 1u);  // 4500
  EXPECT_EQ(uint64_t(buckets.at(10)["requests"]), 0u);
}

}  // namespace
}  // namespace aigw::metrics
