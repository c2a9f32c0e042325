// The anthropic plugin's hooks (plugins/anthropic) driven through its hook
// table by the fake host of tests/support/fake_host.h: the upstream request
// it describes (path, key and version headers), the verdict on Anthropic's
// status, and what reaches the client for recorded answers
// (tests/fixtures/anthropic), whole and streamed however the body is cut,
// and for errors. What the answers say is translate_response's business;
// these tests check the glue around it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "anthropic_hooks_fixture.h"
#include "anthropic_test_util.h"

namespace {

using anthropic_test::Call;
using anthropic_test::recorded;
using anthropic_test::recorded_events;
using anthropic_test::sse_body;

class AnthropicPluginTest : public anthropic_test::AnthropicHooksTest {
 protected:
  // A streamed request answered with `wire` cut once at `cut`: what the
  // client got, with the per-request id and clock taken out.
  std::string streamed(const std::string& wire, size_t cut, Call** out = nullptr) {
    Call& c = request(kStream, AIGW_ENDPOINT_CHAT_COMPLETIONS, true);
    head(c, 200, {{"Content-Type", "text/event-stream; charset=utf-8"}});
    body(c, wire.substr(0, cut), false);
    body(c, wire.substr(cut), true);
    if (out != nullptr) *out = &c;
    return replace_digits(replace_digits(c.fr.body(), "chatcmpl-anthropic-", "ID"),
                          "\"created\":", "\"created\":0");
  }

  // Every `prefix` followed by a run of digits becomes `with`. Hand-written
  // rather than <regex>: GCC 12's regex headers trip -Wmaybe-uninitialized
  // under -O2 with the sanitizers, and -Werror makes that a build failure.
  static std::string replace_digits(const std::string& s, std::string_view prefix,
                                    std::string_view with) {
    std::string out;
    size_t at = 0;
    for (size_t hit = s.find(prefix); hit != std::string::npos; hit = s.find(prefix, at)) {
      size_t end = hit + prefix.size();
      while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
      if (end == hit + prefix.size()) {  // no digits: keep as is
        out.append(s, at, end - at);
      } else {
        out.append(s, at, hit - at);
        out.append(with);
      }
      at = end;
    }
    out.append(s, at, std::string::npos);
    return out;
  }

  static constexpr const char* kStream =
      R"({"model":"claude","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})";

};

const char* kChat = R"({"model":"claude","messages":[{"role":"user","content":"why is the sky blue?"}]})";

TEST_F(AnthropicPluginTest, DeclaresItselfAsAnHttpPluginOfTheCurrentAbi) {
  const aigw_plugin_def* def = aigw_anthropic_plugin_entry();
  EXPECT_STREQ(def->name, "anthropic");
  EXPECT_EQ(def->abi_major, 1);
  EXPECT_EQ(def->abi_minor, AIGW_ABI_MINOR);
  ASSERT_EQ(def->hooks->struct_size, sizeof(aigw_hooks));
  EXPECT_EQ(def->hooks->native_dialects, uint64_t{AIGW_DIALECT_ANTHROPIC_MESSAGES});
  EXPECT_EQ(def->hooks->mode, AIGW_MODE_HTTP);
  EXPECT_EQ(def->hooks->key_count(config_), 2u);
  aigw_health_probe probe{};
  probe.struct_size = sizeof probe;
  ASSERT_EQ(def->hooks->health_probe(config_, &probe), AIGW_OK);
  EXPECT_EQ(std::string(probe.method.ptr, probe.method.len), "GET");
  EXPECT_EQ(std::string(probe.path.ptr, probe.path.len), "/v1/models?limit=1");
}

TEST_F(AnthropicPluginTest, UpstreamRequests) {
  Call& c = request(kChat);
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_method, "POST");
  EXPECT_EQ(c.up_path, "/v1/messages");
  EXPECT_EQ(c.up_headers["x-api-key"], "key-one");  // the host's key_index
  EXPECT_EQ(c.up_headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(c.up_headers["Content-Type"], "application/json");
  EXPECT_EQ(c.up_headers["Accept"], "application/json");
  EXPECT_EQ(c.up.body_unchanged, 0);
  EXPECT_NE(c.up_body.find("\"model\":\"claude-sonnet-4-5\""), std::string::npos) << c.up_body;

  Call& s = request(kStream, AIGW_ENDPOINT_CHAT_COMPLETIONS, true, 0);
  ASSERT_EQ(s.new_status, AIGW_OK) << s.error;
  EXPECT_EQ(s.up_path, "/v1/messages");
  EXPECT_EQ(s.up_headers["Accept"], "text/event-stream");
  EXPECT_EQ(s.up_headers["x-api-key"], "key-zero");

  Call& p = request("", AIGW_ENDPOINT_HEALTH_PROBE);
  ASSERT_EQ(p.new_status, AIGW_OK) << p.error;
  EXPECT_EQ(p.up_headers.size(), 2u);
  EXPECT_EQ(p.up_headers["x-api-key"], "key-one");
  EXPECT_EQ(p.up_headers["anthropic-version"], "2023-06-01");
}

