// Loading and validating TOML configuration: defaults, the shipped example,
// and the exact shape of error messages (file:line:column: key: message).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/config.h"

namespace aigw::config {
namespace {

using namespace std::chrono_literals;
using Errors = std::vector<std::string>;

const char kExamplePath[] = AIGW_FIXTURES_DIR "/../../examples/aigw.toml";

std::shared_ptr<const Config> load_ok(std::string_view text) {
  LoadResult r = load_string(text, "test.toml");
  EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  return r.config;
}

Errors load_errors(std::string_view text) {
  LoadResult r = load_string(text, "test.toml");
  EXPECT_EQ(r.config, nullptr);
  return r.errors;
}

// The one error a snippet produces.
std::string load_error(std::string_view text) {
  Errors e = load_errors(text);
  EXPECT_EQ(e.size(), 1u) << ::testing::PrintToString(e);
  return e.empty() ? std::string() : e.front();
}

void expect_defaults(const Config& c) {
  ASSERT_EQ(c.server.listen.size(), 1u);
  EXPECT_EQ(c.server.listen[0].text, "127.0.0.1:8080");
  EXPECT_EQ(c.server.listen[0].addr.ss_family, AF_INET);
  EXPECT_EQ(c.server.workers, 0u);
  EXPECT_FALSE(c.server.pin_workers);
  EXPECT_EQ(c.server.shutdown_grace, 30s);

  const ServerLimits& l = c.server.limits;
  EXPECT_EQ(l.max_header_bytes, 32u * 1024);
  EXPECT_EQ(l.max_header_count, 100u);
  EXPECT_EQ(l.max_uri_bytes, 8u * 1024);
  EXPECT_EQ(l.max_body_bytes, 32ull << 20);
  EXPECT_EQ(l.max_requests_per_connection, 10000u);
  EXPECT_EQ(l.max_connections_per_worker, 16384u);

  const ServerTimeouts& t = c.server.timeouts;
  EXPECT_EQ(t.header_read, 10s);
  EXPECT_EQ(t.body_read_gap, 60s);
  EXPECT_EQ(t.keepalive_idle, 75s);
  EXPECT_EQ(t.send, 60s);

  EXPECT_EQ(c.server.io.ring_entries, 1024u);
  EXPECT_EQ(c.server.io.buffer_size, 16u * 1024);
  EXPECT_EQ(c.server.io.buffer_count, 1024u);
  EXPECT_EQ(c.server.io.send_buffer, 0u) << "the kernel's default";

  EXPECT_EQ(c.log.level, LogLevel::info);

  EXPECT_TRUE(c.state.enabled);
  EXPECT_EQ(c.state.path, "");
  EXPECT_EQ(c.state.flush_interval, 1s);
  EXPECT_FALSE(c.state.requests);
  EXPECT_EQ(c.state.keep, 30 * 24h);
}

// --- what loads ------------------------------------------------------------------

TEST(ConfigLoad, BuiltInDefaultLoadsWithDocumentedDefaults) {
  EXPECT_TRUE(default_config_toml().starts_with("#"));
  EXPECT_NE(default_config_toml().find("[server]\nlisten = \"127.0.0.1:8080\"\n"),
            std::string_view::npos);
  LoadResult r = load_string(default_config_toml(), "<built-in>");
  ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  ASSERT_NE(r.config, nullptr);
  EXPECT_EQ(r.config->source, "<built-in>");
  expect_defaults(*r.config);
}

TEST(ConfigLoad, EmptyFileMeansDefaults) {
  auto c = load_ok("");
  ASSERT_NE(c, nullptr);
  expect_defaults(*c);
  EXPECT_EQ(c->source, "test.toml");
}

TEST(ConfigLoad, ExampleFileLoadsAndMatchesDefaults) {
  LoadResult r = load_file(kExamplePath);
  ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  ASSERT_NE(r.config, nullptr);
  EXPECT_EQ(r.config->source, kExamplePath);
  expect_defaults(*r.config);
}

TEST(ConfigLoad, ReadsEveryKey) {
  auto c = load_ok(R"(
[server]
listen = ["0.0.0.0:9000", "[::1]:9001"]
workers = 8
pin_workers = true
shutdown_grace = "1m30s"

[server.limits]
max_header_bytes = 65536
max_header_count = 50
max_uri_bytes = "4KiB"
max_body_bytes = "0B"
max_requests_per_connection = 1
max_connections_per_worker = 1048576

[server.timeouts]
header_read = "100ms"
body_read_gap = "1h"
keepalive_idle = "0s"
send = "5s"

[server.io]
ring_entries = 64
buffer_size = "1MiB"
buffer_count = 32768
send_buffer = "256KiB"

[log]
level = "debug"
)");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->server.listen.size(), 2u);
  EXPECT_EQ(c->server.listen[0].text, "0.0.0.0:9000");
  EXPECT_EQ(c->server.listen[1].text, "[::1]:9001");
  EXPECT_EQ(c->server.listen[1].addr.ss_family, AF_INET6);
  EXPECT_EQ(c->server.workers, 8u);
  EXPECT_TRUE(c->server.pin_workers);
  EXPECT_EQ(c->server.shutdown_grace, 90s);
  EXPECT_EQ(c->server.limits.max_header_bytes, 65536u);
  EXPECT_EQ(c->server.limits.max_header_count, 50u);
  EXPECT_EQ(c->server.limits.max_uri_bytes, 4096u);
  EXPECT_EQ(c->server.limits.max_body_bytes, 0u);
  EXPECT_EQ(c->server.limits.max_requests_per_connection, 1u);
  EXPECT_EQ(c->server.limits.max_connections_per_worker, 1048576u);
  EXPECT_EQ(c->server.timeouts.header_read, 100ms);
  EXPECT_EQ(c->server.timeouts.body_read_gap, 1h);
  EXPECT_EQ(c->server.timeouts.keepalive_idle, 0ms);
  EXPECT_EQ(c->server.timeouts.send, 5s);
  EXPECT_EQ(c->server.io.ring_entries, 64u);
  EXPECT_EQ(c->server.io.buffer_size, 1u << 20);
  EXPECT_EQ(c->server.io.buffer_count, 32768u);
  EXPECT_EQ(c->server.io.send_buffer, 256u * 1024);
  EXPECT_EQ(c->log.level, LogLevel::debug);
}

TEST(ConfigLoad, ListenMayBeOneString) {
  auto c = load_ok("[server]\nlisten = \"[::]:0\"\n");
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->server.listen.size(), 1u);
  EXPECT_EQ(c->server.listen[0].text, "[::]:0");
}

TEST(ConfigLoad, DottedKeysAndInlineTablesAreOrdinaryTOML) {
  auto c = load_ok("server.workers = 2\nserver.io = { ring_entries = 128 }\nlog = { level = \"warn\" }\n");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->server.workers, 2u);
  EXPECT_EQ(c->server.io.ring_entries, 128u);
  EXPECT_EQ(c->log.level, LogLevel::warn);
}

