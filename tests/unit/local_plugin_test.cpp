// The local plugin (plugins/local) driven through its hook table by the fake
// host of tests/support/fake_host.h, which records what the plugin asks for:
// responses, emits, timers and child processes. Timers and process events
// fire only when a test says so, which makes streaming fully deterministic.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aigw_plugin.h"
#include "support/fake_host.h"

extern "C" const aigw_plugin_def* aigw_local_plugin_entry(void);

namespace {

using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using aigw::test::FakeProcess;
using aigw::test::FakeRequest;
using aigw::test::FakeTimer;

// --- JSON and SSE helpers ------------------------------------------------------

struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};

std::unique_ptr<Json> parse_json(const std::string& text) {
  auto j = std::make_unique<Json>();
  auto err = j->parser.parse(text).get(j->root);
  EXPECT_EQ(err, simdjson::SUCCESS) << "not JSON: " << text;
  return j;
}

std::string str(simdjson::simdjson_result<simdjson::dom::element> e) {
  return std::string(e.get_string().value());
}
uint64_t num(simdjson::simdjson_result<simdjson::dom::element> e) { return e.get_uint64().value(); }

// The "data: " payloads of an SSE body; every event must be well framed.
std::vector<std::string> sse_events(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event at " << pos;
    if (end == std::string::npos) break;
    std::string event = body.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    events.push_back(event.substr(6));
    pos = end + 2;
  }
  return events;
}

std::vector<uint8_t> base64_decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    int v = val(c);
    EXPECT_GE(v, 0) << "bad base64 character " << c;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

// --- the fixture -----------------------------------------------------------------

// One client request as the host would keep it: the body chunks and the
// client struct stay alive until request_destroy.
struct Call {
  FakeRequest fr;
  std::vector<std::string> parts;
  std::vector<aigw_host_bytes> chunks;
  std::string model = "aigw-demo";
  aigw_client_request client{};
  aigw_status new_status = -1;
  std::string error;
  void* ctx = nullptr;
  bool destroyed = false;
};

class LocalPluginTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& c : calls_) destroy(*c);
    if (instance_) hooks_->instance_destroy(instance_);
    if (config_) hooks_->config_destroy(config_);
    // Callbacks this plugin has no use for.
    EXPECT_EQ(cfg_.callbacks.count("config_secret"), 0u) << "the local plugin has no secrets";
    for (auto& c : calls_) {
      EXPECT_TRUE(c->fr.arena.empty()) << "arena_alloc is not used in direct mode";
    }
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

  void setup(std::map<std::string, ConfigValue> values, uint32_t worker = 0, uint32_t workers = 1) {
    ASSERT_EQ(configure(std::move(values)), AIGW_OK) << config_error_;
    aigw_worker_info info{sizeof(aigw_worker_info), worker, workers, 0};
    char buf[256] = "";
    aigw_errbuf err{buf, sizeof buf};
    ASSERT_EQ(hooks_->instance_new(config_, &info, &instance_, &err), AIGW_OK) << buf;
  }

  // request_new with the body split at the given offsets.
  Call& request(aigw_endpoint endpoint, const std::string& body, bool stream = false,
                std::vector<size_t> splits = {}) {
    calls_.push_back(std::make_unique<Call>());
    Call& c = *calls_.back();
    size_t from = 0;
    for (size_t at : splits) {
      c.parts.push_back(body.substr(from, at - from));
      from = at;
    }
    c.parts.push_back(body.substr(from));
    for (const auto& p : c.parts) {
      c.chunks.push_back({reinterpret_cast<const uint8_t*>(p.data()), p.size()});
    }
    c.client.struct_size = sizeof c.client;
    c.client.endpoint = endpoint;
    c.client.stream = stream ? 1 : 0;
    c.client.model = {c.model.data(), c.model.size()};
    c.client.upstream_model = c.client.model;
    c.client.method = {"POST", 4};
    c.client.body = c.chunks.data();
    c.client.body_count = c.chunks.size();
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    c.new_status = hooks_->request_new(instance_, c.fr.handle(), &c.client, &c.ctx, &err);
    c.error = buf;
    if (c.new_status != AIGW_OK) c.destroyed = true;  // nothing to destroy
    return c;
  }

  Call& start(aigw_endpoint endpoint, const std::string& body, bool stream = false) {
    Call& c = request(endpoint, body, stream);
    EXPECT_EQ(c.new_status, AIGW_OK) << c.error;
    if (c.new_status == AIGW_OK) {
      EXPECT_EQ(hooks_->request_start(c.ctx), AIGW_OK);
    }
    return c;
  }

  // Fires the oldest pending timer; false when none is pending.
  bool fire_timer(Call& c) {
    if (c.fr.timers.empty()) return false;
    FakeTimer t = c.fr.timers.front();
    c.fr.timers.erase(c.fr.timers.begin());
    hooks_->on_timer(c.ctx, t.token);
    return true;
  }

  void run_timers(Call& c) {
    for (int guard = 0; guard < 10000 && fire_timer(c); ++guard) {
    }
  }

  void output(Call& c, const std::string& bytes, bool eof = false, size_t proc = 0) {
    aigw_host_bytes chunk{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
    hooks_->on_process_output(c.ctx, c.fr.procs.at(proc)->handle(), &chunk, bytes.empty() ? 0 : 1,
                              eof ? 1 : 0);
  }

  void exit_with(Call& c, int32_t status, size_t proc = 0) {
    hooks_->on_process_exit(c.ctx, c.fr.procs.at(proc)->handle(), status);
  }

  void destroy(Call& c) {
    if (c.destroyed) return;
    c.destroyed = true;
    hooks_->request_destroy(c.ctx);
  }

  const aigw_plugin_def* def_ = aigw_local_plugin_entry();
  const aigw_hooks* hooks_ = def_->hooks;
  FakeHost host_{AIGW_MODE_DIRECT};
  FakeConfig cfg_;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  std::string config_error_;
  std::vector<std::unique_ptr<Call>> calls_;
};