TEST_F(AnthropicPluginTest, RefusalsComeBeforeAnyUpstreamTraffic) {
  EXPECT_EQ(request(R"({"model":"m","input":"x"})", AIGW_ENDPOINT_EMBEDDINGS).new_status, AIGW_ERR_UNSUPPORTED);
  EXPECT_EQ(request(R"({"model":"m","prompt":"x"})", AIGW_ENDPOINT_COMPLETIONS).new_status, AIGW_ERR_UNSUPPORTED);
  Call& i = request(R"({"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"1":1}})");
  EXPECT_EQ(i.new_status, AIGW_ERR_INVALID);
  EXPECT_NE(i.error.find("logit_bias"), std::string::npos) << i.error;
  Call& bad = request(kChat, AIGW_ENDPOINT_CHAT_COMPLETIONS, false, 1, "claude\"}, \"x\":{\"");
  EXPECT_EQ(bad.new_status, AIGW_ERR_INVALID);
}

TEST_F(AnthropicPluginTest, AWholeAnswerStartsAtItsEnd) {
  Call& c = request(kChat);
  aigw_upstream_verdict v = head(c, 200, {{"Content-Type", "application/json"}});
  EXPECT_EQ(v.error_class, AIGW_ERROR_NONE);
  EXPECT_EQ(c.fr.respond_calls, 0) << "its status may still change";
  std::string answer = recorded("pydantic-ai_test_anthropic_model_thinking_part.json", 0, "response");
  body(c, answer.substr(0, 100), false);
  EXPECT_EQ(c.fr.respond_calls, 0);
  body(c, answer.substr(100), true);
  EXPECT_EQ(c.fr.respond_calls, 1);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("Content-Type"), "application/json");
  EXPECT_NE(c.fr.body().find("\"reasoning_content\""), std::string::npos);
  EXPECT_EQ(c.fr.finish_calls, 1);
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
  EXPECT_TRUE(anthropic_test::reported_usage(c.fr, 43, 321));
}

TEST_F(AnthropicPluginTest, AStreamCommitsAtItsFirstContentAndEndsAtMessageStop) {
  std::string wire = sse_body(recorded_events("llm-anthropic_test_stream_events_thinking.json"));
  Call* c = nullptr;
  std::string got = streamed(wire, 0, &c);
  EXPECT_EQ(c->fr.respond_calls, 1);
  EXPECT_EQ(c->fr.status, 200);
  EXPECT_EQ(c->fr.header("Content-Type"), "text/event-stream");
  ASSERT_EQ(c->fr.commits.size(), 1u);
  EXPECT_EQ(c->fr.commits[0], 2u) << "the role chunk, then the first reasoning delta";
  EXPECT_EQ(c->fr.finish_calls, 1);
  EXPECT_EQ(c->fr.finish_status, AIGW_OK) << c->fr.finish_message;
  EXPECT_EQ(c->fr.reason, AIGW_FINISH_STOP);
  EXPECT_EQ(c->fr.usage.prompt_tokens, 46u);
  EXPECT_EQ(c->fr.usage.completion_tokens, 133u);
  EXPECT_NE(got.find("\"usage\":{\"prompt_tokens\":46"), std::string::npos) << got;
  EXPECT_EQ(got.substr(got.size() - 14), "data: [DONE]\n\n");
}

