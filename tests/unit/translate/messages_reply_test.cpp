// chat_to_message (src/translate/reply.cpp).
#include <gtest/gtest.h>

#include <string>

#include "translate/messages.h"
#include "translate_test_util.h"

namespace {

using namespace translate_test;
using aigw::translate::chat_to_message;

std::string reply(const std::string& openai, const std::string& model = "claude-x") {
  std::string out = "stale";
  EXPECT_TRUE(chat_to_message(openai, model, "msg_fallback", out)) << openai;
  return out;
}

std::string answer(const std::string& message, const std::string& finish = R"("stop")",
                   const std::string& extra = "") {
  return R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":)" + message +
         R"(,"finish_reason":)" + finish + "}]" + extra + "}";
}

TEST(MessagesReply, RecordedBasicAnswer) {
  Doc fixture = parse(read_fixture("openai/chat-basic.json"));
  const std::string body = str(fixture.root["interactions"].at(0)["response"]["body"]);
  Doc upstream = parse(body);
  Doc d = parse(reply(body, "claude-sonnet-4-5"));
  EXPECT_EQ(str(d.root["id"]), "msg_" + str(upstream.root["id"]));
  EXPECT_EQ(str(d.root["type"]), "message");
  EXPECT_EQ(str(d.root["role"]), "assistant");
  EXPECT_EQ(str(d.root["model"]), "claude-sonnet-4-5");
  simdjson::dom::array content = d.root["content"];
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(str(content.at(0)["type"]), "text");
  EXPECT_EQ(str(content.at(0)["text"]), str(upstream.root["choices"].at(0)["message"]["content"]));
  EXPECT_EQ(str(d.root["stop_reason"]), "end_turn");
  EXPECT_TRUE(d.root["stop_sequence"].is_null());
  element usage = upstream.root["usage"];
  const int64_t cached = int64_t(usage["prompt_tokens_details"]["cached_tokens"]);
  EXPECT_EQ(int64_t(d.root["usage"]["input_tokens"]), int64_t(usage["prompt_tokens"]) - cached);
  EXPECT_EQ(int64_t(d.root["usage"]["cache_read_input_tokens"]), cached);
  EXPECT_EQ(int64_t(d.root["usage"]["cache_creation_input_tokens"]), 0);
  EXPECT_EQ(int64_t(d.root["usage"]["output_tokens"]), int64_t(usage["completion_tokens"]));
}

TEST(MessagesReply, RecordedToolCall) {
  Doc fixture = parse(read_fixture("openai/chat-tools.json"));
  const std::string body = str(fixture.root["interactions"].at(0)["response"]["body"]);
  Doc upstream = parse(body);
  element call = upstream.root["choices"].at(0)["message"]["tool_calls"].at(0);
  Doc d = parse(reply(body));
  EXPECT_EQ(str(d.root["stop_reason"]), "tool_use");
  simdjson::dom::array content = d.root["content"];
  ASSERT_GE(content.size(), 1u);
  element tool = content.at(content.size() - 1);
  EXPECT_EQ(str(tool["type"]), "tool_use");
  EXPECT_EQ(str(tool["id"]), str(call["id"]));
  EXPECT_EQ(str(tool["name"]), str(call["function"]["name"]));
  ASSERT_TRUE(tool["input"].is_object());
  Doc args = parse(str(call["function"]["arguments"]));
  EXPECT_EQ(compact(tool["input"]), compact(args.root));
}

TEST(MessagesReply, ThinkingThenTextThenTools) {
  Doc d = parse(reply(answer(R"({"role":"assistant","reasoning_content":"hmm","content":"Sure.","tool_calls":[
      {"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":[1,{\"y\":\"z\"}]}"}},
      {"id":"call_b","type":"function","function":{"name":"g","arguments":""}},
      {"id":"call_c","type":"function","function":{"name":"h","arguments":"{broken"}},
      {"id":"call_d","type":"function","function":{"name":"i","arguments":"[1,2]"}},
      {"id":"call_e","type":"function","function":{"name":"j"}}]})",
                             R"("tool_calls")")));
  simdjson::dom::array c = d.root["content"];
  ASSERT_EQ(c.size(), 7u);
  EXPECT_EQ(compact(c.at(0)), R"({"type":"thinking","thinking":"hmm","signature":""})");
  EXPECT_EQ(compact(c.at(1)), R"({"type":"text","text":"Sure."})");
  EXPECT_EQ(compact(c.at(2)), R"({"type":"tool_use","id":"call_a","name":"f","input":{"x":[1,{"y":"z"}]}})");
  for (size_t i = 3; i < 7; ++i) EXPECT_EQ(compact(c.at(i)["input"]), "{}") << i;
  EXPECT_EQ(str(d.root["stop_reason"]), "tool_use");
}

// Some OpenAI-compatible servers end a turn of tool calls with "stop" (or
// say nothing): the client must still see tool_use.
TEST(MessagesReply, ToolCallsFinishedWithStopAreToolUse) {
  for (const char* finish : {R"("stop")", "null"}) {
    Doc d = parse(reply(answer(R"({"role":"assistant","content":null,"tool_calls":[
        {"id":"call_a","type":"function","function":{"name":"f","arguments":"{}"}}]})",
                               finish)));
    EXPECT_EQ(str(d.root["stop_reason"]), "tool_use") << finish;
  }
  // A length cut stays max_tokens even with a (cut) tool call.
  Doc cut = parse(reply(answer(R"({"role":"assistant","tool_calls":[
      {"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x"}}]})",
                               R"("length")")));
  EXPECT_EQ(str(cut.root["stop_reason"]), "max_tokens");
}

