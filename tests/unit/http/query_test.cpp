// src/http/query.h: the one query walker of /admin/usage and /admin/keys.
#include "http/query.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace aigw::http {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

bool walk(std::string_view q, Params& got, std::string& why) {
  got.clear();
  return for_each_query_param(q, [&](const std::string& n, const std::string& v) {
    got.emplace_back(n, v);
    return true;
  }, why);
}

TEST(Query, PartsAreDecodedInOrder) {
  Params got;
  std::string why;
  ASSERT_TRUE(walk("a=1&&b=x+y%2Cz&flag&c=%e2%82%AC&=v&d=", got, why)) << why;
  EXPECT_EQ(got, (Params{{"a", "1"}, {"b", "x y,z"}, {"flag", ""}, {"c", "\xe2\x82\xac"}, {"", "v"}, {"d", ""}}));
  ASSERT_TRUE(walk("", got, why));
  EXPECT_TRUE(got.empty());
}

TEST(Query, MalformedEscapesAreRefused) {
  Params got;
  for (const char* bad : {"a=%zz", "a=%4", "a=%", "%g1=x", "ok=1&b=%2"}) {
    std::string why;
    EXPECT_FALSE(walk(bad, got, why)) << bad;
    EXPECT_EQ(why, "malformed percent-encoding in the query") << bad;
  }
}

TEST(Query, ARefusalStopsTheWalk) {
  std::string why;
  int seen = 0;
  EXPECT_FALSE(for_each_query_param("a=1&b=2&c=3", [&](const std::string& n, const std::string&) {
    ++seen;
    if (n == "b") {
      why = "no b";
      return false;
    }
    return true;
  }, why));
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(why, "no b");
}

}  // namespace
}  // namespace aigw::http
