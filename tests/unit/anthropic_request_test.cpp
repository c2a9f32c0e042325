// The anthropic plugin's request side (plugins/anthropic): its configuration
// read through the fake host's config callbacks, the OpenAI -> Anthropic
// body translation rule by rule and against the requests recorded from
// Anthropic's clients (tests/fixtures/anthropic), the tool-call ids that
// carry thinking blocks, and the translation of Anthropic's errors.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "anthropic_config.h"
#include "anthropic_test_util.h"
#include "support/fake_host.h"
#include "thinking_carry.h"
#include "translate_request.h"
#include "upstream_error.h"

namespace {

namespace ap = aigw::anthropic_plugin;
using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using anthropic_test::recorded;
using anthropic_test::same_json;
using simdjson::dom::element;

struct Chat {
  bool ok = false;
  std::string out;
  ap::ChatRequestInfo info;
  ap::RequestError err;
};

Chat chat(const std::string& body, const std::string& model = "claude-sonnet-4-5") {
  simdjson::dom::parser parser;
  Chat c;
  c.ok = ap::translate_chat_request(parser, body, model, c.out, c.info, c.err);
  if (c.ok) {
    simdjson::dom::parser check;
    element root;
    EXPECT_EQ(check.parse(c.out).get(root), simdjson::SUCCESS) << c.out;
  }
  return c;
}

std::string with(const std::string& members) {
  return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" +
         (members.empty() ? std::string() : "," + members) + "}";
}

std::string member(const Chat& c, const char* name) {
  simdjson::dom::parser p;
  element root, m;
  if (p.parse(c.out).get(root) != simdjson::SUCCESS || root[name].get(m) != simdjson::SUCCESS) return "<none>";
  return simdjson::minify(m);
}

// --- configuration -------------------------------------------------------------

struct Loaded {
  aigw_status st;
  std::string error;
  std::vector<std::string> keys;
  std::set<std::string> read;
};

Loaded load(std::map<std::string, ConfigValue> values) {
  FakeHost host(AIGW_MODE_HTTP);
  FakeConfig cfg;
  cfg.values = std::move(values);
  ap::Config config;
  Loaded l;
  l.st = ap::load_config(host.table(), cfg.handle(), config, l.error);
  l.keys = config.keys;
  l.read = cfg.read;
  return l;
}

TEST(AnthropicConfig, OneChannelPerKey) {
  Loaded l = load({{"api_keys", std::vector<std::string>{"k-one", "k-two"}}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-one", "k-two"}));
  l = load({{"api_key", std::string("k-one")}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-one"}));
  setenv("AIGW_ANTHROPIC_TEST_KEY", "k-from-env", 1);
  l = load({{"api_keys", std::vector<std::string>{"env:AIGW_ANTHROPIC_TEST_KEY"}}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-from-env"}));
  unsetenv("AIGW_ANTHROPIC_TEST_KEY");
}

TEST(AnthropicConfig, RefusesMissingDoubledAndBrokenKeysWithoutQuotingThem) {
  Loaded l = load({});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("api_keys is required"), std::string::npos) << l.error;
  EXPECT_NE(l.error.find("ANTHROPIC_API_KEY"), std::string::npos) << l.error;
  l = load({{"api_key", std::string("a")}, {"api_keys", std::vector<std::string>{"b"}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  l = load({{"api_keys", std::vector<std::string>{}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  l = load({{"api_key", std::string("sk-ant-secret\nX-Evil: 1")}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_EQ(l.error.find("sk-ant-secret"), std::string::npos) << l.error;
}

TEST(AnthropicConfig, ReadsOnlyItsOwnKeys) {
  Loaded l = load({{"api_key", std::string("k")}, {"api_kyes", std::vector<std::string>{"x"}},
                   {"base_url", std::string("https://api.anthropic.com")}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.read, (std::set<std::string>{"api_key"}));
}

// --- messages -------------------------------------------------------------------

TEST(AnthropicChat, ModelAndDefaultMaxTokensAreAlwaysSent) {
  Chat c = chat(with(""), "claude-haiku-4-5");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"model":"claude-haiku-4-5","max_tokens":4096,
      "messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]})", c.out));
  EXPECT_EQ(member(chat(with(R"("max_tokens":7)")), "max_tokens"), "7");
  // max_completion_tokens wins over the deprecated max_tokens.
  EXPECT_EQ(member(chat(with(R"("max_tokens":7,"max_completion_tokens":9)")), "max_tokens"), "9");
  EXPECT_FALSE(chat(with(R"("max_tokens":0)")).ok);
}

TEST(AnthropicChat, SystemAndDeveloperBecomeTopLevelSystem) {
  Chat c = chat(R"({"messages":[{"role":"system","content":"Be brief."},
      {"role":"user","content":"hi"},
      {"role":"developer","content":[{"type":"text","text":"No lists."}]}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(member(c, "system"), R"([{"type":"text","text":"Be brief."},{"type":"text","text":"No lists."}])");
  EXPECT_EQ(member(c, "messages"), R"([{"role":"user","content":[{"type":"text","text":"hi"}]}])");
}

TEST(AnthropicChat, ImagesFromDataAndHttpUrls) {
  Chat c = chat(R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"what is it"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
      {"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}}]}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"([{"role":"user","content":[{"type":"text","text":"what is it"},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
      {"type":"image","source":{"type":"url","url":"https://example.com/a.jpg"}}]}])", member(c, "messages")));
  EXPECT_FALSE(chat(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/tiff;base64,AA=="}}]}]})").ok);
  EXPECT_FALSE(chat(R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]})").ok);
  Chat audio = chat(R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]})");
  EXPECT_FALSE(audio.ok);
  EXPECT_EQ(audio.err.param, "messages[0].content[0].type");
}

TEST(AnthropicChat, ToolCallsAndResultsBecomeToolUseAndToolResultBlocks) {
  Chat c = chat(R"({"messages":[
      {"role":"user","content":"weather in Paris and Rome?"},
      {"role":"assistant","content":"Let me look.","tool_calls":[
        {"id":"toolu_01","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}},
        {"id":"toolu_02","type":"function","function":{"name":"weather","arguments":""}}]},
      {"role":"tool","tool_call_id":"toolu_01","content":"sunny"},
      {"role":"tool","tool_call_id":"toolu_02","content":[{"type":"text","text":"rain"},{"type":"text","text":"wind"}]},
      {"role":"user","content":"thanks"}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"([
      {"role":"user","content":[{"type":"text","text":"weather in Paris and Rome?"}]},
      {"role":"assistant","content":[{"type":"text","text":"Let me look."},
        {"type":"tool_use","id":"toolu_01","name":"weather","input":{"city":"Paris"}},
        {"type":"tool_use","id":"toolu_02","name":"weather","input":{}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_01","content":"sunny"},
        {"type":"tool_result","tool_use_id":"toolu_02","content":[{"type":"text","text":"rain"},{"type":"text","text":"wind"}]},
        {"type":"text","text":"thanks"}]}])", member(c, "messages")));
  Chat bad = chat(R"({"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[
      {"id":"toolu_01","type":"function","function":{"name":"f","arguments":"[1]"}}]}]})");
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.err.param, "messages[1].tool_calls[0].function.arguments");
}

TEST(AnthropicChat, ConsecutiveTurnsOfOneRoleAreMergedAndEmptyAssistantsDropped) {
  Chat c = chat(R"({"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"},
      {"role":"assistant","content":""},{"role":"assistant","content":"c"},{"role":"user","content":"d"}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(member(c, "messages"),
            R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},)"
            R"({"role":"assistant","content":[{"type":"text","text":"c"}]},)"
            R"({"role":"user","content":[{"type":"text","text":"d"}]}])");
  EXPECT_FALSE(chat(R"({"messages":[{"role":"function","content":"x","name":"f"}]})").ok);
  EXPECT_FALSE(chat(R"({"messages":[{"role":"system","content":"only a system prompt"}]})").ok);
  EXPECT_FALSE(chat(R"({"messages":[]})").ok);
}

TEST(AnthropicChat, ToolsAndToolChoice) {
  std::string tools = R"("tools":[{"type":"function","function":{"name":"f","description":"d",
      "parameters":{"type":"object","properties":{"x":{"type":"string"}},"additionalProperties":false}}},
      {"type":"function","function":{"name":"g"}}])";
  Chat c = chat(with(tools));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"([{"name":"f","description":"d","input_schema":{"type":"object",
      "properties":{"x":{"type":"string"}},"additionalProperties":false}},
      {"name":"g","input_schema":{"type":"object","properties":{}}}])", member(c, "tools")));
  EXPECT_EQ(member(c, "tool_choice"), "<none>");
  EXPECT_EQ(member(chat(with(tools + R"(,"tool_choice":"auto")")), "tool_choice"), R"({"type":"auto"})");
  EXPECT_EQ(member(chat(with(tools + R"(,"tool_choice":"none")")), "tool_choice"), R"({"type":"none"})");
  EXPECT_EQ(member(chat(with(tools + R"(,"tool_choice":"required")")), "tool_choice"), R"({"type":"any"})");
  EXPECT_EQ(member(chat(with(tools + R"(,"tool_choice":{"type":"function","function":{"name":"g"}})")), "tool_choice"),
            R"({"type":"tool","name":"g"})");
  // parallel_tool_calls: false is Anthropic's disable_parallel_tool_use.
  EXPECT_EQ(member(chat(with(tools + R"(,"tool_choice":"required","parallel_tool_calls":false)")), "tool_choice"),
            R"({"type":"any","disable_parallel_tool_use":true})");
  EXPECT_EQ(member(chat(with(tools + R"(,"parallel_tool_calls":false)")), "tool_choice"),
            R"({"type":"auto","disable_parallel_tool_use":true})");
  EXPECT_FALSE(chat(with(tools + R"(,"tool_choice":"sometimes")")).ok);
  EXPECT_FALSE(chat(with(R"("tools":[{"type":"code_interpreter"}])")).ok);
}

TEST(AnthropicChat, SamplingStopAndRanges) {
  Chat c = chat(with(R"("temperature":0.5,"top_p":0.9,"stop":["END","##"],"n":1,"presence_penalty":0)"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(member(c, "temperature"), "0.5");
  EXPECT_EQ(member(c, "top_p"), "0.9");
  EXPECT_EQ(member(c, "stop_sequences"), R"(["END","##"])");
  EXPECT_EQ(member(chat(with(R"("stop":"END")")), "stop_sequences"), R"(["END"])");
  // OpenAI's temperature goes to 2, Anthropic's to 1.
  Chat hot = chat(with(R"("temperature":1.5)"));
  EXPECT_FALSE(hot.ok);
  EXPECT_EQ(hot.err.param, "temperature");
  EXPECT_FALSE(chat(with(R"("n":2)")).ok);
  EXPECT_FALSE(chat(with(R"("frequency_penalty":0.5)")).ok);
}

TEST(AnthropicChat, ParametersAnthropicCannotHonourAreRefusedByName) {
  for (const char* p : {"logit_bias", "top_logprobs", "seed", "audio", "prediction", "functions"}) {
    Chat c = chat(with(std::string("\"") + p + "\":1"));
    EXPECT_FALSE(c.ok) << p;
    EXPECT_EQ(c.err.param, p);
    EXPECT_NE(c.err.message.find(p), std::string::npos) << c.err.message;
  }
  EXPECT_TRUE(chat(with(R"("seed":null,"user":"u","store":false,"metadata":{"a":"b"})")).ok);
  Chat unknown = chat(with(R"("temprature":1)"));
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.err.message.find("unknown parameter: temprature"), std::string::npos);
  EXPECT_FALSE(chat(with(R"("logprobs":true)")).ok);
  EXPECT_TRUE(chat(with(R"("logprobs":false,"modalities":["text"])")).ok);
}

TEST(AnthropicChat, ReasoningEffortBecomesAThinkingBudgetBelowMaxTokens) {
  Chat c = chat(with(R"("reasoning_effort":"low")"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(member(c, "thinking"), R"({"type":"enabled","budget_tokens":2048})");
  // Without max_tokens, the default comes on top of the budget.
  EXPECT_EQ(member(c, "max_tokens"), std::to_string(ap::kDefaultMaxTokens + 2048));
  EXPECT_EQ(member(chat(with(R"("reasoning_effort":"minimal")")), "thinking"), R"({"type":"enabled","budget_tokens":1024})");
  EXPECT_EQ(member(chat(with(R"("reasoning_effort":"none")")), "thinking"), "<none>");
  // Anthropic counts thinking against max_tokens: a budget that does not
  // fit is the client's error, said before anything goes upstream.
  Chat small = chat(with(R"("reasoning_effort":"high","max_completion_tokens":1000)"));
  EXPECT_FALSE(small.ok);
  EXPECT_EQ(small.err.param, "max_completion_tokens");
  EXPECT_NE(small.err.message.find("24576"), std::string::npos) << small.err.message;
  EXPECT_FALSE(chat(with(R"("reasoning_effort":"xhigh")")).ok);
}

TEST(AnthropicChat, JsonSchemaOnlyForModelsWithStructuredOutputs) {
  std::string rf = R"("response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,
      "schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}})";
  Chat c = chat(with(rf), "claude-sonnet-4-5-20250929");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"format":{"type":"json_schema","schema":{"type":"object",
      "properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}})", member(c, "output_config")));
  Chat old = chat(with(rf), "claude-3-5-haiku-20241022");
  EXPECT_FALSE(old.ok);
  EXPECT_EQ(old.err.param, "response_format");
  EXPECT_NE(old.err.message.find("claude-3-5-haiku-20241022"), std::string::npos) << old.err.message;
  EXPECT_FALSE(chat(with(R"("response_format":{"type":"json_object"})")).ok);
  EXPECT_EQ(member(chat(with(R"("response_format":{"type":"text"})")), "output_config"), "<none>");
}

TEST(AnthropicChat, StreamIsSentAsGivenAndIncludeUsageRead) {
  Chat c = chat(with(R"("stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(c.ok);
  EXPECT_TRUE(c.info.stream);
  EXPECT_TRUE(c.info.include_usage);
  EXPECT_EQ(member(c, "stream"), "true");
  EXPECT_EQ(member(chat(with(R"("stream":false)")), "stream"), "false");
  EXPECT_EQ(member(chat(with("")), "stream"), "<none>");
  EXPECT_EQ(member(c, "stream_options"), "<none>");
}

TEST(AnthropicChat, BadBodiesAreRefusedNotCrashedOn) {
  for (const char* body : {"", "[]", "{", R"({"messages":"x"})", R"({"messages":[1]})",
                           R"({"messages":[{"role":"user"}]})", R"({"messages":[{"role":"tool","content":"x"}]})",
                           R"({"messages":[{"role":"user","content":[{"type":"text"}]}]})"}) {
    Chat c = chat(body);
    EXPECT_FALSE(c.ok) << body;
    EXPECT_FALSE(c.err.message.empty()) << body;
  }
}

// --- thinking carried in tool-call ids ------------------------------------------

TEST(AnthropicThinkingCarry, RoundTripsAnyBytes) {
  for (std::string blocks : {std::string(), std::string("["), std::string("[]"), std::string("ab"),
                             std::string("[{\"type\":\"thinking\",\"thinking\":\"\xc3\xa9\",\"signature\":\"Eq+/=\"}]")}) {
    std::string id = ap::make_tool_call_id("toolu_01A", blocks);
    for (char ch : id) EXPECT_TRUE(isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '~') << id;
    std::string_view tool_use_id;
    std::string back;
    ASSERT_TRUE(ap::split_tool_call_id(id, tool_use_id, back)) << id;
    EXPECT_EQ(tool_use_id, "toolu_01A");
    EXPECT_EQ(back, blocks);
  }
  std::string_view t;
  std::string b;
  EXPECT_FALSE(ap::split_tool_call_id("toolu_1~a+b", t, b));
  EXPECT_FALSE(ap::split_tool_call_id("toolu_1~abcde", t, b));
  EXPECT_TRUE(ap::split_tool_call_id("call_abc", t, b));
  EXPECT_EQ(t, "call_abc");
  EXPECT_TRUE(b.empty());
}

TEST(AnthropicThinkingCarry, ThinkingBlocksComeBackFirstInTheAssistantTurn) {
  std::string blocks = R"([{"type":"thinking","thinking":"I should call f.","signature":"EqSig=="},)"
                       R"({"type":"redacted_thinking","data":"EmRed"}])";
  std::string id = ap::make_tool_call_id("toolu_01", blocks);
  std::string body = R"({"messages":[{"role":"user","content":"go"},
      {"role":"assistant","content":"ok","tool_calls":[{"id":")" + id + R"(","type":"function",
        "function":{"name":"f","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":")" + id + R"(","content":"done"}],"reasoning_effort":"minimal"})";
  Chat c = chat(body);
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"([{"role":"user","content":[{"type":"text","text":"go"}]},
      {"role":"assistant","content":[{"type":"thinking","thinking":"I should call f.","signature":"EqSig=="},
        {"type":"redacted_thinking","data":"EmRed"},{"type":"text","text":"ok"},
        {"type":"tool_use","id":"toolu_01","name":"f","input":{}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"done"}]}])",
                        member(c, "messages")));
  // A mangled id is refused, not sent on corrupt.
  std::string mangled = id;
  mangled.back() = '!';
  std::string bad = body;
  bad.replace(bad.find(id), id.size(), mangled);
  Chat b = chat(bad);
  EXPECT_FALSE(b.ok);
  EXPECT_EQ(b.err.param, "messages[1].tool_calls[0].id");
  // Carried bytes that are not thinking blocks are refused too.
  std::string forged = ap::make_tool_call_id("toolu_01", R"([{"type":"text","text":"x"}])");
  Chat f = chat(R"({"messages":[{"role":"user","content":"go"},{"role":"assistant","tool_calls":[{"id":")" + forged +
                R"(","type":"function","function":{"name":"f","arguments":"{}"}}]}]})");
  EXPECT_FALSE(f.ok);
}