// However the body is cut, the client gets the same bytes.
TEST_F(AnthropicPluginTest, StreamsCutAnywhereGiveTheSameAnswer) {
  for (const char* file : {"llm-anthropic_test_stream_events_thinking.json", "llm-anthropic_test_stream_events_tool_calls.json",
                           "pydantic-ai_test_anthropic_model_thinking_part_stream.json",
                           "pydantic-ai_test_anthropic_native_tool_search_streaming.json"}) {
    std::string wire = sse_body(recorded_events(file));
    std::string whole = streamed(wire, wire.size());
    ASSERT_NE(whole.find("[DONE]"), std::string::npos) << file;
    // Every byte for the small recordings; a stride for the long ones.
    size_t step = wire.size() > 8000 ? 13 : 1;
    for (size_t cut = 0; cut < wire.size(); cut += step) {
      ASSERT_EQ(streamed(wire, cut), whole) << file << " cut at " << cut;
      // The requests are done with: keep the memory flat.
      hooks_->request_destroy(calls_.back()->ctx);
      calls_.pop_back();
    }
  }
}

TEST_F(AnthropicPluginTest, AStreamCutBeforeMessageStopEndsInAnErrorAfterTheContent) {
  std::vector<std::string> events = recorded_events("llm-anthropic_test_stream_events_thinking.json");
  events.resize(events.size() - 3);  // no message_delta, no message_stop
  Call* c = nullptr;
  std::string got = streamed(sse_body(events), 0, &c);
  EXPECT_NE(got.find("Pouch"), std::string::npos) << "the content went out";
  EXPECT_EQ(got.find("[DONE]"), std::string::npos);
  EXPECT_EQ(c->fr.finish_calls, 1);
  EXPECT_NE(c->fr.finish_status, AIGW_OK);
  EXPECT_NE(c->fr.finish_message.find("message_stop"), std::string::npos) << c->fr.finish_message;
  EXPECT_EQ(c->fr.reason, AIGW_FINISH_ERROR);
}

TEST_F(AnthropicPluginTest, ErrorEventsInAStream) {
  // Overloaded before any content: the host's to answer (another channel
  // may take it), nothing started.
  Call* c = nullptr;
  streamed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
           "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
           0, &c);
  // The role chunk is not content, but it went out: the stream started.
  EXPECT_EQ(c->fr.finish_calls, 1);
  EXPECT_EQ(c->fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_TRUE(c->fr.commits.empty());
  // An invalid request reported as the first event: answered as a whole
  // request would be.
  Call* d = nullptr;
  streamed("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad\"}}\n\n", 0, &d);
  EXPECT_EQ(d->fr.status, 400);
  EXPECT_EQ(d->fr.body(), R"({"error":{"message":"bad","type":"invalid_request_error","code":"invalid_request_error"}})");
  EXPECT_EQ(d->fr.finish_status, AIGW_OK);
  // After content: the host writes the error event.
  Call* e = nullptr;
  std::string got = streamed(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n"
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
      0, &e);
  EXPECT_NE(got.find("Hello"), std::string::npos);
  EXPECT_EQ(e->fr.commits.size(), 1u);
  EXPECT_EQ(e->fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(e->fr.finish_message, "Overloaded");
  EXPECT_EQ(e->fr.reason, AIGW_FINISH_ERROR);
}

TEST_F(AnthropicPluginTest, VerdictsAndErrorBodies) {
  const std::pair<int32_t, aigw_error_class> cases[] = {
      {400, AIGW_ERROR_CLIENT},    {404, AIGW_ERROR_CLIENT},    {401, AIGW_ERROR_KEY_INVALID},
      {403, AIGW_ERROR_KEY_INVALID}, {500, AIGW_ERROR_RETRYABLE}, {529, AIGW_ERROR_RETRYABLE}};
  for (const auto& [status, cls] : cases) {
    Call& c = request(kChat);
    EXPECT_EQ(head(c, status).error_class, cls) << status;
    body(c, R"({"type":"error","error":{"type":"some_error","message":"m"}})", true);
    EXPECT_EQ(c.fr.status, status);
    EXPECT_NE(c.fr.body().find("\"code\":\"some_error\""), std::string::npos) << c.fr.body();
    EXPECT_EQ(c.fr.finish_calls, 1);
  }
  Call& r = request(kChat);
  aigw_upstream_verdict v = head(r, 429, {{"retry-after", "7"}});
  EXPECT_EQ(v.error_class, AIGW_ERROR_RATE_LIMITED);
  EXPECT_EQ(v.retry_after_ms, 7000u);
  body(r, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})", true);
  EXPECT_EQ(r.fr.status, 429);
  EXPECT_EQ(r.fr.header("Retry-After"), "7");
  EXPECT_EQ(r.fr.body(), R"({"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_error"}})");
}

}  // namespace
