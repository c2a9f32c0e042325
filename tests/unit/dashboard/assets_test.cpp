// The dashboard's compiled-in files (src/dashboard): the generated table
// and the If-None-Match comparison behind its 304s.
#include "dashboard/assets.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace aigw::dashboard {
namespace {

TEST(DashboardAssets, EveryFileOnceWithTypeAndEtag) {
  std::set<std::string_view> paths, etags;
  for (const Asset& a : assets()) {
    EXPECT_TRUE(paths.insert(a.path).second) << a.path;
    EXPECT_TRUE(etags.insert(a.etag).second) << a.path;
    EXPECT_TRUE(a.path == "/ui" || a.path.starts_with("/ui/")) << a.path;
    EXPECT_FALSE(a.content_type.empty()) << a.path;
    EXPECT_GT(a.bytes.size(), 100u) << a.path;
    ASSERT_GE(a.etag.size(), 3u);
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_EQ(a.etag.back(), '"');
  }
  ASSERT_NE(find("/ui"), nullptr);
  EXPECT_EQ(find("/ui")->content_type, "text/html; charset=utf-8");
  ASSERT_NE(find("/ui/app.js"), nullptr);
  EXPECT_EQ(find("/ui/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_TRUE(find("/ui")->bytes.starts_with("<!doctype html>"));
}

TEST(DashboardAssets, UnknownPathsAreNotFound) {
  EXPECT_EQ(find("/ui/index.html"), nullptr);  // the page is /ui only
  EXPECT_EQ(find("/ui/"), nullptr);            // the handler maps it to /ui
  EXPECT_EQ(find("/ui/app.js/"), nullptr);
  EXPECT_EQ(find("app.js"), nullptr);
  EXPECT_EQ(find(""), nullptr);
}

TEST(DashboardAssets, IfNoneMatch) {
  const std::string_view tag = "\"abc123\"";
  EXPECT_TRUE(etag_matches("\"abc123\"", tag));
  EXPECT_TRUE(etag_matches("W/\"abc123\"", tag));  // weak comparison
  EXPECT_TRUE(etag_matches("\"x\", \"abc123\"", tag));
  EXPECT_TRUE(etag_matches("\"x\",W/\"abc123\"", tag));
  EXPECT_TRUE(etag_matches("*", tag));
  EXPECT_TRUE(etag_matches(" \t\"abc123\" ", tag));
  EXPECT_FALSE(etag_matches("\"abc12\"", tag));
  EXPECT_FALSE(etag_matches("\"abc1234\"", tag));
  EXPECT_FALSE(etag_matches("abc123", tag));         // not quoted
  EXPECT_FALSE(etag_matches("\"abc123", tag));       // unterminated
  EXPECT_FALSE(etag_matches("\"x\", abc123", tag));  // malformed after a good one
  EXPECT_FALSE(etag_matches("", tag));
  EXPECT_FALSE(etag_matches("W/", tag));
  EXPECT_FALSE(etag_matches(",,,", tag));
}

}  // namespace
}  // namespace aigw::dashboard