const std::string kChatBody =
    R"({"model":"aigw-demo","messages":[{"role":"system","content":"Be brief."},)"
    R"({"role":"user","content":"Hello there, world"}]})";

// ---------------------------------------------------------------------------

TEST(LocalPluginEntry, DescribesADirectModePlugin) {
  const aigw_plugin_def* def = aigw_local_plugin_entry();
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->struct_size, sizeof(aigw_plugin_def));
  EXPECT_EQ(def->abi_major, AIGW_ABI_MAJOR);
  EXPECT_EQ(def->abi_minor, AIGW_ABI_MINOR);
  EXPECT_STREQ(def->abi_signature, AIGW_ABI_SIGNATURE);
  EXPECT_STREQ(def->name, "local");
  const aigw_hooks* h = def->hooks;
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->struct_size, sizeof(aigw_hooks));
  EXPECT_EQ(h->mode, AIGW_MODE_DIRECT);
  for (auto fn : {(void*)h->config_new, (void*)h->config_destroy, (void*)h->instance_new,
                  (void*)h->instance_destroy, (void*)h->request_new, (void*)h->request_destroy,
                  (void*)h->request_start, (void*)h->on_timer, (void*)h->on_process_output,
                  (void*)h->on_process_exit, (void*)h->on_client_gone}) {
    EXPECT_NE(fn, nullptr);
  }
  EXPECT_EQ(h->build_upstream, nullptr);
  EXPECT_EQ(aigw_local_plugin_entry(), def);
}

// --- configuration ----------------------------------------------------------

TEST_F(LocalPluginTest, DefaultsNeedNoKeysAndLeaveModelsToTheHost) {
  ASSERT_EQ(configure({{"models", std::vector<std::string>{"aigw-demo"}}}), AIGW_OK)
      << config_error_;
  EXPECT_EQ(cfg_.read.count("models"), 0u);
  EXPECT_EQ(cfg_.read.count("mode"), 0u);  // absent keys are not recorded as read
}

TEST_F(LocalPluginTest, ReadsEveryDemoKey) {
  ASSERT_EQ(configure({{"mode", std::string("demo")},
                       {"chunk_words", int64_t{3}},
                       {"chunk_interval", std::string("5ms")},
                       {"reply_prefix", std::string(">> ")}}),
            AIGW_OK)
      << config_error_;
  EXPECT_EQ(cfg_.read, (std::set<std::string>{"mode", "chunk_words", "chunk_interval",
                                              "reply_prefix"}));
}

TEST_F(LocalPluginTest, ReadsEveryProcessKey) {
  ASSERT_EQ(configure({{"mode", std::string("process")},
                       {"command", std::vector<std::string>{"llama-cli", "-m", "x.gguf"}},
                       {"timeout", std::string("30s")},
                       {"max_processes", int64_t{2}}}),
            AIGW_OK)
      << config_error_;
  EXPECT_EQ(cfg_.read,
            (std::set<std::string>{"mode", "command", "timeout", "max_processes"}));
}

struct BadConfig {
  std::map<std::string, ConfigValue> values;
  std::string message;
};

class LocalPluginConfigTest : public LocalPluginTest,
                              public ::testing::WithParamInterface<BadConfig> {};

TEST_P(LocalPluginConfigTest, RejectsWithAMessageNamingTheKey) {
  EXPECT_EQ(configure(GetParam().values), AIGW_ERR_CONFIG);
  EXPECT_EQ(config_error_, GetParam().message);
  EXPECT_EQ(config_, nullptr);
}

const std::vector<std::string> kCmd = {"llama-cli"};

INSTANTIATE_TEST_SUITE_P(
    Keys, LocalPluginConfigTest,
    ::testing::Values(
        BadConfig{{{"mode", std::string("gpu")}}, R"(mode must be "demo" or "process", got "gpu")"},
        BadConfig{{{"mode", int64_t{1}}}, "mode must be a string"},
        BadConfig{{{"chunk_words", int64_t{0}}}, "chunk_words must be between 1 and 1000, got 0"},
        BadConfig{{{"chunk_words", int64_t{1001}}},
                  "chunk_words must be between 1 and 1000, got 1001"},
        BadConfig{{{"chunk_words", std::string("2")}}, "chunk_words must be an integer"},
        BadConfig{{{"chunk_interval", std::string("11s")}},
                  "chunk_interval must be between 0ms and 10s, got 11s"},
        BadConfig{{{"chunk_interval", int64_t{20}}},
                  R"(chunk_interval must be a duration such as "250ms" or "10s")"},
        BadConfig{{{"reply_prefix", std::string(5000, 'x')}},
                  "reply_prefix must be at most 4096 bytes, got 5000"},
        BadConfig{{{"reply_prefix", true}}, "reply_prefix must be a string"},
        BadConfig{{{"command", kCmd}}, R"(command is only used with mode = "process")"},
        BadConfig{{{"timeout", std::string("1s")}}, R"(timeout is only used with mode = "process")"},
        BadConfig{{{"max_processes", int64_t{2}}},
                  R"(max_processes is only used with mode = "process")"},
        BadConfig{{{"mode", std::string("process")}, {"command", kCmd}, {"chunk_words", int64_t{2}}},
                  R"(chunk_words is only used with mode = "demo")"},
        BadConfig{{{"mode", std::string("process")},
                   {"command", kCmd},
                   {"chunk_interval", std::string("1s")}},
                  R"(chunk_interval is only used with mode = "demo")"},
        BadConfig{{{"mode", std::string("process")},
                   {"command", kCmd},
                   {"reply_prefix", std::string("x")}},
                  R"(reply_prefix is only used with mode = "demo")"},
        BadConfig{{{"mode", std::string("process")}}, R"(command is required with mode = "process")"},
        BadConfig{{{"mode", std::string("process")}, {"command", std::string("llama-cli -m x")}},
                  "command must be an array of strings"},
        BadConfig{{{"mode", std::string("process")}, {"command", std::vector<std::string>{}}},
                  "command must not be empty: give the program and its arguments"},
        BadConfig{{{"mode", std::string("process")}, {"command", std::vector<std::string>{""}}},
                  "command[0] (the program) must not be empty"},
        BadConfig{{{"mode", std::string("process")},
                   {"command", std::vector<std::string>{"a", std::string("b\0c", 3)}}},
                  "command[1] must not contain NUL characters"},
        BadConfig{{{"mode", std::string("process")}, {"command", kCmd}, {"timeout", std::string("0ms")}},
                  "timeout must be between 1ms and 1h, got 0ms"},
        BadConfig{{{"mode", std::string("process")}, {"command", kCmd}, {"timeout", std::string("2h")}},
                  "timeout must be between 1ms and 1h, got 2h"},
        BadConfig{{{"mode", std::string("process")}, {"command", kCmd}, {"max_processes", int64_t{0}}},
                  "max_processes must be between 1 and 1024, got 0"},
        BadConfig{{{"mode", std::string("process")},
                   {"command", kCmd},
                   {"max_processes", int64_t{5000}}},
                  "max_processes must be between 1 and 1024, got 5000"}));

