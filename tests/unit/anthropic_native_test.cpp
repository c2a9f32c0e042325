// The anthropic plugin's native Messages pass-through (ABI 1.3,
// AIGW_DIALECT_ANTHROPIC_MESSAGES) through its hook table and the fake
// host: what goes upstream (the client's body as is or with the model
// spliced, the headers, the paths), and what comes back (Anthropic's bytes
// unchanged however the body is cut, the commit at the first content
// event, the usage and finish reason, the verdicts, the errors).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "anthropic_hooks_fixture.h"
#include "anthropic_test_util.h"
#include "native_exchange.h"

namespace {

using anthropic_test::Call;
using anthropic_test::Headers;
using anthropic_test::read_fixture;
using anthropic_test::recorded;
using anthropic_test::recorded_events;
using anthropic_test::recorded_status;
using anthropic_test::reported_usage;
using anthropic_test::sse_body;

constexpr std::string_view kMessages =
    R"({"max_tokens":64,"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]})";
constexpr std::string_view kStreamed =
    R"({"max_tokens":64,"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]})";

// The events of a stream by type, as sse_body frames them.
std::string event(std::string_view type, std::string_view data) {
  return "event: " + std::string(type) + "\ndata: " + std::string(data) + "\n\n";
}

const std::string kStart = event(
    "message_start",
    R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":1}}})");
const std::string kPing = event("ping", R"({"type":"ping"})");
const std::string kBlock = event(
    "content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
const std::string kDelta = event(
    "content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})");
const std::string kBlockStop = event("content_block_stop", R"({"type":"content_block_stop","index":0})");
const std::string kStop = event("message_stop", R"({"type":"message_stop"})");

std::string message_delta(std::string_view stop_reason, std::string_view usage) {
  return event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" + std::string(stop_reason) +
                                    R"(","stop_sequence":null},"usage":)" + std::string(usage) + "}");
}

class AnthropicNativeTest : public anthropic_test::AnthropicHooksTest {
 protected:
  // A /v1/messages request whose "model" value the host located, as it
  // does for every body it routes.
  Call& make_native(std::string_view body, bool stream = false, uint32_t key = 1,
                    aigw_endpoint ep = AIGW_ENDPOINT_MESSAGES, const std::string& model = "claude-sonnet-4-5") {
    Call& c = make(std::string(body), ep, stream, key, model);
    size_t at = c.body.find("\"model\":\"");
    EXPECT_NE(at, std::string::npos);
    c.client.model_value_offset = at + 9;
    c.client.model_value_len = c.body.find('"', at + 9) - (at + 9);
    return c;
  }
  Call& native(std::string_view body, bool stream = false, uint32_t key = 1,
               aigw_endpoint ep = AIGW_ENDPOINT_MESSAGES) {
    Call& c = make_native(body, stream, key, ep);
    start(c);
    EXPECT_EQ(c.new_status, AIGW_OK) << c.error;
    return c;
  }

  // A stream answered with `wire` cut once at `cut`. `content_end` is the
  // offset just past the first content event: the commit must have come
  // with the first body call exactly when that call completed it.
  Call& streamed(const std::string& wire, size_t cut, size_t content_end) {
    Call& c = native(kStreamed, true);
    head(c, 200, {{"Content-Type", "text/event-stream; charset=utf-8"}, {"request-id", "req_1"}});
    EXPECT_EQ(c.fr.respond_calls, 1) << "a 2xx head starts the answer";
    body(c, wire.substr(0, cut), false);
    EXPECT_EQ(c.fr.commits.size(), cut >= content_end ? 1u : 0u) << "cut at " << cut;
    body(c, wire.substr(cut), true);
    return c;
  }

  void done_with_last() {
    hooks_->request_destroy(calls_.back()->ctx);
    calls_.pop_back();
  }
};

// --- the upstream request ---------------------------------------------------

