// messages_to_chat, estimate_input_tokens and the error helpers
// (src/translate/request.cpp, estimate.cpp, errors.cpp).
#include <gtest/gtest.h>

#include <string>

#include "translate/messages.h"
#include "translate_test_util.h"

namespace {

using namespace translate_test;
using aigw::translate::messages_to_chat;
using aigw::translate::RequestError;

// Translates and expects success; returns the output.
std::string ok(const std::string& body) {
  std::string out = "stale";
  const RequestError err = messages_to_chat(body, out);
  EXPECT_FALSE(err) << err.message << "\n  body: " << body;
  return out;
}

// Translates and expects a 400 whose message contains `needle`.
void bad(const std::string& body, const std::string& needle) {
  std::string out = "stale";
  const RequestError err = messages_to_chat(body, out);
  EXPECT_TRUE(err.failed) << "accepted: " << body << "\n  gave: " << out;
  EXPECT_NE(err.message.find(needle), std::string::npos) << "message: " << err.message << "\n  wanted: " << needle;
  EXPECT_TRUE(out.empty()) << out;
}

std::string with(const std::string& members) {
  return R"({"model":"claude-x","max_tokens":100,"messages":[{"role":"user","content":"hi"}])" + members + "}";
}

std::string with_messages(const std::string& messages) {
  return R"({"model":"claude-x","max_tokens":100,"messages":)" + messages + "}";
}

TEST(MessagesRequest, MinimalStartsWithModelAndCopiesMaxTokens) {
  const std::string out = ok(R"({"max_tokens":1024,"messages":[{"role":"user","content":"Hello"}],"model":"claude-sonnet-4-5"})");
  EXPECT_EQ(out.rfind(R"({"model":"claude-sonnet-4-5",)", 0), 0u) << out;
  EXPECT_EQ(out.find(' '), std::string::npos) << "not compact: " << out;
  Doc d = parse(out);
  EXPECT_EQ(int64_t(d.root["max_tokens"]), 1024);
  element msgs = d.root["messages"];
  ASSERT_EQ(simdjson::dom::array(msgs).size(), 1u);
  EXPECT_EQ(str(msgs.at(0)["role"]), "user");
  EXPECT_EQ(str(msgs.at(0)["content"]), "Hello");
  EXPECT_EQ(d.root["stream"].error(), simdjson::NO_SUCH_FIELD);
}

TEST(MessagesRequest, RequiredFields) {
  bad("not json", "not valid JSON");
  bad("[1,2]", "JSON object");
  bad(R"({"max_tokens":10,"messages":[{"role":"user","content":"x"}]})", "model");
  bad(R"({"model":7,"max_tokens":10,"messages":[{"role":"user","content":"x"}]})", "model");
  bad(R"({"model":"m","max_tokens":10})", "messages");
  bad(R"({"model":"m","max_tokens":10,"messages":{}})", "messages");
  bad(R"({"model":"m","max_tokens":10,"messages":[]})", "messages");
  bad(R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens");
  bad(R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", "max_tokens");
  bad(R"({"model":"m","max_tokens":-5,"messages":[{"role":"user","content":"x"}]})", "max_tokens");
  bad(R"({"model":"m","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]})", "max_tokens");
  bad(R"({"model":"m","max_tokens":"10","messages":[{"role":"user","content":"x"}]})", "max_tokens");
}

TEST(MessagesRequest, SystemStringAndBlocks) {
  Doc a = parse(ok(with(R"(,"system":"Be brief.")")));
  EXPECT_EQ(str(a.root["messages"].at(0)["role"]), "system");
  EXPECT_EQ(str(a.root["messages"].at(0)["content"]), "Be brief.");
  EXPECT_EQ(str(a.root["messages"].at(1)["role"]), "user");

  const std::string out = ok(with(
      R"(,"system":[{"type":"text","text":"One."},{"type":"text","text":"Two.","cache_control":{"type":"ephemeral"}}])"));
  Doc b = parse(out);
  EXPECT_EQ(str(b.root["messages"].at(0)["content"]), "One.\n\nTwo.");
  EXPECT_EQ(out.find("cache_control"), std::string::npos);
  EXPECT_EQ(out.find("ephemeral"), std::string::npos);

  bad(with(R"(,"system":42)"), "system");
  bad(with(R"(,"system":[{"type":"image","source":{}}])"), "system.0");
  bad(with(R"(,"system":[{"type":"text"}])"), "system.0.text");
}

TEST(MessagesRequest, Roles) {
  bad(with_messages(R"([{"role":"system","content":"x"}])"), "messages.0.role");
  bad(with_messages(R"([{"role":"user","content":"x"},{"content":"y"}])"), "messages.1.role");
  bad(with_messages(R"([{"role":"user"}])"), "messages.0.content");
  bad(with_messages(R"([{"role":"user","content":5}])"), "messages.0.content");
  bad(with_messages(R"([7])"), "messages.0");
  Doc d = parse(ok(with_messages(R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"}])")));
  EXPECT_EQ(str(d.root["messages"].at(1)["role"]), "assistant");
  EXPECT_EQ(str(d.root["messages"].at(1)["content"]), "b");
}

TEST(MessagesRequest, UserTextBlocksBecomeAString) {
  Doc d = parse(ok(with_messages(
      R"([{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b","cache_control":{"type":"ephemeral"}}]}])")));
  EXPECT_EQ(str(d.root["messages"].at(0)["content"]), "a\n\nb");
}