// --- recorded requests ------------------------------------------------------------
// The OpenAI request a client would send for each recorded exchange must
// translate to the body Anthropic's client sent.

TEST(AnthropicRecorded, StreamedThinking) {
  Chat c = chat(R"({"model":"haiku","messages":[{"role":"user","content":"Two names for a pet pelican, be brief"}],
      "max_tokens":8192,"temperature":1.0,"reasoning_effort":"minimal","stream":true})",
                "claude-haiku-4-5-20251001");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(recorded("llm-anthropic_test_stream_events_thinking.json", 0, "request"), c.out));
}

TEST(AnthropicRecorded, StreamedToolCall) {
  Chat c = chat(R"({"model":"haiku","messages":[{"role":"user","content":"Generate one name for a pet pelican"}],
      "max_tokens":8192,"temperature":1.0,"stream":true,
      "tools":[{"type":"function","function":{"name":"pelican_name_generator","description":"",
        "parameters":{"properties":{},"type":"object"}}}]})",
                "claude-haiku-4-5-20251001");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(recorded("llm-anthropic_test_stream_events_tool_calls.json", 0, "request"), c.out));
}

TEST(AnthropicRecorded, ThinkingWholeAndStreamed) {
  Chat whole = chat(R"({"messages":[{"role":"user","content":"How do I cross the street?"}],
      "max_tokens":4096,"reasoning_effort":"minimal","stream":false})", "claude-sonnet-4-5");
  ASSERT_TRUE(whole.ok) << whole.err.message;
  EXPECT_TRUE(same_json(recorded("pydantic-ai_test_anthropic_model_thinking_part.json", 0, "request"), whole.out));
  Chat streamed = chat(R"({"messages":[{"role":"user","content":"How do I cross the street?"}],
      "max_completion_tokens":4096,"reasoning_effort":"minimal","stream":true})", "claude-sonnet-4-0");
  ASSERT_TRUE(streamed.ok) << streamed.err.message;
  EXPECT_TRUE(same_json(recorded("pydantic-ai_test_anthropic_model_thinking_part_stream.json", 0, "request"), streamed.out));
}

