// The plugins' side of a [[provider]] table (src/plugin/config_source.h):
// keys neither the host nor the plugin read are unknown, with the same
// "did you mean" the host's own reader gives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "config/provider_table.h"
#include "plugin/config_source.h"

namespace aigw::plugin {
namespace {

class ConfigSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loaded_ = config::load_string(R"([[provider]]
name = "p"
plugin = "local"
models = ["m"]
chunk_words = 2
chunk_wrods = 3
wieght = 2
colour = "blue"
)", "test.toml");
    ASSERT_NE(loaded_.config, nullptr) << ::testing::PrintToString(loaded_.errors);
    src_.table = loaded_.config->providers[0].table.get();
    // What a plugin asks for: one key present, one absent.
    src_.get("chunk_words");
    src_.get("reply_prefix");
  }

  config::LoadResult loaded_;
  aigw_config_source src_;
};

TEST_F(ConfigSourceTest, UnreadKeysAreUnknownWithTheNearestAskedKey) {
  src_.report_unknown("local", true);
  config::in_file_order(src_.errors, "test.toml");  // the table iterates in key order
  EXPECT_EQ(src_.errors,
            (std::vector<std::string>{
                "test.toml:6:1: provider[0].chunk_wrods: unknown key for plugin \"local\" (did "
                "you mean \"provider[0].chunk_words\"?)",
                // The host's keys are candidates too.
                "test.toml:7:1: provider[0].wieght: unknown key for plugin \"local\" (did you "
                "mean \"provider[0].weight\"?)",
                "test.toml:8:1: provider[0].colour: unknown key for plugin \"local\"",
            }));
}

TEST_F(ConfigSourceTest, APluginThatGaveUpEarlyGetsOnlyTheLikelyTypos) {
  // colour may be a key the plugin would have read had it gone on.
  src_.report_unknown("local", false);
  config::in_file_order(src_.errors, "test.toml");
  ASSERT_EQ(src_.errors.size(), 2u) << ::testing::PrintToString(src_.errors);
  EXPECT_NE(src_.errors[0].find("provider[0].chunk_wrods: unknown key"), std::string::npos);
  EXPECT_NE(src_.errors[1].find("provider[0].wieght: unknown key"), std::string::npos);
}

}  // namespace
}  // namespace aigw::plugin
