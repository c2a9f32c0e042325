// The cfg_* callbacks of src/plugin/host_config.cpp on a real [[provider]]
// table: a missing key is the plugin's to default, a wrong one is recorded
// with its position in the host's words, and what nobody read is unknown,
// all in one report.
#include "plugin/host_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/provider_table.h"
#include "plugin/config_source.h"

namespace aigw::plugin {
namespace {

aigw_plugin_str str(std::string_view s) { return {s.data(), s.size()}; }
std::string_view view(aigw_host_str s) { return {s.ptr, s.len}; }

class HostConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("AIGW_TEST_HOST_CONFIG_KEY", "sk-from-env", 1);
    loaded_ = config::load_string(R"([[provider]]
name = "p"
plugin = "local"
models = ["m"]
text = "hello"
count = -4
flag = true
wait = "1m30s"
list = ["a", 2]
keys = ["env:AIGW_TEST_HOST_CONFIG_KEY", "sk-plain"]
bad_count = "four"
bad_wait = 90
bad_flag = 1
unread = 1
)", "test.toml");
    ASSERT_NE(loaded_.config, nullptr) << ::testing::PrintToString(loaded_.errors);
    src_.table = loaded_.config->providers[0].table.get();
  }

  config::LoadResult loaded_;
  aigw_config_source src_;
};

TEST_F(HostConfigTest, ReadsEachTypeAndTellsMissingFromWrong) {
  aigw_host_str s{};
  ASSERT_EQ(cfg_string(&src_, str("text"), &s), AIGW_OK);
  EXPECT_EQ(view(s), "hello");
  EXPECT_EQ(cfg_string(&src_, str("absent"), &s), AIGW_ERR_NOT_FOUND);
  EXPECT_EQ(cfg_string(&src_, str("count"), &s), AIGW_ERR_INVALID);

  int64_t n = 0;
  ASSERT_EQ(cfg_int(&src_, str("count"), &n), AIGW_OK);
  EXPECT_EQ(n, -4);  // the plugin judges its own range
  EXPECT_EQ(cfg_int(&src_, str("bad_count"), &n), AIGW_ERR_INVALID);

  int32_t b = 0;
  ASSERT_EQ(cfg_bool(&src_, str("flag"), &b), AIGW_OK);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(cfg_bool(&src_, str("bad_flag"), &b), AIGW_ERR_INVALID);

  uint64_t ms = 0;
  ASSERT_EQ(cfg_duration(&src_, str("wait"), &ms), AIGW_OK);
  EXPECT_EQ(ms, 90'000u);
  EXPECT_EQ(cfg_duration(&src_, str("bad_wait"), &ms), AIGW_ERR_INVALID);

  size_t len = 0;
  ASSERT_EQ(cfg_array_len(&src_, str("list"), &len), AIGW_OK);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(cfg_array_len(&src_, str("text"), &len), AIGW_ERR_INVALID);
  ASSERT_EQ(cfg_array_string(&src_, str("list"), 0, &s), AIGW_OK);
  EXPECT_EQ(view(s), "a");
  EXPECT_EQ(cfg_array_string(&src_, str("list"), 1, &s), AIGW_ERR_INVALID);
  EXPECT_EQ(cfg_array_string(&src_, str("list"), 2, &s), AIGW_ERR_NOT_FOUND);

  ASSERT_EQ(cfg_secret(&src_, str("keys"), 0, &s), AIGW_OK);
  EXPECT_EQ(view(s), "sk-from-env");
  ASSERT_EQ(cfg_secret(&src_, str("keys"), 1, &s), AIGW_OK);
  EXPECT_EQ(view(s), "sk-plain");
  EXPECT_EQ(cfg_secret(&src_, str("keys"), 2, &s), AIGW_ERR_NOT_FOUND);
  ASSERT_EQ(cfg_secret(&src_, str("text"), 0, &s), AIGW_OK);  // one string is index 0
  EXPECT_EQ(cfg_secret(&src_, str("text"), 1, &s), AIGW_ERR_NOT_FOUND);
}

TEST_F(HostConfigTest, EveryProblemIsReportedInTheHostsForm) {
  int64_t n = 0;
  int32_t b = 0;
  uint64_t ms = 0;
  aigw_host_str s{};
  cfg_int(&src_, str("bad_count"), &n);
  cfg_bool(&src_, str("bad_flag"), &b);
  cfg_duration(&src_, str("bad_wait"), &ms);
  cfg_array_string(&src_, str("list"), 1, &s);
  // Read, so known: these are not unknown either.
  for (const char* key : {"text", "count", "flag", "wait", "keys"}) src_.get(key);
  src_.report_unknown("local", true);
  config::in_file_order(src_.errors, "test.toml");
  EXPECT_EQ(src_.errors,
            (std::vector<std::string>{
                "test.toml:9:14: provider[0].list[1]: expected a string, got an integer",
                "test.toml:11:13: provider[0].bad_count: expected an integer, got a string",
                "test.toml:12:12: provider[0].bad_wait: expected a duration string, got an "
                "integer (write \"90s\" or \"90ms\")",
                "test.toml:13:12: provider[0].bad_flag: expected a boolean, got an integer",
                "test.toml:14:1: provider[0].unread: unknown key for plugin \"local\"",
            }));
}

}  // namespace
}  // namespace aigw::plugin