TEST(ConfigLoad, RangeBoundsAreInclusive) {
  EXPECT_NE(load_ok("[server]\nworkers = 1024\nshutdown_grace = \"1h\"\n"), nullptr);
  EXPECT_NE(load_ok("[server.limits]\nmax_header_bytes = \"1MiB\"\nmax_uri_bytes = \"1MiB\"\n"
                    "max_body_bytes = \"4GiB\"\nmax_header_count = 10000\n"),
            nullptr);
  EXPECT_NE(load_ok("[server.limits]\nmax_header_bytes = \"1KiB\"\nmax_uri_bytes = 256\n"), nullptr);
  EXPECT_NE(load_ok("[server.limits]\nmax_requests_per_connection = 1000000000\n"), nullptr);
  EXPECT_NE(load_ok("[server.io]\nbuffer_size = \"4KiB\"\nbuffer_count = 16\nring_entries = 32768\n"),
            nullptr);
}

// --- error messages --------------------------------------------------------------

TEST(ConfigErrors, WrongTypeNamesBothTypes) {
  EXPECT_EQ(load_error("[server]\nworkers = \"4\"\n"),
            "test.toml:2:11: server.workers: expected an integer, got a string");
  EXPECT_EQ(load_error("[server]\npin_workers = 1\n"),
            "test.toml:2:15: server.pin_workers: expected a boolean, got an integer");
  EXPECT_EQ(load_error("[server]\nworkers = 1.5\n"),
            "test.toml:2:11: server.workers: expected an integer, got a float");
  EXPECT_EQ(load_error("[log]\nlevel = [\"info\"]\n"),
            "test.toml:2:9: log.level: expected a string, got an array");
  EXPECT_EQ(load_error("[server]\nworkers = 1979-05-27\n"),
            "test.toml:2:11: server.workers: expected an integer, got a date/time");
  EXPECT_EQ(load_error("server = 5\n"), "test.toml:1:10: server: expected a table, got an integer");
  EXPECT_EQ(load_error("[[server]]\n"), "test.toml:1:1: server: expected a table, got an array");
  EXPECT_EQ(load_error("[server]\nlisten = 8080\n"),
            "test.toml:2:10: server.listen: expected a string or an array of strings, got an integer");
  EXPECT_EQ(load_error("[server.limits]\nmax_body_bytes = true\n"),
            "test.toml:2:18: server.limits.max_body_bytes: expected an integer or a size string "
            "such as \"32KiB\", got a boolean");
}

