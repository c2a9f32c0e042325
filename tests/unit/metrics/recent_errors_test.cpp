// The worker's ring of recent failed requests (src/metrics/recent_errors.h):
// only failures, newest first, bounded, names cut to fit, JSON that parses.
#include "metrics/recent_errors.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <vector>

namespace aigw::metrics {
namespace {

RequestRecord failed(int status, std::string_view id) {
  RequestRecord r;
  r.status = status;
  r.request_id = id;
  r.key = "alice";
  r.model = "gpt";
  r.provider = "openai-main";
  r.error = status == 429 ? "rate_limit_exceeded" : "upstream_unreachable";
  r.attempts = 2;
  r.start_ns = 1'000'000;
  r.end_ns = 251'000'000;
  return r;
}

TEST(RecentErrors, KeepsOnlyFailuresNewestFirst) {
  RecentErrors ring;
  RequestRecord ok = failed(200, "ok");
  ring.push(ok, 1, 0);
  ring.push(failed(429, "a"), 2, 0);
  ring.push(failed(502, "b"), 3, 0);
  std::vector<RecentErrors::Entry> out;
  ring.copy_to(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].request_id.view(), "b");
  EXPECT_EQ(out[1].request_id.view(), "a");
  EXPECT_EQ(out[0].latency_ms, 250u);
  EXPECT_EQ(out[0].attempts, 2);
}

TEST(RecentErrors, BoundedToItsCapacity) {
  RecentErrors ring;
  std::vector<std::string> ids;
  for (size_t i = 0; i < RecentErrors::kCapacity + 10; ++i) ids.push_back("id-" + std::to_string(i));
  for (size_t i = 0; i < ids.size(); ++i) ring.push(failed(500, ids[i]), static_cast<int64_t>(i), 1);
  EXPECT_EQ(ring.size(), RecentErrors::kCapacity);
  std::vector<RecentErrors::Entry> out;
  ring.copy_to(out);
  ASSERT_EQ(out.size(), RecentErrors::kCapacity);
  EXPECT_EQ(out.front().request_id.view(), ids.back());
  EXPECT_EQ(out.back().request_id.view(), ids[10]);  // the 10 oldest were overwritten
}

TEST(RecentErrors, LongNamesAreCutAndJsonParses) {
  RecentErrors ring;
  const std::string long_name(200, 'k');
  RequestRecord r = failed(401, "q\"uote");
  r.key = long_name;
  ring.push(r, 1'700'000'000'123'456, 3);
  std::vector<RecentErrors::Entry> out;
  ring.copy_to(out);
  EXPECT_EQ(out[0].key.view(), long_name.substr(0, 63));
  std::string json;
  RecentErrors::write_json(json, out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  EXPECT_EQ(int64_t(doc["capacity_per_worker"]), static_cast<int64_t>(RecentErrors::kCapacity));
  simdjson::dom::element e = doc["errors"].at(0);
  EXPECT_EQ(int64_t(e["time_ms"]), 1'700'000'000'123);
  EXPECT_EQ(int64_t(e["worker"]), 3);
  EXPECT_EQ(std::string_view(e["request_id"]), "q\"uote");
  EXPECT_EQ(int64_t(e["status"]), 401);
  EXPECT_FALSE(bool(e["stream"]));
}

TEST(RecentErrors, EmptyIsAnEmptyList) {
  std::string json;
  RecentErrors::write_json(json, {});
  EXPECT_EQ(json, "{\"capacity_per_worker\":256,\"errors\":[]}");
}

}  // namespace
}  // namespace aigw::metrics
