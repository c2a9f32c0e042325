// The openai plugin (plugins/openai) driven through its hook table by the fake
// host of tests/support/fake_host.h, with a fixture that plays both sides of
// HTTP mode: it pre-fills the upstream request the way aigw does, feeds
// recorded upstream responses (tests/fixtures/openai) in arbitrary pieces, and
// records what the plugin sends to the client.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "aigw_plugin.h"
#include "support/fake_host.h"

extern "C" const aigw_plugin_def* aigw_openai_plugin_entry(void);

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace {

using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using aigw::test::FakeRequest;

// --- fixtures --------------------------------------------------------------------

struct Recorded {
  std::string request_body;
  int status = 0;
  std::string response_body;
};

Recorded load_fixture(const std::string& name) {
  std::string path = std::string(AIGW_FIXTURES_DIR) + "/openai/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  Recorded r;
  std::string text = ss.str();
  if (parser.parse(text).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not JSON: " << path;
    return r;
  }
  auto first = root["interactions"].at(0);
  r.request_body = std::string(first["request"]["body"].get_string().value());
  r.status = static_cast<int>(first["response"]["status"].get_int64().value());
  r.response_body = std::string(first["response"]["body"].get_string().value());
  return r;
}

// The events of `bytes`, each up to and including the blank line (LF or
// CRLF) that ends it; a last one without its blank line is kept as is.
std::vector<std::string> split_events(const std::string& bytes) {
  std::vector<std::string> events;
  size_t start = 0;
  for (size_t line = 0; line < bytes.size();) {
    size_t nl = bytes.find('\n', line);
    if (nl == std::string::npos) break;
    const bool blank = bytes.find_first_not_of('\r', line) == nl;
    line = nl + 1;
    if (blank) {
      events.push_back(bytes.substr(start, line - start));
      start = line;
    }
  }
  if (start < bytes.size()) events.push_back(bytes.substr(start));
  return events;
}

// The events the plugin emitted, in order. The plugin may send several
// events with one emit (those of one upstream read), but never a part of
// one: the host frames and holds back output by emit, so each emit must end
// where an event ends.
std::vector<std::string> events_of(const FakeRequest& fr) {
  std::vector<std::string> out;
  for (const std::string& e : fr.emits) {
    std::vector<std::string> events = split_events(e);
    EXPECT_FALSE(events.empty());
    if (!events.empty()) {
      EXPECT_TRUE(events.back().ends_with("\n\n") || events.back().ends_with("\n\r\n"))
          << "an emit that ends inside an event: " << e;
    }
    out.insert(out.end(), events.begin(), events.end());
  }
  return out;
}

// How many events had gone out at each commit call.
std::vector<size_t> commit_events(const FakeRequest& fr) {
  std::vector<size_t> out;
  for (size_t emits : fr.commits) {
    size_t n = 0;
    for (size_t i = 0; i < emits && i < fr.emits.size(); ++i) n += split_events(fr.emits[i]).size();
    out.push_back(n);
  }
  return out;
}

// Where the "model" string value lies inside its quotes, as the host reports it.
std::pair<uint64_t, uint64_t> model_span(const std::string& body) {
  if (body.empty()) return {0, 0};  // a health probe has no body
  size_t key = body.find("\"model\"");
  EXPECT_NE(key, std::string::npos);
  size_t open = body.find('"', body.find(':', key + 7));
  size_t close = open + 1;
  while (body[close] != '"') close += body[close] == '\\' ? 2 : 1;
  return {open + 1, close - open - 1};
}

// --- the fixture -----------------------------------------------------------------

// One client request as the host would keep it: the body chunks, headers and
// the client struct stay alive until request_destroy.
struct Call {
  FakeRequest fr;
  std::string body;
  std::vector<std::string> parts;
  std::vector<aigw_host_bytes> chunks;
  std::string model = "gpt-5-nano";
  std::string upstream_model = "gpt-5-nano";
  std::vector<std::pair<std::string, std::string>> header_store;
  std::vector<aigw_host_header> headers;
  aigw_client_request client{};
  aigw_status new_status = -1;
  std::string error;
  void* ctx = nullptr;
  bool destroyed = false;

  // What build_upstream produced, flattened.
  aigw_upstream_request up{};
  std::vector<aigw_plugin_bytes> prefilled_body;
  std::string up_path;
  std::vector<std::pair<std::string, std::string>> up_headers;
  std::string up_body;
  size_t up_body_chunks = 0;

  std::string up_header(const std::string& name) const {
    for (const auto& [n, v] : up_headers) {
      if (n == name) return v;
    }
    return "<none>";
  }
};

struct CallOptions {
  aigw_endpoint endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  bool stream = false;
  std::string model;           // default: the body's own
  std::string upstream_model;  // default: model
  std::vector<size_t> splits;  // of the request body
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t key_index = -1;      // -1: a 1.0 host (no key_index in the struct)
  // ABI 1.5's body_facts: -1 leaves them out (an older host), -2 gives
  // what the host finds (host_facts below); either of the latter two makes
  // a host of today (key_index 0 unless set).
  int64_t body_facts = -1;

  CallOptions& ep(aigw_endpoint e) { endpoint = e; return *this; }
  CallOptions& facts(uint32_t f) { body_facts = f; return *this; }
  CallOptions& host_facts() { body_facts = -2; return *this; }
  CallOptions& key(uint32_t k) { key_index = k; return *this; }
  CallOptions& streaming() { stream = true; return *this; }
  CallOptions& up(std::string m) { upstream_model = std::move(m); return *this; }
  CallOptions& split(std::vector<size_t> s) { splits = std::move(s); return *this; }
  CallOptions& with(std::vector<std::pair<std::string, std::string>> h) {
    headers = std::move(h);
    return *this;
  }
};

CallOptions opts() { return {}; }

// What aigw's body reader tells a plugin of a body (src/gateway/openai_body.cpp),
// as simdjson's full parse sees it: one object and nothing after it, and
// whether it has "stream_options" (keys unescaped). The body_facts fuzz
// target checks the reader against the same definition.
uint32_t host_facts(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  if (parser.parse(body).get_object().get(obj) != simdjson::SUCCESS) return 0;
  simdjson::dom::element v;
  const bool has = obj["stream_options"].get(v) == simdjson::SUCCESS;
  return uint32_t{AIGW_BODY_READ} | (has ? uint32_t{AIGW_BODY_HAS_STREAM_OPTIONS} : 0u);
}

class OpenAiPluginTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : calls_) destroy(*c);
    for (void* inst : instances_) hooks_->instance_destroy(inst);
    if (config_) hooks_->config_destroy(config_);
    // Whatever the plugin logged, no key may be in it.
    for (const std::string& line : host_.logs) {
      for (const std::string& s : cfg_.secrets) {
        EXPECT_EQ(line.find(s), std::string::npos) << "a secret in the log: " << line;
      }
    }
    EXPECT_EQ(cfg_.callbacks.count("config_duration_ms"), 0u)
        << "the openai plugin has no duration keys";
  }

  aigw_status configure(std::map<std::string, ConfigValue> values) {
    cfg_.values = std::move(values);
    char buf[512] = "unset";
    aigw_errbuf err{buf, sizeof buf};
    aigw_status st = hooks_->config_new(host_.table(), host_.plugin(), cfg_.handle(), &config_,
                                        &err);
    config_error_ = st == AIGW_OK ? "" : buf;
    return st;
  }

  void* add_instance(uint32_t worker, uint32_t workers) {
    aigw_worker_info info{sizeof(aigw_worker_info), worker, workers, 0};
    char buf[256] = "";
    aigw_errbuf err{buf, sizeof buf};
    void* inst = nullptr;
    EXPECT_EQ(hooks_->instance_new(config_, &info, &inst, &err), AIGW_OK) << buf;
    instances_.push_back(inst);
    return inst;
  }

  void setup(std::map<std::string, ConfigValue> values = {}) {
    if (values.find("api_keys") == values.end() && values.find("api_key") == values.end()) {
      values["api_keys"] = std::vector<std::string>{"sk-test-0"};
    }
    ASSERT_EQ(configure(std::move(values)), AIGW_OK) << config_error_;
    instance_ = add_instance(0, 1);
  }

  Call& request(const std::string& body, CallOptions o = {}, void* instance = nullptr) {
    calls_.push_back(std::make_unique<Call>());
    Call& c = *calls_.back();
    c.body = body;
    size_t from = 0;
    for (size_t at : o.splits) {
      c.parts.push_back(body.substr(from, at - from));
      from = at;
    }
    c.parts.push_back(body.substr(from));
    for (const auto& p : c.parts) {
      c.chunks.push_back({reinterpret_cast<const uint8_t*>(p.data()), p.size()});
    }
    auto [off, len] = model_span(body);
    c.model = o.model.empty() ? body.substr(off, len) : o.model;
    c.upstream_model = o.upstream_model.empty() ? c.model : o.upstream_model;
    c.header_store = o.headers;
    for (const auto& [n, v] : c.header_store) {
      c.headers.push_back({{n.data(), n.size()}, {v.data(), v.size()}});
    }
    if (o.body_facts != -1) {
      c.client.struct_size = sizeof c.client;
      c.client.body_facts = o.body_facts == -2 ? host_facts(body) : static_cast<uint32_t>(o.body_facts);
    } else {
      c.client.struct_size =
          o.key_index < 0 ? offsetof(aigw_client_request, key_index) : offsetof(aigw_client_request, body_facts);
    }
    c.client.key_index = o.key_index < 0 ? 0 : static_cast<uint32_t>(o.key_index);
    c.client.endpoint = o.endpoint;
    c.client.stream = o.stream ? 1 : 0;
    c.client.model = {c.model.data(), c.model.size()};
    c.client.upstream_model = {c.upstream_model.data(), c.upstream_model.size()};
    c.client.method = {"POST", 4};
    c.client.path = {"/v1/chat/completions", 20};
    c.client.headers = c.headers.data();
    c.client.header_count = c.headers.size();
    c.client.body = c.chunks.data();
    c.client.body_count = c.chunks.size();
    c.client.model_value_offset = off;
    c.client.model_value_len = len;
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    c.new_status = hooks_->request_new(instance ? instance : instance_, c.fr.handle(), &c.client,
                                       &c.ctx, &err);
    c.error = buf;
    if (c.new_status != AIGW_OK) c.destroyed = true;  // nothing to destroy
    return c;
  }

  // As the host does it: defaults first, then the plugin's changes.
  aigw_status build(Call& c) {
    c.up = {};
    c.up.struct_size = sizeof c.up;
    c.up.body_unchanged = 1;
    c.up.method = {"POST", 4};
    static const std::string kPaths[] = {"", "/chat/completions", "/completions", "/embeddings",
                                         "/models"};
    const std::string& path = kPaths[c.client.endpoint];
    c.up.path_and_query = {path.data(), path.size()};
    c.prefilled_body.clear();
    for (const auto& ch : c.chunks) c.prefilled_body.push_back({ch.ptr, ch.len});
    c.up.body = c.prefilled_body.data();
    c.up.body_count = c.prefilled_body.size();
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    aigw_status st = hooks_->build_upstream(c.ctx, &c.up, &err);
    c.error = buf;
    c.up_path.assign(c.up.path_and_query.ptr, c.up.path_and_query.len);
    c.up_headers.clear();
    for (size_t i = 0; i < c.up.header_count; ++i) {
      c.up_headers.emplace_back(std::string(c.up.headers[i].name.ptr, c.up.headers[i].name.len),
                                std::string(c.up.headers[i].value.ptr, c.up.headers[i].value.len));
    }
    c.up_body.clear();
    if (c.up.body_unchanged) {
      c.up_body = c.body;
      c.up_body_chunks = 0;
    } else {
      for (size_t i = 0; i < c.up.body_count; ++i) {
        c.up_body.append(reinterpret_cast<const char*>(c.up.body[i].ptr), c.up.body[i].len);
      }
      c.up_body_chunks = c.up.body_count;
    }
    return st;
  }

  Call& started(const std::string& body, CallOptions o = {}) {
    Call& c = request(body, std::move(o));
    EXPECT_EQ(c.new_status, AIGW_OK) << c.error;
    if (c.new_status == AIGW_OK) {
      EXPECT_EQ(build(c), AIGW_OK) << c.error;
    }
    return c;
  }

  aigw_upstream_verdict head(Call& c, int32_t status,
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::vector<aigw_host_header> hs;
    for (const auto& [n, v] : headers) hs.push_back({{n.data(), n.size()}, {v.data(), v.size()}});
    aigw_upstream_verdict v{};
    v.struct_size = sizeof v;
    v.error_class = -1;
    v.retry_after_ms = 12345;
    EXPECT_EQ(hooks_->on_upstream_head(c.ctx, status, hs.data(), hs.size(), &v), AIGW_OK);
    return v;
  }

  void body(Call& c, const std::vector<std::string>& pieces, bool end = true) {
    std::vector<aigw_host_bytes> chunks;
    for (const auto& p : pieces) {
      chunks.push_back({reinterpret_cast<const uint8_t*>(p.data()), p.size()});
    }
    EXPECT_EQ(hooks_->on_upstream_body(c.ctx, chunks.data(), chunks.size(), end ? 1 : 0),
              AIGW_OK);
  }

  // The response arriving in pieces cut at `splits`, one body call each.
  void body_split(Call& c, const std::string& bytes, const std::vector<size_t>& splits) {
    size_t from = 0;
    for (size_t at : splits) {
      body(c, {bytes.substr(from, at - from)}, false);
      from = at;
    }
    body(c, {bytes.substr(from)}, true);
  }

  void destroy(Call& c) {
    if (c.destroyed) return;
    c.destroyed = true;
    hooks_->request_destroy(c.ctx);
  }

  // Ends the newest call and frees it: loops over every split point would
  // otherwise keep thousands of responses alive.
  void forget(Call& c) {
    ASSERT_EQ(&c, calls_.back().get());
    destroy(c);
    calls_.pop_back();
  }

  const aigw_plugin_def* def_ = aigw_openai_plugin_entry();
  const aigw_hooks* hooks_ = def_->hooks;
  FakeHost host_{AIGW_MODE_HTTP};
  FakeConfig cfg_;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  std::vector<void*> instances_;
  std::string config_error_;
  std::vector<std::unique_ptr<Call>> calls_;
};