TEST_F(AnthropicNativeTest, TheBodyGoesUnchangedWhenTheNamesAgree) {
  Call& c = make_native(kMessages);
  c.client_headers = {{"anthropic-version", "2024-10-22"},
                      {"anthropic-beta", "prompt-caching-2024-07-31"},
                      {"User-Agent", "Anthropic/Python 0.60.0"},
                      {"x-stainless-lang", "python"}};
  start(c);
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up_method, "POST");
  EXPECT_EQ(c.up_path, "/v1/messages");
  EXPECT_EQ(c.up.body_unchanged, 1) << "zero copy: the host sends the client's bytes";
  EXPECT_EQ(c.up_headers["x-api-key"], "key-one");
  EXPECT_EQ(c.up_headers["anthropic-version"], "2024-10-22") << "the client's";
  EXPECT_EQ(c.up_headers["anthropic-beta"], "prompt-caching-2024-07-31");
  EXPECT_EQ(c.up_headers["Content-Type"], "application/json");
  EXPECT_EQ(c.up.header_count, 4u) << "nothing else of the client's";
}

TEST_F(AnthropicNativeTest, DefaultVersionAndTheKeyOfTheChannel) {
  Call& c = native(kMessages, false, 0);
  EXPECT_EQ(c.up_headers["x-api-key"], "key-zero");
  EXPECT_EQ(c.up_headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(c.up_headers.count("anthropic-beta"), 0u);
  EXPECT_EQ(c.up.header_count, 3u);
  // Several betas: each passed on.
  Call& b = make_native(kMessages);
  b.client_headers = {{"Anthropic-Beta", "a-1"}, {"anthropic-beta", "b-2"}};
  start(b);
  size_t betas = 0;
  for (size_t i = 0; i < b.up.header_count; ++i) {
    if (std::string_view(b.up.headers[i].name.ptr, b.up.headers[i].name.len) == "anthropic-beta") ++betas;
  }
  EXPECT_EQ(betas, 2u);
  EXPECT_EQ(b.up_headers["anthropic-version"], "2023-06-01");
}

TEST_F(AnthropicNativeTest, ARenamedModelIsSplicedIntoTheClientsBytes) {
  const std::string body =
      R"({"max_tokens":64,"model":"sonnet","messages":[{"role":"user","content":"say \"model\":\"x\""}]})";
  Call& c = make_native(body, false, 1, AIGW_ENDPOINT_MESSAGES, "sonnet");
  c.upstream_model = "claude-sonnet-4-5-20250929";
  c.client.upstream_model = {c.upstream_model.data(), c.upstream_model.size()};
  start(c);
  ASSERT_EQ(c.new_status, AIGW_OK) << c.error;
  EXPECT_EQ(c.up.body_unchanged, 0);
  ASSERT_EQ(c.up.body_count, 3u) << "before, the name, after";
  EXPECT_EQ(c.up.body[0].ptr, c.chunk.ptr) << "no copy of the client's bytes";
  EXPECT_EQ(c.up.body[2].ptr, c.chunk.ptr + c.client.model_value_offset + 6);
  EXPECT_EQ(c.up_body,
            R"({"max_tokens":64,"model":"claude-sonnet-4-5-20250929","messages":[{"role":"user","content":"say \"model\":\"x\""}]})");
}

TEST_F(AnthropicNativeTest, BadUpstreamNamesAndPositionsAreRefused) {
  Call& c = make_native(kMessages, false, 1, AIGW_ENDPOINT_MESSAGES);
  c.upstream_model = "claude\", \"x\":\"";
  c.client.upstream_model = {c.upstream_model.data(), c.upstream_model.size()};
  start(c);
  EXPECT_EQ(c.new_status, AIGW_ERR_INVALID);
  Call& n = make_native(kMessages, false, 1, AIGW_ENDPOINT_MESSAGES);
  n.upstream_model = "claude-opus-4-1";
  n.client.upstream_model = {n.upstream_model.data(), n.upstream_model.size()};
  n.client.model_value_len = 0;  // no "model" in the body
  start(n);
  EXPECT_EQ(n.new_status, AIGW_ERR_INVALID);
}