TEST_F(LocalPluginTest, ErrorMessagesAreCutToTheBufferAndTerminated) {
  cfg_.values = {{"mode", std::string("gpu")}};
  char buf[8];
  std::memset(buf, 'X', sizeof buf);
  aigw_errbuf err{buf, sizeof buf};
  ASSERT_EQ(hooks_->config_new(host_.table(), nullptr, cfg_.handle(),
                               &config_, &err),
            AIGW_ERR_CONFIG);
  EXPECT_STREQ(buf, "mode mu");
}

TEST_F(LocalPluginTest, RefusesAnOlderHostTable) {
  aigw_host old = *host_.table();
  old.struct_size = offsetof(aigw_host, spawn);
  char buf[256] = "";
  aigw_errbuf err{buf, sizeof buf};
  EXPECT_EQ(hooks_->config_new(&old, nullptr, cfg_.handle(),
                               &config_, &err),
            AIGW_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(buf).find("too old"), std::string::npos) << buf;
}

// --- demo: chat -----------------------------------------------------------------

TEST_F(LocalPluginTest, ChatAnswersWithAFullCompletion) {
  setup({});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
  ASSERT_EQ(c.fr.emits.size(), 1u);
  EXPECT_TRUE(c.fr.timers.empty());
  auto j = parse_json(c.fr.emits[0]);
  auto& r = j->root;
  EXPECT_EQ(str(r["id"]), "chatcmpl-aigw-1");
  EXPECT_EQ(str(r["object"]), "chat.completion");
  EXPECT_GT(r["created"].get_int64().value(), 1'600'000'000);
  EXPECT_EQ(str(r["model"]), "aigw-demo");
  EXPECT_EQ(r["choices"].get_array().size(), 1u);
  EXPECT_EQ(num(r["choices"].at(0)["index"]), 0u);
  EXPECT_EQ(str(r["choices"].at(0)["message"]["role"]), "assistant");
  EXPECT_EQ(str(r["choices"].at(0)["message"]["content"]), "You said: Hello there, world");
  EXPECT_EQ(str(r["choices"].at(0)["finish_reason"]), "stop");
  // "Be brief." = 2, "Hello there, world" = 3; the reply has 5 words.
  EXPECT_EQ(num(r["usage"]["prompt_tokens"]), 5u);
  EXPECT_EQ(num(r["usage"]["completion_tokens"]), 5u);
  EXPECT_EQ(num(r["usage"]["total_tokens"]), 10u);
  EXPECT_EQ(c.fr.usage_calls, 1);
  EXPECT_EQ(c.fr.usage.prompt_tokens, 5u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 5u);
  EXPECT_EQ(c.fr.usage.total_tokens, 10u);
  EXPECT_EQ(c.fr.reason_calls, 1);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
  EXPECT_EQ(c.fr.finish_calls, 1);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

TEST_F(LocalPluginTest, ChatUsesTheLastUserMessageAndItsTextParts) {
  setup({{"reply_prefix", std::string("Echo: ")}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, R"({"messages":[
      {"role":"user","content":"first question"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"x"}]},
      {"content":[{"type":"text","text":"part one"},
                  {"type":"image_url","image_url":{"url":"data:,"}},
                  {"text":"part two","type":"text"}],"role":"user"},
      {"role":"assistant","content":"ok then"}]})");
  auto j = parse_json(c.fr.body());
  EXPECT_EQ(str(j->root["choices"].at(0)["message"]["content"]), "Echo: part one\npart two");
  // 2 + 0 + (2 + 2) + 2
  EXPECT_EQ(c.fr.usage.prompt_tokens, 8u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 5u);
}

TEST_F(LocalPluginTest, ChatWithoutUserTextSaysNothing) {
  setup({});
  Call& a = start(AIGW_ENDPOINT_CHAT_COMPLETIONS,
                  R"({"messages":[{"role":"system","content":"You are terse."}]})");
  EXPECT_EQ(str(parse_json(a.fr.body())->root["choices"].at(0)["message"]["content"]),
            "You said nothing.");
  Call& b = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, R"({"messages":[{"role":"user","content":""}]})");
  EXPECT_EQ(str(parse_json(b.fr.body())->root["choices"].at(0)["message"]["content"]),
            "You said nothing.");
  EXPECT_EQ(b.fr.usage.prompt_tokens, 0u);
  EXPECT_EQ(b.fr.usage.completion_tokens, 3u);
}