TEST(ConfigErrors, IntegerDurationGetsAHint) {
  EXPECT_EQ(load_error("[server.timeouts]\nheader_read = 10\n"),
            "test.toml:2:15: server.timeouts.header_read: expected a duration string, got an "
            "integer (write \"10s\" or \"10ms\")");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(load_error("[server.limits]\nmax_header_count = 0\n"),
            "test.toml:2:20: server.limits.max_header_count: must be between 1 and 10000, got 0");
  EXPECT_EQ(load_error("[server]\nworkers = -1\n"),
            "test.toml:2:11: server.workers: must be between 0 and 1024, got -1");
  EXPECT_EQ(load_error("[server]\nworkers = 1025\n"),
            "test.toml:2:11: server.workers: must be between 0 and 1024, got 1025");
  EXPECT_EQ(load_error("[server.limits]\nmax_body_bytes = \"5GiB\"\n"),
            "test.toml:2:18: server.limits.max_body_bytes: must be between 0B and 4GiB, got 5GiB");
  EXPECT_EQ(load_error("[server.io]\nbuffer_size = 1024\n"),
            "test.toml:2:15: server.io.buffer_size: must be between 4KiB and 1MiB, got 1024");
  EXPECT_EQ(load_error("[server.timeouts]\nsend = \"50ms\"\n"),
            "test.toml:2:8: server.timeouts.send: must be between 100ms and 1h, got 50ms");
  EXPECT_EQ(load_error("[server]\nshutdown_grace = \"61m\"\n"),
            "test.toml:2:18: server.shutdown_grace: must be between 0s and 1h, got 61m");
  EXPECT_EQ(load_error("[server.limits]\nmax_uri_bytes = 255\n"),
            "test.toml:2:17: server.limits.max_uri_bytes: must be between 256B and 1MiB, got 255");
  EXPECT_EQ(load_error("[server.io]\nsend_buffer = \"1KiB\"\n"),
            "test.toml:2:15: server.io.send_buffer: must be between 4KiB and 64MiB, got 1KiB");
}

TEST(ConfigErrors, PowerOfTwo) {
  EXPECT_EQ(load_error("[server.io]\nring_entries = 1000\n"),
            "test.toml:2:16: server.io.ring_entries: must be a power of two, got 1000");
  EXPECT_EQ(load_error("[server.io]\nbuffer_count = 100\n"),
            "test.toml:2:16: server.io.buffer_count: must be a power of two, got 100");
}

TEST(ConfigErrors, BadValueSyntax) {
  EXPECT_EQ(load_error("[server.timeouts]\nsend = \"10x\"\n"),
            "test.toml:2:8: server.timeouts.send: invalid duration \"10x\": unknown unit \"x\" "
            "(use ms, s, m or h)");
  EXPECT_EQ(load_error("[server.io]\nbuffer_size = \"-4KiB\"\n"),
            "test.toml:2:15: server.io.buffer_size: invalid size \"-4KiB\": negative sizes are not "
            "allowed");
  EXPECT_EQ(load_error("[log]\nlevel = \"verbose\"\n"),
            "test.toml:2:9: log.level: expected one of \"debug\", \"info\", \"warn\", \"error\", "
            "got \"verbose\"");
}