const std::string kChat =
    R"({"model":"gpt-5-nano","messages":[{"role":"user","content":"Hello!"}]})";
const std::string kChatStream =
    R"({"model":"gpt-5-nano","stream":true,"messages":[{"role":"user","content":"Hello!"}]})";
const std::string kEmbeddings = R"({"model":"text-embedding-3-small","input":"hi"})";

CallOptions stream_opts() { return opts().streaming(); }

// ---------------------------------------------------------------------------

TEST(OpenAiPluginEntry, DescribesAnHttpModePlugin) {
  const aigw_plugin_def* def = aigw_openai_plugin_entry();
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->struct_size, sizeof(aigw_plugin_def));
  EXPECT_EQ(def->abi_major, AIGW_ABI_MAJOR);
  EXPECT_EQ(def->abi_minor, AIGW_ABI_MINOR);
  EXPECT_STREQ(def->abi_signature, AIGW_ABI_SIGNATURE);
  EXPECT_STREQ(def->name, "openai");
  EXPECT_EQ(def->flags, 0u);
  const aigw_hooks* h = def->hooks;
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->struct_size, sizeof(aigw_hooks));
  EXPECT_EQ(h->mode, AIGW_MODE_HTTP);
  for (auto fn : {(void*)h->config_new, (void*)h->config_destroy, (void*)h->instance_new,
                  (void*)h->instance_destroy, (void*)h->request_new, (void*)h->request_destroy,
                  (void*)h->build_upstream, (void*)h->on_upstream_head, (void*)h->on_upstream_body,
                  (void*)h->health_probe, (void*)h->on_client_gone}) {
    EXPECT_NE(fn, nullptr);
  }
  EXPECT_EQ(h->list_models, nullptr);
  EXPECT_EQ(h->request_start, nullptr);
  EXPECT_EQ(h->on_timer, nullptr);
  EXPECT_EQ(h->on_process_output, nullptr);
  EXPECT_EQ(h->on_process_exit, nullptr);
}

// --- configuration ----------------------------------------------------------

TEST_F(OpenAiPluginTest, ReadsItsOwnKeysAndNoneOfTheHosts) {
  ASSERT_EQ(configure({{"name", std::string("openai-main")},
                       {"plugin", std::string("openai")},
                       {"base_url", std::string("https://api.openai.com/v1")},
                       {"models", std::vector<std::string>{"gpt-5-nano"}},
                       {"api_keys", std::vector<std::string>{"sk-a", "sk-b"}},
                       {"headers", std::vector<std::string>{"OpenAI-Organization: org-1"}},
                       {"api_style", std::string("openai")},
                       {"include_usage", false}}),
            AIGW_OK)
      << config_error_;
  EXPECT_EQ(cfg_.read, (std::set<std::string>{"api_keys", "headers", "api_style",
                                              "include_usage"}));
}

TEST_F(OpenAiPluginTest, AcceptsASingleKeyAndEnvironmentReferences) {
  ::setenv("AIGW_OPENAI_TEST_KEY", "sk-from-env", 1);
  setup({{"api_key", std::string("env:AIGW_OPENAI_TEST_KEY")}});
  Call& c = started(kChat);
  EXPECT_EQ(c.up_header("Authorization"), "Bearer sk-from-env");
  ::unsetenv("AIGW_OPENAI_TEST_KEY");
}

struct BadConfig {
  std::map<std::string, ConfigValue> values;
  std::string message;
};

class OpenAiPluginConfigTest : public OpenAiPluginTest,
                               public ::testing::WithParamInterface<BadConfig> {};

TEST_P(OpenAiPluginConfigTest, RejectsWithAMessageNamingTheKey) {
  EXPECT_EQ(configure(GetParam().values), AIGW_ERR_CONFIG);
  EXPECT_EQ(config_error_, GetParam().message);
  EXPECT_EQ(config_, nullptr);
  for (const std::string& s : cfg_.secrets) {
    if (!s.empty()) {
      EXPECT_EQ(config_error_.find(s), std::string::npos) << "secret in message";
    }
  }
}

const std::vector<std::string> kKey = {"sk-1"};

INSTANTIATE_TEST_SUITE_P(
    Keys, OpenAiPluginConfigTest,
    ::testing::Values(
        BadConfig{{},
                  "api_keys is required: a list of keys such as [\"env:OPENAI_API_KEY\"] (or "
                  "api_key with one); a server without authentication accepts any placeholder"},
        BadConfig{{{"api_keys", std::vector<std::string>{}}}, "api_keys must list at least one key"},
        BadConfig{{{"api_keys", std::string("sk-1")}}, "api_keys must be an array of strings"},
        BadConfig{{{"api_keys", kKey}, {"api_key", std::string("sk-2")}},
                  "give either api_key or api_keys, not both"},
        BadConfig{{{"api_key", int64_t{5}}},
                  "api_key must be a string, or \"env:NAME\" naming a set environment variable"},
        BadConfig{{{"api_keys", std::vector<std::string>{"sk-1", "env:AIGW_TEST_SURELY_UNSET"}}},
                  "api_keys[1] must be a string, or \"env:NAME\" naming a set environment "
                  "variable"},
        BadConfig{{{"api_keys", std::vector<std::string>{"sk-1", ""}}}, "api_keys[1] is empty"},
        BadConfig{{{"api_keys", std::vector<std::string>{"sk-secret\r\nX-Evil: 1"}}},
                  "api_keys[0] must be printable ASCII without spaces (is the environment "
                  "variable right?)"},
        BadConfig{{{"api_key", std::string("sk secret")}},
                  "api_key must be printable ASCII without spaces (is the environment variable "
                  "right?)"},
        BadConfig{{{"api_keys", kKey}, {"headers", std::string("X-A: 1")}},
                  "headers must be an array of strings"},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{"X-A 1"}}},
                  "headers[0] must look like \"Name: value\""},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{": 1"}}},
                  "headers[0] must look like \"Name: value\""},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{"X-A: 1", "X B: 2"}}},
                  "headers[1] has an invalid header name (letters, digits and !#$%&'*+-.^_`|~ "
                  "only, no spaces before the colon)"},
        BadConfig{{{"api_keys", kKey},
                   {"headers", std::vector<std::string>{"X-A: tok\r\nX-Evil: 1"}}},
                  "headers[0] (X-A) has a control character (CR, LF, NUL...) in its value"},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{"authorization: x"}}},
                  "headers[0]: authorization cannot be configured here (set by the plugin or the "
                  "host; keys go in api_keys)"},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{"Host: evil"}}},
                  "headers[0]: Host cannot be configured here (set by the plugin or the host; "
                  "keys go in api_keys)"},
        BadConfig{{{"api_keys", kKey}, {"headers", std::vector<std::string>{"X-A: 1", "x-a: 2"}}},
                  "headers[1]: x-a is listed twice"},
        BadConfig{{{"api_keys", kKey}, {"api_style", std::string("anthropic")}},
                  "api_style must be \"openai\" or \"azure\", got \"anthropic\""},
        BadConfig{{{"api_keys", kKey}, {"api_style", std::string("azure")}},
                  "azure_api_version is required with api_style = \"azure\" (e.g. "
                  "\"2024-10-21\")"},
        BadConfig{{{"api_keys", kKey}, {"azure_api_version", std::string("2024-10-21")}},
                  "azure_api_version is only used with api_style = \"azure\""},
        BadConfig{{{"api_keys", kKey},
                   {"api_style", std::string("azure")},
                   {"azure_api_version", std::string("2024&x=1")}},
                  "azure_api_version must be a version such as \"2024-10-21\" (letters, digits, "
                  "- . _)"},
        BadConfig{{{"api_keys", kKey}, {"include_usage", std::string("yes")}},
                  "include_usage must be true or false"}));

