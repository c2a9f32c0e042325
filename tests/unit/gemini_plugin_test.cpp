// The gemini plugin's hooks (plugins/gemini) driven through its hook table by
// the fake host of tests/support/fake_host.h: the upstream request it
// describes, the verdict on Gemini's status, and what reaches the client for
// recorded answers (tests/fixtures/gemini), whole and streamed, and for
// errors. What the answers say is translate_response's business; these
// tests check the glue around it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstddef>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "support/fake_host.h"

extern "C" const aigw_plugin_def* aigw_gemini_plugin_entry(void);

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace {

using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using aigw::test::FakeRequest;

// The recorded answer of a fixture: the whole body, or its SSE events as
// Gemini sends them.
std::vector<std::string> recorded_segments(const std::string& file) {
  std::ifstream in(std::string(AIGW_FIXTURES_DIR) + "/gemini/" + file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser p;
  simdjson::dom::element root;
  std::vector<std::string> out;
  if (p.parse(ss.str()).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not JSON: " << file;
    return out;
  }
  simdjson::dom::array segs = root["interactions"].at(0)["response"]["body_segments"].get_array().value();
  for (simdjson::dom::element s : segs) out.push_back(simdjson::minify(s));
  return out;
}

struct Call {
  FakeRequest fr;
  std::string body;
  std::string model = "gemini-2.5-flash";
  aigw_host_bytes chunk{};
  aigw_client_request client{};
  aigw_status new_status = -1;
  std::string error;
  void* ctx = nullptr;
  aigw_upstream_request up{};
  std::string up_method, up_path, up_body;
  std::map<std::string, std::string> up_headers;
};

class GeminiPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.values["api_keys"] = std::vector<std::string>{"key-zero", "key-one"};
    char buf[256] = "";
    aigw_errbuf err{buf, sizeof buf};
    ASSERT_EQ(hooks_->config_new(host_.table(), host_.plugin(), cfg_.handle(), &config_, &err), AIGW_OK) << buf;
    aigw_worker_info info{sizeof(aigw_worker_info), 0, 1, 0};
    ASSERT_EQ(hooks_->instance_new(config_, &info, &instance_, &err), AIGW_OK) << buf;
  }
  void TearDown() override {
    for (auto& c : calls_) {
      if (c->new_status == AIGW_OK) hooks_->request_destroy(c->ctx);
    }
    hooks_->instance_destroy(instance_);
    hooks_->config_destroy(config_);
    for (const std::string& line : host_.logs) {
      EXPECT_EQ(line.find("key-"), std::string::npos) << "a key in the log: " << line;
    }
  }

  Call& request(const std::string& body, aigw_endpoint ep = AIGW_ENDPOINT_CHAT_COMPLETIONS, bool stream = false,
                uint32_t key = 1) {
    calls_.push_back(std::make_unique<Call>());
    Call& c = *calls_.back();
    c.body = body;
    c.chunk = {reinterpret_cast<const uint8_t*>(c.body.data()), c.body.size()};
    c.client.struct_size = sizeof c.client;
    c.client.endpoint = ep;
    c.client.stream = stream ? 1 : 0;
    c.client.model = {c.model.data(), c.model.size()};
    c.client.upstream_model = {c.model.data(), c.model.size()};
    c.client.method = {"POST", 4};
    c.client.body = &c.chunk;
    c.client.body_count = body.empty() ? 0 : 1;
    c.client.model_value_len = 1;
    c.client.key_index = key;
    char buf[512] = "";
    aigw_errbuf err{buf, sizeof buf};
    c.new_status = hooks_->request_new(instance_, c.fr.handle(), &c.client, &c.ctx, &err);
    c.error = buf;
    if (c.new_status != AIGW_OK) return c;
    c.up.struct_size = sizeof c.up;
    c.up.body_unchanged = 1;
    c.up.method = {"POST", 4};
    c.up.path_and_query = {"/v1/chat/completions", 20};
    EXPECT_EQ(hooks_->build_upstream(c.ctx, &c.up, &err), AIGW_OK) << buf;
    c.up_method.assign(c.up.method.ptr, c.up.method.len);
    c.up_path.assign(c.up.path_and_query.ptr, c.up.path_and_query.len);
    for (size_t i = 0; i < c.up.header_count; ++i) {
      c.up_headers[std::string(c.up.headers[i].name.ptr, c.up.headers[i].name.len)] =
          std::string(c.up.headers[i].value.ptr, c.up.headers[i].value.len);
    }
    if (!c.up.body_unchanged) {
      for (size_t i = 0; i < c.up.body_count; ++i) {
        c.up_body.append(reinterpret_cast<const char*>(c.up.body[i].ptr), c.up.body[i].len);
      }
    }
    return c;
  }

  aigw_upstream_verdict head(Call& c, int32_t status, std::vector<std::pair<std::string, std::string>> headers = {}) {
    std::vector<aigw_host_header> hs;
    for (const auto& [n, v] : headers) hs.push_back({{n.data(), n.size()}, {v.data(), v.size()}});
    aigw_upstream_verdict v{};
    v.struct_size = sizeof v;
    v.error_class = -1;
    EXPECT_EQ(hooks_->on_upstream_head(c.ctx, status, hs.data(), hs.size(), &v), AIGW_OK);
    return v;
  }

  void body(Call& c, const std::string& bytes, bool end) {
    aigw_host_bytes b{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
    EXPECT_EQ(hooks_->on_upstream_body(c.ctx, &b, 1, end ? 1 : 0), AIGW_OK);
  }

  FakeHost host_{AIGW_MODE_HTTP};
  FakeConfig cfg_;
  const aigw_hooks* hooks_ = aigw_gemini_plugin_entry()->hooks;
  void* config_ = nullptr;
  void* instance_ = nullptr;
  std::vector<std::unique_ptr<Call>> calls_;
};

const char* kChat = R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"why is the sky blue?"}]})";