TEST(ConfigErrors, ListenProblems) {
  EXPECT_EQ(load_error("[server]\nlisten = []\n"),
            "test.toml:2:10: server.listen: must list at least one address");
  EXPECT_EQ(load_error("[server]\nlisten = \"127.0.0.1\"\n"),
            "test.toml:2:10: server.listen: invalid address \"127.0.0.1\": missing port (write "
            "e.g. \"127.0.0.1:8080\")");
  EXPECT_EQ(load_error("[server]\nlisten = [\"127.0.0.1:80\", \"127.0.0.1:080\"]\n"),
            "test.toml:2:27: server.listen[1]: duplicate address \"127.0.0.1:80\"");
  EXPECT_EQ(load_error("[server]\nlisten = [\"[::1]:80\", 80]\n"),
            "test.toml:2:23: server.listen[1]: expected a string, got an integer");
  const std::string host = load_error("[server]\nlisten = \"localhost:8080\"\n");
  EXPECT_TRUE(host.starts_with("test.toml:2:10: server.listen: invalid address \"localhost:8080\": "
                               "\"localhost\" is not an IP address"))
      << host;
}

TEST(ConfigErrors, UriLimitMustFitInHeaderLimit) {
  EXPECT_EQ(load_error("[server.limits]\nmax_header_bytes = \"16KiB\"\nmax_uri_bytes = \"32KiB\"\n"),
            "test.toml:3:17: server.limits.max_uri_bytes: must not exceed "
            "server.limits.max_header_bytes (16KiB), got 32KiB");
  // Only the header limit written: the default URI limit no longer fits, and
  // the message points at what the user wrote.
  EXPECT_EQ(load_error("[server.limits]\nmax_header_bytes = \"4KiB\"\n"),
            "test.toml:2:20: server.limits.max_header_bytes: must be at least "
            "server.limits.max_uri_bytes (8KiB), got 4KiB");
}

TEST(ConfigErrors, UnknownKeysWithSuggestion) {
  EXPECT_EQ(load_error("[server]\nwrokers = 4\n"),
            "test.toml:2:1: server.wrokers: unknown key \"server.wrokers\" (did you mean "
            "\"server.workers\"?)");
  EXPECT_EQ(load_error("[server]\nthreads = 4\n"),
            "test.toml:2:1: server.threads: unknown key \"server.threads\"");
  EXPECT_EQ(load_error("[sever]\n"),
            "test.toml:1:2: sever: unknown key \"sever\" (did you mean \"server\"?)");
  EXPECT_EQ(load_error("[server.limit]\n"),
            "test.toml:1:9: server.limit: unknown key \"server.limit\" (did you mean "
            "\"server.limits\"?)");
  EXPECT_EQ(load_error("[server.timeouts]\n  header-read = \"1s\"\n"),
            "test.toml:2:3: server.timeouts.header-read: unknown key "
            "\"server.timeouts.header-read\" (did you mean \"server.timeouts.header_read\"?)");
  EXPECT_EQ(load_error("[routing]\nmax_attempt = 2\n"),
            "test.toml:2:1: routing.max_attempt: unknown key \"routing.max_attempt\" (did you mean "
            "\"routing.max_attempts\"?)");
}