TEST(MessagesReply, ReasoningFieldAndRefusal) {
  Doc a = parse(reply(answer(R"({"role":"assistant","reasoning":"r","content":"t"})")));
  EXPECT_EQ(str(a.root["content"].at(0)["thinking"]), "r");
  Doc b = parse(reply(answer(R"({"role":"assistant","reasoning_content":"","content":"t"})")));
  EXPECT_EQ(simdjson::dom::array(b.root["content"]).size(), 1u);
  Doc r = parse(reply(answer(R"({"role":"assistant","content":null,"refusal":"I can't help with that."})", R"("content_filter")")));
  EXPECT_EQ(compact(r.root["content"]), R"([{"type":"text","text":"I can't help with that."}])");
  EXPECT_EQ(str(r.root["stop_reason"]), "refusal");
  // Content wins over refusal.
  Doc both = parse(reply(answer(R"({"role":"assistant","content":"ok","refusal":"no"})")));
  EXPECT_EQ(compact(both.root["content"]), R"([{"type":"text","text":"ok"}])");
}

TEST(MessagesReply, EmptyContentIsAllowed) {
  Doc d = parse(reply(answer(R"({"role":"assistant","content":""})")));
  EXPECT_EQ(compact(d.root["content"]), "[]");
  Doc n = parse(reply(answer(R"({"role":"assistant","content":null})")));
  EXPECT_EQ(compact(n.root["content"]), "[]");
}

TEST(MessagesReply, FinishReasons) {
  const std::pair<const char*, const char*> table[] = {
      {R"("stop")", "end_turn"},         {R"("length")", "max_tokens"},     {R"("tool_calls")", "tool_use"},
      {R"("function_call")", "tool_use"}, {R"("content_filter")", "refusal"}, {"null", "end_turn"},
      {R"("weird")", "end_turn"},         {"7", "end_turn"},
  };
  for (const auto& [finish, stop] : table) {
    Doc d = parse(reply(answer(R"({"role":"assistant","content":"x"})", finish)));
    EXPECT_EQ(str(d.root["stop_reason"]), stop) << finish;
    EXPECT_TRUE(d.root["stop_sequence"].is_null());
  }
}

TEST(MessagesReply, Usage) {
  Doc d = parse(reply(answer(R"({"role":"assistant","content":"x"})", R"("stop")",
                             R"(,"usage":{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,"prompt_tokens_details":{"cached_tokens":60}})")));
  EXPECT_EQ(compact(d.root["usage"]),
            R"({"input_tokens":40,"cache_creation_input_tokens":0,"cache_read_input_tokens":60,"output_tokens":7})");
  Doc none = parse(reply(answer(R"({"role":"assistant","content":"x"})")));
  EXPECT_EQ(compact(none.root["usage"]),
            R"({"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0})");
  // More cached than prompt (a broken count): input does not go below 0.
  Doc odd = parse(reply(answer(R"({"role":"assistant","content":"x"})", R"("stop")",
                               R"(,"usage":{"prompt_tokens":5,"completion_tokens":-3,"prompt_tokens_details":{"cached_tokens":9}})")));
  EXPECT_EQ(int64_t(odd.root["usage"]["input_tokens"]), 0);
  EXPECT_EQ(int64_t(odd.root["usage"]["cache_read_input_tokens"]), 9);
  EXPECT_EQ(int64_t(odd.root["usage"]["output_tokens"]), 0);
}

TEST(MessagesReply, Ids) {
  auto id_of = [](const std::string& id_json) {
    std::string out;
    EXPECT_TRUE(chat_to_message(R"({"id":)" + id_json + R"(,"choices":[{"message":{"content":"x"}}]})", "m", "msg_fb", out));
    return str(parse(out).root["id"]);
  };
  EXPECT_EQ(id_of(R"("chatcmpl-AbC_9")"), "msg_chatcmpl-AbC_9");
  EXPECT_EQ(id_of(R"("has space")"), "msg_fb");
  EXPECT_EQ(id_of(R"("a/b")"), "msg_fb");
  EXPECT_EQ(id_of(R"("")"), "msg_fb");
  EXPECT_EQ(id_of("42"), "msg_fb");
  std::string out;
  EXPECT_TRUE(chat_to_message(R"({"choices":[{"message":{"content":"x"}}]})", "m", "msg_fb", out));
  EXPECT_EQ(str(parse(out).root["id"]), "msg_fb");
}

TEST(MessagesReply, NotAnAnswer) {
  for (const char* body : {"", "nope", "[]", "{}", R"({"choices":{}})", R"({"choices":[]})", R"({"choices":[1]})",
                           R"({"choices":[{}]})", R"({"choices":[{"message":"hi"}]})", R"({"choices":[{"message":null}]})",
                           R"({"error":{"message":"x"}})", R"({"choices":[{"message":{"content":"x"}})"}) {
    std::string out = "stale";
    EXPECT_FALSE(chat_to_message(body, "m", "msg_1", out)) << body;
    EXPECT_TRUE(out.empty()) << body;
  }
}

}  // namespace