TEST_F(OpenAiPluginTest, ConfigErrorsNeverQuoteAKeyOrAHeaderValue) {
  EXPECT_EQ(configure({{"api_keys", std::vector<std::string>{"sk-TOPSECRET\n"}}}),
            AIGW_ERR_CONFIG);
  EXPECT_EQ(config_error_.find("TOPSECRET"), std::string::npos) << config_error_;
  EXPECT_EQ(configure({{"api_keys", kKey},
                       {"headers", std::vector<std::string>{"X-Proxy-Token: TOPSECRET\n"}}}),
            AIGW_ERR_CONFIG);
  EXPECT_EQ(config_error_.find("TOPSECRET"), std::string::npos) << config_error_;
}

TEST_F(OpenAiPluginTest, RefusesAnOlderHostTable) {
  aigw_host old = *host_.table();
  old.struct_size = offsetof(aigw_host, spawn);
  char buf[256] = "";
  aigw_errbuf err{buf, sizeof buf};
  EXPECT_EQ(hooks_->config_new(&old, nullptr, cfg_.handle(),
                               &config_, &err),
            AIGW_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(buf).find("too old"), std::string::npos) << buf;
}

// --- requests and upstream building -------------------------------------------

TEST_F(OpenAiPluginTest, RefusesOtherEndpointsAndMalformedRequests) {
  setup();
  CallOptions o;
  o.endpoint = 7;
  Call& c = request(kChat, o);
  EXPECT_EQ(c.new_status, AIGW_ERR_UNSUPPORTED);
  EXPECT_EQ(c.error, "the openai provider does not serve endpoint 7");

  aigw_client_request small{};
  small.struct_size = offsetof(aigw_client_request, model_value_offset);
  FakeRequest fr;
  void* ctx = nullptr;
  char buf[128] = "";
  aigw_errbuf err{buf, sizeof buf};
  EXPECT_EQ(hooks_->request_new(instance_, fr.handle(), &small, &ctx, &err), AIGW_ERR_INVALID);
  EXPECT_EQ(ctx, nullptr);
}

TEST_F(OpenAiPluginTest, OpenAiStyleHeadersAndAZeroCopyBody) {
  setup({{"headers", std::vector<std::string>{"OpenAI-Organization:  org-42 ", "X-Trace: a:b"}}});
  Call& c = started(kChat, opts().with({{"OpenAI-Beta", "assistants=v2"},
                                        {"OpenAI-Organization", "org-client"},
                                        {"OpenAI-Project", "proj-client"},
                                        {"X-Stainless-Lang", "js"},
                                        {"User-Agent", "curl"}}));
  EXPECT_EQ(c.up_path, "/chat/completions");  // the host's default stands
  EXPECT_EQ(c.up.body_unchanged, 1);
  EXPECT_EQ(c.up.body, c.prefilled_body.data());
  EXPECT_EQ(c.up_headers, (std::vector<std::pair<std::string, std::string>>{
                              {"Authorization", "Bearer sk-test-0"},
                              {"Content-Type", "application/json"},
                              {"Accept", "application/json"},
                              {"OpenAI-Organization", "org-42"},
                              {"X-Trace", "a:b"},
                              {"OpenAI-Beta", "assistants=v2"},
                          }));
}

TEST_F(OpenAiPluginTest, StreamsAskForEventStreams) {
  setup({{"include_usage", false}});
  Call& c = started(kChatStream, stream_opts());
  EXPECT_EQ(c.up_header("Accept"), "text/event-stream");
  EXPECT_EQ(c.up.body_unchanged, 1);
}

TEST_F(OpenAiPluginTest, AConfiguredBetaHeaderWinsOverTheClients) {
  setup({{"headers", std::vector<std::string>{"openai-beta: ops"}}});
  Call& c = started(kChat, opts().with({{"OpenAI-Beta", "client"}}));
  size_t betas = 0;
  for (const auto& [n, v] : c.up_headers) betas += n == "openai-beta" || n == "OpenAI-Beta";
  EXPECT_EQ(betas, 1u);
  EXPECT_EQ(c.up_header("openai-beta"), "ops");
}

TEST_F(OpenAiPluginTest, AzureStyleUsesTheDeploymentPathAndApiKey) {
  setup({{"api_style", std::string("azure")},
         {"azure_api_version", std::string("2024-10-21")},
         {"api_keys", std::vector<std::string>{"azure-key"}}});
  Call& chat = started(kChat, opts().up("my deployment/1"));
  EXPECT_EQ(chat.up_path,
            "/openai/deployments/my%20deployment%2F1/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(chat.up_header("api-key"), "azure-key");
  EXPECT_EQ(chat.up_header("Authorization"), "<none>");

  Call& emb = started(kEmbeddings, opts().ep(AIGW_ENDPOINT_EMBEDDINGS));
  EXPECT_EQ(emb.up_path,
            "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21");
  Call& comp = started(R"({"model":"babbage-002","prompt":"x"})",
                       opts().ep(AIGW_ENDPOINT_COMPLETIONS));
  EXPECT_EQ(comp.up_path, "/openai/deployments/babbage-002/completions?api-version=2024-10-21");
}

TEST_F(OpenAiPluginTest, KeysRotateRoundRobinPerWorker) {
  setup({{"api_keys", std::vector<std::string>{"k0", "k1", "k2"}}});
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) seen.push_back(started(kChat).up_header("Authorization"));
  EXPECT_EQ(seen, (std::vector<std::string>{"Bearer k0", "Bearer k1", "Bearer k2", "Bearer k0"}));

  // Another worker starts at its own key.
  void* w1 = add_instance(1, 2);
  Call& c = request(kChat, {}, w1);
  ASSERT_EQ(build(c), AIGW_OK);
  EXPECT_EQ(c.up_header("Authorization"), "Bearer k1");
}

TEST_F(OpenAiPluginTest, HostChosenKeyIndexPicksThatKey) {
  setup({{"api_keys", std::vector<std::string>{"k0", "k1", "k2"}}});
  EXPECT_EQ(hooks_->key_count(config_), 3u);
  EXPECT_EQ(started(kChat, opts().key(2)).up_header("Authorization"), "Bearer k2");
  EXPECT_EQ(started(kChat, opts().key(2)).up_header("Authorization"), "Bearer k2");
  EXPECT_EQ(started(kChat, opts().key(0)).up_header("Authorization"), "Bearer k0");
  // Out of range (a host bug): the plugin's own rotation, never a crash.
  EXPECT_EQ(started(kChat, opts().key(7)).up_header("Authorization"), "Bearer k0");
}

TEST_F(OpenAiPluginTest, HealthProbeSendsOnlyTheCredential) {
  setup({{"api_keys", std::vector<std::string>{"k0", "k1"}}});
  Call& c = request("", opts().ep(AIGW_ENDPOINT_HEALTH_PROBE).key(1));
  ASSERT_EQ(c.new_status, AIGW_OK);
  ASSERT_EQ(build(c), AIGW_OK);
  EXPECT_EQ(c.up_header("Authorization"), "Bearer k1");
  EXPECT_EQ(c.up_header("Content-Type"), "<none>");
}

TEST_F(OpenAiPluginTest, SplicesTheUpstreamModelNameEscaped) {
  setup();
  const std::string name = "ft:gpt \"x\"\\y\n\x01/é";
  Call& c = started(kChat, opts().up(name));
  EXPECT_EQ(c.up.body_unchanged, 0);
  EXPECT_EQ(c.up_body,
            R"({"model":"ft:gpt \"x\"\\y\n\u0001/é","messages":[{"role":"user","content":"Hello!"}]})");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(c.up_body).get(root), simdjson::SUCCESS);
  EXPECT_EQ(std::string(root["model"].get_string().value()), name);
}

TEST_F(OpenAiPluginTest, ModelSpliceWorksAcrossEveryChunkSplit) {
  setup();
  const std::string body =
      R"({ "messages":[{"role":"user","content":"Hi"}], "model" : "gpt-4o", "n":1 })";
  const std::string want =
      R"({ "messages":[{"role":"user","content":"Hi"}], "model" : "gpt-4o-2024-08-06", "n":1 })";
  for (size_t a = 0; a <= body.size(); ++a) {
    for (size_t b = a; b <= body.size(); b += 7) {
      Call& c = started(body, opts().up("gpt-4o-2024-08-06").split({a, b}));
      ASSERT_EQ(c.up_body, want) << "split at " << a << ", " << b;
      EXPECT_LE(c.up_body_chunks, 3u + 2u);
      for (size_t i = 0; i < c.up.body_count; ++i) EXPECT_GT(c.up.body[i].len, 0u);
      forget(c);
    }
  }
}