TEST(MessagesRequest, UserImagesBecomeParts) {
  Doc d = parse(ok(with_messages(R"([{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
      {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}]}])")));
  element parts = d.root["messages"].at(0)["content"];
  ASSERT_TRUE(parts.is_array());
  ASSERT_EQ(simdjson::dom::array(parts).size(), 3u);
  EXPECT_EQ(str(parts.at(0)["type"]), "text");
  EXPECT_EQ(str(parts.at(0)["text"]), "What is this?");
  EXPECT_EQ(str(parts.at(1)["type"]), "image_url");
  EXPECT_EQ(str(parts.at(1)["image_url"]["url"]), "data:image/png;base64,iVBORw0KGgo=");
  EXPECT_EQ(str(parts.at(2)["image_url"]["url"]), "https://example.com/cat.jpg");

  bad(with_messages(R"([{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}])"),
      "messages.0.content.0.source");
  bad(with_messages(R"([{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}])"),
      "messages.0.content.0.source.media_type");
  bad(with_messages(R"([{"role":"user","content":[{"type":"image"}]}])"), "messages.0.content.0.source");
}

const char* kToolTurns = R"([
  {"role":"user","content":"Weather in Paris and Rome?"},
  {"role":"assistant","content":[
    {"type":"thinking","thinking":"I should call the tool.","signature":"c2ln"},
    {"type":"redacted_thinking","data":"abc"},
    {"type":"text","text":"Checking."},
    {"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris","days":[1,2],"deep":{"x":null,"y":true,"z":1.5}}},
    {"type":"tool_use","id":"toolu_2","name":"weather","input":{}}]},
  {"role":"user","content":[
    {"type":"text","text":"Here you go."},
    {"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},
    {"type":"tool_result","tool_use_id":"toolu_2","is_error":true,"content":[{"type":"text","text":"Rome: "},{"type":"text","text":"unavailable"}]}]}
])";

TEST(MessagesRequest, ToolUseAndResults) {
  const std::string out = ok(with_messages(kToolTurns));
  Doc d = parse(out);
  simdjson::dom::array msgs = d.root["messages"];
  ASSERT_EQ(msgs.size(), 5u) << out;
  // The assistant turn: thinking dropped, text kept, tool calls.
  element asst = msgs.at(1);
  EXPECT_EQ(str(asst["role"]), "assistant");
  EXPECT_EQ(str(asst["content"]), "Checking.");
  EXPECT_EQ(out.find("I should call"), std::string::npos);
  EXPECT_EQ(out.find("c2ln"), std::string::npos);
  simdjson::dom::array calls = asst["tool_calls"];
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(str(calls.at(0)["id"]), "toolu_1");
  EXPECT_EQ(str(calls.at(0)["type"]), "function");
  EXPECT_EQ(str(calls.at(0)["function"]["name"]), "weather");
  const std::string args = str(calls.at(0)["function"]["arguments"]);
  EXPECT_EQ(args, R"({"city":"Paris","days":[1,2],"deep":{"x":null,"y":true,"z":1.5}})");
  EXPECT_EQ(str(calls.at(1)["function"]["arguments"]), "{}");
  // Tool results first, in order, then the rest of the user turn.
  EXPECT_EQ(str(msgs.at(2)["role"]), "tool");
  EXPECT_EQ(str(msgs.at(2)["tool_call_id"]), "toolu_1");
  EXPECT_EQ(str(msgs.at(2)["content"]), "18C");
  EXPECT_EQ(str(msgs.at(3)["role"]), "tool");
  EXPECT_EQ(str(msgs.at(3)["tool_call_id"]), "toolu_2");
  EXPECT_EQ(str(msgs.at(3)["content"]), "Rome: \n\nunavailable");  // is_error: text kept, nothing added
  EXPECT_EQ(str(msgs.at(4)["role"]), "user");
  EXPECT_EQ(str(msgs.at(4)["content"]), "Here you go.");
}