TEST(ConfigState, ReadsTheTableAndRefusesMistakes) {
  auto c = load_ok("[state]\nenabled = false\npath = \"/tmp/x.db\"\nflush_interval = \"250ms\"\n"
                   "requests = true\nkeep = \"7d\"\n");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->state.enabled);
  EXPECT_EQ(c->state.path, "/tmp/x.db");
  EXPECT_EQ(c->state.flush_interval, 250ms);
  EXPECT_TRUE(c->state.requests);
  EXPECT_EQ(c->state.keep, 7 * 24h);
  EXPECT_EQ(load_ok("[state]\nkeep = \"12h\"\n")->state.keep, 12h);
  // [state.redis] is the shared limits' sub-table, read beside [state]'s own keys.
  auto both = load_ok("[state]\nrequests = true\n[state.redis]\nurl = \"redis://127.0.0.1:6390/2\"\n");
  ASSERT_NE(both, nullptr);
  EXPECT_TRUE(both->state.requests);
  EXPECT_TRUE(both->redis.enabled);
  EXPECT_EQ(both->redis.db, 2u);
  EXPECT_EQ(load_error("[state]\nflush = \"1s\"\n"),
            "test.toml:2:1: state.flush: unknown key \"state.flush\"");
  EXPECT_EQ(load_error("[state]\nkeep = \"30x\"\n"),
            "test.toml:2:8: state.keep: invalid duration \"30x\": unknown unit \"x\" (use ms, s, m or h)");
  EXPECT_EQ(load_error("[state]\nkeep = \"3.5d\"\n"),
            "test.toml:2:8: state.keep: invalid duration \"3.5d\": expected a whole number of days such as "
            "\"30d\", or a duration such as \"12h\"");
  EXPECT_EQ(load_error("[state]\nkeep = \"10m\"\n"), "test.toml:2:8: state.keep: must be at least \"1h\"");
  EXPECT_EQ(load_error("[state]\nflush_interval = \"2m\"\n").find("test.toml:2:18: state.flush_interval: "), 0u);
  EXPECT_EQ(load_error("[state]\npath = \"\"\n"),
            "test.toml:2:8: state.path: must not be empty (leave it out for the default)");
}

TEST(ConfigProviders, HostKeysAreChecked) {
  const Errors e = load_errors("[[provider]]\nname = \"Bad Name\"\nplugin = \"nope\"\nmodels = []\n");
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("test.toml:2:8: provider[0].name: must be 1 to 64 characters"), std::string::npos);
  EXPECT_EQ(e[1], "test.toml:3:10: provider[0].plugin: no [[plugin]] named \"nope\" is declared (the "
                  "bundled plugins local, openai, gemini and anthropic load by name; another plugin needs a [[plugin]] "
                  "table with its name and path)");
  EXPECT_EQ(e[2], "test.toml:4:10: provider[0].models: expected a non-empty array of model names");
  EXPECT_EQ(load_error("[[provider]]\nname = \"x\"\nmodels = [\"m\"]\n"),
            "test.toml:1:1: provider[0].plugin: is required (the plugin that serves this provider)");
}

TEST(ConfigProviders, BundledPluginsNeedNoPluginTable) {
  // openai and gemini are found by name; a [[plugin]] table still wins
  // (another path), and is not duplicated by the implicit one.
  LoadResult r = load_string(R"([[plugin]]
name = "gemini"
path = "/opt/aigw/libaigw_gemini.so"

[[provider]]
name = "a"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
models = ["m1"]

[[provider]]
name = "b"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
models = ["m2"]

[[provider]]
name = "c"
plugin = "gemini"
base_url = "http://127.0.0.1:9"
models = ["m3"]
)",
                             "test.toml");
  ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  ASSERT_EQ(r.config->plugins.size(), 2u);
  EXPECT_EQ(r.config->plugins[0].name, "gemini");
  EXPECT_EQ(r.config->plugins[0].path, "/opt/aigw/libaigw_gemini.so");
  EXPECT_EQ(r.config->plugins[1].name, "openai");
  EXPECT_EQ(r.config->plugins[1].path, "");
  EXPECT_EQ(r.config->providers[0].plugin, "openai");
  EXPECT_EQ(r.config->providers[1].plugin, "openai");
  EXPECT_TRUE(is_bundled_plugin("gemini"));
  EXPECT_FALSE(is_bundled_plugin("hello"));
  EXPECT_FALSE(is_bundled_plugin("local"));  // compiled in, never a file
}

TEST(ConfigProviders, ModelsAndMapAndPluginKeys) {
  LoadResult r = load_string(R"([[plugin]]
name = "mine"
path = "/opt/libaigw_mine.so"
[[provider]]
name = "a"
plugin = "mine"
models = ["m1", "m2"]
model_map = { m1 = "upstream-1" }
custom_key = 3
[[provider]]
name = "b"
plugin = "local"
models = ["m3"]
)", "test.toml");
  ASSERT_NE(r.config, nullptr) << ::testing::PrintToString(r.errors);
  ASSERT_EQ(r.config->plugins.size(), 1u);
  EXPECT_EQ(r.config->plugins[0].path, "/opt/libaigw_mine.so");
  ASSERT_EQ(r.config->providers.size(), 2u);
  EXPECT_EQ(r.config->providers[0].model_map.size(), 1u);
  EXPECT_EQ(r.config->provider_for_model("m3"), &r.config->providers[1]);
  EXPECT_EQ(r.config->provider_for_model("zz"), nullptr);
  // custom_key is the plugin's to judge, not the loader's.
  EXPECT_NE(r.config->providers[0].table, nullptr);
}