TEST_F(OpenAiPluginTest, AddsIncludeUsageToStreamsWithoutStreamOptions) {
  setup();
  Call& c = started(" \n" + kChatStream, stream_opts());
  EXPECT_EQ(c.up.body_unchanged, 0);
  EXPECT_EQ(c.up_body, " \n{\"stream_options\":{\"include_usage\":true}," + kChatStream.substr(1));

  // Both edits at once, the body in pieces.
  Call& d = started(kChatStream, opts().streaming().up("m\"2").split({1, 12}));
  EXPECT_EQ(d.up_body,
            R"({"stream_options":{"include_usage":true},"model":"m\"2","stream":true,)"
            R"("messages":[{"role":"user","content":"Hello!"}]})");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(d.up_body).get(root), simdjson::SUCCESS);
}

TEST_F(OpenAiPluginTest, LeavesClientStreamOptionsAndNonStreamsAlone) {
  setup();
  for (const std::string& body :
       {std::string(R"({"model":"gpt-5-nano","stream":true,"stream_options":{"include_usage":true}})"),
        std::string(R"({"model":"gpt-5-nano","stream":true,"stream_options":{}})"),
        std::string(R"({"model":"gpt-5-nano","stream":true,"stream_options":null})")}) {
    Call& c = started(body, stream_opts());
    EXPECT_EQ(c.up.body_unchanged, 1) << body;
  }
  EXPECT_EQ(started(kChat).up.body_unchanged, 1);
  // Embeddings never stream, whatever the flag says.
  EXPECT_EQ(started(kEmbeddings, opts().ep(AIGW_ENDPOINT_EMBEDDINGS).streaming())
                .up.body_unchanged,
            1);
}

// A host of ABI 1.5 says whether the body has stream_options, so the
// plugin does not scan it; the upstream body must be what the scan gave.
// An escaped key is the one case where they differ, on purpose: the host
// compares keys as JSON means them (and the provider reads them so).
TEST_F(OpenAiPluginTest, TheHostsBodyFactsSpareTheScan) {
  setup();
  struct Case {
    std::string body;
    std::vector<size_t> splits;
    bool spliced;
  };
  const Case cases[] = {
      {kChatStream, {}, true},
      {" \n\t" + kChatStream, {}, true},
      {" \n\t" + kChatStream, {1, 2, 4}, true},
      {"\r\n" + kChatStream + "\n", {2}, true},
      {R"({"model":"gpt-5-nano","stream":true,"stream_options":{"include_usage":false}})", {}, false},
      {R"({"model":"gpt-5-nano","stream":true,"stream_options":null})", {}, false},
      {R"({"model":"gpt-5-nano","stream":true,"x":{"stream_options":null}})", {}, true},
      // bytes after the object: no facts, and the scan does not splice
      {kChatStream + " x", {}, false},
  };
  for (const Case& k : cases) {
    Call& scanned = started(k.body, stream_opts().split(k.splits));
    Call& told = started(k.body, stream_opts().split(k.splits).host_facts());
    EXPECT_EQ(told.up.body_unchanged, k.spliced ? 0 : 1) << k.body;
    EXPECT_EQ(told.up_body, scanned.up_body) << k.body;
    EXPECT_EQ((told.client.body_facts & AIGW_BODY_READ) != 0, k.body.back() != 'x') << k.body;
  }
  // The spliced body is the request with the option added, and valid JSON.
  Call& c = started(" \n" + kChatStream, stream_opts().host_facts());
  EXPECT_EQ(c.up_body, " \n{\"stream_options\":{\"include_usage\":true}," + kChatStream.substr(1));

  const std::string escaped = R"({"model":"gpt-5-nano","stream":true,"stream_\u006fptions":{}})";
  EXPECT_EQ(started(escaped, stream_opts().host_facts()).up.body_unchanged, 1);
  EXPECT_EQ(started(escaped, stream_opts()).up.body_unchanged, 0) << "the scan compares keys raw";
  // Facts without AIGW_BODY_READ say nothing: the body is scanned.
  EXPECT_EQ(started(kChatStream, stream_opts().facts(AIGW_BODY_HAS_STREAM_OPTIONS)).up.body_unchanged, 0);
}

TEST_F(OpenAiPluginTest, IncludeUsageCanBeTurnedOff) {
  setup({{"include_usage", false}});
  EXPECT_EQ(started(kChatStream, stream_opts()).up.body_unchanged, 1);
}

TEST_F(OpenAiPluginTest, CompletionsStreamsGetIncludeUsageToo) {
  setup();
  Call& c = started(R"({"model":"babbage-002","prompt":"x","stream":true})",
                    opts().ep(AIGW_ENDPOINT_COMPLETIONS).streaming());
  EXPECT_EQ(c.up_body,
            R"({"stream_options":{"include_usage":true},"model":"babbage-002","prompt":"x","stream":true})");
}

// --- verdicts ---------------------------------------------------------------------

