// [state.redis]: the URL, the password from the environment (never in a
// message), TLS refused with the way round it, the fallback mode, and the
// other keys of [state] left to the usage store's reader.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "config/config.h"

namespace aigw::config {
namespace {

LoadResult load(const std::string& text) { return load_string("[state.redis]\n" + text, "t.toml"); }

std::string all(const LoadResult& r) {
  std::string s;
  for (const std::string& e : r.errors) s += e + "\n";
  return s;
}

TEST(StateRedis, AbsentMeansPerProcessLimits) {
  LoadResult r = load_string("", "t.toml");
  ASSERT_TRUE(r.config);
  EXPECT_FALSE(r.config->redis.enabled);
}

TEST(StateRedis, ReadsEveryKey) {
  setenv("AIGW_TEST_REDIS_PW", "s3cret-pw", 1);
  LoadResult r = load(R"(url = "redis://cache.internal:6380/3"
password = "env:AIGW_TEST_REDIS_PW"
username = "aigw"
on_unavailable = "deny"
instances = 3
connect_timeout = "1s"
command_timeout = "50ms"
slot_ttl = "30s"
)");
  ASSERT_TRUE(r.config) << all(r);
  const RedisConfig& c = r.config->redis;
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.host, "cache.internal");
  EXPECT_EQ(c.port, 6380);
  EXPECT_EQ(c.db, 3u);
  EXPECT_EQ(c.password, "s3cret-pw");
  EXPECT_EQ(c.username, "aigw");
  EXPECT_EQ(c.on_unavailable, RedisConfig::OnUnavailable::deny);
  EXPECT_EQ(c.instances, 3u);
  EXPECT_EQ(c.connect_timeout, Duration{1000});
  EXPECT_EQ(c.command_timeout, Duration{50});
  EXPECT_EQ(c.slot_ttl, Duration{30000});
}

TEST(StateRedis, Defaults) {
  LoadResult r = load("url = \"redis://[::1]\"\n");
  ASSERT_TRUE(r.config) << all(r);
  const RedisConfig& c = r.config->redis;
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 6379);
  EXPECT_EQ(c.db, 0u);
  EXPECT_EQ(c.on_unavailable, RedisConfig::OnUnavailable::local);
  EXPECT_EQ(c.instances, 1u);
  EXPECT_EQ(c.command_timeout, Duration{250});
}

TEST(StateRedis, BadValuesAreErrorsAtTheirLine) {
  LoadResult r = load("url = \"http://x\"\n");
  EXPECT_NE(all(r).find("t.toml:2:7: state.redis.url: expected redis://host[:port][/db]"), std::string::npos) << all(r);
  r = load("url = \"redis://:pw@x:6379\"\n");
  EXPECT_NE(all(r).find("credentials do not belong in the URL"), std::string::npos) << all(r);
  EXPECT_EQ(all(r).find("pw@"), std::string::npos) << "the secret is repeated: " << all(r);
  r = load("url = \"redis://x:99999\"\n");
  EXPECT_NE(all(r).find("invalid port"), std::string::npos) << all(r);
  r = load("url = \"redis://x/abc\"\n");
  EXPECT_NE(all(r).find("invalid database"), std::string::npos) << all(r);
  r = load("on_unavailable = \"open\"\n");
  EXPECT_NE(all(r).find("state.redis.url: required"), std::string::npos) << all(r);
  EXPECT_NE(all(r).find("expected \"local\" or \"deny\""), std::string::npos) << all(r);
  r = load("url = \"redis://x\"\ninstances = 0\nurll = 1\n");
  EXPECT_NE(all(r).find("state.redis.instances"), std::string::npos) << all(r);
  EXPECT_NE(all(r).find("unknown key \"state.redis.urll\""), std::string::npos) << all(r);
}

TEST(StateRedis, TlsIsRefusedWithTheWayRound) {
  LoadResult r = load("url = \"redis://x\"\ntls = true\n");
  EXPECT_NE(all(r).find("state.redis.tls: not supported"), std::string::npos) << all(r);
  EXPECT_NE(all(r).find("stunnel"), std::string::npos) << all(r);
  r = load("url = \"rediss://x\"\n");
  EXPECT_NE(all(r).find("stunnel"), std::string::npos) << all(r);
  EXPECT_TRUE(load("url = \"redis://x\"\ntls = false\n").config);
}

TEST(StateRedis, PasswordFromAnUnsetVariableNamesOnlyTheVariable) {
  unsetenv("AIGW_TEST_REDIS_UNSET");
  LoadResult r = load("url = \"redis://x\"\npassword = \"env:AIGW_TEST_REDIS_UNSET\"\n");
  EXPECT_NE(all(r).find("environment variable AIGW_TEST_REDIS_UNSET is not set"), std::string::npos) << all(r);
}

TEST(StateRedis, OtherStateKeysAreLeftToTheUsageStoreReader) {
  LoadResult r = load_string("[state]\npath = \"/var/lib/aigw/usage.db\"\nflush_interval = \"1s\"\n"
                             "[state.redis]\nurl = \"redis://x\"\n", "t.toml");
  ASSERT_TRUE(r.config) << all(r);
  EXPECT_TRUE(r.config->redis.enabled);
  EXPECT_FALSE(load_string("[state]\npath = \"/x\"\n", "t.toml").config->redis.enabled);
}

}  // namespace
}  // namespace aigw::config