TEST(ConfigProviders, DuplicateModelAndBadMap) {
  const Errors e = load_errors(R"([[provider]]
name = "a"
plugin = "local"
models = ["m", "m"]
model_map = { other = "x" }
[[provider]]
name = "b"
plugin = "local"
models = ["has space"]
)");
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("provider[0].models[1]: model \"m\" is listed twice"), std::string::npos);
  EXPECT_NE(e[1].find("provider[0].model_map.other: maps \"other\", which is not in models"),
            std::string::npos);
  EXPECT_NE(e[2].find("provider[1].models[0]: expected a model name or pattern"), std::string::npos);
}

TEST(ConfigRoutes, SharedModelsRoutesAndRouting) {
  auto r = load_string(R"([[provider]]
name = "a"
plugin = "local"
models = ["m", "gpt-4o*"]
weight = 3
priority = 1
[[provider]]
name = "b"
plugin = "local"
models = ["m"]
[[route]]
model = "smart"
strategy = "priority"
providers = ["a", { provider = "b", model = "m", weight = 2, priority = 0 }]
[routing]
max_attempts = 4
error_ratio = 0.25
cooldown = "2s"
max_cooldown = "1m"
)", "t.toml");
  ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  const Config& c = *r.config;
  EXPECT_EQ(c.providers[0].weight, 3u);
  EXPECT_EQ(c.providers[0].priority, 1u);
  EXPECT_EQ(c.providers[1].weight, 1u);
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].strategy, Strategy::priority);
  ASSERT_EQ(c.routes[0].targets.size(), 2u);
  EXPECT_EQ(c.routes[0].targets[0].provider, "a");
  EXPECT_FALSE(c.routes[0].targets[0].weight_set);
  EXPECT_FALSE(c.routes[0].targets[0].priority_set);
  EXPECT_EQ(c.routes[0].targets[1].model, "m");
  EXPECT_EQ(c.routes[0].targets[1].weight, 2u);
  EXPECT_TRUE(c.routes[0].targets[1].weight_set);
  EXPECT_TRUE(c.routes[0].targets[1].priority_set);
  EXPECT_EQ(c.routing.max_attempts, 4u);
  EXPECT_DOUBLE_EQ(c.routing.error_ratio, 0.25);
  EXPECT_EQ(c.routing.cooldown, Duration{2000});
  EXPECT_EQ(c.provider_index("b"), 1);
  EXPECT_EQ(c.provider_index("zz"), -1);
}

TEST(ConfigRoutes, Errors) {
  const Errors e = load_errors(R"([[provider]]
name = "a"
plugin = "local"
models = ["m"]
[[route]]
model = "x"
strategy = "fastest"
providers = ["nope", { provider = "a", wieght = 2 }]
[[route]]
model = "x"
providers = []
[routing]
error_ratio = 2
cooldown = "10s"
max_cooldown = "1s"
)");
  ASSERT_EQ(e.size(), 7u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("route[0].strategy: expected \"weighted\""), std::string::npos);
  EXPECT_NE(e[1].find("route[0].providers[0]: no [[provider]] named \"nope\""), std::string::npos);
  EXPECT_NE(e[2].find("unknown key \"route[0].providers[1].wieght\" (did you mean"), std::string::npos);
  EXPECT_NE(e[3].find("route[1].model: a route for \"x\" is declared twice"), std::string::npos);
  EXPECT_NE(e[4].find("route[1].providers: expected a non-empty array"), std::string::npos);
  EXPECT_NE(e[5].find("routing.error_ratio: expected a number above 0"), std::string::npos);
  EXPECT_NE(e[6].find("routing.max_cooldown: must be at least routing.cooldown (10s)"), std::string::npos);
}