TEST_F(OpenAiPluginTest, ClassifiesEveryStatus) {
  setup();
  const std::vector<std::pair<int32_t, aigw_error_class>> cases = {
      {200, AIGW_ERROR_NONE},         {201, AIGW_ERROR_NONE},        {400, AIGW_ERROR_CLIENT},
      {404, AIGW_ERROR_CLIENT},       {413, AIGW_ERROR_CLIENT},      {422, AIGW_ERROR_CLIENT},
      {401, AIGW_ERROR_KEY_INVALID},  {403, AIGW_ERROR_KEY_INVALID}, {429, AIGW_ERROR_RATE_LIMITED},
      {408, AIGW_ERROR_RETRYABLE},    {409, AIGW_ERROR_RETRYABLE},   {500, AIGW_ERROR_RETRYABLE},
      {502, AIGW_ERROR_RETRYABLE},    {503, AIGW_ERROR_RETRYABLE},   {504, AIGW_ERROR_RETRYABLE},
      {529, AIGW_ERROR_RETRYABLE},    {302, AIGW_ERROR_RETRYABLE},
  };
  for (auto [status, cls] : cases) {
    Call& c = started(kChat);
    aigw_upstream_verdict v = head(c, status);
    EXPECT_EQ(v.error_class, cls) << status;
    EXPECT_EQ(v.retry_after_ms, 0u) << status;
    // Only answers no other channel could improve start the response now.
    bool final_now = cls == AIGW_ERROR_NONE || cls == AIGW_ERROR_CLIENT;
    EXPECT_EQ(c.fr.respond_calls, final_now ? 1 : 0) << status;
  }
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

TEST_F(OpenAiPluginTest, RateLimitsCarryTheRetryDelay) {
  setup();
  std::time_t now = std::time(nullptr);
  const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, uint64_t>> cases = {
      {{}, 0},
      {{{"Retry-After", "7"}}, 7000},
      {{{"retry-after", " 20 "}}, 20000},
      {{{"Retry-After", "0"}}, 0},
      {{{"Retry-After", "7200"}}, 3'600'000},
      {{{"Retry-After", "99999999999999999999"}}, 3'600'000},
      {{{"Retry-After", http_date(now - 60)}}, 0},
      {{{"Retry-After", "Sun, 06 Nov 2101 08:49:37 GMT"}}, 3'600'000},
      {{{"Retry-After", "soon"}}, 0},
      {{{"retry-after-ms", "1500"}}, 1500},
      {{{"retry-after-ms", "1.2"}}, 2},
      {{{"Retry-After", "9"}, {"retry-after-ms", "1500"}}, 1500},
      {{{"Retry-After", "junk"}, {"x-ratelimit-reset-requests", "2s"}}, 2000},
      {{{"x-ratelimit-reset-requests", "1s"}}, 1000},
      {{{"x-ratelimit-reset-requests", "6m0s"}}, 360'000},
      {{{"x-ratelimit-reset-requests", "250ms"}}, 250},
      {{{"x-ratelimit-reset-requests", "1m30.5s"}}, 90'500},
      {{{"x-ratelimit-reset-requests", "17.5us"}}, 1},
      {{{"x-ratelimit-reset-requests", "2h"}}, 3'600'000},
      {{{"x-ratelimit-reset-requests", "5"}}, 0},
      {{{"x-ratelimit-reset-requests", "1x"}}, 0},
  };
  for (const auto& [headers, want] : cases) {
    Call& c = started(kChat);
    aigw_upstream_verdict v = head(c, 429, headers);
    EXPECT_EQ(v.error_class, AIGW_ERROR_RATE_LIMITED);
    EXPECT_EQ(v.retry_after_ms, want) << (headers.empty() ? "" : headers[0].second);
  }
  // An HTTP date two minutes ahead; the clock may tick meanwhile.
  Call& c = started(kChat);
  aigw_upstream_verdict v = head(c, 429, {{"Retry-After", http_date(now + 120)}});
  EXPECT_GE(v.retry_after_ms, 115'000u);
  EXPECT_LE(v.retry_after_ms, 120'000u);
}

TEST_F(OpenAiPluginTest, AVerdictStaysInsideAnOlderHostStruct) {
  setup();
  Call& c = started(kChat);
  aigw_upstream_verdict v{};
  v.struct_size = offsetof(aigw_upstream_verdict, retry_after_ms);
  v.retry_after_ms = 777;
  aigw_host_header h{{"Retry-After", 11}, {"5", 1}};
  ASSERT_EQ(hooks_->on_upstream_head(c.ctx, 429, &h, 1, &v), AIGW_OK);
  EXPECT_EQ(v.error_class, AIGW_ERROR_RATE_LIMITED);
  EXPECT_EQ(v.retry_after_ms, 777u);
}

TEST_F(OpenAiPluginTest, ResponseHeadersPassOnlyWhatIsSafe) {
  setup();
  Call& c = started(kChat);
  head(c, 200, {{"Content-Type", "application/json; charset=utf-8"},
                {"X-Request-Id", "req_123"},
                {"openai-processing-ms", "42"},
                {"Set-Cookie", "__cf_bm=abc"},
                {"openai-organization", "org-secret"},
                {"x-ratelimit-remaining-requests", "9"},
                {"Content-Length", "10"}});
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.headers, (std::vector<std::pair<std::string, std::string>>{
                              {"Content-Type", "application/json; charset=utf-8"},
                              {"x-request-id", "req_123"},
                              {"openai-processing-ms", "42"},
                          }));
}

TEST_F(OpenAiPluginTest, AStreamWithoutContentTypeGetsEventStream) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(c.fr.header("Cache-Control"), "no-cache");
}

// --- non-stream bodies ----------------------------------------------------------------

struct PlainCase {
  const char* fixture;
  aigw_endpoint endpoint;
  uint64_t prompt, completion, total;
  int reasons;  // report_finish_reason calls expected
  aigw_finish_reason reason;
};

TEST_F(OpenAiPluginTest, NonStreamBodiesPassThroughWithUsageAtEveryByteSplit) {
  setup();
  const PlainCase cases[] = {
      {"chat-basic.json", AIGW_ENDPOINT_CHAT_COMPLETIONS, 8, 377, 385, 1, AIGW_FINISH_STOP},
      {"chat-tools.json", AIGW_ENDPOINT_CHAT_COMPLETIONS, 162, 287, 449, 1, AIGW_FINISH_TOOL_CALLS},
      {"completion-basic.json", AIGW_ENDPOINT_COMPLETIONS, 31, 25, 56, 1, AIGW_FINISH_LENGTH},
      {"embeddings-base64.json", AIGW_ENDPOINT_EMBEDDINGS, 7, 0, 7, 0, AIGW_FINISH_UNKNOWN},
  };
  for (const PlainCase& pc : cases) {
    Recorded rec = load_fixture(pc.fixture);
    ASSERT_EQ(rec.status, 200);
    for (size_t at = 0; at <= rec.response_body.size(); ++at) {
      Call& c = started(rec.request_body, opts().ep(pc.endpoint));
      head(c, 200, {{"Content-Type", "application/json"}});
      body_split(c, rec.response_body, {at});
      ASSERT_EQ(c.fr.body(), rec.response_body) << pc.fixture;
      ASSERT_EQ(c.fr.finish_calls, 1);
      EXPECT_EQ(c.fr.finish_status, AIGW_OK);
      ASSERT_EQ(c.fr.usage_calls, 1) << pc.fixture << " split at " << at;
      EXPECT_EQ(c.fr.usage.prompt_tokens, pc.prompt);
      EXPECT_EQ(c.fr.usage.completion_tokens, pc.completion);
      EXPECT_EQ(c.fr.usage.total_tokens, pc.total);
      ASSERT_EQ(c.fr.reason_calls, pc.reasons) << pc.fixture << " split at " << at;
      EXPECT_EQ(c.fr.reason, pc.reason);
      forget(c);
    }
  }
}

TEST_F(OpenAiPluginTest, LargeEmbeddingsAreScannedByteByByte) {
  setup();
  Recorded rec = load_fixture("embeddings-basic.json");
  Call& c = started(rec.request_body, opts().ep(AIGW_ENDPOINT_EMBEDDINGS));
  head(c, 200);
  for (char ch : rec.response_body) body(c, {std::string(1, ch)}, false);
  body(c, {}, true);
  EXPECT_EQ(c.fr.body(), rec.response_body);
  EXPECT_EQ(c.fr.emits.size(), rec.response_body.size());  // emitted as it came
  ASSERT_EQ(c.fr.usage_calls, 1);
  EXPECT_EQ(c.fr.usage.prompt_tokens, 7u);
  EXPECT_EQ(c.fr.usage.total_tokens, 7u);
}

TEST_F(OpenAiPluginTest, UsageIsFoundWhereverItIsAndOnlyAtTheTop) {
  setup();
  Call& c = started(kChat);
  head(c, 200);
  body(c, {R"({"usage" : { "prompt_tokens": 3, "completion_tokens": 4 } ,)",
           R"("choices":[{"index":0,"finish_reason":null,"message":{"content":"{\"usage\":{}}"}},)",
           R"({"index":1,"finish_reason":"stop"}], "x": {"usage": {"prompt_tokens": 99}}})"});
  ASSERT_EQ(c.fr.usage_calls, 1);
  EXPECT_EQ(c.fr.usage.prompt_tokens, 3u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 4u);
  EXPECT_EQ(c.fr.usage.total_tokens, 7u);  // summed when absent
  EXPECT_EQ(c.fr.reason_calls, 0);         // choices[0] had none
}

// A whole answer in the call that ends it is read in one On-Demand pass;
// the same bytes in pieces go through the scanner. Both must report the
// same, on the documents where the two could part: duplicate and escaped
// keys, a null usage after a good one, a first choice that is not an
// object, a reason that is not a string, usage and choices nested where
// they do not count.
TEST_F(OpenAiPluginTest, AWholeAnswerReadsAsTheSameAnswerInPieces) {
  setup();
  struct Want {
    const char* doc;
    int usage_calls;
    uint64_t prompt;
    int reason_calls;
    aigw_finish_reason reason;
  };
  const Want cases[] = {
      {R"({"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":3}})", 1, 2, 0,
       AIGW_FINISH_UNKNOWN},
      {R"({"usage":{"prompt_tokens":1},"usage":null,"choices":[{"finish_reason":"stop"}]})", 0, 0, 1,
       AIGW_FINISH_STOP},
      {R"({"us\u0061ge":{"prompt_tokens":1},"choices":[{"finish_re\u0061son":"stop"}]})", 0, 0, 0,
       AIGW_FINISH_UNKNOWN},
      {R"({"choices":[null,{"finish_reason":"stop"}],"usage":{"total_tokens":4}})", 1, 0, 0,
       AIGW_FINISH_UNKNOWN},
      {R"({"choices":[{"finish_reason":"stop","finish_reason":"length"}]})", 0, 0, 1, AIGW_FINISH_LENGTH},
      {R"({"choices":[{"finish_reason":{"why":"stop"}}]})", 0, 0, 1, AIGW_FINISH_UNKNOWN},
      {R"({"choices":[{"finish_reason":null}]})", 0, 0, 0, AIGW_FINISH_UNKNOWN},
      {R"({"choices":[{"finish_reason":"st\\op"}]})", 0, 0, 1, AIGW_FINISH_UNKNOWN},
      {R"({"choices":[{"finish_reason":"tool_calls"}],"choices":[{"index":0}]})", 0, 0, 1,
       AIGW_FINISH_TOOL_CALLS},
      {R"({"choices":{"0":{"finish_reason":"stop"}},"x":{"usage":{"prompt_tokens":9}}})", 0, 0, 0,
       AIGW_FINISH_UNKNOWN},
      {R"( { "choices" : [ { "finish_reason" : "content_filter" } ] , "usage" : { "prompt_tokens" : 5 } } )", 1, 5,
       1, AIGW_FINISH_CONTENT_FILTER},
  };
  for (const Want& w : cases) {
    const std::string doc = w.doc;
    for (size_t at = 0; at <= doc.size(); ++at) {
      Call& c = started(kChat);
      head(c, 200);
      body_split(c, doc, {at});  // at 0: whole in the last call
      ASSERT_EQ(c.fr.body(), doc);
      ASSERT_EQ(c.fr.usage_calls, w.usage_calls) << doc << " split at " << at;
      if (w.usage_calls == 1) {
        EXPECT_EQ(c.fr.usage.prompt_tokens, w.prompt) << doc;
      }
      ASSERT_EQ(c.fr.reason_calls, w.reason_calls) << doc << " split at " << at;
      if (w.reason_calls == 1) {
        EXPECT_EQ(c.fr.reason, w.reason) << doc;
      }
      forget(c);
    }
  }
}

// What the one pass refuses (a cut answer, bytes that are not UTF-8, one
// over its size limit, a root that is not an object) is read by the
// scanner instead, so it reports what it always did. Bytes after the root
// are ignored by both.
TEST_F(OpenAiPluginTest, AnAnswerTheOnePassRefusesIsScanned) {
  setup();
  const std::string usage = R"("usage":{"prompt_tokens":3,"completion_tokens":1})";
  const std::string long_text(70 * 1024, 'x');
  const std::string docs[] = {
      "{" + usage + R"(,"choices":[{"finish_reason":"stop")",         // cut off
      "{" + usage + ",\"choices\":[{\"message\":\"\xff\xfe\"}]}",       // not UTF-8
      "{" + usage + R"(,"choices":[{"message":")" + long_text + "\"}]}",  // long
      "{" + usage + R"(,"choices":[{"finish_reason":"stop"}]} trailing)",
  };
  for (const std::string& doc : docs) {
    Call& c = started(kChat);
    head(c, 200);
    body(c, {doc});
    EXPECT_EQ(c.fr.body(), doc);
    ASSERT_EQ(c.fr.usage_calls, 1) << doc.substr(0, 80);
    EXPECT_EQ(c.fr.usage.prompt_tokens, 3u);
    EXPECT_EQ(c.fr.usage.total_tokens, 4u);
    EXPECT_EQ(c.fr.finish_calls, 1);
    forget(c);
  }
  Call& list = started(kChat);
  head(list, 200);
  body(list, {R"([{"usage":{"prompt_tokens":3}}])"});
  EXPECT_EQ(list.fr.usage_calls, 0);
  EXPECT_EQ(list.fr.finish_calls, 1);
}