TEST_F(LocalPluginTest, TokenRuleCountsWhitespaceOnlyTextAsOne) {
  setup({{"reply_prefix", std::string("")}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS,
                  R"({"messages":[{"role":"user","content":" \t\n "}]})");
  EXPECT_EQ(c.fr.usage.prompt_tokens, 1u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 1u);
  EXPECT_EQ(str(parse_json(c.fr.body())->root["choices"].at(0)["message"]["content"]), " \t\n ");
}

TEST_F(LocalPluginTest, EscapesStringsAndPassesUtf8Through) {
  setup({});
  std::string text = "say \"hi\" \\ now\n\ttab \x01 bell\x1f h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C "
                     "\xF0\x9F\x8E\x89 \xE2\x80\xA8";
  // The request spells the same text with JSON escapes.
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS,
                  R"({"messages":[{"role":"user","content":"say \"hi\" \\ now\n\ttab \u0001 bell\u001f )"
                  "h\\u00e9llo \xE4\xB8\x96\xE7\x95\x8C \\ud83c\\udf89 \\u2028\"}]}");
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  std::string body = c.fr.body();
  EXPECT_NE(body.find("\\u0001"), std::string::npos);
  EXPECT_NE(body.find("\\u001f"), std::string::npos);
  EXPECT_NE(body.find("\xF0\x9F\x8E\x89"), std::string::npos) << "UTF-8 is not \\u-escaped";
  EXPECT_EQ(str(parse_json(body)->root["choices"].at(0)["message"]["content"]), "You said: " + text);
}

TEST_F(LocalPluginTest, EchoesTheClientModelEscaped) {
  setup({});
  Call& c = request(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody);
  ASSERT_EQ(c.new_status, AIGW_OK);
  (void)c;
  calls_.push_back(std::make_unique<Call>());
  Call& d = *calls_.back();
  d.model = "team/\"odd\" model";
  d.parts = {kChatBody};
  d.chunks = {{reinterpret_cast<const uint8_t*>(d.parts[0].data()), d.parts[0].size()}};
  d.client.struct_size = sizeof d.client;
  d.client.endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  d.client.model = {d.model.data(), d.model.size()};
  d.client.body = d.chunks.data();
  d.client.body_count = 1;
  ASSERT_EQ(hooks_->request_new(instance_, d.fr.handle(), &d.client, &d.ctx, nullptr), AIGW_OK);
  ASSERT_EQ(hooks_->request_start(d.ctx), AIGW_OK);
  auto j = parse_json(d.fr.body());
  EXPECT_EQ(str(j->root["model"]), "team/\"odd\" model");
  EXPECT_EQ(str(j->root["id"]), "chatcmpl-aigw-2");
}

TEST_F(LocalPluginTest, IdsAreUniqueAcrossWorkers) {
  setup({}, 1, 4);  // worker 1 of 4 hands out 2, 6, 10, ...
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody);
    ids.push_back(str(parse_json(c.fr.body())->root["id"]));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"chatcmpl-aigw-2", "chatcmpl-aigw-6",
                                           "chatcmpl-aigw-10"}));
}

TEST_F(LocalPluginTest, BodyInSeveralChunksParsesTheSame) {
  setup({});
  size_t mid = kChatBody.find("there");
  Call& c = request(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody, false, {1, mid, mid + 2});
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  ASSERT_EQ(c.parts.size(), 4u);
  ASSERT_EQ(hooks_->request_start(c.ctx), AIGW_OK);
  EXPECT_EQ(str(parse_json(c.fr.body())->root["choices"].at(0)["message"]["content"]),
            "You said: Hello there, world");
}

// --- demo: streaming -----------------------------------------------------------

struct StreamResult {
  std::string text;                 // concatenated deltas
  std::vector<std::string> events;  // SSE payloads
};

StreamResult collect_chat_stream(const std::string& body, const std::string& id) {
  StreamResult out;
  out.events = sse_events(body);
  for (const auto& e : out.events) {
    if (e == "[DONE]") continue;
    auto j = parse_json(e);
    EXPECT_EQ(str(j->root["id"]), id);
    EXPECT_EQ(str(j->root["object"]), "chat.completion.chunk");
    auto choices = j->root["choices"].get_array().value();
    if (choices.size() == 0) continue;
    auto content = choices.at(0)["delta"]["content"];
    if (!content.error()) out.text += str(content);
  }
  return out;
}