TEST_F(GeminiPluginTest, DeclaresItselfAsAnHttpPluginOfTheCurrentAbi) {
  const aigw_plugin_def* def = aigw_gemini_plugin_entry();
  EXPECT_STREQ(def->name, "gemini");
  EXPECT_EQ(def->abi_major, 1);
  EXPECT_EQ(def->abi_minor, AIGW_ABI_MINOR);
  EXPECT_EQ(def->hooks->native_dialects, 0u);  // OpenAI clients only: Anthropic ones get the host's translation
  EXPECT_EQ(def->hooks->mode, AIGW_MODE_HTTP);
  EXPECT_EQ(def->hooks->key_count(config_), 2u);
  aigw_health_probe probe{};
  probe.struct_size = sizeof probe;
  ASSERT_EQ(def->hooks->health_probe(config_, &probe), AIGW_OK);
  EXPECT_EQ(std::string(probe.method.ptr, probe.method.len), "GET");
  EXPECT_EQ(std::string(probe.path.ptr, probe.path.len), "/v1beta/models?pageSize=1");
}

TEST_F(GeminiPluginTest, UpstreamRequestsByEndpoint) {
  Call& c = request(kChat);
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_method, "POST");
  EXPECT_EQ(c.up_path, "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(c.up_headers["x-goog-api-key"], "key-one");  // the host's key_index
  EXPECT_EQ(c.up_headers["Content-Type"], "application/json");
  EXPECT_EQ(c.up_headers["Accept"], "application/json");
  EXPECT_EQ(c.up.body_unchanged, 0);
  EXPECT_NE(c.up_body.find("\"contents\""), std::string::npos) << c.up_body;
  EXPECT_EQ(c.up_path.find("key"), std::string::npos) << "the key never goes into the URL";

  Call& s = request(R"({"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                    AIGW_ENDPOINT_CHAT_COMPLETIONS, true, 0);
  ASSERT_EQ(s.new_status, AIGW_OK) << s.error;
  EXPECT_EQ(s.up_path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(s.up_headers["Accept"], "text/event-stream");
  EXPECT_EQ(s.up_headers["x-goog-api-key"], "key-zero");

  Call& e = request(R"({"model":"gemini-embedding-001","input":"x"})", AIGW_ENDPOINT_EMBEDDINGS);
  ASSERT_EQ(e.new_status, AIGW_OK) << e.error;
  EXPECT_EQ(e.up_path, "/v1beta/models/gemini-2.5-flash:batchEmbedContents");
  EXPECT_NE(e.up_body.find("\"models/gemini-2.5-flash\""), std::string::npos) << e.up_body;

  Call& p = request("", AIGW_ENDPOINT_HEALTH_PROBE);
  ASSERT_EQ(p.new_status, AIGW_OK) << p.error;
  EXPECT_EQ(p.up_headers.size(), 1u);
  EXPECT_EQ(p.up_headers["x-goog-api-key"], "key-one");
}

TEST_F(GeminiPluginTest, RefusalsComeBeforeAnyUpstreamTraffic) {
  Call& c = request(R"({"model":"m","prompt":"x"})", AIGW_ENDPOINT_COMPLETIONS);
  EXPECT_EQ(c.new_status, AIGW_ERR_UNSUPPORTED);
  Call& i = request(R"({"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"1":1}})");
  EXPECT_EQ(i.new_status, AIGW_ERR_INVALID);
  EXPECT_NE(i.error.find("logit_bias"), std::string::npos) << i.error;
  calls_.push_back(std::make_unique<Call>());
  Call& bad = *calls_.back();
  bad.model = "../../v1/files";
  bad.body = kChat;
  bad.chunk = {reinterpret_cast<const uint8_t*>(bad.body.data()), bad.body.size()};
  bad.client.struct_size = sizeof bad.client;
  bad.client.endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  bad.client.model = bad.client.upstream_model = {bad.model.data(), bad.model.size()};
  bad.client.body = &bad.chunk;
  bad.client.body_count = 1;
  char buf[256] = "";
  aigw_errbuf err{buf, sizeof buf};
  bad.new_status = hooks_->request_new(instance_, bad.fr.handle(), &bad.client, &bad.ctx, &err);
  EXPECT_EQ(bad.new_status, AIGW_ERR_INVALID);
}