// ABI 1.4: the cached and reasoning parts from the *_details objects, in a
// whole answer and in a stream's usage chunk; parts above their whole are
// capped, null details count 0.
TEST_F(OpenAiPluginTest, UsageDetailsGiveCachedAndReasoningTokens) {
  setup();
  Call& c = started(kChat);
  head(c, 200);
  body(c, {R"({"choices":[{"index":0,"finish_reason":"stop","message":{"content":"hi"}}],)",
           R"("usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,)",
           R"("prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},)",
           R"("completion_tokens_details":{"reasoning_tokens":256,"accepted_prediction_tokens":0}}})"});
  ASSERT_EQ(c.fr.usage_calls, 1);
  EXPECT_EQ(c.fr.usage.struct_size, sizeof(aigw_usage));
  EXPECT_EQ(c.fr.usage.prompt_tokens, 2006u);
  EXPECT_EQ(c.fr.usage.cached_tokens, 1920u);
  EXPECT_EQ(c.fr.usage.reasoning_tokens, 256u);

  Call& odd = started(kChat);
  head(odd, 200);
  body(odd, {R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,)",
             R"("prompt_tokens_details":{"cached_tokens":9},"completion_tokens_details":null}})"});
  ASSERT_EQ(odd.fr.usage_calls, 1);
  EXPECT_EQ(odd.fr.usage.cached_tokens, 5u) << "capped at the prompt";
  EXPECT_EQ(odd.fr.usage.reasoning_tokens, 0u);

  Call& s = started(kChatStream, stream_opts());
  head(s, 200);
  body(s, {"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":null}],\"usage\":null}\n\n",
           "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20,\"total_tokens\":30,"
           "\"prompt_tokens_details\":{\"cached_tokens\":4},\"completion_tokens_details\":{\"reasoning_tokens\":12}}}\n\n",
           "data: [DONE]\n\n"}, true);
  ASSERT_EQ(s.fr.usage_calls, 1);
  EXPECT_EQ(s.fr.usage.cached_tokens, 4u);
  EXPECT_EQ(s.fr.usage.reasoning_tokens, 12u);
}

TEST_F(OpenAiPluginTest, ErrorBodiesPassThroughUnchanged) {
  setup();
  for (const char* name : {"chat-bad-request.json", "chat-unknown-model.json",
                           "embeddings-bad-request.json"}) {
    Recorded rec = load_fixture(name);
    Call& c = started(rec.request_body);
    aigw_upstream_verdict v = head(c, rec.status, {{"content-type", "application/json"}});
    EXPECT_EQ(v.error_class, AIGW_ERROR_CLIENT);
    body_split(c, rec.response_body, {5, 40});
    EXPECT_EQ(c.fr.status, rec.status);
    EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
    EXPECT_EQ(c.fr.body(), rec.response_body);
    EXPECT_EQ(c.fr.finish_status, AIGW_OK);
    EXPECT_EQ(c.fr.usage_calls, 0);
    EXPECT_EQ(c.fr.reason_calls, 0);
  }
}

TEST_F(OpenAiPluginTest, ARetryableAnswerTheHostDeliversAnywayStartsAtTheBody) {
  setup();
  const std::string err = R"({"error":{"message":"Rate limit reached","type":"requests"}})";
  Call& c = started(kChatStream, stream_opts());
  aigw_upstream_verdict v = head(c, 429, {{"Content-Type", "application/json"},
                                          {"x-request-id", "req_9"},
                                          {"retry-after", "3"}});
  EXPECT_EQ(v.retry_after_ms, 3000u);
  EXPECT_EQ(c.fr.respond_calls, 0);
  body(c, {err});
  EXPECT_EQ(c.fr.status, 429);
  EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
  EXPECT_EQ(c.fr.header("x-request-id"), "req_9");
  EXPECT_EQ(c.fr.header("Cache-Control"), "<none>");
  EXPECT_EQ(c.fr.body(), err);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

// --- streams --------------------------------------------------------------------------

TEST_F(OpenAiPluginTest, StreamsForwardWholeEventsAtEverySplitPoint) {
  setup();
  Recorded rec = load_fixture("chat-streaming.json");
  const std::vector<std::string> events = split_events(rec.response_body);
  ASSERT_GT(events.size(), 10u);
  ASSERT_EQ(events.back(), "data: [DONE]\n\n");
  for (size_t at = 0; at <= rec.response_body.size(); ++at) {
    Call& c = started(rec.request_body, stream_opts());
    head(c, 200, {{"Content-Type", "text/event-stream; charset=utf-8"}});
    body_split(c, rec.response_body, {at});
    ASSERT_EQ(events_of(c.fr), events) << "split at " << at;
    ASSERT_EQ(c.fr.finish_calls, 1);
    EXPECT_EQ(c.fr.finish_status, AIGW_OK);
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
    EXPECT_EQ(c.fr.usage_calls, 0);  // this recording has no usage chunk
    forget(c);
  }
}

// A role chunk, `tokens` content chunks, a finish chunk and [DONE].
std::vector<std::string> token_stream(int tokens) {
  std::vector<std::string> events;
  events.push_back(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"finish_reason\":null}]}\n\n");
  for (int i = 0; i < tokens; ++i) {
    events.push_back("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t" + std::to_string(i) +
                     "\"},\"finish_reason\":null}]}\n\n");
  }
  events.push_back("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
  events.push_back("data: [DONE]\n\n");
  return events;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string all;
  for (const std::string& p : parts) all += p;
  return all;
}

// A fast upstream's read holds many events, each its own HTTP chunk once
// the host has decoded them: they go out with one emit per read (of at
// most 16 chunks), not one per event, and the commit still comes right
// after the first content event, which has gone out by then.
TEST_F(OpenAiPluginTest, TheEventsOfOneReadGoOutTogether) {
  setup();
  const std::vector<std::string> events = token_stream(40);
  Call& c = started(kChatStream, stream_opts());
  head(c, 200, {{"Content-Type", "text/event-stream"}});
  body(c, events, true);
  EXPECT_EQ(events_of(c.fr), events);
  // The role and the first token, the commit, then the 41 others by 16.
  EXPECT_EQ(c.fr.emit_parts, (std::vector<size_t>{2, 16, 16, 9}));
  EXPECT_EQ(c.fr.commits, (std::vector<size_t>{1}));
  EXPECT_EQ(commit_events(c.fr), (std::vector<size_t>{2}));
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);

  // Events side by side in one chunk are one piece of one emit.
  Call& d = started(kChatStream, stream_opts());
  head(d, 200);
  body(d, {joined(events)}, true);
  EXPECT_EQ(events_of(d.fr), events);
  EXPECT_EQ(d.fr.emit_parts, (std::vector<size_t>{1, 1}));
  EXPECT_EQ(commit_events(d.fr), (std::vector<size_t>{2}));
}

// An event cut across two chunks is put together in the splitter's buffer,
// which lives only while the plugin looks at it: the events queued before
// it go out first, then it, and the order is the upstream's at every cut.
TEST_F(OpenAiPluginTest, AnEventAcrossChunksKeepsTheOrder) {
  setup();
  const std::vector<std::string> events = token_stream(6);
  const std::string all = joined(events);
  for (size_t at = 1; at < all.size(); ++at) {
    Call& c = started(kChatStream, stream_opts());
    head(c, 200);
    body(c, {all.substr(0, at), all.substr(at)}, true);
    ASSERT_EQ(events_of(c.fr), events) << "cut at " << at;
    ASSERT_EQ(commit_events(c.fr), (std::vector<size_t>{2})) << "cut at " << at;
    forget(c);
  }
}

// The batch is the worker's, shared by its requests: one whose client left
// while events were queued must not leave them for the next request.
TEST_F(OpenAiPluginTest, QueuedEventsNeverReachAnotherRequest) {
  setup();
  const std::vector<std::string> events = token_stream(4);
  Call& a = started(kChatStream, stream_opts());
  head(a, 200);
  body(a, {events[0], events[1]}, false);  // committed
  a.fr.client_closed = true;
  body(a, {events[2], events[3], events[4]}, false);
  EXPECT_EQ(a.fr.emits.size(), 1u);
  EXPECT_EQ(a.fr.finish_calls, 0);

  Call& b = started(kChatStream, stream_opts());
  head(b, 200);
  body(b, {events[0], events[1], events[2]}, false);
  EXPECT_EQ(b.fr.body(), events[0] + events[1] + events[2]);
  EXPECT_EQ(a.fr.emits.size(), 1u);
}

// An event too big to buffer ends the stream, and the events of the same
// read before it still reach the client first.
TEST_F(OpenAiPluginTest, EventsBeforeAnEndlessOneStillGoOut) {
  setup();
  const std::vector<std::string> events = token_stream(2);
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  std::string big = "data: " + std::string(17u << 20, 'x');
  body(c, {events[0], events[1], events[2], big}, false);
  EXPECT_EQ(events_of(c.fr), (std::vector<std::string>{events[0], events[1], events[2]}));
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(c.fr.finish_message, "upstream sent a stream event larger than 16 MiB");
}

// ABI 1.2: the plugin tells the host when content begins (host->commit),
// right after the first event with a token; the role-only chunk before it
// may still be held back and replaced by another channel's answer.
TEST_F(OpenAiPluginTest, CommitsAfterTheFirstContentEvent) {
  setup();
  Recorded rec = load_fixture("chat-streaming.json");
  const std::vector<std::string> events = split_events(rec.response_body);
  // The recording opens with the role chunk (content ""), then tokens.
  ASSERT_NE(events[0].find(R"("content":"")"), std::string::npos) << events[0];
  ASSERT_EQ(events[1].find(R"("content":"")"), std::string::npos) << events[1];
  ASSERT_NE(events[1].find(R"("content":")"), std::string::npos) << events[1];
  for (size_t at = 0; at <= rec.response_body.size(); at += 7) {
    Call& c = started(rec.request_body, stream_opts());
    head(c, 200, {{"Content-Type", "text/event-stream"}});
    body_split(c, rec.response_body, {at});
    ASSERT_EQ(commit_events(c.fr), (std::vector<size_t>{2})) << "split at " << at;
    forget(c);
  }
}

TEST_F(OpenAiPluginTest, ToolCallsAndDoneCountAsContent) {
  setup();
  const std::string tool =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\"}]}}]}\n\n"
      "data: [DONE]\n\n";
  Call& t = started(kChatStream, stream_opts());
  head(t, 200);
  body_split(t, tool, {});
  EXPECT_EQ(commit_events(t.fr), (std::vector<size_t>{2}));
  // A stream with no content at all commits at its end, on [DONE].
  const std::string empty =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  Call& e = started(kChatStream, stream_opts());
  head(e, 200);
  body_split(e, empty, {});
  EXPECT_EQ(commit_events(e.fr), (std::vector<size_t>{3}));
}

TEST_F(OpenAiPluginTest, AnOlderHostIsNeverAskedToCommit) {
  // A 1.1 host's table ends before commit: the plugin must not reach past
  // it (the host sniffs the stream itself). The fake records a call anyway.
  host_.set_minor(1);
  setup();
  Recorded rec = load_fixture("chat-streaming.json");
  Call& c = started(rec.request_body, stream_opts());
  head(c, 200, {{"Content-Type", "text/event-stream"}});
  body_split(c, rec.response_body, {});
  EXPECT_EQ(events_of(c.fr), split_events(rec.response_body));
  EXPECT_TRUE(c.fr.commits.empty());
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

TEST_F(OpenAiPluginTest, StreamsSurviveByteByByteAndManyPieceDeliveries) {
  setup();
  Recorded rec = load_fixture("completion-streaming.json");
  const std::vector<std::string> events = split_events(rec.response_body);
  {
    Call& c = started(rec.request_body, opts().ep(AIGW_ENDPOINT_COMPLETIONS).streaming());
    head(c, 200);
    for (char ch : rec.response_body) body(c, {std::string(1, ch)}, false);
    body(c, {}, true);
    EXPECT_EQ(events_of(c.fr), events);
    EXPECT_EQ(c.fr.finish_status, AIGW_OK);
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_LENGTH);
  }
  // Several chunks in one call, cut at a pseudo-random rhythm.
  uint32_t seed = 12345;
  std::vector<std::string> pieces;
  for (size_t pos = 0; pos < rec.response_body.size();) {
    seed = seed * 1103515245u + 12345u;
    size_t len = 1 + (seed >> 16) % 97;
    pieces.push_back(rec.response_body.substr(pos, len));
    pos += len;
  }
  Call& c = started(rec.request_body, opts().ep(AIGW_ENDPOINT_COMPLETIONS).streaming());
  head(c, 200);
  for (size_t i = 0; i < pieces.size(); i += 3) {
    std::vector<std::string> group(pieces.begin() + static_cast<std::ptrdiff_t>(i),
                                   pieces.begin() + static_cast<std::ptrdiff_t>(
                                                        std::min(i + 3, pieces.size())));
    body(c, group, false);
  }
  body(c, {}, true);
  EXPECT_EQ(events_of(c.fr), events);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

TEST_F(OpenAiPluginTest, TheUsageChunkWeAskedForIsReportedAndDropped) {
  setup();
  Recorded rec = load_fixture("chat-streaming-detailed-usage.json");
  std::vector<std::string> events = split_events(rec.response_body);
  ASSERT_NE(events[events.size() - 2].find("\"usage\":{"), std::string::npos);
  // The client did not ask: the plugin added include_usage, so the usage
  // chunk is its own business.
  for (size_t at = 0; at <= rec.response_body.size(); ++at) {
    Call& c = started(kChatStream, stream_opts());
    ASSERT_EQ(c.up.body_unchanged, 0);
    head(c, 200);
    body_split(c, rec.response_body, {at});
    std::vector<std::string> want = events;
    want.erase(want.end() - 2);
    ASSERT_EQ(events_of(c.fr), want) << "split at " << at;
    ASSERT_EQ(c.fr.usage_calls, 1);
    EXPECT_EQ(c.fr.usage.prompt_tokens, 12u);
    EXPECT_EQ(c.fr.usage.completion_tokens, 100u);
    EXPECT_EQ(c.fr.usage.total_tokens, 112u);
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_LENGTH);
    EXPECT_EQ(c.fr.finish_status, AIGW_OK);
    forget(c);
  }
}

TEST_F(OpenAiPluginTest, AUsageChunkTheClientAskedForIsForwarded) {
  setup();
  for (auto [name, ep] : {std::pair{"chat-streaming-detailed-usage.json",
                                    AIGW_ENDPOINT_CHAT_COMPLETIONS},
                          std::pair{"completion-streaming-usage.json", AIGW_ENDPOINT_COMPLETIONS}}) {
    Recorded rec = load_fixture(name);
    Call& c = started(rec.request_body, opts().ep(ep).streaming());
    EXPECT_EQ(c.up.body_unchanged, 1) << name;
    head(c, 200);
    body(c, {rec.response_body});
    EXPECT_EQ(events_of(c.fr), split_events(rec.response_body)) << name;
    ASSERT_EQ(c.fr.usage_calls, 1) << name;
    EXPECT_GT(c.fr.usage.total_tokens, 0u);
  }
}

TEST_F(OpenAiPluginTest, UsageOnAChunkWithContentIsKept) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  const std::string e1 =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n";
  body(c, {e1, "data: [DONE]\n\n"});
  EXPECT_EQ(events_of(c.fr), (std::vector<std::string>{e1, "data: [DONE]\n\n"}));
  EXPECT_EQ(c.fr.usage.total_tokens, 3u);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
}

// Most events are not scanned (only those where a usage or finish reason
// can be other than null are): the chunks OpenAI sends with include_usage,
// "usage":null and "finish_reason":null on each, then the real ones.
TEST_F(OpenAiPluginTest, NullUsageAndFinishChunksThenTheRealOnesAtEverySplit) {
  setup();
  const std::vector<std::string> events = {
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
      "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
      "\"finish_reason\":\"length\"}],\"usage\":null}\n\n",
      "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,"
      "\"total_tokens\":12}}\n\n",
      "data: [DONE]\n\n",
  };
  std::string all;
  for (const auto& e : events) all += e;
  std::vector<std::string> want = events;
  want.erase(want.end() - 2);  // the usage chunk the plugin asked for
  for (size_t at = 0; at <= all.size(); ++at) {
    Call& c = started(kChatStream, stream_opts());
    head(c, 200);
    body_split(c, all, {at});
    ASSERT_EQ(events_of(c.fr), want) << "split at " << at;
    ASSERT_EQ(c.fr.usage_calls, 1) << "split at " << at;
    EXPECT_EQ(c.fr.usage.total_tokens, 12u);
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_LENGTH) << "split at " << at;
    EXPECT_EQ(c.fr.finish_status, AIGW_OK);
    EXPECT_EQ(host_.logs.size(), 0u);
    forget(c);
  }
}