TEST_F(LocalPluginTest, StreamsWordChunksOnTimers) {
  setup({{"chunk_words", int64_t{2}}, {"chunk_interval", std::string("50ms")}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody, true);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "text/event-stream");
  EXPECT_EQ(c.fr.header("Cache-Control"), "no-cache");
  // First the role chunk, then nothing until the timer fires.
  ASSERT_EQ(c.fr.emits.size(), 1u);
  auto first = parse_json(sse_events(c.fr.emits[0]).at(0));
  EXPECT_EQ(str(first->root["choices"].at(0)["delta"]["role"]), "assistant");
  EXPECT_EQ(str(first->root["choices"].at(0)["delta"]["content"]), "");
  EXPECT_TRUE(first->root["choices"].at(0)["finish_reason"].is_null());
  ASSERT_EQ(c.fr.timers.size(), 1u);
  // The role chunk is not content: the host may still hold it back (and
  // fail over); the first words are, and commit follows them (ABI 1.2).
  EXPECT_TRUE(c.fr.commits.empty());

  // "You said: Hello there, world" is 5 words: chunks of 2, 2, 1.
  std::vector<std::string> deltas;
  int fired = 0;
  while (!c.fr.timers.empty()) {
    EXPECT_EQ(c.fr.timers.front().delay_ns, 50'000'000u);
    size_t before = c.fr.emits.size();
    fire_timer(c);
    ++fired;
    ASSERT_EQ(c.fr.emits.size(), before + 1) << "one write per timer";
    auto ev = sse_events(c.fr.emits.back());
    deltas.push_back(str(parse_json(ev[0])->root["choices"].at(0)["delta"]["content"]));
  }
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(deltas, (std::vector<std::string>{"You said:", " Hello there,", " world"}));
  EXPECT_EQ(c.fr.commits, (std::vector<size_t>{2}));  // once, after the first words

  auto all = collect_chat_stream(c.fr.body(), "chatcmpl-aigw-1");
  EXPECT_EQ(all.text, "You said: Hello there, world");
  ASSERT_GE(all.events.size(), 3u);
  EXPECT_EQ(all.events.back(), "[DONE]");
  auto fin = parse_json(all.events[all.events.size() - 2]);
  EXPECT_EQ(str(fin->root["choices"].at(0)["finish_reason"]), "stop");
  EXPECT_EQ(fin->root["choices"].at(0)["delta"].get_object().size(), 0u);
  EXPECT_EQ(fin->root["usage"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.usage.completion_tokens, 5u);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
}

TEST_F(LocalPluginTest, StreamKeepsAllWhitespaceInTheChunks) {
  setup({{"chunk_words", int64_t{1}}, {"chunk_interval", std::string("1ms")},
         {"reply_prefix", std::string("  lead ")}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS,
                  R"({"messages":[{"role":"user","content":"a  b\n\tc   "}]})", true);
  run_timers(c);
  auto all = collect_chat_stream(c.fr.body(), "chatcmpl-aigw-1");
  EXPECT_EQ(all.text, "  lead a  b\n\tc   ");
  // role + 4 words + finish + [DONE]
  EXPECT_EQ(all.events.size(), 7u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 4u);
}

TEST_F(LocalPluginTest, StreamWithIncludeUsageEndsWithAUsageChunk) {
  setup({{"chunk_words", int64_t{100}}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS,
                  R"({"stream":true,"stream_options":{"include_usage":true},)"
                  R"("messages":[{"role":"user","content":"one two three"}]})",
                  true);
  EXPECT_EQ(c.fr.timers.at(0).delay_ns, 20'000'000u);  // the default interval
  run_timers(c);
  auto all = collect_chat_stream(c.fr.body(), "chatcmpl-aigw-1");
  EXPECT_EQ(all.text, "You said: one two three");
  // role, content, finish, usage, [DONE]
  ASSERT_EQ(all.events.size(), 5u);
  EXPECT_EQ(all.events[4], "[DONE]");
  auto usage = parse_json(all.events[3]);
  EXPECT_EQ(usage->root["choices"].get_array().size(), 0u);
  EXPECT_EQ(num(usage->root["usage"]["prompt_tokens"]), 3u);
  EXPECT_EQ(num(usage->root["usage"]["completion_tokens"]), 5u);
  EXPECT_EQ(num(usage->root["usage"]["total_tokens"]), 8u);
  auto fin = parse_json(all.events[2]);
  EXPECT_EQ(str(fin->root["choices"].at(0)["finish_reason"]), "stop");
  EXPECT_TRUE(fin->root["usage"].is_null());
}

TEST_F(LocalPluginTest, ZeroIntervalSendsTheWholeStreamAtOnce) {
  setup({{"chunk_interval", std::string("0ms")}});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody, true);
  EXPECT_TRUE(c.fr.timers.empty());
  EXPECT_EQ(c.fr.emits.size(), 1u);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  auto all = collect_chat_stream(c.fr.body(), "chatcmpl-aigw-1");
  EXPECT_EQ(all.text, "You said: Hello there, world");
  EXPECT_EQ(all.events.size(), 1u + 5u + 1u + 1u);
}

TEST_F(LocalPluginTest, ClientGoneStopsTheStream) {
  setup({});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody, true);
  fire_timer(c);
  ASSERT_EQ(c.fr.timers.size(), 1u);
  size_t emits = c.fr.emits.size();
  hooks_->on_client_gone(c.ctx);
  fire_timer(c);  // a timer already in flight when the client left
  EXPECT_EQ(c.fr.emits.size(), emits);
  EXPECT_TRUE(c.fr.timers.empty());
  EXPECT_FALSE(c.fr.finished());
}

TEST_F(LocalPluginTest, ClosedEmitStopsProducing) {
  setup({});
  Call& c = start(AIGW_ENDPOINT_CHAT_COMPLETIONS, kChatBody, true);
  c.fr.client_closed = true;
  fire_timer(c);
  EXPECT_TRUE(c.fr.timers.empty()) << "no timer after AIGW_ERR_CLOSED";
  EXPECT_FALSE(c.fr.finished());
}

// --- demo: completions -------------------------------------------------------

TEST_F(LocalPluginTest, CompletionsAnswerTheFirstPrompt) {
  setup({});
  Call& c = start(AIGW_ENDPOINT_COMPLETIONS,
                  R"({"model":"aigw-demo","prompt":["Once upon","ignored prompt"],"max_tokens":5})");
  auto j = parse_json(c.fr.body());
  EXPECT_EQ(str(j->root["id"]), "cmpl-aigw-1");
  EXPECT_EQ(str(j->root["object"]), "text_completion");
  EXPECT_EQ(str(j->root["choices"].at(0)["text"]), "You said: Once upon");
  EXPECT_EQ(str(j->root["choices"].at(0)["finish_reason"]), "stop");
  EXPECT_EQ(num(j->root["usage"]["prompt_tokens"]), 2u);
  EXPECT_EQ(num(j->root["usage"]["completion_tokens"]), 4u);
}

TEST_F(LocalPluginTest, CompletionsStreamTextChunks) {
  setup({{"chunk_interval", std::string("1ms")}});
  Call& c = start(AIGW_ENDPOINT_COMPLETIONS, R"({"prompt":"tell me"})", true);
  EXPECT_TRUE(c.fr.emits.empty()) << "completions streams have no role chunk";
  run_timers(c);
  auto events = sse_events(c.fr.body());
  ASSERT_EQ(events.size(), 4u + 2u);
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    auto j = parse_json(events[i]);
    EXPECT_EQ(str(j->root["object"]), "text_completion");
    EXPECT_TRUE(j->root["choices"].at(0)["finish_reason"].is_null());
    text += str(j->root["choices"].at(0)["text"]);
  }
  EXPECT_EQ(text, "You said: tell me");
  auto fin = parse_json(events[events.size() - 2]);
  EXPECT_EQ(str(fin->root["choices"].at(0)["text"]), "");
  EXPECT_EQ(str(fin->root["choices"].at(0)["finish_reason"]), "stop");
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

// --- demo: embeddings ----------------------------------------------------------

std::vector<std::vector<float>> float_embeddings(const simdjson::dom::element& root) {
  std::vector<std::vector<float>> out;
  simdjson::dom::array data = root["data"].get_array().value();
  for (auto item : data) {
    std::vector<float> v;
    simdjson::dom::array values = item["embedding"].get_array().value();
    for (auto x : values) {
      v.push_back(static_cast<float>(x.get_double().value()));
    }
    out.push_back(v);
  }
  return out;
}

TEST_F(LocalPluginTest, EmbeddingsAreDeterministicUnitVectors) {
  setup({});
  const std::string body = R"({"model":"aigw-demo","input":["alpha beta","gamma","alpha beta"]})";
  Call& a = start(AIGW_ENDPOINT_EMBEDDINGS, body);
  Call& b = start(AIGW_ENDPOINT_EMBEDDINGS, body);
  EXPECT_EQ(a.fr.body(), b.fr.body());
  EXPECT_EQ(a.fr.header("Content-Type"), "application/json");
  auto j = parse_json(a.fr.body());
  EXPECT_EQ(str(j->root["object"]), "list");
  EXPECT_EQ(str(j->root["model"]), "aigw-demo");
  auto data = j->root["data"].get_array().value();
  ASSERT_EQ(data.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(str(data.at(i)["object"]), "embedding");
    EXPECT_EQ(num(data.at(i)["index"]), i);
  }
  auto vecs = float_embeddings(j->root);
  for (const auto& v : vecs) {
    ASSERT_EQ(v.size(), 8u);
    double norm = 0;
    for (float x : v) {
      EXPECT_GE(x, -1.0f);
      EXPECT_LE(x, 1.0f);
      norm += double(x) * x;
    }
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
  EXPECT_EQ(vecs[0], vecs[2]);
  EXPECT_NE(vecs[0], vecs[1]);
  EXPECT_EQ(num(j->root["usage"]["prompt_tokens"]), 5u);
  EXPECT_EQ(num(j->root["usage"]["total_tokens"]), 5u);
  EXPECT_EQ(j->root["usage"]["completion_tokens"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(a.fr.usage.prompt_tokens, 5u);
  EXPECT_EQ(a.fr.usage.completion_tokens, 0u);
  EXPECT_EQ(a.fr.finish_status, AIGW_OK);
}

TEST_F(LocalPluginTest, EmbeddingsInBase64AreLittleEndianFloat32) {
  setup({});
  Call& f = start(AIGW_ENDPOINT_EMBEDDINGS, R"({"input":"hello world","encoding_format":"float"})");
  Call& b = start(AIGW_ENDPOINT_EMBEDDINGS, R"({"input":"hello world","encoding_format":"base64"})");
  auto floats = float_embeddings(parse_json(f.fr.body())->root).at(0);
  auto j = parse_json(b.fr.body());
  auto bytes = base64_decode(str(j->root["data"].at(0)["embedding"]));
  ASSERT_EQ(bytes.size(), 32u);
  for (size_t d = 0; d < 8; ++d) {
    uint32_t bits = uint32_t(bytes[4 * d]) | uint32_t(bytes[4 * d + 1]) << 8 |
                    uint32_t(bytes[4 * d + 2]) << 16 | uint32_t(bytes[4 * d + 3]) << 24;
    float x;
    std::memcpy(&x, &bits, 4);
    EXPECT_EQ(x, floats[d]) << "dimension " << d;
  }
}

TEST_F(LocalPluginTest, EmbeddingsIgnoreStream) {
  setup({});
  Call& c = start(AIGW_ENDPOINT_EMBEDDINGS, R"({"input":"x"})", true);
  EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

// --- bad requests --------------------------------------------------------------

struct BadRequest {
  aigw_endpoint endpoint;
  std::string body;
  std::string message;  // a substring of the error
};

class LocalPluginBadRequestTest : public LocalPluginTest,
                                  public ::testing::WithParamInterface<BadRequest> {};

TEST_P(LocalPluginBadRequestTest, IsRefusedAsInvalid) {
  setup({});
  Call& c = request(GetParam().endpoint, GetParam().body);
  EXPECT_EQ(c.new_status, AIGW_ERR_INVALID);
  EXPECT_NE(c.error.find(GetParam().message), std::string::npos) << c.error;
}

constexpr aigw_endpoint kChat = AIGW_ENDPOINT_CHAT_COMPLETIONS;
constexpr aigw_endpoint kCompl = AIGW_ENDPOINT_COMPLETIONS;
constexpr aigw_endpoint kEmb = AIGW_ENDPOINT_EMBEDDINGS;

INSTANTIATE_TEST_SUITE_P(
    Bodies, LocalPluginBadRequestTest,
    ::testing::Values(
        BadRequest{kChat, "", "request body is empty"},
        BadRequest{kChat, "{", "not valid JSON"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":"hi"}]} x)", "not valid JSON"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":"hi"}]} {})", "not valid JSON"},
        BadRequest{kChat, R"({"temperature":tru,"messages":[{"role":"user","content":"hi"}]})",
                   "not valid JSON"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":"hi"}],"x":[1,2,})",
                   "not valid JSON"},
        BadRequest{kChat, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xFF\"}]}",
                   "not valid JSON"},
        BadRequest{kChat, R"([1,2])", "request body must be a JSON object"},
        BadRequest{kChat, R"({"model":"aigw-demo"})", "messages is required"},
        BadRequest{kChat, R"({"messages":"hi"})", "messages must be an array"},
        BadRequest{kChat, R"({"messages":[]})", "messages must not be empty"},
        BadRequest{kChat, R"({"messages":["hi"]})", "messages[0] must be an object"},
        BadRequest{kChat, R"({"messages":[{"content":"hi"}]})", "messages[0].role is required"},
        BadRequest{kChat, R"({"messages":[{"role":1,"content":"hi"}]})",
                   "messages[0].role must be a string"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":5}]})",
                   "messages[1].content must be a string, an array of content parts or null"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":[{"text":"a"}]}]})",
                   "messages[0].content[0].type is required"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})",
                   "messages[0].content[0].text is required"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":[{"type":"text","text":7}]}]})",
                   "messages[0].content[0].text must be a string"},
        BadRequest{kChat, R"({"messages":[{"role":"user","content":"a"}],"stream_options":{"include_usage":1}})",
                   "stream_options.include_usage must be a boolean"},
        BadRequest{kCompl, R"({"model":"m"})", "prompt is required"},
        BadRequest{kCompl, R"({"prompt":[1,2,3]})", "token arrays are not supported"},
        BadRequest{kCompl, R"({"prompt":{"a":1}})", "prompt must be a string or an array of strings"},
        BadRequest{kEmb, R"({"model":"m"})", "input is required"},
        BadRequest{kEmb, R"({"input":[]})", "input must not be an empty array"},
        BadRequest{kEmb, R"({"input":[[1,2]]})", "input must be a string or an array of strings"},
        BadRequest{kEmb, R"({"input":"a","encoding_format":"hex"})",
                   R"(encoding_format must be "float" or "base64")"}));

TEST_F(LocalPluginTest, UnknownEndpointIsUnsupported) {
  setup({});
  Call& c = request(static_cast<aigw_endpoint>(99), "{}");
  EXPECT_EQ(c.new_status, AIGW_ERR_UNSUPPORTED);
}

// --- process mode ------------------------------------------------------------------

class LocalProcessTest : public LocalPluginTest {
 protected:
  void SetUp() override {
    setup({{"mode", std::string("process")},
           {"command", std::vector<std::string>{"llama-cli", "-m", "model.gguf", "--prompt-file",
                                                "/dev/stdin"}},
           {"timeout", std::string("30s")},
           {"max_processes", int64_t{2}}});
  }
};

TEST_F(LocalProcessTest, SpawnsTheCommandAndWritesTheConversation) {
  Call& c = start(kChat, kChatBody);
  ASSERT_EQ(c.fr.procs.size(), 1u);
  FakeProcess& p = *c.fr.procs[0];
  EXPECT_EQ(p.argv, (std::vector<std::string>{"llama-cli", "-m", "model.gguf", "--prompt-file",
                                              "/dev/stdin"}));
  EXPECT_EQ(p.timeout_ms, 30'000u);
  EXPECT_TRUE(p.inherit_env);
  EXPECT_EQ(p.stdin_bytes, "system: Be brief.\nuser: Hello there, world\n");
  EXPECT_TRUE(p.stdin_closed);
  EXPECT_EQ(c.fr.respond_calls, 0) << "nothing is sent before the child answers";
}

TEST_F(LocalProcessTest, CompletionsWriteThePromptAsIs) {
  Call& c = start(kCompl, R"({"prompt":"Once upon a time"})");
  EXPECT_EQ(c.fr.procs.at(0)->stdin_bytes, "Once upon a time");
}

TEST_F(LocalProcessTest, NonStreamAnswersOnceTheChildExits) {
  Call& c = start(kChat, kChatBody);
  output(c, "Hello ");
  output(c, "wor");
  output(c, "ld\n");
  EXPECT_EQ(c.fr.respond_calls, 0);
  output(c, "", true);
  EXPECT_FALSE(c.fr.finished());
  exit_with(c, 0);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  auto j = parse_json(c.fr.body());
  EXPECT_EQ(str(j->root["object"]), "chat.completion");
  EXPECT_EQ(str(j->root["choices"].at(0)["message"]["content"]), "Hello world\n");
  EXPECT_EQ(c.fr.usage.prompt_tokens, 5u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 2u);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
}

TEST_F(LocalProcessTest, ExitBeforeEofWaitsForTheEof) {
  Call& c = start(kCompl, R"({"prompt":"x"})");
  output(c, "abc");
  exit_with(c, 0);
  EXPECT_FALSE(c.fr.finished());
  output(c, " def", true);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(str(parse_json(c.fr.body())->root["choices"].at(0)["text"]), "abc def");
}

TEST_F(LocalProcessTest, ExitWithoutEofAnswersAfterAGracePeriod) {
  Call& c = start(kCompl, R"({"prompt":"x"})");
  output(c, "abc\xE2\x82");  // an incomplete euro sign, never completed
  exit_with(c, 0);
  EXPECT_FALSE(c.fr.finished());
  ASSERT_EQ(c.fr.timers.size(), 1u);
  fire_timer(c);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(str(parse_json(c.fr.body())->root["choices"].at(0)["text"]), "abc\xEF\xBF\xBD");
}

TEST_F(LocalProcessTest, StreamsOutputAsChunksKeepingUtf8Whole) {
  Call& c = start(kChat, R"({"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})",
                  true);
  EXPECT_EQ(c.fr.respond_calls, 0);
  output(c, "caf\xC3");  // é split across two reads
  EXPECT_EQ(c.fr.header("Content-Type"), "text/event-stream");
  // Role chunk, then "caf": committed after the child's first words only.
  EXPECT_EQ(c.fr.commits, (std::vector<size_t>{2}));
  output(c, "\xA9 au lait \xF0\x9F");
  output(c, "\x8D\xB5");  // 🍵 in three reads
  output(c, "\xE2\x82");
  output(c, "\xAC!", true);
  exit_with(c, 0);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  auto events = sse_events(c.fr.body());
  std::vector<std::string> deltas;
  for (const auto& e : events) {
    if (e == "[DONE]") continue;
    auto j = parse_json(e);  // every event is valid JSON (and so valid UTF-8)
    auto choices = j->root["choices"].get_array().value();
    if (choices.size() == 0) continue;
    auto content = choices.at(0)["delta"]["content"];
    if (!content.error()) deltas.push_back(str(content));
  }
  EXPECT_EQ(deltas, (std::vector<std::string>{"", "caf", "\xC3\xA9 au lait ",
                                              "\xF0\x9F\x8D\xB5", "\xE2\x82\xAC!"}));
  EXPECT_EQ(events.back(), "[DONE]");
  auto usage = parse_json(events[events.size() - 2]);
  EXPECT_EQ(num(usage->root["usage"]["completion_tokens"]), 4u);  // café au lait 🍵€!
  EXPECT_EQ(num(usage->root["usage"]["prompt_tokens"]), 1u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 4u);
}

TEST_F(LocalProcessTest, InvalidBytesBecomeReplacementCharacters) {
  Call& c = start(kCompl, R"({"prompt":"x"})", true);
  output(c, "a\xFF" "b\xC3(c\xED\xA0\x80" "d");  // stray byte, broken pair, surrogate
  output(c, "", true);
  exit_with(c, 0);
  auto events = sse_events(c.fr.body());
  auto j = parse_json(events.at(0));
  EXPECT_EQ(str(j->root["choices"].at(0)["text"]),
            "a\xEF\xBF\xBD" "b\xEF\xBF\xBD(c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "d");
}

TEST_F(LocalProcessTest, EverySplitOfMultibyteOutputRoundTrips) {
  const std::string text = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8D\xB5 x";
  for (size_t a = 1; a < text.size(); ++a) {
    for (size_t b = a; b < text.size(); ++b) {
      Call& c = start(kCompl, R"({"prompt":"x"})", true);
      output(c, text.substr(0, a));
      output(c, text.substr(a, b - a));
      output(c, text.substr(b), true);
      exit_with(c, 0);
      std::string got;
      for (const auto& e : sse_events(c.fr.body())) {
        if (e == "[DONE]") continue;
        got += str(parse_json(e)->root["choices"].at(0)["text"]);
      }
      EXPECT_EQ(got, text) << "split at " << a << ", " << b;
      destroy(c);
    }
  }
}

TEST_F(LocalProcessTest, NonZeroExitFinishesWithAnError) {
  Call& c = start(kChat, kChatBody);
  output(c, "partial", true);
  exit_with(c, 1);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(c.fr.finish_message, "`llama-cli` exited with status 1");
  EXPECT_EQ(c.fr.respond_calls, 0) << "the host still owns the status line";
}

TEST_F(LocalProcessTest, StreamErrorAfterOutputReportsWhatWasSent) {
  Call& c = start(kChat, kChatBody, true);
  output(c, "one two");
  exit_with(c, -11);
  ASSERT_TRUE(c.fr.finished());
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(c.fr.finish_message, "`llama-cli` was killed by signal 11");
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_ERROR);
  EXPECT_EQ(c.fr.usage.completion_tokens, 2u);
  EXPECT_EQ(c.fr.body().find("[DONE]"), std::string::npos);
}

TEST_F(LocalProcessTest, KillAfterTheTimeoutSaysSo) {
  Call& c = start(kChat, kChatBody);
  FakeHost::clock_ns() += 30'000'000'000;
  exit_with(c, -9);
  FakeHost::clock_ns() -= 30'000'000'000;
  EXPECT_EQ(c.fr.finish_message, "`llama-cli` was killed after the timeout of 30s");
}

TEST_F(LocalProcessTest, CapIsPerInstanceAndFreedOnExit) {
  Call& a = start(kChat, kChatBody);
  Call& b = start(kChat, kChatBody);
  Call& c = request(kChat, kChatBody);
  EXPECT_EQ(c.new_status, AIGW_ERR_LIMIT);
  EXPECT_NE(c.error.find("max_processes"), std::string::npos) << c.error;
  exit_with(a, 0);  // exit frees the slot even before the request is destroyed
  Call& d = request(kChat, kChatBody);
  EXPECT_EQ(d.new_status, AIGW_OK) << d.error;
  destroy(b);  // so does destroying a request whose child never exited
  Call& e = request(kChat, kChatBody);
  EXPECT_EQ(e.new_status, AIGW_OK) << e.error;
  Call& f = request(kChat, kChatBody);
  EXPECT_EQ(f.new_status, AIGW_ERR_LIMIT);
}

TEST_F(LocalProcessTest, SpawnFailureFinishesAndFreesTheSlot) {
  Call& a = request(kChat, kChatBody);
  ASSERT_EQ(a.new_status, AIGW_OK);
  a.fr.spawn_result = AIGW_ERR_LIMIT;
  ASSERT_EQ(hooks_->request_start(a.ctx), AIGW_OK);
  EXPECT_EQ(a.fr.finish_status, AIGW_ERR_LIMIT);
  EXPECT_NE(a.fr.finish_message.find("could not start `llama-cli`"), std::string::npos);
  start(kChat, kChatBody);
  Call& c = request(kChat, kChatBody);
  EXPECT_EQ(c.new_status, AIGW_OK) << "the failed spawn gave its slot back";
}

TEST_F(LocalProcessTest, ClientGoneKillsTheChild) {
  Call& c = start(kChat, kChatBody, true);
  output(c, "some");
  hooks_->on_client_gone(c.ctx);
  EXPECT_EQ(c.fr.procs.at(0)->kills, 1);
  size_t emits = c.fr.emits.size();
  output(c, " more", true);
  exit_with(c, -9);
  EXPECT_EQ(c.fr.emits.size(), emits);
  EXPECT_FALSE(c.fr.finished());
}

TEST_F(LocalProcessTest, EmbeddingsAreUnsupported) {
  Call& c = request(kEmb, R"({"input":"x"})");
  EXPECT_EQ(c.new_status, AIGW_ERR_UNSUPPORTED);
  EXPECT_NE(c.error.find("embeddings"), std::string::npos) << c.error;
}

}  // namespace