TEST_F(GeminiPluginTest, AWholeAnswerStartsAtItsEnd) {
  Call& c = request(kChat);
  aigw_upstream_verdict v = head(c, 200, {{"Content-Type", "application/json; charset=UTF-8"}});
  EXPECT_EQ(v.error_class, AIGW_ERROR_NONE);
  EXPECT_EQ(c.fr.respond_calls, 0) << "its status may still change";
  std::string answer =
      recorded_segments("Client_Tests_generateContent_ML_Dev_should_generate_content_with_specified_parameters.json")
          .at(0);
  body(c, answer.substr(0, 100), false);
  EXPECT_EQ(c.fr.respond_calls, 0);
  body(c, answer.substr(100), true);
  EXPECT_EQ(c.fr.respond_calls, 1);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
  EXPECT_FALSE(c.fr.body().empty());
  EXPECT_EQ(c.fr.finish_calls, 1);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason_calls, 1);
  // Usage with its ABI 1.4 parts: thoughtsTokenCount as reasoning (inside
  // the completion count), no cached content in this recording.
  ASSERT_EQ(c.fr.usage_calls, 1);
  EXPECT_EQ(c.fr.usage.struct_size, sizeof(aigw_usage));
  EXPECT_EQ(c.fr.usage.prompt_tokens, 7u);
  EXPECT_EQ(c.fr.usage.completion_tokens, 149u + 48u);
  EXPECT_EQ(c.fr.usage.reasoning_tokens, 48u);
  EXPECT_EQ(c.fr.usage.cached_tokens, 0u);
}

TEST_F(GeminiPluginTest, AStreamCommitsAtItsFirstContentAndEndsWithTheAnswer) {
  Call& c = request(R"({"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                    AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
  head(c, 200, {{"Content-Type", "text/event-stream"}});
  EXPECT_EQ(c.fr.respond_calls, 0) << "its status may still change until its first bytes";
  std::vector<std::string> events = recorded_segments(
      "Client_Tests_generateContentStream_ML_Dev_should_stream_generate_content_with_specified_parameters.json");
  ASSERT_EQ(events.size(), 3u);
  std::string wire;
  for (const std::string& e : events) wire += "data: " + e + "\r\n\r\n";
  // Cut inside the first event: nothing may go out before it is whole.
  body(c, wire.substr(0, 20), false);
  EXPECT_TRUE(c.fr.emits.empty());
  EXPECT_EQ(c.fr.respond_calls, 0);
  body(c, wire.substr(20), true);
  EXPECT_EQ(c.fr.respond_calls, 1);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "text/event-stream");
  ASSERT_FALSE(c.fr.emits.empty());
  ASSERT_EQ(c.fr.commits.size(), 1u);
  EXPECT_EQ(c.fr.commits[0], 1u) << "commit right after the first content";
  EXPECT_EQ(c.fr.finish_calls, 1);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK) << c.fr.finish_message;
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_LENGTH);  // MAX_TOKENS
}