// However the client's body is chunked and wherever the model lies, the
// spliced body is the bytes before it, the name, the bytes after.
TEST(AnthropicNativeSplice, AnyChunkingAnyPosition) {
  const std::string body = R"({"model":"m-1","x":2})";
  const size_t off = 10, len = 3;
  const std::string want = R"({"model":"claude-x","x":2})";
  for (size_t a = 0; a <= body.size(); ++a) {
    for (size_t b = a; b <= body.size(); ++b) {
      aigw_host_bytes in[3] = {{reinterpret_cast<const uint8_t*>(body.data()), a},
                               {reinterpret_cast<const uint8_t*>(body.data()) + a, b - a},
                               {reinterpret_cast<const uint8_t*>(body.data()) + b, body.size() - b}};
      aigw_plugin_bytes out[5];
      size_t n = aigw::anthropic_plugin::splice_body(in, 3, off, len, "claude-x", out);
      ASSERT_GE(n, 3u);
      ASSERT_LE(n, 5u);
      std::string got;
      for (size_t i = 0; i < n; ++i) got.append(reinterpret_cast<const char*>(out[i].ptr), out[i].len);
      ASSERT_EQ(got, want) << a << "," << b;
    }
  }
  aigw_host_bytes one{reinterpret_cast<const uint8_t*>(body.data()), body.size()};
  aigw_plugin_bytes out[3];
  EXPECT_EQ(aigw::anthropic_plugin::splice_body(&one, 1, body.size() - 1, 2, "x", out), 0u);
  EXPECT_EQ(aigw::anthropic_plugin::splice_body(&one, 1, body.size() + 1, 0, "x", out), 0u);
}

TEST_F(AnthropicNativeTest, CountTokensGoesToItsOwnPathAndIsNeverAStream) {
  Call& c = native(R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]})", true, 1,
                   AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS);
  EXPECT_EQ(c.up_path, "/v1/messages/count_tokens");
  EXPECT_EQ(c.up.body_unchanged, 1);
  EXPECT_EQ(c.up_headers["x-api-key"], "key-one");
  EXPECT_EQ(head(c, 200, {{"content-type", "application/json"}}).error_class, AIGW_ERROR_NONE);
  body(c, R"({"input_tokens":)", false);
  body(c, "14}", true);
  EXPECT_EQ(c.fr.status, 200);
  EXPECT_EQ(c.fr.header("content-type"), "application/json");
  EXPECT_EQ(c.fr.body(), R"({"input_tokens":14})");
  EXPECT_EQ(c.fr.usage_calls, 0) << "counting bills nothing";
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

TEST_F(AnthropicNativeTest, TheRecordedCountTokensErrorPassesThrough) {
  const char* file = "pydantic-ai_test_anthropic_count_tokens_error.json";
  Call& c = native(recorded(file, 0, "request"), false, 1, AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS);
  int status = recorded_status(file, 0);
  ASSERT_EQ(status, 404);
  EXPECT_EQ(head(c, status, {{"Content-Type", "application/json"}, {"request-id", "req_011CVEA3SF7rnb3DuBZytqQa"}})
                .error_class,
            AIGW_ERROR_CLIENT);
  EXPECT_EQ(c.fr.respond_calls, 1) << "the client's own error: answered from this head";
  std::string answer = recorded(file, 0, "response");
  body(c, answer, true);
  EXPECT_EQ(c.fr.status, 404);
  EXPECT_EQ(c.fr.header("request-id"), "req_011CVEA3SF7rnb3DuBZytqQa");
  EXPECT_EQ(c.fr.body(), answer) << "Anthropic's shape, not OpenAI's";
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
}

// --- whole answers ----------------------------------------------------------