TEST(ConfigKeys, SecretDigestAndLimits) {
  setenv("AIGW_TEST_KEY_SECRET", "sk-test-secret-1", 1);
  auto r = load_string(R"([[key]]
name = "team-a"
secret = "env:AIGW_TEST_KEY_SECRET"
models = ["gpt-4o*", "aigw-demo"]
rpm = 60
tpm = 1000
max_concurrent = 4
daily_tokens = 100000
[[key]]
name = "team-b"
sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
[limits]
default_max_tokens = 256
[access_log]
path = "/tmp/x.log"
sample = 0.5
enabled = false
)", "t.toml");
  ASSERT_TRUE(r.errors.empty()) << ::testing::PrintToString(r.errors);
  const Config& c = *r.config;
  ASSERT_EQ(c.keys.size(), 2u);
  EXPECT_EQ(c.keys[0].rpm, 60u);
  EXPECT_EQ(c.keys[0].max_concurrent, 4u);
  EXPECT_EQ(c.keys[0].models.size(), 2u);
  // sha256("test") = 9f86d081...
  EXPECT_EQ(c.keys[1].sha256[0], 0x9f);
  EXPECT_EQ(c.keys[1].sha256[31], 0x08);
  EXPECT_EQ(c.limits.default_max_tokens, 256u);
  EXPECT_FALSE(c.access_log.enabled);
  EXPECT_DOUBLE_EQ(c.access_log.sample, 0.5);
}

TEST(ConfigKeys, ErrorsNeverEchoTheSecret) {
  setenv("AIGW_TEST_SHORT", "abc", 1);
  const Errors e = load_errors(R"([[key]]
name = "a"
secret = "env:AIGW_TEST_SHORT"
[[key]]
name = "b"
sha256 = "xyz"
[[key]]
name = "c"
[[key]]
name = "d"
secret = "plain-secret-value"
[[key]]
name = "e"
secret = "other-secret-value"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
[[key]]
name = "f"
secret = "plain-secret-value"
)");
  ASSERT_EQ(e.size(), 5u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("key[0].secret: must be 8 to 4096 bytes long, got 3"), std::string::npos);
  EXPECT_NE(e[1].find("key[1].sha256: expected 64 hexadecimal"), std::string::npos);
  EXPECT_NE(e[2].find("key[2].secret: is required"), std::string::npos);
  EXPECT_NE(e[3].find("key[4].sha256: give either secret or sha256"), std::string::npos);
  EXPECT_NE(e[4].find("key[5].secret: the same secret is already used by key \"d\""), std::string::npos);
  for (const std::string& line : e) {
    EXPECT_EQ(line.find("abc"), std::string::npos);
    EXPECT_EQ(line.find("plain-secret-value"), std::string::npos);
  }
}

TEST(ConfigErrors, AllProblemsReportedInFileOrder) {
  const Errors e = load_errors(R"([server]
workers = "many"
listen = ["1.2.3.4:1", "nope:2"]
pin_workers = "yes"

[server.limits]
max_header_count = 0
max_uri_bytes = 1

[server.timeouts]
send = 5

[log]
levl = "info"
level = "loud"
)");
  const Errors want = {
      "test.toml:2:11: server.workers: expected an integer, got a string",
      "test.toml:3:24: server.listen[1]: invalid address \"nope:2\": \"nope\" is not an IP address "
      "(listen takes IP literals such as 127.0.0.1 or [::1]; host names are not resolved)",
      "test.toml:4:15: server.pin_workers: expected a boolean, got a string",
      "test.toml:7:20: server.limits.max_header_count: must be between 1 and 10000, got 0",
      "test.toml:8:17: server.limits.max_uri_bytes: must be between 256B and 1MiB, got 1",
      "test.toml:11:8: server.timeouts.send: expected a duration string, got an integer (write "
      "\"5s\" or \"5ms\")",
      "test.toml:14:1: log.levl: unknown key \"log.levl\" (did you mean \"log.level\"?)",
      "test.toml:15:9: log.level: expected one of \"debug\", \"info\", \"warn\", \"error\", got "
      "\"loud\"",
  };
  EXPECT_EQ(e, want);
}

