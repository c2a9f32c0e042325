// GET /admin/keys: its query and its page over snapshots.
#include "control/keys_report.h"

#include <gtest/gtest.h>

namespace aigw::control {
namespace {

TEST(KeysQuery, Parses) {
  KeysQuery q;
  std::string why;
  ASSERT_TRUE(parse_keys_query("offset=200&limit=50&q=team%20a+b&sort=tokens", q, why)) << why;
  EXPECT_EQ(q.offset, 200u);
  EXPECT_EQ(q.limit, 50u);
  EXPECT_EQ(q.q, "team a b");
  EXPECT_EQ(q.sort, KeysQuery::Sort::tokens);
  KeysQuery d;
  ASSERT_TRUE(parse_keys_query("", d, why));
  EXPECT_EQ((d.offset), 0u);
  EXPECT_EQ(d.limit, 100u);
  EXPECT_EQ(d.sort, KeysQuery::Sort::name);
}

TEST(KeysQuery, RefusesWithAReason) {
  for (const char* bad : {"limit=0", "limit=1001", "limit=", "offset=-1", "offset=1x",
                          "offset=99999999999999999999999", "sort=secret", "q=%zz", "q=%4", "page=2"}) {
    KeysQuery q;
    std::string why;
    EXPECT_FALSE(parse_keys_query(bad, q, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(KeysReport, NameOrderAndPages) {
  std::vector<config::KeyConfig> keys(5);
  const char* names[] = {"delta", "alpha", "echo", "charlie", "bravo"};
  for (size_t i = 0; i < keys.size(); ++i) keys[i].name = names[i];
  const std::vector<uint32_t> order = keys_by_name(keys);
  EXPECT_EQ(order, (std::vector<uint32_t>{1, 4, 3, 0, 2}));

  plugin::Generation gen;
  gen.id = 7;
  auto cfg = std::make_shared<config::Config>();
  cfg->keys = keys;
  gen.config = cfg;
  std::vector<metrics::Snapshot> workers(2);
  workers[0].requests.push_back({"m", "p", "echo", {{200, 3}, {500, 1}}, 10, 20});
  workers[1].requests.push_back({"m", "p", "echo", {{200, 1}}, 1, 2});
  workers[1].requests.push_back({"m", "p", "bravo", {{200, 1}}, 5, 5});
  workers[1].requests.push_back({"m", "p", "none", {{401, 2}}, 0, 0});
  metrics::Snapshot::Key refused{"charlie", {}};
  refused.counts.rate_limited[static_cast<size_t>(metrics::RateLimit::rpm)] = 4;
  workers[0].keys.push_back(refused);

  std::string out;
  KeysQuery q;
  q.limit = 2;
  q.offset = 1;
  write_keys_json(out, q, gen, order, workers, {});
  EXPECT_NE(out.find("\"generation\":7,\"total\":5,\"offset\":1,\"limit\":2"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"name\":\"bravo\",\"requests\":1,\"errors\":0,\"tokens\":10"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"name\":\"charlie\",\"requests\":0,\"errors\":0,\"tokens\":0,\"refused\":4"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("\"alpha\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"no_key\":{\"requests\":2,\"errors\":2"), std::string::npos) << out;
  // No budgets: every limit reads unlimited.
  EXPECT_NE(out.find("\"rpm\":null"), std::string::npos) << out;

  out.clear();
  q = KeysQuery{};
  q.sort = KeysQuery::Sort::tokens;
  write_keys_json(out, q, gen, order, workers, {});
  // echo (33), bravo (10), then the zeros in name order.
  const size_t e = out.find("\"echo\""), b = out.find("\"bravo\"");
  const size_t a = out.find("\"alpha\""), c = out.find("\"charlie\"");
  EXPECT_TRUE(e < b && b < a && a < c) << out;
  EXPECT_NE(out.find("\"errors\":1,\"tokens\":33"), std::string::npos) << out;

  out.clear();
  q = KeysQuery{};
  q.offset = SIZE_MAX;
  write_keys_json(out, q, gen, order, workers, {});
  EXPECT_NE(out.find("\"keys\":[]"), std::string::npos) << out;
}

}  // namespace
}  // namespace aigw::control