TEST(MessagesRequest, OnlyToolUseHasNullContentAndOnlyResultsNoUserMessage) {
  Doc d = parse(ok(with_messages(R"([{"role":"user","content":"go"},
    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"a":"b"}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1"}]}])")));
  simdjson::dom::array msgs = d.root["messages"];
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_TRUE(msgs.at(1)["content"].is_null());
  EXPECT_EQ(str(msgs.at(2)["role"]), "tool");
  EXPECT_EQ(str(msgs.at(2)["content"]), "");
}

TEST(MessagesRequest, ToolResultErrors) {
  bad(with_messages(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}])"),
      "messages.0.content.0.content.0: images inside a tool_result are not supported for this provider");
  bad(with_messages(R"([{"role":"user","content":[{"type":"tool_result","content":"x"}]}])"),
      "messages.0.content.0.tool_use_id");
  bad(with_messages(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document"}]}]}])"),
      "messages.0.content.0.content.0: block type 'document'");
  bad(with_messages(R"([{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":3}]}])"),
      "messages.0.content.0.content");
}

TEST(MessagesRequest, UnsupportedBlocksNameTheirPath) {
  bad(with_messages(R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"},
      {"role":"user","content":[{"type":"text","text":"x"},{"type":"document","source":{"type":"text","data":"d"}}]}])"),
      "messages.3.content.1: block type 'document' is not supported for this provider");
  bad(with_messages(R"([{"role":"user","content":[{"type":"search_result","source":"s","title":"t","content":[]}]}])"),
      "messages.0.content.0: block type 'search_result'");
  bad(with_messages(R"([{"role":"assistant","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]}])"),
      "messages.0.content.0: block type 'server_tool_use'");
  bad(with_messages(R"([{"role":"assistant","content":[{"type":"web_search_tool_result","tool_use_id":"s","content":[]}]}])"),
      "messages.0.content.0: block type 'web_search_tool_result'");
  bad(with_messages(R"([{"role":"user","content":[{"type":"made_up"}]}])"), "messages.0.content.0: block type 'made_up'");
  bad(with_messages(R"([{"role":"user","content":[{"text":"no type"}]}])"), "messages.0.content.0.type");
  bad(with_messages(R"([{"role":"user","content":["text"]}])"), "messages.0.content.0");
  bad(with_messages(R"([{"role":"user","content":[{"type":"tool_use","id":"a","name":"b","input":{}}]}])"),
      "messages.0.content.0");
  bad(with_messages(R"([{"role":"assistant","content":[{"type":"tool_use","name":"b","input":{}}]}])"),
      "messages.0.content.0.id");
  bad(with_messages(R"([{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":[1]}]}])"),
      "messages.0.content.0.input");
}