TEST_F(GeminiPluginTest, AStreamCutBeforeFinishReasonEndsInAnError) {
  Call& c = request(R"({"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                    AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
  head(c, 200);
  std::vector<std::string> events = recorded_segments(
      "Client_Tests_generateContentStream_ML_Dev_should_stream_generate_content_with_specified_parameters.json");
  body(c, "data: " + events.at(0) + "\r\n\r\n", true);
  EXPECT_EQ(c.fr.finish_calls, 1);
  EXPECT_NE(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_ERROR);
}

// A stream that fails before its first byte with the client's own error
// gets the answer a whole request gets: the status and the OpenAI code
// (content_filter, missing_thought_signature, Gemini's 4xx status), not the
// host's generic one. Other errors go to the host, which may fail over.
TEST_F(GeminiPluginTest, AStreamThatFailsBeforeItsFirstByteAnswersLikeAWholeRequest) {
  const std::string stream_chat =
      R"({"model":"gemini-2.5-flash","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  const std::pair<std::string, std::pair<int, std::string>> cases[] = {
      {R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":9,"totalTokenCount":9}})",
       {400, "content_filter"}},
      {R"({"candidates":[{"finishReason":"MISSING_THOUGHT_SIGNATURE","index":0}]})",
       {400, "missing_thought_signature"}},
      {R"({"error":{"code":400,"message":"Invalid value","status":"INVALID_ARGUMENT"}})", {400, "invalid_argument"}},
  };
  for (const auto& [event, want] : cases) {
    Call& c = request(stream_chat, AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
    head(c, 200, {{"Content-Type", "text/event-stream"}});
    body(c, "data: " + event + "\r\n\r\n", false);
    EXPECT_EQ(c.fr.respond_calls, 1) << event;
    EXPECT_EQ(c.fr.status, want.first) << event;
    EXPECT_EQ(c.fr.header("Content-Type"), "application/json") << event;
    simdjson::dom::parser p;
    simdjson::dom::element err;
    ASSERT_EQ(p.parse(c.fr.body()).get(err), simdjson::SUCCESS) << c.fr.body();
    EXPECT_EQ(std::string_view(err["error"]["code"].get_string().value()), want.second) << event;
    EXPECT_EQ(c.fr.finish_calls, 1);
    EXPECT_EQ(c.fr.finish_status, AIGW_OK) << c.fr.finish_message;
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_ERROR);
    EXPECT_TRUE(c.fr.commits.empty());
    body(c, "", true);  // the rest of the body changes nothing
    EXPECT_EQ(c.fr.finish_calls, 1);
  }
  // Gemini overloaded, or rate limited, inside a stream: the host's to
  // answer (another channel may take the request), nothing started.
  for (const char* event : {R"({"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}})",
                            R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}})"}) {
    Call& c = request(stream_chat, AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
    head(c, 200, {{"Content-Type", "text/event-stream"}});
    body(c, std::string("data: ") + event + "\r\n\r\n", false);
    EXPECT_EQ(c.fr.respond_calls, 0) << event;
    EXPECT_EQ(c.fr.finish_calls, 1) << event;
    EXPECT_NE(c.fr.finish_status, AIGW_OK) << event;
  }
  // After the first bytes, an error is an error event the host writes.
  Call& late = request(stream_chat, AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
  head(late, 200, {{"Content-Type", "text/event-stream"}});
  body(late,
       "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}],\"role\":\"model\"},\"index\":0}]}\r\n\r\n"
       "data: {\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}\r\n\r\n",
       false);
  EXPECT_EQ(late.fr.respond_calls, 1);
  EXPECT_EQ(late.fr.status, 200);
  EXPECT_EQ(late.fr.finish_calls, 1);
  EXPECT_EQ(late.fr.finish_status, AIGW_ERR_INVALID) << late.fr.finish_message;
}

TEST_F(GeminiPluginTest, RateLimitsTakeTheOpenAiShapeWithRetryAfter) {
  Call& c = request(kChat);
  aigw_upstream_verdict v = head(c, 429, {{"Content-Type", "application/json"}});
  EXPECT_EQ(v.error_class, AIGW_ERROR_RATE_LIMITED);
  EXPECT_EQ(v.retry_after_ms, 0u) << "no Retry-After header: the host's default";
  EXPECT_EQ(c.fr.respond_calls, 0) << "another channel may still take it";
  body(c, R"({"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED",)"
          R"("details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"41.2s"}]}})",
       true);
  EXPECT_EQ(c.fr.status, 429);
  EXPECT_EQ(c.fr.header("Retry-After"), "42");
  EXPECT_EQ(c.fr.body(),
            R"({"error":{"message":"You exceeded your current quota.","type":"rate_limit_error","code":"resource_exhausted"}})");
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);

  Call& h = request(kChat);
  v = head(h, 429, {{"retry-after", "7"}});
  EXPECT_EQ(v.retry_after_ms, 7000u);
}

TEST_F(GeminiPluginTest, StatusClasses) {
  const std::pair<int32_t, aigw_error_class> cases[] = {
      {400, AIGW_ERROR_CLIENT}, {403, AIGW_ERROR_KEY_INVALID}, {401, AIGW_ERROR_KEY_INVALID},
      {500, AIGW_ERROR_RETRYABLE}, {503, AIGW_ERROR_RETRYABLE}, {404, AIGW_ERROR_CLIENT}};
  for (const auto& [status, cls] : cases) {
    Call& c = request(kChat);
    EXPECT_EQ(head(c, status).error_class, cls) << status;
    body(c, R"({"error":{"code":1,"message":"m","status":"S"}})", true);
    EXPECT_EQ(c.fr.status, status);
    EXPECT_EQ(c.fr.finish_calls, 1);
  }
}

}  // namespace