// An event that may carry a usage or a finish reason is read in one
// On-Demand pass when its data is one line, and by the scanner when it
// spans lines (or the pass refuses it). A payload on one line, and the same
// payload with an empty second data line (which joins as a trailing
// newline: the same JSON), must report the same: usage, reason, the usage
// chunk dropped or not, and what counts as garbage.
TEST_F(OpenAiPluginTest, AnEventReadsTheSameInOnePassAsScanned) {
  setup();
  struct Want {
    std::string payload;
    uint64_t total;  // the usage reported; 0: none
    int reason_calls;
    aigw_finish_reason reason;
    bool dropped;  // the usage chunk the plugin asked for
    bool garbage;
  };
  const std::string long_text(17 * 1024, 'x');
  const Want cases[] = {
      {R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})", 0, 1, AIGW_FINISH_STOP, false, false},
      {R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})", 12, 0,
       AIGW_FINISH_UNKNOWN, true, false},
      {R"({"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":{"total_tokens":3}})", 3,
       0, AIGW_FINISH_UNKNOWN, false, false},
      // every choice counts, the last reason other than null wins
      {R"({"choices":[{"index":0,"finish_reason":"stop"},{"index":1,"finish_reason":"length"}]})", 0, 1,
       AIGW_FINISH_LENGTH, false, false},
      {R"({"choices":[{"finish_reason":"tool_calls"},{"finish_reason":null}]})", 0, 1, AIGW_FINISH_TOOL_CALLS,
       false, false},
      {R"({"choices":[{"finish_reason":"stop","finish_reason":null}]})", 0, 1, AIGW_FINISH_STOP, false, false},
      // the last "choices" is the one counted
      {R"({"choices":[{"finish_reason":"stop"}],"choices":[],"usage":{"prompt_tokens":1}})", 1, 1,
       AIGW_FINISH_STOP, true, false},
      {R"({"choices":[],"choices":[{"finish_reason":"length"}],"usage":{"prompt_tokens":1}})", 1, 1,
       AIGW_FINISH_LENGTH, false, false},
      {R"({"choices":{"finish_reason":"stop"},"usage":{"prompt_tokens":1}})", 1, 0, AIGW_FINISH_UNKNOWN, true,
       false},
      {R"({"choices":[1,null,{"finish_reason":"length"}],"usage":{"prompt_tokens":2}})", 2, 1, AIGW_FINISH_LENGTH,
       false, false},
      // the last usage counts, null included
      {R"({"usage":{"prompt_tokens":1},"usage":null,"choices":[]})", 0, 0, AIGW_FINISH_UNKNOWN, false, false},
      {R"({"usage":null,"usage":{"prompt_tokens":4},"choices":[]})", 4, 0, AIGW_FINISH_UNKNOWN, true, false},
      {R"({"usage":{"prompt_tokens":2,"prompt_tokens_details":{"cached_tokens":1}},"choices":[]})", 2, 0,
       AIGW_FINISH_UNKNOWN, true, false},
      // look-alikes: escaped keys, a usage below the root, values that are
      // not a reason
      {R"({"us\u0061ge":{"prompt_tokens":1},"choices":[{"finish_re\u0061son":"stop"}],"x":{"finish_reason":"length"}})",
       0, 0, AIGW_FINISH_UNKNOWN, false, false},
      {R"({"choices":[{"delta":{"usage":{"total_tokens":5}},"finish_reason":"stop"}]})", 0, 1, AIGW_FINISH_STOP,
       false, false},
      {R"({"choices":[{"finish_reason":{"why":"stop"}}]})", 0, 1, AIGW_FINISH_UNKNOWN, false, false},
      {R"({"choices":[{"finish_reason":"st\\op"}]})", 0, 1, AIGW_FINISH_UNKNOWN, false, false},
      {R"( { "choices" : [ { "finish_reason" : "content_filter" } ] , "usage" : { "prompt_tokens" : 5 } } )", 5, 1,
       AIGW_FINISH_CONTENT_FILTER, false, false},
      // what the pass refuses, and the scanner reads as always
      {R"({"choices":[{"finish_reason":"stop"}]}{})", 0, 0, AIGW_FINISH_UNKNOWN, false, true},
      {R"({"choices":[{"finish_reason":"stop"}])", 0, 0, AIGW_FINISH_UNKNOWN, false, true},
      {R"([{"finish_reason":"stop"}])", 0, 0, AIGW_FINISH_UNKNOWN, false, true},
      {"{\"choices\":[{\"delta\":{\"content\":\"\xff\"},\"finish_reason\":\"stop\"}]}", 0, 1, AIGW_FINISH_STOP,
       false, false},
      {R"({"choices":[{"delta":{"content":")" + long_text + R"("},"finish_reason":"length"}]})", 0, 1,
       AIGW_FINISH_LENGTH, false, false},
  };
  for (const Want& w : cases) {
    const std::string label = w.payload.substr(0, 90);
    const std::string one = "data: " + w.payload + "\n\n";
    const std::string two = "data: " + w.payload + "\ndata:\n\n";
    for (const std::string& event : {one, two}) {
      host_.logs.clear();
      Call& c = started(kChatStream, stream_opts());
      ASSERT_EQ(c.up.body_unchanged, 0);  // include_usage was added: the usage chunk is the plugin's
      head(c, 200);
      body(c, {event, "data: [DONE]\n\n"});
      const bool two_lines = &event == &two;
      ASSERT_EQ(c.fr.usage_calls, w.total > 0 ? 1 : 0) << label << (two_lines ? " (two lines)" : "");
      if (w.total > 0) {
        EXPECT_EQ(c.fr.usage.total_tokens, w.total) << label;
      }
      ASSERT_EQ(c.fr.reason_calls, w.reason_calls) << label << (two_lines ? " (two lines)" : "");
      EXPECT_EQ(c.fr.reason, w.reason) << label << (two_lines ? " (two lines)" : "");
      EXPECT_EQ(events_of(c.fr).size(), w.dropped ? 1u : 2u) << label << (two_lines ? " (two lines)" : "");
      EXPECT_EQ(host_.logs.size(), w.garbage ? 1u : 0u) << label << (two_lines ? " (two lines)" : "");
      EXPECT_EQ(c.fr.finish_status, AIGW_OK);
      forget(c);
    }
  }
}