TEST(MessagesRequest, Tools) {
  const std::string schema = R"({"type":"object","properties":{"city":{"type":"string","enum":["a","b"]}},"required":["city"],"additionalProperties":false})";
  Doc d = parse(ok(with(R"(,"tools":[{"name":"weather","description":"Get weather","input_schema":)" + schema +
                        R"(,"cache_control":{"type":"ephemeral"}},{"type":"custom","name":"plain","input_schema":{"type":"object"}}])")));
  simdjson::dom::array tools = d.root["tools"];
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(str(tools.at(0)["type"]), "function");
  EXPECT_EQ(str(tools.at(0)["function"]["name"]), "weather");
  EXPECT_EQ(str(tools.at(0)["function"]["description"]), "Get weather");
  EXPECT_EQ(compact(tools.at(0)["function"]["parameters"]), schema);
  EXPECT_EQ(tools.at(0)["cache_control"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(tools.at(1)["function"]["description"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(d.root["tool_choice"].error(), simdjson::NO_SUCH_FIELD);

  bad(with(R"(,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}])"),
      "tools.0: server tool 'web_search_20250305' is not available through this provider");
  bad(with(R"(,"tools":[{"name":"a","input_schema":{}},{"type":"bash_20250124","name":"bash"}])"), "tools.1: server tool 'bash_20250124'");
  bad(with(R"(,"tools":[{"type":"text_editor_20250429","name":"str_replace_based_edit_tool"}])"), "text_editor_20250429");
  bad(with(R"(,"tools":[{"input_schema":{}}])"), "tools.0.name");
  bad(with(R"(,"tools":[{"name":"a"}])"), "tools.0.input_schema");
  bad(with(R"(,"tools":{})"), "tools");
}

TEST(MessagesRequest, ToolChoice) {
  const std::string tools = R"(,"tools":[{"name":"f","input_schema":{"type":"object"}}])";
  auto choice = [&](const std::string& c) { return ok(with(tools + R"(,"tool_choice":)" + c)); };
  EXPECT_EQ(compact(parse(choice(R"({"type":"auto"})")).root["tool_choice"]), R"("auto")");
  EXPECT_EQ(compact(parse(choice(R"({"type":"any"})")).root["tool_choice"]), R"("required")");
  EXPECT_EQ(compact(parse(choice(R"({"type":"none"})")).root["tool_choice"]), R"("none")");
  EXPECT_EQ(compact(parse(choice(R"({"type":"tool","name":"f"})")).root["tool_choice"]),
            R"({"type":"function","function":{"name":"f"}})");
  Doc p = parse(choice(R"({"type":"auto","disable_parallel_tool_use":true})"));
  EXPECT_EQ(compact(p.root["parallel_tool_calls"]), "false");
  Doc q = parse(choice(R"({"type":"auto","disable_parallel_tool_use":false})"));
  EXPECT_EQ(q.root["parallel_tool_calls"].error(), simdjson::NO_SUCH_FIELD);
  // Without tools neither is written (OpenAI would refuse them).
  Doc n = parse(ok(with(R"(,"tool_choice":{"type":"any","disable_parallel_tool_use":true})")));
  EXPECT_EQ(n.root["tool_choice"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(n.root["parallel_tool_calls"].error(), simdjson::NO_SUCH_FIELD);
  bad(with(tools + R"(,"tool_choice":{"type":"sometimes"})"), "tool_choice.type");
  bad(with(tools + R"(,"tool_choice":{"type":"tool"})"), "tool_choice.name");
  bad(with(tools + R"(,"tool_choice":"auto")"), "tool_choice");
}

TEST(MessagesRequest, SamplingStreamAndUser) {
  Doc d = parse(ok(with(R"(,"temperature":0.7,"top_p":0.9,"stop_sequences":["END","\n\nHuman:"],"stream":true,"metadata":{"user_id":"u-42"})")));
  EXPECT_DOUBLE_EQ(double(d.root["temperature"]), 0.7);
  EXPECT_DOUBLE_EQ(double(d.root["top_p"]), 0.9);
  EXPECT_EQ(compact(d.root["stop"]), R"(["END","\n\nHuman:"])");
  EXPECT_EQ(compact(d.root["stream"]), "true");
  EXPECT_EQ(compact(d.root["stream_options"]), R"({"include_usage":true})");
  EXPECT_EQ(str(d.root["user"]), "u-42");
  Doc f = parse(ok(with(R"(,"stream":false,"temperature":1)")));
  EXPECT_EQ(f.root["stream"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(f.root["stream_options"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(int64_t(f.root["temperature"]), 1);
  bad(with(R"(,"temperature":"hot")"), "temperature");
  bad(with(R"(,"stop_sequences":"END")"), "stop_sequences");
  bad(with(R"(,"stop_sequences":[1])"), "stop_sequences.0");
  bad(with(R"(,"stream":"yes")"), "stream");
}

TEST(MessagesRequest, DroppedFields) {
  const std::string out = ok(with(
      R"(,"top_k":5,"thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto","cache_control":{"type":"ephemeral"},)"
      R"("container":"c1","context_management":{"edits":[]},"mcp_servers":[{"type":"url","url":"https://mcp"}],"output_config":{"effort":"high"},"whatever":1)"));
  for (const char* gone : {"top_k", "thinking", "budget", "service_tier", "cache_control", "container", "context_management",
                           "mcp", "output_config", "whatever"}) {
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in " << out;
  }
}

TEST(MessagesRequest, StringsAreEscaped) {
  Doc d = parse(ok(with_messages(R"([{"role":"user","content":"quote \" backslash \\ newline \n tab \t unicode \u00e9 \ud83d\ude00"}])")));
  EXPECT_EQ(str(d.root["messages"].at(0)["content"]), "quote \" backslash \\ newline \n tab \t unicode \xc3\xa9 \xf0\x9f\x98\x80");
}

// Every recorded Messages request: translated, or refused for the reason
// the recording holds (a count_tokens body has no max_tokens; the tool
// search recording declares an Anthropic server tool).
TEST(MessagesRequest, RecordedRequests) {
  const struct {
    const char* file;
    const char* refusal;  // nullptr: must translate
  } cases[] = {
      {"anthropic/llm-anthropic_test_stream_events_thinking.json", nullptr},
      {"anthropic/llm-anthropic_test_stream_events_tool_calls.json", nullptr},
      {"anthropic/pydantic-ai_test_anthropic_count_tokens_error.json", "max_tokens"},
      {"anthropic/pydantic-ai_test_anthropic_explicit_effort_xhigh_unsupported_model_errors.json", nullptr},
      {"anthropic/pydantic-ai_test_anthropic_model_thinking_part.json", nullptr},
      {"anthropic/pydantic-ai_test_anthropic_model_thinking_part_stream.json", nullptr},
      {"anthropic/pydantic-ai_test_anthropic_native_tool_search_streaming.json",
       "tools.2: server tool 'tool_search_tool_bm25_20251119' is not available through this provider"},
  };
  int translated = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    Doc fixture = parse(read_fixture(c.file));
    for (element interaction : simdjson::dom::array(fixture.root["interactions"])) {
      for (element body : simdjson::dom::array(interaction["request"]["body"])) {
        const std::string json = compact(body);
        if (c.refusal) {
          bad(json, c.refusal);
          continue;
        }
        Doc out = parse(ok(json));
        EXPECT_EQ(str(out.root["model"]), str(body["model"]));
        EXPECT_EQ(int64_t(out.root["max_tokens"]), int64_t(body["max_tokens"]));
        const std::string text = compact(out.root);
        EXPECT_EQ(text.find("thinking"), std::string::npos) << text;
        EXPECT_EQ(text.find("signature"), std::string::npos) << text;
        bool stream = false;
        if (body["stream"].get(stream) != simdjson::SUCCESS) stream = false;
        EXPECT_EQ(out.root["stream_options"].error() == simdjson::SUCCESS, stream);
        // The first message's text survives.
        simdjson::dom::array msgs = out.root["messages"];
        EXPECT_EQ(str(msgs.at(0)["content"]), str(body["messages"].at(0)["content"].at(0)["text"]));
        EXPECT_EQ(msgs.size(), simdjson::dom::array(body["messages"]).size());
        ++translated;
      }
    }
  }
  EXPECT_EQ(translated, 6);
}

TEST(EstimateInputTokens, CountsTheTextCarried) {
  using aigw::translate::estimate_input_tokens;
  // "abcd" x 2 in system and a message: 8 characters, 2 tokens.
  EXPECT_EQ(estimate_input_tokens(R"({"system":"abcd","messages":[{"role":"user","content":"abcd"}]})"), 2u);
  // Rounded up: 9 characters -> 3.
  EXPECT_EQ(estimate_input_tokens(R"({"messages":[{"role":"user","content":"abcdefghi"}]})"), 3u);
  // Characters, not bytes: four 2-byte letters are one token.
  EXPECT_EQ(estimate_input_tokens(R"({"messages":[{"role":"user","content":"\u00e9\u00e9\u00e9\u00e9"}]})"), 1u);
  // At least 1.
  EXPECT_EQ(estimate_input_tokens(R"({"messages":[]})"), 1u);
  // Blocks, tool use/result, tools: name + description + compact schema.
  const std::string body = R"({"system":[{"type":"text","text":"abcd"}],
    "messages":[{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image","source":{"type":"url","url":"https://x/very/long/url"}}]},
      {"role":"assistant","content":[{"type":"tool_use","id":"i","name":"ab","input":{"a":1}}]},
      {"role":"user","content":[{"type":"tool_result","tool_use_id":"i","content":[{"type":"text","text":"abcd"}]}]}],
    "tools":[{"name":"abcd","description":"abcd","input_schema":{"x":2}}]})";
  // 4 + 4 + (2 + 7 for {"a":1}) + 4 + (4 + 4 + 7 for {"x":2}) = 36 -> 9
  EXPECT_EQ(estimate_input_tokens(body), 9u);
  // Unreadable: raw bytes / 4.
  EXPECT_EQ(estimate_input_tokens("not json at all!!"), 5u);  // 17 bytes
  EXPECT_EQ(estimate_input_tokens(""), 1u);
  EXPECT_EQ(estimate_input_tokens("[1,2,3,4]"), 3u);  // not an object: 9 bytes
}

TEST(Errors, TypeByStatus) {
  using aigw::translate::error_type;
  EXPECT_EQ(error_type(400), "invalid_request_error");
  EXPECT_EQ(error_type(401), "authentication_error");
  EXPECT_EQ(error_type(402), "billing_error");
  EXPECT_EQ(error_type(403), "permission_error");
  EXPECT_EQ(error_type(404), "not_found_error");
  EXPECT_EQ(error_type(413), "request_too_large");
  EXPECT_EQ(error_type(429), "rate_limit_error");
  EXPECT_EQ(error_type(504), "timeout_error");
  EXPECT_EQ(error_type(529), "overloaded_error");
  EXPECT_EQ(error_type(422), "invalid_request_error");
  EXPECT_EQ(error_type(409), "invalid_request_error");
  EXPECT_EQ(error_type(500), "api_error");
  EXPECT_EQ(error_type(502), "api_error");
  EXPECT_EQ(error_type(503), "api_error");
}

TEST(Errors, Body) {
  using aigw::translate::error_body;
  EXPECT_EQ(error_body(429, "slow \"down\""), R"({"type":"error","error":{"type":"rate_limit_error","message":"slow \"down\""}})");
  Doc d = parse(error_body(529, "Overloaded", "req_011"));
  EXPECT_EQ(str(d.root["type"]), "error");
  EXPECT_EQ(str(d.root["error"]["type"]), "overloaded_error");
  EXPECT_EQ(str(d.root["error"]["message"]), "Overloaded");
  EXPECT_EQ(str(d.root["request_id"]), "req_011");
}

TEST(Errors, FromOpenAIRecordings) {
  using aigw::translate::error_from_openai;
  for (const char* file : {"openai/chat-bad-request.json", "openai/chat-unknown-model.json"}) {
    SCOPED_TRACE(file);
    Doc fixture = parse(read_fixture(file));
    element response = fixture.root["interactions"].at(0)["response"];
    const int status = int(int64_t(response["status"]));
    Doc upstream = parse(str(response["body"]));
    Doc d = parse(error_from_openai(status, str(response["body"]), "req_x"));
    EXPECT_EQ(str(d.root["type"]), "error");
    EXPECT_EQ(str(d.root["error"]["type"]), aigw::translate::error_type(status));
    EXPECT_EQ(str(d.root["error"]["message"]), str(upstream.root["error"]["message"]));
    EXPECT_EQ(str(d.root["request_id"]), "req_x");
  }
  Doc nf = parse(error_from_openai(404, R"({"error":{"message":"The model `x` does not exist"}})"));
  EXPECT_EQ(str(nf.root["error"]["type"]), "not_found_error");
  EXPECT_EQ(nf.root["request_id"].error(), simdjson::NO_SUCH_FIELD);
}

TEST(Errors, FromAnythingElseIsGeneric) {
  using aigw::translate::error_from_openai;
  for (const char* body : {"<html>502 Bad Gateway</html>", "", R"({"detail":"x"})", R"({"error":{"code":5}})", "[]",
                           R"({"error":{"message":""}})"}) {
    SCOPED_TRACE(body);
    Doc d = parse(error_from_openai(503, body));
    EXPECT_EQ(str(d.root["error"]["type"]), "api_error");
    EXPECT_EQ(str(d.root["error"]["message"]), "the provider answered with HTTP status 503");
  }
  Doc s = parse(error_from_openai(400, R"({"error":"bad things"})"));
  EXPECT_EQ(str(s.root["error"]["message"]), "bad things");
}

}  // namespace