TEST_F(AnthropicNativeTest, AWholeAnswerPassesThroughAndIsAccounted) {
  const char* file = "pydantic-ai_test_anthropic_model_thinking_part.json";
  Call& c = native(recorded(file, 0, "request"));
  head(c, 200, {{"Content-Type", "application/json"}, {"anthropic-ratelimit-tokens-remaining", "7000"},
                {"Set-Cookie", "x=y"}, {"cf-ray", "1"}});
  EXPECT_EQ(c.fr.respond_calls, 1);
  std::string answer = recorded(file, 0, "response");
  body(c, answer.substr(0, 100), false);
  EXPECT_EQ(c.fr.finish_calls, 0);
  body(c, answer.substr(100), true);
  EXPECT_EQ(c.fr.body(), answer);
  EXPECT_EQ(c.fr.header("anthropic-ratelimit-tokens-remaining"), "7000");
  EXPECT_EQ(c.fr.header("Set-Cookie"), "<none>");
  EXPECT_EQ(c.fr.header("cf-ray"), "<none>");
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
  EXPECT_TRUE(reported_usage(c.fr, 43, 321));
}

TEST_F(AnthropicNativeTest, CacheTokensAreInputAndStopReasonsAreMapped) {
  const std::pair<const char*, aigw_finish_reason> cases[] = {
      {"end_turn", AIGW_FINISH_STOP},       {"stop_sequence", AIGW_FINISH_STOP},
      {"max_tokens", AIGW_FINISH_LENGTH},   {"tool_use", AIGW_FINISH_TOOL_CALLS},
      {"refusal", AIGW_FINISH_CONTENT_FILTER}};
  for (const auto& [stop, reason] : cases) {
    Call& c = native(kMessages);
    head(c, 200, {{"Content-Type", "application/json"}});
    body(c,
         std::string(R"({"type":"message","content":[],"stop_reason":")") + stop +
             R"(","usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}})",
         true);
    EXPECT_EQ(c.fr.reason, reason) << stop;
    EXPECT_TRUE(reported_usage(c.fr, 60, 5)) << "input 10 + cache creation 20 + cache read 30";
  }
}

TEST_F(AnthropicNativeTest, AWholeAnswerThatIsNotJsonIsAnError) {
  Call& c = native(kMessages);
  head(c, 200, {{"Content-Type", "application/json"}});
  body(c, R"({"type":"message","content":[)", true);
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
}

// --- streams ----------------------------------------------------------------

struct Recording {
  const char* file;
  size_t index;
  uint64_t prompt, completion;
  aigw_finish_reason reason;
};

// Every recorded stream, cut at every byte: the client gets Anthropic's
// bytes exactly, the commit comes right after the first content event
// (content_block_start, after message_start and never with it alone), and
// the usage of message_start as updated by message_delta is accounted.
TEST_F(AnthropicNativeTest, RecordedStreamsCutAnywherePassThroughByteForByte) {
  const Recording recordings[] = {
      {"llm-anthropic_test_stream_events_thinking.json", 0, 46, 133, AIGW_FINISH_STOP},
      {"llm-anthropic_test_stream_events_tool_calls.json", 0, 543, 40, AIGW_FINISH_TOOL_CALLS},
      {"pydantic-ai_test_anthropic_model_thinking_part_stream.json", 0, 43, 282, AIGW_FINISH_STOP},
      // message_delta's input_tokens (1591) replaces message_start's (702).
      {"pydantic-ai_test_anthropic_native_tool_search_streaming.json", 0, 1591, 175, AIGW_FINISH_TOOL_CALLS},
      {"pydantic-ai_test_anthropic_native_tool_search_streaming.json", 1, 1007, 59, AIGW_FINISH_STOP},
  };
  for (const Recording& r : recordings) {
    std::vector<std::string> events = recorded_events(r.file, r.index);
    ASSERT_GT(events.size(), 2u);
    std::string wire = sse_body(events);
    // Each recording opens with message_start, then content_block_start.
    ASSERT_EQ(sse_body({events[0]}).rfind("event: message_start\n", 0), 0u) << r.file;
    ASSERT_EQ(sse_body({events[1]}).rfind("event: content_block_start\n", 0), 0u) << r.file;
    size_t content_end = sse_body({events[0], events[1]}).size();
    for (size_t cut = 0; cut <= wire.size(); ++cut) {
      Call& c = streamed(wire, cut, content_end);
      ASSERT_EQ(c.fr.body(), wire) << r.file << " cut at " << cut;
      ASSERT_EQ(c.fr.commits.size(), 1u) << r.file << " cut at " << cut;
      ASSERT_EQ(c.fr.commits[0], 2u) << "message_start, then the first content event, one emit each";
      ASSERT_EQ(c.fr.finish_status, AIGW_OK) << c.fr.finish_message;
      ASSERT_EQ(c.fr.reason, r.reason) << r.file;
      ASSERT_TRUE(reported_usage(c.fr, r.prompt, r.completion)) << r.file;
      done_with_last();
    }
  }
}