// What merely looks like a usage or finish reason (inside content, escaped,
// a value, spaced out, a literal that starts with null) is either ignored
// or scanned; it never hides the real one or stands in for it.
TEST_F(OpenAiPluginTest, MarkersInsideStringsDoNotFoolTheShortcut) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  const std::vector<std::string> events = {
      // content that quotes the markers, escaped as JSON escapes them
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\\"finish_reason\\\":\\\"stop\\\", "
      "\\\"usage\\\":{\\\"total_tokens\\\":99}\"},\"finish_reason\":null}]}\n\n",
      // a string value that spells a marker, then :null outside it
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"usage\"},\"finish_reason\":null}]}\n\n",
      // a real reason with whitespace around the colon: scanned
      "data: {\"choices\":[{\"index\":0,\"delta\":{}, \"finish_reason\" :  \"tool_calls\" }]}\n\n",
      // a nested "usage" is not the root's: scanned, and not reported
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"usage\":{\"total_tokens\":5}},"
      "\"finish_reason\":null}]}\n\n",
      "data: [DONE]\n\n",
  };
  std::string all;
  for (const auto& e : events) all += e;
  body_split(c, all, {1, 77, 140});
  EXPECT_EQ(events_of(c.fr), events);
  EXPECT_EQ(c.fr.usage_calls, 0);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_TOOL_CALLS);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(host_.logs.size(), 0u);
}

// An event that is not scanned counts as garbage when its payload is not
// braced; braced but broken JSON that cannot hold a usage or reason is no
// longer counted (the price of not scanning it; it passes unchanged as
// before). One that can hold them is scanned and counted as before.
TEST_F(OpenAiPluginTest, UnscannedEventsAreCountedByTheirBraces) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  const std::vector<std::string> events = {
      "data: {\"choices\":[{\"index\":0,\"finish_reason\":null}]\n\n",          // unbraced: counted
      "data: {\"a\":1}{\"b\":2}\n\n",                                            // braced: not counted
      "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}{}\n\n",  // scanned: counted
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n",
      "data: [DONE]\n\n",
  };
  std::string all;
  for (const auto& e : events) all += e;
  body(c, {all});
  EXPECT_EQ(events_of(c.fr), events);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
  ASSERT_EQ(host_.logs.size(), 1u);
  EXPECT_EQ(host_.logs[0].rfind("2 upstream stream event(s)", 0), 0u) << host_.logs[0];
}

TEST_F(OpenAiPluginTest, AStreamCutBeforeDoneEndsInAnError) {
  setup();
  Recorded rec = load_fixture("chat-streaming.json");
  std::vector<std::string> events = split_events(rec.response_body);
  // Cut after three whole events.
  std::string cut = events[0] + events[1] + events[2];
  Call& c = started(rec.request_body, stream_opts());
  head(c, 200);
  body(c, {cut});
  EXPECT_EQ(events_of(c.fr), (std::vector<std::string>{events[0], events[1], events[2]}));
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(c.fr.finish_message, "upstream ended the stream without [DONE]");
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_ERROR);

  // Cut inside an event: it goes out completed, so the error event after it
  // is framed.
  Call& d = started(rec.request_body, stream_opts());
  head(d, 200);
  body(d, {events[0] + events[1].substr(0, 30)});
  ASSERT_EQ(events_of(d.fr).size(), 2u);
  EXPECT_EQ(events_of(d.fr)[1], events[1].substr(0, 30) + "\n\n");
  EXPECT_EQ(d.fr.finish_status, AIGW_ERR_INTERNAL);
}

TEST_F(OpenAiPluginTest, ADoneWithoutItsBlankLineStillCounts) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  body(c, {"data: {\"choices\":[]}\n\ndata: [DONE]\n"});
  EXPECT_EQ(events_of(c.fr), (std::vector<std::string>{"data: {\"choices\":[]}\n\n",
                                                 "data: [DONE]\n\n"}));
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

TEST_F(OpenAiPluginTest, GarbageEventsPassThroughAndAreCounted) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  const std::vector<std::string> events = {
      ": keep-alive\n\n",
      "data: not json\n\n",
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
      "data: {\"broken\":\n\n",
      "event: ping\n\n",
      "data: [1,2]\n\n",
      "data: {\"choices\":\n"
      "data: [{\"index\":0,\"finish_reason\":\"content_filter\"}]}\n\n",
      "data: [DONE]\n\n",
  };
  std::string all;
  for (const auto& e : events) all += e;
  body_split(c, all, {3, 50, 51, 52});
  EXPECT_EQ(events_of(c.fr), events);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_CONTENT_FILTER);  // from a two-line data event
  ASSERT_EQ(host_.logs.size(), 1u);
  EXPECT_EQ(host_.logs[0].rfind("3 upstream stream event(s)", 0), 0u) << host_.logs[0];
}

TEST_F(OpenAiPluginTest, CrLfFramedStreamsSplitToo) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  const std::vector<std::string> events = {
      "data: {\"choices\":[{\"index\":0,\"finish_reason\":\"stop\"}]}\r\n\r\n",
      "data: [DONE]\r\n\r\n"};
  std::string all = events[0] + events[1];
  for (size_t at = 0; at <= all.size(); ++at) {
    Call& d = started(kChatStream, stream_opts());
    head(d, 200);
    body_split(d, all, {at});
    ASSERT_EQ(events_of(d.fr), events) << at;
    EXPECT_EQ(d.fr.finish_status, AIGW_OK);
    forget(d);
  }
  destroy(c);
}

TEST_F(OpenAiPluginTest, AnEndlessEventEndsTheStream) {
  setup();
  Call& c = started(kChatStream, stream_opts());
  head(c, 200);
  std::string big(1u << 20, 'x');
  big.insert(0, "data: ");
  for (int i = 0; i < 17 && c.fr.finish_calls == 0; ++i) body(c, {big}, false);
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(c.fr.finish_message, "upstream sent a stream event larger than 16 MiB");
  EXPECT_TRUE(c.fr.emits.empty());
  body(c, {"\n\n"}, true);  // ignored: the request is over
  EXPECT_EQ(c.fr.finish_calls, 1);
}

TEST_F(OpenAiPluginTest, AClientThatLeftGetsNothingMore) {
  setup();
  Recorded rec = load_fixture("chat-streaming.json");
  Call& c = started(rec.request_body, stream_opts());
  head(c, 200);
  body(c, {rec.response_body.substr(0, 400)}, false);
  size_t before = c.fr.emits.size();
  EXPECT_GT(before, 0u);
  c.fr.client_closed = true;
  body(c, {rec.response_body.substr(400, 800)}, false);
  hooks_->on_client_gone(c.ctx);
  body(c, {rec.response_body.substr(1200)}, true);
  EXPECT_EQ(c.fr.emits.size(), before);
  EXPECT_EQ(c.fr.finish_calls, 0);  // CLOSED: there is nobody to finish for

  Call& d = started(kChat);
  hooks_->on_client_gone(d.ctx);
  head(d, 200);
  body(d, {"{}"});
  EXPECT_EQ(d.fr.respond_calls, 0);
  EXPECT_EQ(d.fr.finish_calls, 0);
}

TEST_F(OpenAiPluginTest, ABodyBeforeItsHeadIsAnError) {
  setup();
  Call& c = started(kChat);
  body(c, {"{}"});
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
}

// --- health probe --------------------------------------------------------------------

TEST_F(OpenAiPluginTest, HealthProbesListModels) {
  setup();
  aigw_health_probe p{};
  p.struct_size = sizeof p;
  ASSERT_EQ(hooks_->health_probe(config_, &p), AIGW_OK);
  EXPECT_EQ(p.expect_status, 200);
  EXPECT_EQ(std::string(p.method.ptr, p.method.len), "GET");
  EXPECT_EQ(std::string(p.path.ptr, p.path.len), "/models");
}

TEST_F(OpenAiPluginTest, AzureHealthProbesCarryTheApiVersion) {
  setup({{"api_style", std::string("azure")}, {"azure_api_version", std::string("2024-10-21")}});
  aigw_health_probe p{};
  p.struct_size = sizeof p;
  ASSERT_EQ(hooks_->health_probe(config_, &p), AIGW_OK);
  EXPECT_EQ(std::string(p.path.ptr, p.path.len), "/openai/models?api-version=2024-10-21");
}

}  // namespace
