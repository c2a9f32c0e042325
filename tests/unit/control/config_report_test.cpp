// GET /admin/config's config half: every secret redacted, whatever form
// it was written in. (The plugins half and the endpoint are tested against
// the real binary in tests/integration/test_dashboard.py.)
#include "control/config_report.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>

namespace aigw::control {
namespace {

constexpr const char* kToml = R"(
[admin]
listen = "127.0.0.1:0"
api_key = "env:AIGW_UNIT_ADMIN"

[[provider]]
name = "oa"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_keys = ["sk-literal-upstream-1234", "env:AIGW_UNIT_UPSTREAM"]
organization = "org-literal-5678"
max_retries = 2
vertex = true
nested = { token = "nested-literal-9999", count = 3 }
models = ["m"]

[[key]]
name = "alice"
secret = "sk-literal-client-4321"
rpm = 7

[state.redis]
url = "redis://127.0.0.1:9/0"
password = "redis-literal-8765"
)";

TEST(ConfigReport, EverySecretRedacted) {
  setenv("AIGW_UNIT_ADMIN", "admin-from-env-1111", 1);
  setenv("AIGW_UNIT_UPSTREAM", "upstream-from-env-2222", 1);
  config::LoadResult r = config::load_string(kToml, "unit.toml");
  ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
  std::string out;
  write_config_json(out, *r.config, *r.config);
  for (const char* secret : {"admin-from-env-1111", "upstream-from-env-2222", "sk-literal-upstream-1234",
                             "org-literal-5678", "nested-literal-9999", "sk-literal-client-4321",
                             "redis-literal-8765"}) {
    EXPECT_EQ(out.find(secret), std::string::npos) << secret;
  }

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  EXPECT_EQ(std::string_view(doc["admin"]["api_key"]), kRedacted);
  EXPECT_EQ(std::string_view(doc["state"]["redis"]["password"]), kRedacted);
  EXPECT_EQ(std::string_view(doc["keys"].at(0)["secret"]), kRedacted);
  EXPECT_EQ(int64_t(doc["keys"].at(0)["rpm"]), 7);
  simdjson::dom::element own = doc["providers"].at(0)["plugin_settings"];
  EXPECT_EQ(std::string_view(own["api_keys"].at(0)), kRedacted);
  EXPECT_EQ(std::string_view(own["api_keys"].at(1)), "env:AIGW_UNIT_UPSTREAM");  // the name, not the value
  EXPECT_EQ(std::string_view(own["organization"]), kRedacted);
  EXPECT_EQ(int64_t(own["max_retries"]), 2);
  EXPECT_EQ(bool(own["vertex"]), true);
  EXPECT_EQ(std::string_view(own["nested"]["token"]), kRedacted);
  EXPECT_EQ(int64_t(own["nested"]["count"]), 3);
  // The keys the host reads are not repeated as the plugin's.
  EXPECT_EQ(own["base_url"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(std::string_view(doc["providers"].at(0)["base_url"]), "http://127.0.0.1:9/v1");
}

TEST(ConfigReport, RestartOnlySettingsFromTheRunningConfig) {
  const char* key = "[[key]]\nname = \"k\"\nsecret = \"sk-0123456789\"\n";
  config::LoadResult a = config::load_string(std::string("[server]\nworkers = 2\n") + key + "rpm = 1\n", "a.toml");
  config::LoadResult b = config::load_string(std::string("[server]\nworkers = 3\n") + key + "rpm = 2\n", "b.toml");
  ASSERT_TRUE(a.config && b.config);
  std::string out;
  write_config_json(out, *a.config, *b.config);
  EXPECT_NE(out.find("\"workers\":2"), std::string::npos) << out;
  EXPECT_NE(out.find("\"rpm\":2"), std::string::npos) << out;
}

}  // namespace
}  // namespace aigw::control