// --- errors -------------------------------------------------------------------------

TEST(AnthropicErrors, StatusClasses) {
  EXPECT_EQ(ap::classify_status(200), AIGW_ERROR_NONE);
  EXPECT_EQ(ap::classify_status(400), AIGW_ERROR_CLIENT);
  EXPECT_EQ(ap::classify_status(404), AIGW_ERROR_CLIENT);
  EXPECT_EQ(ap::classify_status(413), AIGW_ERROR_CLIENT);
  EXPECT_EQ(ap::classify_status(401), AIGW_ERROR_KEY_INVALID);
  EXPECT_EQ(ap::classify_status(403), AIGW_ERROR_KEY_INVALID);
  EXPECT_EQ(ap::classify_status(429), AIGW_ERROR_RATE_LIMITED);
  EXPECT_EQ(ap::classify_status(500), AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(ap::classify_status(529), AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(ap::classify_status(408), AIGW_ERROR_RETRYABLE);
  uint64_t ms = 0;
  EXPECT_TRUE(ap::parse_retry_after(" 12 ", ms));
  EXPECT_EQ(ms, 12000u);
  EXPECT_FALSE(ap::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", ms));
  EXPECT_TRUE(ap::parse_retry_after("99999999", ms));
  EXPECT_EQ(ms, ap::kMaxRetryAfterMs);
  EXPECT_EQ(ap::status_for_error_type("overloaded_error"), 529);
  EXPECT_EQ(ap::status_for_error_type("invalid_request_error"), 400);
  EXPECT_EQ(ap::status_for_error_type("something_new"), 500);
}

TEST(AnthropicErrors, RecordedErrorBodiesTakeTheOpenAiShape) {
  simdjson::dom::parser p;
  const char* f404 = "pydantic-ai_test_anthropic_count_tokens_error.json";
  EXPECT_EQ(anthropic_test::recorded_status(f404, 0), 404);
  EXPECT_TRUE(same_json(R"({"error":{"message":"model: claude-does-not-exist","type":"not_found_error","code":"not_found_error"}})",
                        ap::openai_error_body(p, 404, recorded(f404, 0, "response"))));
  const char* f400 = "pydantic-ai_test_anthropic_explicit_effort_xhigh_unsupported_model_errors.json";
  EXPECT_TRUE(same_json(R"({"error":{"message":"This model does not support effort level 'xhigh'. Supported levels: high, low, max, medium.",
      "type":"invalid_request_error","code":"invalid_request_error"}})",
                        ap::openai_error_body(p, 400, recorded(f400, 0, "response"))));
  EXPECT_TRUE(same_json(R"({"error":{"message":"Overloaded","type":"server_error","code":"overloaded_error"}})",
                        ap::openai_error_body(p, 529, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})")));
  // Not an Anthropic error: not quoted.
  EXPECT_TRUE(same_json(R"({"error":{"message":"the Anthropic API answered HTTP 502","type":"server_error","code":null}})",
                        ap::openai_error_body(p, 502, "<html>bad gateway</html>")));
}

}  // namespace
