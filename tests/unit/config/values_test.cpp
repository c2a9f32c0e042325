// Value syntaxes: durations, sizes, listen addresses, env: secrets, log levels.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <limits>

#include "config/config.h"

namespace aigw::config {
namespace {

using namespace std::chrono_literals;

// --- durations -----------------------------------------------------------------

Duration duration_ok(std::string_view text) {
  Duration d{-1};
  std::string why;
  EXPECT_TRUE(parse_duration(text, d, why)) << text << ": " << why;
  return d;
}

std::string duration_error(std::string_view text) {
  Duration d{-1};
  std::string why;
  EXPECT_FALSE(parse_duration(text, d, why)) << text;
  EXPECT_EQ(d, Duration{-1}) << text << ": output must be untouched on failure";
  EXPECT_FALSE(why.empty()) << text;
  return why;
}

TEST(ConfigGlob, StarsMatchAnyRun) {
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o"));
  EXPECT_TRUE(glob_match("gpt-4o*", "gpt-4o-mini"));
  EXPECT_FALSE(glob_match("gpt-4o*", "gpt-4"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("*-mini", "gpt-4o-mini"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("a**b", "ab"));
  EXPECT_FALSE(glob_match("exact", "exactly"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  // Backtracking past a false start: the last star absorbs more.
  EXPECT_TRUE(glob_match("*ab", "aab"));
  EXPECT_TRUE(glob_match("*a*ab", "xaxxaab"));
  EXPECT_TRUE(is_pattern("a*"));
  EXPECT_FALSE(is_pattern("a"));
}

TEST(ConfigDuration, AcceptsGoStyleSequences) {
  EXPECT_EQ(duration_ok("10s"), 10s);
  EXPECT_EQ(duration_ok("250ms"), 250ms);
  EXPECT_EQ(duration_ok("1m30s"), 90s);
  EXPECT_EQ(duration_ok("2h"), 2h);
  EXPECT_EQ(duration_ok("0s"), 0ms);
  EXPECT_EQ(duration_ok("0"), 0ms);
  EXPECT_EQ(duration_ok("1h2m3s4ms"), 1h + 2min + 3s + 4ms);
  EXPECT_EQ(duration_ok("1500ms"), 1500ms);
  EXPECT_EQ(duration_ok("007s"), 7s);
}

TEST(ConfigDuration, RejectsMalformed) {
  EXPECT_EQ(duration_error(""), "empty duration");
  EXPECT_EQ(duration_error("-1s"), "negative durations are not allowed");
  EXPECT_EQ(duration_error("10"), "missing unit (use ms, s, m or h, e.g. \"10s\")");
  EXPECT_EQ(duration_error("1m30"), "missing unit (use ms, s, m or h, e.g. \"10s\")");
  EXPECT_EQ(duration_error("10x"), "unknown unit \"x\" (use ms, s, m or h)");
  EXPECT_EQ(duration_error("10S"), "unknown unit \"S\" (use ms, s, m or h)");
  EXPECT_EQ(duration_error("1d"), "unknown unit \"d\" (use ms, s, m or h)");
  EXPECT_EQ(duration_error("10 s"), "spaces are not allowed");
  EXPECT_EQ(duration_error(" 10s"), "spaces are not allowed");
  EXPECT_EQ(duration_error("s"), "expected a number at \"s\"");
  EXPECT_EQ(duration_error("+1s"), "expected a number at \"+1s\"");
  EXPECT_NE(duration_error("1.5s").find("fractions are not supported"), std::string::npos);
  duration_error("00");  // only a lone "0" may omit the unit
}

TEST(ConfigDuration, RejectsOverflow) {
  EXPECT_EQ(duration_error("99999999999999999999999s"), "duration is too large");
  EXPECT_EQ(duration_error("9223372036854775807s"), "duration is too large");
  EXPECT_EQ(duration_error("9223372036854775807ms1ms"), "duration is too large");
  EXPECT_EQ(duration_ok("9223372036854775807ms"), Duration::max());
}

TEST(ConfigDuration, FormatRoundTrips) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(100ms), "100ms");
  EXPECT_EQ(format_duration(1h), "1h");
  EXPECT_EQ(format_duration(1500ms), "1s500ms");
  for (Duration d : std::initializer_list<Duration>{1ms, 999ms, 61s, 3601s, 25h + 1ms}) {
    EXPECT_EQ(duration_ok(format_duration(d)), d);
  }
}

// --- sizes ---------------------------------------------------------------------

uint64_t size_ok(std::string_view text) {
  uint64_t v = 12345;
  std::string why;
  EXPECT_TRUE(parse_size(text, v, why)) << text << ": " << why;
  return v;
}

std::string size_error(std::string_view text) {
  uint64_t v = 12345;
  std::string why;
  EXPECT_FALSE(parse_size(text, v, why)) << text;
  EXPECT_EQ(v, 12345u) << text << ": output must be untouched on failure";
  EXPECT_FALSE(why.empty()) << text;
  return why;
}

TEST(ConfigSize, AcceptsUnits) {
  EXPECT_EQ(size_ok("0"), 0u);
  EXPECT_EQ(size_ok("4096"), 4096u);
  EXPECT_EQ(size_ok("512B"), 512u);
  EXPECT_EQ(size_ok("4KB"), 4000u);
  EXPECT_EQ(size_ok("10MB"), 10'000'000u);
  EXPECT_EQ(size_ok("2GB"), 2'000'000'000u);
  EXPECT_EQ(size_ok("8KiB"), 8192u);
  EXPECT_EQ(size_ok("32MiB"), 32u << 20);
  EXPECT_EQ(size_ok("1GiB"), 1u << 30);
  EXPECT_EQ(size_ok("4GiB"), 4ull << 30);
  EXPECT_EQ(size_ok("18446744073709551615"), std::numeric_limits<uint64_t>::max());
}

TEST(ConfigSize, RejectsMalformed) {
  EXPECT_EQ(size_error(""), "empty size");
  EXPECT_EQ(size_error("-1"), "negative sizes are not allowed");
  EXPECT_EQ(size_error("32 MiB"), "spaces are not allowed");
  EXPECT_EQ(size_error("MiB"), "expected a number at \"MiB\"");
  EXPECT_NE(size_error("1.5MiB").find("fractions are not supported"), std::string::npos);
  EXPECT_NE(size_error("1MiB2").find("unexpected \"2\""), std::string::npos);
  const std::string unknown = size_error("32mib");
  EXPECT_NE(unknown.find("unknown unit \"mib\""), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("case-sensitive"), std::string::npos) << unknown;
  size_error("32kb");
  size_error("32Kib");
  size_error("1TiB");
  size_error("1K");
}

TEST(ConfigSize, RejectsOverflow) {
  EXPECT_EQ(size_error("18446744073709551616"), "size is too large");
  EXPECT_EQ(size_error("17179869184GiB"), "size is too large");  // 2^34 * 2^30
  EXPECT_EQ(size_ok("17179869183GiB"), 17179869183ull << 30);
}

TEST(ConfigSize, Format) {
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(32768), "32KiB");
  EXPECT_EQ(format_size(32ull << 20), "32MiB");
  EXPECT_EQ(format_size(4ull << 30), "4GiB");
  EXPECT_EQ(format_size(1000), "1000B");
}

// --- listen addresses ------------------------------------------------------------

ListenAddr listen_ok(std::string_view text) {
  ListenAddr a;
  std::string why;
  EXPECT_TRUE(parse_listen_addr(text, a, why)) << text << ": " << why;
  return a;
}

std::string listen_error(std::string_view text) {
  ListenAddr a;
  std::string why;
  EXPECT_FALSE(parse_listen_addr(text, a, why)) << text;
  EXPECT_FALSE(why.empty()) << text;
  return why;
}

TEST(ConfigListen, IPv4) {
  const ListenAddr a = listen_ok("127.0.0.1:8080");
  EXPECT_EQ(a.text, "127.0.0.1:8080");
  ASSERT_EQ(a.addr_len, sizeof(sockaddr_in));
  sockaddr_in sin;
  std::memcpy(&sin, &a.addr, sizeof sin);
  EXPECT_EQ(sin.sin_family, AF_INET);
  EXPECT_EQ(ntohs(sin.sin_port), 8080);
  EXPECT_EQ(ntohl(sin.sin_addr.s_addr), 0x7f000001u);

  EXPECT_EQ(listen_ok("0.0.0.0:0").text, "0.0.0.0:0");
  EXPECT_EQ(listen_ok("10.1.2.3:65535").text, "10.1.2.3:65535");
  EXPECT_EQ(listen_ok("10.1.2.3:080").text, "10.1.2.3:80");  // normalised
}

TEST(ConfigListen, IPv6NeedsBrackets) {
  const ListenAddr a = listen_ok("[::1]:8080");
  EXPECT_EQ(a.text, "[::1]:8080");
  ASSERT_EQ(a.addr_len, sizeof(sockaddr_in6));
  sockaddr_in6 sin6;
  std::memcpy(&sin6, &a.addr, sizeof sin6);
  EXPECT_EQ(sin6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(sin6.sin6_port), 8080);
  EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr));

  EXPECT_EQ(listen_ok("[::]:443").text, "[::]:443");
  EXPECT_EQ(listen_ok("[0:0:0:0:0:0:0:1]:80").text, "[::1]:80");
  EXPECT_EQ(listen_ok("[2001:DB8::1]:80").text, "[2001:db8::1]:80");

  EXPECT_NE(listen_error("::1:8080").find("in brackets"), std::string::npos);
  EXPECT_NE(listen_error("[::1]").find("missing port"), std::string::npos);
  EXPECT_NE(listen_error("[::1:8080").find("missing ']'"), std::string::npos);
  EXPECT_NE(listen_error("[::1]8080").find("expected ':'"), std::string::npos);
  EXPECT_NE(listen_error("[1.2.3.4]:80").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(listen_error("[fe80::1%eth0]:80").find("not an IPv6 address"), std::string::npos);
}

TEST(ConfigListen, Ports) {
  EXPECT_EQ(listen_error("127.0.0.1"), "missing port (write e.g. \"127.0.0.1:8080\")");
  EXPECT_EQ(listen_error("127.0.0.1:"), "missing port number after ':'");
  EXPECT_EQ(listen_error("127.0.0.1:65536"),
            "invalid port \"65536\" (must be a number between 0 and 65535)");
  EXPECT_NE(listen_error("[::1]:70000").find("invalid port"), std::string::npos);
  EXPECT_NE(listen_error("127.0.0.1:-1").find("invalid port"), std::string::npos);
  EXPECT_NE(listen_error("127.0.0.1:80a").find("invalid port"), std::string::npos);
  EXPECT_NE(listen_error("127.0.0.1:+80").find("invalid port"), std::string::npos);
  EXPECT_NE(listen_error("127.0.0.1:99999999999999999999999").find("invalid port"),
            std::string::npos);
}

TEST(ConfigListen, HostNamesRejected) {
  const std::string why = listen_error("localhost:8080");
  EXPECT_NE(why.find("\"localhost\" is not an IP address"), std::string::npos) << why;
  EXPECT_NE(why.find("not resolved"), std::string::npos) << why;
  listen_error("example.com:80");
  listen_error(":8080");
  listen_error("1.2.3:80");
  listen_error("256.1.1.1:80");
  listen_error("01.2.3.4:80");
  listen_error(" 1.2.3.4:80");
  listen_error("");
}

// --- secrets -------------------------------------------------------------------

class ConfigSecret : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("AIGW_TEST_SECRET");
    unsetenv("AIGW_TEST_EMPTY");
  }
};

TEST_F(ConfigSecret, PlainValuesPassThrough) {
  std::string out, why;
  ASSERT_TRUE(resolve_secret("sk-literal", out, why));
  EXPECT_EQ(out, "sk-literal");
  ASSERT_TRUE(resolve_secret("", out, why));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(resolve_secret("ENV:AIGW_TEST_SECRET", out, why));  // prefix is lower case
  EXPECT_EQ(out, "ENV:AIGW_TEST_SECRET");
}

TEST_F(ConfigSecret, ReadsEnvironment) {
  setenv("AIGW_TEST_SECRET", "s3cr3t-value", 1);
  std::string out, why;
  ASSERT_TRUE(resolve_secret("env:AIGW_TEST_SECRET", out, why)) << why;
  EXPECT_EQ(out, "s3cr3t-value");
}

TEST_F(ConfigSecret, UnsetOrEmptyFailsWithoutLeaking) {
  unsetenv("AIGW_TEST_SECRET");
  std::string out = "untouched", why;
  EXPECT_FALSE(resolve_secret("env:AIGW_TEST_SECRET", out, why));
  EXPECT_EQ(why, "environment variable AIGW_TEST_SECRET is not set");
  EXPECT_EQ(out, "untouched");

  setenv("AIGW_TEST_EMPTY", "", 1);
  EXPECT_FALSE(resolve_secret("env:AIGW_TEST_EMPTY", out, why));
  EXPECT_EQ(why, "environment variable AIGW_TEST_EMPTY is not set");
}

TEST_F(ConfigSecret, RejectsBadNames) {
  setenv("AIGW_TEST_SECRET", "s3cr3t-value", 1);
  for (std::string_view bad : {"env:", "env:1ABC", "env:A-B", "env:A B", "env:AIGW_TEST_SECRET "}) {
    std::string out, why;
    EXPECT_FALSE(resolve_secret(bad, out, why)) << bad;
    EXPECT_NE(why.find("invalid environment variable name"), std::string::npos) << why;
    EXPECT_EQ(why.find("s3cr3t"), std::string::npos) << why;
  }
  std::string out, why;
  setenv("_A1", "x", 1);
  EXPECT_TRUE(resolve_secret("env:_A1", out, why)) << why;
  unsetenv("_A1");
}

// --- log levels ----------------------------------------------------------------

TEST(ConfigLogLevel, NamesRoundTrip) {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    LogLevel parsed = LogLevel::error;
    std::string why;
    ASSERT_TRUE(parse_log_level(log_level_name(l), parsed, why)) << why;
    EXPECT_EQ(parsed, l);
  }
  EXPECT_EQ(log_level_name(LogLevel::warn), "warn");
}

TEST(ConfigLogLevel, RejectsOthers) {
  LogLevel parsed = LogLevel::info;
  std::string why;
  EXPECT_FALSE(parse_log_level("INFO", parsed, why));
  EXPECT_FALSE(parse_log_level("warning", parsed, why));
  EXPECT_EQ(why, "expected one of \"debug\", \"info\", \"warn\", \"error\", got \"warning\"");
  EXPECT_EQ(parsed, LogLevel::info);
}

}  // namespace
}  // namespace aigw::config