TEST(ConfigErrors, InFileOrderMergesSortsAndDropsRepeats) {
  // As check-config merges the host's lines with the plugins': numeric
  // order of line then column, each line once, unpositioned lines last.
  Errors e = {
      "a:b.toml:10:1: provider[1].x: unknown key for plugin \"local\"",
      "a:b.toml:9:12: server.workers: expected an integer, got a string",
      "plugin \"nope\": no file found; looked for /x/libaigw_nope.so",
      "a:b.toml:9:3: server.pin: unknown key \"server.pin\"",
      "a:b.toml:10:1: provider[1].x: unknown key for plugin \"local\"",
      "other.toml:1:1: not this file's",
      "a:b.toml:2:1: provider[0].plugin: plugin \"local\" rejected the provider: y",
  };
  in_file_order(e, "a:b.toml");
  const Errors want = {
      "a:b.toml:2:1: provider[0].plugin: plugin \"local\" rejected the provider: y",
      "a:b.toml:9:3: server.pin: unknown key \"server.pin\"",
      "a:b.toml:9:12: server.workers: expected an integer, got a string",
      "a:b.toml:10:1: provider[1].x: unknown key for plugin \"local\"",
      "plugin \"nope\": no file found; looked for /x/libaigw_nope.so",
      "other.toml:1:1: not this file's",
  };
  EXPECT_EQ(e, want);
}

TEST(ConfigErrors, AFileWithErrorsStillGivesWhatCouldBeRead) {
  LoadResult r = load_string(R"([server]
workers = "two"
[[plugin]]
name = "Bad Name"
[[provider]]
name = "a"
plugin = "local"
models = ["m"]
weight = -1
[[provider]]
name = "b"
plugin = "nope"
models = ["n"]
[[provider]]
name = "c"
plugin = "Bad Name"
models = ["o"]
[[provider]]
name = "d"
plugin = ""
models = ["p"]
)", "test.toml");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_NE(r.partial, nullptr) << ::testing::PrintToString(r.errors);
  ASSERT_EQ(r.partial->providers.size(), 4u);
  // Handed to its plugin despite its own error (weight) and the file's.
  EXPECT_EQ(r.partial->providers[0].plugin, "local");
  ASSERT_NE(r.partial->providers[0].table, nullptr);
  // Not declared, declared under an invalid name, empty: no plugin to ask.
  EXPECT_EQ(r.partial->providers[1].plugin, "");
  EXPECT_EQ(r.partial->providers[2].plugin, "");
  EXPECT_EQ(r.partial->providers[3].plugin, "");
  EXPECT_NE(std::find(r.errors.begin(), r.errors.end(),
                      "test.toml:20:10: provider[3].plugin: no [[plugin]] named \"\" is declared (the "
                      "bundled plugins local, openai, gemini and anthropic load by name; another plugin needs a "
                      "[[plugin]] table with its name and path)"),
            r.errors.end())
      << ::testing::PrintToString(r.errors);
  // Nothing to go on after a syntax error.
  EXPECT_EQ(load_string("[server\n", "test.toml").partial, nullptr);
}

TEST(ConfigErrors, SyntaxErrorStopsWithItsPosition) {
  const std::string e = load_error("[server]\nworkers = 4\nlisten = \n");
  EXPECT_TRUE(e.starts_with("test.toml:3:10: syntax error: ")) << e;

  const std::string dup = load_error("[server]\nworkers = 1\nworkers = 2\n");
  EXPECT_TRUE(dup.starts_with("test.toml:3:")) << dup;
  EXPECT_NE(dup.find("syntax error: "), std::string::npos) << dup;
}

TEST(ConfigErrors, MissingFile) {
  LoadResult r = load_file("/nonexistent/aigw.toml");
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "/nonexistent/aigw.toml: cannot read config file: No such file or directory");
}

TEST(ConfigErrors, DirectoryIsNotAFile) {
  LoadResult r = load_file(AIGW_FIXTURES_DIR);
  EXPECT_EQ(r.config, nullptr);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], std::string(AIGW_FIXTURES_DIR) + ": cannot read config file: Is a directory");
}

TEST(ConfigErrors, FileErrorsNameThePath) {
  char path[] = "/tmp/aigw_config_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "[server]\nworkers = \"x\"\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  LoadResult r = load_file(path);
  unlink(path);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], std::string(path) + ":2:11: server.workers: expected an integer, got a string");
}

}  // namespace
}  // namespace aigw::config