TEST_F(AnthropicNativeTest, PingAndMessageStartAreNotContent) {
  const std::string wire = kStart + kPing + kPing + kDelta + kBlockStop +
                           message_delta("max_tokens", R"({"output_tokens":7,"cache_read_input_tokens":31})") + kStop;
  Call& c = streamed(wire, (kStart + kPing + kPing).size(), (kStart + kPing + kPing + kDelta).size());
  EXPECT_EQ(c.fr.body(), wire);
  ASSERT_EQ(c.fr.commits.size(), 1u);
  EXPECT_EQ(c.fr.commits[0], 4u);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_LENGTH);
  // input 10 + cache creation 20 + cache read 31 (message_delta's).
  EXPECT_TRUE(reported_usage(c.fr, 61, 7));
}

TEST_F(AnthropicNativeTest, AStreamCutBeforeMessageStopEndsInAnError) {
  std::vector<std::string> events = recorded_events("llm-anthropic_test_stream_events_thinking.json");
  events.resize(events.size() - 1);  // message_delta went, message_stop did not
  std::string wire = sse_body(events);
  // Also cut inside the last event: that half is not sent.
  for (size_t drop : {size_t{0}, size_t{10}}) {
    Call& c = streamed(wire.substr(0, wire.size() - drop), 0, std::string::npos);
    EXPECT_EQ(c.fr.body(), drop == 0 ? wire : sse_body({events.begin(), events.end() - 1}));
    EXPECT_EQ(c.fr.finish_calls, 1);
    EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
    EXPECT_NE(c.fr.finish_message.find("message_stop"), std::string::npos) << c.fr.finish_message;
    EXPECT_EQ(c.fr.reason, AIGW_FINISH_ERROR);
    EXPECT_EQ(c.fr.usage.prompt_tokens, 46u) << "what was used is still accounted";
  }
}

TEST_F(AnthropicNativeTest, ALastEventWithoutItsBlankLineIsWhole) {
  const std::string wire = kStart + kBlock + kDelta + message_delta("end_turn", R"({"output_tokens":2})") + kStop;
  Call& c = streamed(wire.substr(0, wire.size() - 2), 0, (kStart + kBlock).size());
  EXPECT_EQ(c.fr.body(), wire) << "sent with the blank line an SSE reader needs";
  EXPECT_EQ(c.fr.finish_status, AIGW_OK);
  EXPECT_EQ(c.fr.reason, AIGW_FINISH_STOP);
}

TEST_F(AnthropicNativeTest, AnErrorEventIsTheHostsToWrite) {
  const std::string overloaded =
      event("error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  // Before content: nothing committed, so the host may go to another channel.
  Call& a = streamed(kStart + kPing + overloaded, 0, std::string::npos);
  EXPECT_EQ(a.fr.body(), kStart + kPing);
  EXPECT_TRUE(a.fr.commits.empty());
  EXPECT_EQ(a.fr.finish_status, AIGW_ERR_INTERNAL);
  EXPECT_EQ(a.fr.finish_message, "Overloaded");
  EXPECT_EQ(a.fr.reason, AIGW_FINISH_ERROR);
  // After content: the content went out, the error event is the host's.
  Call& b = streamed(kStart + kBlock + kDelta + overloaded + kStop, 0, (kStart + kBlock).size());
  EXPECT_EQ(b.fr.body(), kStart + kBlock + kDelta);
  EXPECT_EQ(b.fr.finish_status, AIGW_ERR_INTERNAL);
  // The client's own error, as an event: AIGW_ERR_INVALID.
  Call& c = streamed(
      kStart + event("error", R"({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})"), 0,
      std::string::npos);
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INVALID);
  EXPECT_EQ(c.fr.finish_message, "bad");
}

