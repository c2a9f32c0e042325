#include "log/log.h"

#include <gtest/gtest.h>

#include <string>

namespace {

std::string escape(std::string_view s) {
  std::string out(s.size() * 6, '\0');
  size_t n = aigw::log::json_escape(s, out.data(), out.size());
  out.resize(n);
  return out;
}

TEST(LogJsonEscape, PlainTextUnchanged) { EXPECT_EQ(escape("hello world"), "hello world"); }

TEST(LogJsonEscape, QuotesBackslashesAndControls) {
  EXPECT_EQ(escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(escape("l1\nl2\r\t"), "l1\\nl2\\r\\t");
  EXPECT_EQ(escape(std::string_view("\x01\x1f\x7f", 3)), "\\u0001\\u001f\\u007f");
  EXPECT_EQ(escape(std::string_view("nul\0x", 5)), "nul\\u0000x");
}

TEST(LogJsonEscape, Utf8PassesThrough) { EXPECT_EQ(escape("héllo ✓"), "héllo ✓"); }

TEST(LogJsonEscape, ReportsOverflow) {
  char buf[3];
  EXPECT_EQ(aigw::log::json_escape("\n\n", buf, sizeof buf), 0u);
}

TEST(LogLevel, Filtering) {
  aigw::log::set_level(aigw::log::Level::warn);
  EXPECT_FALSE(aigw::log::enabled(aigw::log::Level::info));
  EXPECT_TRUE(aigw::log::enabled(aigw::log::Level::error));
  aigw::log::set_level(aigw::log::Level::info);
  EXPECT_TRUE(aigw::log::enabled(aigw::log::Level::info));
  EXPECT_FALSE(aigw::log::enabled(aigw::log::Level::debug));
}

}  // namespace