// --- verdicts and error answers ---------------------------------------------

TEST_F(AnthropicNativeTest, VerdictsAndErrorBodiesPassedThrough) {
  const std::string overloaded = R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_9"})";
  for (bool stream : {false, true}) {
    Call& o = native(stream ? kStreamed : kMessages, stream);
    aigw_upstream_verdict v = head(o, 529, {{"content-type", "application/json"}, {"request-id", "req_9"}});
    EXPECT_EQ(v.error_class, AIGW_ERROR_RETRYABLE);
    EXPECT_EQ(o.fr.respond_calls, 0) << "another channel may still answer";
    body(o, overloaded, true);  // the last channel: delivered
    EXPECT_EQ(o.fr.status, 529);
    EXPECT_EQ(o.fr.header("request-id"), "req_9");
    EXPECT_EQ(o.fr.body(), overloaded);
    EXPECT_EQ(o.fr.finish_status, AIGW_OK);
    EXPECT_EQ(o.fr.usage_calls, 0);

    Call& r = native(stream ? kStreamed : kMessages, stream);
    v = head(r, 429, {{"retry-after", "7"}, {"anthropic-ratelimit-requests-remaining", "0"},
                      {"content-type", "application/json"}});
    EXPECT_EQ(v.error_class, AIGW_ERROR_RATE_LIMITED);
    EXPECT_EQ(v.retry_after_ms, 7000u);
    const std::string limited = R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})";
    body(r, limited, true);
    EXPECT_EQ(r.fr.status, 429);
    EXPECT_EQ(r.fr.header("retry-after"), "7");
    EXPECT_EQ(r.fr.header("anthropic-ratelimit-requests-remaining"), "0");
    EXPECT_EQ(r.fr.body(), limited);

    const char* file = "pydantic-ai_test_anthropic_explicit_effort_xhigh_unsupported_model_errors.json";
    Call& b = native(stream ? kStreamed : kMessages, stream);
    EXPECT_EQ(head(b, 400, {{"Content-Type", "application/json"}}).error_class, AIGW_ERROR_CLIENT);
    EXPECT_EQ(b.fr.respond_calls, 1);
    std::string bad = recorded(file, 0, "response");
    body(b, bad.substr(0, 7), false);
    body(b, bad.substr(7), true);
    EXPECT_EQ(b.fr.status, 400);
    EXPECT_EQ(b.fr.body(), bad);
    EXPECT_EQ(b.fr.finish_status, AIGW_OK);

    Call& k = native(stream ? kStreamed : kMessages, stream);
    EXPECT_EQ(head(k, 401).error_class, AIGW_ERROR_KEY_INVALID);
    EXPECT_EQ(head(native(kMessages), 403).error_class, AIGW_ERROR_KEY_INVALID);
    EXPECT_EQ(head(native(kMessages), 500).error_class, AIGW_ERROR_RETRYABLE);
  }
}

TEST_F(AnthropicNativeTest, ARedirectIsNoAnswer) {
  Call& c = native(kMessages);
  EXPECT_EQ(head(c, 302, {{"Location", "https://elsewhere"}}).error_class, AIGW_ERROR_RETRYABLE);
  body(c, "moved", true);
  EXPECT_EQ(c.fr.respond_calls, 0);
  EXPECT_EQ(c.fr.finish_status, AIGW_ERR_INTERNAL);
}

TEST_F(AnthropicNativeTest, TheClientLeaving) {
  Call& c = native(kStreamed, true);
  head(c, 200, {{"Content-Type", "text/event-stream"}});
  body(c, kStart + kBlock, false);
  hooks_->on_client_gone(c.ctx);
  body(c, kDelta + kStop, true);
  EXPECT_EQ(c.fr.body(), kStart + kBlock);
  EXPECT_EQ(c.fr.finish_calls, 0) << "the host ends a request whose client left";
}

}  // namespace
