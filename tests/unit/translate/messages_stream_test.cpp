// StreamToMessages (src/translate/stream.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "translate/messages.h"
#include "translate_test_util.h"

namespace {

using namespace translate_test;
using aigw::translate::StreamToMessages;

std::string whole(const std::string& sse, uint64_t estimate = 11) {
  StreamToMessages s("claude-x", "msg_fallback", estimate);
  std::string out;
  s.feed(sse, out);
  s.finish(out);
  return out;
}

// The same stream cut at every byte position (two pieces), and fed one byte
// at a time, must give exactly the bytes of the whole feed.
void expect_cut_independent(const std::string& sse) {
  const std::string expected = whole(sse);
  for (size_t cut = 0; cut <= sse.size(); ++cut) {
    StreamToMessages s("claude-x", "msg_fallback", 11);
    std::string out;
    s.feed(std::string_view(sse).substr(0, cut), out);
    s.feed(std::string_view(sse).substr(cut), out);
    s.finish(out);
    ASSERT_EQ(out, expected) << "cut at " << cut;
  }
  StreamToMessages s("claude-x", "msg_fallback", 11);
  std::string out;
  for (char c : sse) s.feed(std::string_view(&c, 1), out);
  s.finish(out);
  ASSERT_EQ(out, expected) << "byte by byte";
}

std::string chunk(const std::string& delta, const std::string& finish = "null", const std::string& extra = "") {
  return R"(data: {"id":"chatcmpl-s1","object":"chat.completion.chunk","choices":[{"index":0,"delta":)" + delta +
         R"(,"finish_reason":)" + finish + "}]" + extra + "}\n\n";
}

const std::string kUsage =
    R"(data: {"id":"chatcmpl-s1","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":10}}})"
    "\n\n";

std::vector<std::string> types(const std::vector<Event>& evs) {
  std::vector<std::string> t;
  for (const auto& e : evs) t.push_back(e.type);
  return t;
}

// Every event's data is JSON whose "type" is the event's name.
std::vector<Doc> docs(const std::vector<Event>& evs) {
  std::vector<Doc> d;
  for (const auto& e : evs) {
    d.push_back(parse(e.data));
    EXPECT_EQ(str(d.back().root["type"]), e.type);
  }
  return d;
}

TEST(MessagesStream, TextStream) {
  const std::string sse = chunk(R"({"role":"assistant","content":""})") + chunk(R"({"content":"Hel"})") +
                          chunk(R"({"content":"lo"})") + chunk("{}", R"("stop")") + kUsage + "data: [DONE]\n\n";
  StreamToMessages s("claude-x", "msg_fallback", 11);
  std::string out;
  s.feed(sse, out);
  EXPECT_TRUE(s.content_started());
  EXPECT_EQ(s.prompt_tokens(), 30u);
  EXPECT_EQ(s.completion_tokens(), 9u);
  std::string after;
  s.finish(after);
  s.feed(sse, after);
  EXPECT_EQ(after, "") << "nothing after message_stop";

  const auto evs = events(out);
  EXPECT_EQ(types(evs), (std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta",
                                                  "content_block_delta", "content_block_stop", "message_delta",
                                                  "message_stop"}));
  auto d = docs(evs);
  EXPECT_EQ(compact(d[0].root),
            R"({"type":"message_start","message":{"id":"msg_chatcmpl-s1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":11,"output_tokens":0}}})");
  EXPECT_EQ(compact(d[2].root), R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(compact(d[3].root), R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})");
  EXPECT_EQ(str(d[4].root["delta"]["text"]), "lo");
  EXPECT_EQ(compact(d[5].root), R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(compact(d[6].root),
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":20,"output_tokens":9,"cache_read_input_tokens":10}})");
  EXPECT_EQ(compact(d[7].root), R"({"type":"message_stop"})");
  expect_cut_independent(sse);
}

TEST(MessagesStream, ContentStartedOnlyWithABlock) {
  StreamToMessages s("m", "msg_1", 3);
  std::string out;
  EXPECT_FALSE(s.content_started());
  s.feed(chunk(R"({"role":"assistant","content":""})"), out);
  EXPECT_NE(out.find("message_start"), std::string::npos);
  EXPECT_FALSE(s.content_started()) << "message_start alone is no content";
  s.feed(chunk(R"({"content":"x"})"), out);
  EXPECT_TRUE(s.content_started());
}

TEST(MessagesStream, FirstChunkUsageSetsInputTokens) {
  const std::string sse = chunk(R"({"content":"x"})", "null", R"(,"usage":{"prompt_tokens":42,"completion_tokens":0})") +
                          "data: [DONE]\n\n";
  auto d = docs(events(whole(sse)));
  EXPECT_EQ(int64_t(d[0].root["message"]["usage"]["input_tokens"]), 42);
  EXPECT_EQ(int64_t(d.back().root["type"].error() == simdjson::SUCCESS), 1);
  // message_delta repeats it.
  EXPECT_EQ(int64_t(d[d.size() - 2].root["usage"]["input_tokens"]), 42);
}

TEST(MessagesStream, UsageWithoutPromptKeepsTheEstimate) {
  auto d = docs(events(whole(chunk(R"({"content":"x"})", R"("stop")", R"(,"usage":{"completion_tokens":4})") +
                             "data: [DONE]\n\n", 66)));
  element delta = d[d.size() - 2].root;
  EXPECT_EQ(int64_t(d[0].root["message"]["usage"]["input_tokens"]), 66);
  EXPECT_EQ(int64_t(delta["usage"]["input_tokens"]), 66);
  EXPECT_EQ(int64_t(delta["usage"]["output_tokens"]), 4);
}

TEST(MessagesStream, NoUsageKeepsTheEstimate) {
  auto d = docs(events(whole(chunk(R"({"content":"x"})", R"("length")") + "data: [DONE]\n\n", 77)));
  element delta = d[d.size() - 2].root;
  EXPECT_EQ(str(delta["delta"]["stop_reason"]), "max_tokens");
  EXPECT_EQ(int64_t(delta["usage"]["input_tokens"]), 77);
  EXPECT_EQ(int64_t(delta["usage"]["output_tokens"]), 0);
}

TEST(MessagesStream, ThinkingThenText) {
  const std::string sse = chunk(R"({"reasoning_content":"Let me "})") + chunk(R"({"reasoning_content":"think."})") +
                          chunk(R"({"reasoning":"","content":"Answer"})") + chunk(R"({"reasoning":"more"})") +
                          chunk("{}", R"("stop")") + "data: [DONE]\n\n";
  const auto evs = events(whole(sse));
  auto d = docs(evs);
  EXPECT_EQ(types(evs), (std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta",
                                                  "content_block_delta", "content_block_stop", "content_block_start",
                                                  "content_block_delta", "content_block_stop", "content_block_start",
                                                  "content_block_delta", "content_block_stop", "message_delta",
                                                  "message_stop"}));
  EXPECT_EQ(compact(d[2].root),
            R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})");
  EXPECT_EQ(compact(d[3].root),
            R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}})");
  EXPECT_EQ(int64_t(d[6].root["index"]), 1);
  EXPECT_EQ(str(d[6].root["content_block"]["type"]), "text");
  EXPECT_EQ(str(d[7].root["delta"]["text"]), "Answer");
  EXPECT_EQ(int64_t(d[9].root["index"]), 2);
  EXPECT_EQ(str(d[10].root["delta"]["thinking"]), "more");
  EXPECT_EQ(int64_t(d[11].root["index"]), 2);
  expect_cut_independent(sse);
}

TEST(MessagesStream, ToolCalls) {
  const std::string sse =
      chunk(R"({"content":"Calling."})") +
      chunk(R"({"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]})") +
      // The second call's arguments come before its name: buffered.
      chunk(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"a\""}}]})") +
      chunk(R"({"tool_calls":[{"index":1,"id":"call_B","function":{"name":"other","arguments":":1}"}}]})") +
      // A third without arguments gets one empty input_json_delta.
      chunk(R"({"tool_calls":[{"index":2,"id":"call_C","function":{"name":"noargs"}}]})") +
      chunk("{}", R"("tool_calls")") + kUsage + "data: [DONE]\n\n";
  const auto evs = events(whole(sse));
  auto d = docs(evs);
  EXPECT_EQ(types(evs), (std::vector<std::string>{
                            "message_start", "ping",
                            "content_block_start", "content_block_delta", "content_block_stop",                        // text
                            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",  // A
                            "content_block_start", "content_block_delta", "content_block_stop",                         // B
                            "content_block_start", "content_block_delta", "content_block_stop",                         // C
                            "message_delta", "message_stop"}));
  EXPECT_EQ(compact(d[5].root),
            R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_A","name":"get_weather","input":{}}})");
  EXPECT_EQ(compact(d[6].root),
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}})");
  const std::string a = str(d[6].root["delta"]["partial_json"]) + str(d[7].root["delta"]["partial_json"]);
  EXPECT_EQ(a, R"({"city":"Paris"})");
  EXPECT_EQ(str(d[9].root["content_block"]["id"]), "call_B");
  EXPECT_EQ(int64_t(d[9].root["index"]), 2);
  // The buffered piece and the one that came with the name, in one delta.
  EXPECT_EQ(compact(d[10].root),
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}})");
  EXPECT_EQ(str(d[12].root["content_block"]["name"]), "noargs");
  EXPECT_EQ(str(d[12].root["content_block"]["id"]), "call_C");
  // As Anthropic sends it for a tool without input (recorded in
  // llm-anthropic_test_stream_events_tool_calls.json).
  EXPECT_EQ(compact(d[13].root),
            R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":""}})");
  EXPECT_EQ(compact(d[14].root), R"({"type":"content_block_stop","index":3})");
  EXPECT_EQ(str(d[15].root["delta"]["stop_reason"]), "tool_use");
  expect_cut_independent(sse);
}

// Some OpenAI-compatible servers end a turn of tool calls with "stop": the
// client must still see tool_use, or an agent loop would not run the tool.
TEST(MessagesStream, ToolCallsFinishedWithStopAreToolUse) {
  const std::string sse =
      chunk(R"({"tool_calls":[{"index":0,"id":"call_A","type":"function","function":{"name":"f","arguments":"{}"}}]})") +
      chunk("{}", R"("stop")") + "data: [DONE]\n\n";
  const auto evs = events(whole(sse));
  auto d = docs(evs);
  EXPECT_EQ(str(d[d.size() - 2].root["delta"]["stop_reason"]), "tool_use");
  // Without a tool call, stop stays end_turn.
  const auto plain = events(whole(chunk(R"({"content":"hi"})") + chunk("{}", R"("stop")") + "data: [DONE]\n\n"));
  auto p = docs(plain);
  EXPECT_EQ(str(p[p.size() - 2].root["delta"]["stop_reason"]), "end_turn");
}

// The recorded Anthropic tool call without input, event for event: the
// translation gives the same block sequence and the same delta.
TEST(MessagesStream, MatchesRecordedAnthropicToolCallWithoutInput) {
  Doc fixture = parse(read_fixture("anthropic/llm-anthropic_test_stream_events_tool_calls.json"));
  std::vector<std::string> recorded;
  std::string recorded_delta;
  for (element seg : simdjson::dom::array(fixture.root["interactions"].at(0)["response"]["body_segments"])) {
    const std::string type = str(seg["type"]);
    if (type == "ping") continue;
    recorded.push_back(type);
    if (type == "content_block_delta") recorded_delta = compact(seg["delta"]);
  }
  const std::string sse =
      chunk(R"({"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"pelican_name_generator","arguments":""}}]})") +
      chunk("{}", R"("tool_calls")") + "data: [DONE]\n\n";
  std::vector<std::string> ours;
  std::string our_delta;
  for (const auto& e : events(whole(sse))) {
    if (e.type == "ping") continue;
    ours.push_back(e.type);
    if (e.type == "content_block_delta") our_delta = compact(parse(e.data).root["delta"]);
  }
  EXPECT_EQ(ours, recorded);
  EXPECT_EQ(our_delta, recorded_delta);
}

TEST(MessagesStream, FramingVariants) {
  // CRLF event ends, comments, a JSON split over two data lines, event:
  // and id: fields, an invalid data line skipped, a data line without a
  // space after the colon.
  const std::string sse =
      ": keep-alive\r\n\r\n"
      "event: chunk\r\nid: 1\r\ndata: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"A\"}}]}\r\n\r\n"
      "data: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"B\"}}]}\n\n"
      "data: {not json\n\n"
      "data: \"just a string\"\n\n"
      "data:{\"choices\":[{\"delta\":{\"content\":\"C\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\r\n\r\n";
  std::string text;
  for (const auto& e : events(whole(sse))) {
    if (e.type != "content_block_delta") continue;
    text += str(parse(e.data).root["delta"]["text"]);
  }
  EXPECT_EQ(text, "ABC");
  expect_cut_independent(sse);
}

TEST(MessagesStream, UpstreamErrorEndsTheStream) {
  const std::string sse = chunk(R"({"content":"partial"})") +
                          R"(data: {"error":{"message":"Rate limited","type":"requests","code":429}})" + "\n\n" +
                          chunk(R"({"content":"ignored"})") + "data: [DONE]\n\n";
  StreamToMessages s("m", "msg_1", 1);
  std::string out;
  s.feed(sse, out);
  EXPECT_TRUE(s.content_started());
  std::string after;
  s.finish(after);
  s.feed(chunk(R"({"content":"more"})"), after);
  s.fail(500, "x", after);
  EXPECT_EQ(after, "");
  const auto evs = events(out);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().type, "error");
  EXPECT_EQ(evs.back().data, R"({"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}})");
  EXPECT_EQ(out.find("ignored"), std::string::npos);
  EXPECT_EQ(out.find("message_stop"), std::string::npos);

  // Without a numeric code: api_error; without a message: a generic one.
  auto e1 = events(whole(R"(data: {"error":{"message":"boom","code":"server_error"}})" "\n\n"));
  ASSERT_EQ(e1.size(), 1u);
  EXPECT_EQ(e1[0].data, R"({"type":"error","error":{"type":"api_error","message":"boom"}})");
  auto e2 = events(whole(R"(data: {"error":{}})" "\n\n"));
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(str(parse(e2[0].data).root["error"]["type"]), "api_error");
  EXPECT_FALSE(str(parse(e2[0].data).root["error"]["message"]).empty());
  expect_cut_independent(sse);
}

TEST(MessagesStream, Fail) {
  StreamToMessages s("m", "msg_1", 1);
  std::string out;
  s.feed(chunk(R"({"content":"x"})"), out);
  out.clear();
  s.fail(529, "Overloaded", out);
  EXPECT_EQ(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
  EXPECT_TRUE(s.content_started());
  std::string after;
  s.finish(after);
  s.fail(500, "again", after);
  EXPECT_EQ(after, "");
}

TEST(MessagesStream, FinishWithoutAnyChunk) {
  StreamToMessages s("m", "msg_given", 5);
  std::string out;
  s.feed(": only a comment\n\n", out);
  EXPECT_EQ(out, "");
  s.finish(out);
  const auto evs = events(out);
  EXPECT_EQ(types(evs), (std::vector<std::string>{"message_start", "ping", "message_delta", "message_stop"}));
  auto d = docs(evs);
  EXPECT_EQ(str(d[0].root["message"]["id"]), "msg_given");
  EXPECT_EQ(int64_t(d[0].root["message"]["usage"]["input_tokens"]), 5);
  EXPECT_EQ(str(d[2].root["delta"]["stop_reason"]), "end_turn");
  EXPECT_TRUE(s.content_started());
}

TEST(MessagesStream, FinishClosesTheOpenBlockAndTakesAnUnterminatedEvent) {
  // The connection closed after a data line without its blank line.
  const std::string sse = chunk(R"({"content":"a"})") + R"(data: {"choices":[{"delta":{"content":"b"},"finish_reason":"length"}]})";
  const auto evs = events(whole(sse));
  auto d = docs(evs);
  EXPECT_EQ(types(evs), (std::vector<std::string>{"message_start", "ping", "content_block_start", "content_block_delta",
                                                  "content_block_delta", "content_block_stop", "message_delta",
                                                  "message_stop"}));
  EXPECT_EQ(str(d[4].root["delta"]["text"]), "b");
  EXPECT_EQ(str(d[6].root["delta"]["stop_reason"]), "max_tokens");
}

TEST(MessagesStream, EventTooLarge) {
  const std::string big = "data: {\"choices\":[{\"delta\":{\"content\":\"" + std::string(1 << 20, 'a') + "\"}}]}\n\n";
  const std::string sse = chunk(R"({"content":"ok"})") + big + chunk(R"({"content":"never"})");
  const std::string expected = whole(sse);
  const auto evs = events(expected);
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs.back().type, "error");
  EXPECT_EQ(str(parse(evs.back().data).root["error"]["message"]), "upstream event too large");
  EXPECT_EQ(expected.find("never"), std::string::npos);
  EXPECT_EQ(expected.find("aaaa"), std::string::npos);
  // Cut in 4 KiB pieces (and one byte short of the end), the same.
  for (size_t step : {size_t(4096), size_t(65537), sse.size() - 1}) {
    StreamToMessages s("claude-x", "msg_fallback", 11);
    std::string out;
    for (size_t pos = 0; pos < sse.size(); pos += step) s.feed(std::string_view(sse).substr(pos, step), out);
    s.finish(out);
    EXPECT_EQ(out, expected) << step;
  }
  // Just under the limit passes: an event of exactly 1 MiB.
  std::string fits = "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n";
  fits.insert(fits.find("\"\"") + 1, std::string((1 << 20) - fits.size(), 'b'));
  ASSERT_EQ(fits.size(), size_t(1) << 20);
  EXPECT_NE(whole(fits).find("bbbb"), std::string::npos);
  // Comment lines are not buffered: more than 1 MiB of them in one event
  // is no reason to end the stream.
  std::string comments;
  while (comments.size() <= (size_t(1) << 20)) comments += ": keep-alive padding line\n";
  const std::string after = whole(comments + chunk(R"({"content":"still here"})") + "data: [DONE]\n\n");
  EXPECT_NE(after.find("still here"), std::string::npos);
  EXPECT_EQ(after.find("too large"), std::string::npos);
}

// The recorded OpenAI streams: the Messages events come in order
// (message_start, blocks, message_delta, message_stop), the text is the
// OpenAI text, the usage is carried, however the bytes are cut.
TEST(MessagesStream, RecordedOpenAIStreams) {
  for (const char* file : {"openai/chat-streaming.json", "openai/chat-streaming-detailed-usage.json"}) {
    SCOPED_TRACE(file);
    Doc fixture = parse(read_fixture(file));
    const std::string sse = str(fixture.root["interactions"].at(0)["response"]["body"]);
    // The OpenAI side, read independently: text, finish reason, usage.
    std::string openai_text, finish;
    int64_t prompt = -1, completion = -1, cached = 0;
    for (size_t pos = 0; pos < sse.size();) {
      size_t end = sse.find("\n\n", pos);
      if (end == std::string::npos) end = sse.size();
      const std::string ev = sse.substr(pos, end - pos);
      pos = end + 2;
      if (ev.rfind("data: ", 0) != 0 || ev == "data: [DONE]") continue;
      Doc c = parse(ev.substr(6));
      simdjson::dom::array choices = c.root["choices"];
      if (choices.size() > 0) {
        std::string_view piece, fr;
        if (choices.at(0)["delta"]["content"].get(piece) == simdjson::SUCCESS) openai_text += piece;
        if (choices.at(0)["finish_reason"].get(fr) == simdjson::SUCCESS) finish = fr;
      }
      element u;
      if (c.root["usage"].get(u) == simdjson::SUCCESS && u.is_object()) {
        prompt = int64_t(u["prompt_tokens"]);
        completion = int64_t(u["completion_tokens"]);
        if (u["prompt_tokens_details"]["cached_tokens"].get(cached) != simdjson::SUCCESS) cached = 0;
      }
    }
    // chat-streaming-detailed-usage spent its 100 tokens on reasoning it
    // does not stream: no text at all, finish_reason length.

    const auto evs = events(whole(sse));
    auto d = docs(evs);
    ASSERT_GE(evs.size(), 4u);
    EXPECT_EQ(evs.front().type, "message_start");
    EXPECT_EQ(evs[evs.size() - 2].type, "message_delta");
    EXPECT_EQ(evs.back().type, "message_stop");
    std::string text;
    int open = -1, blocks = 0;
    for (size_t i = 1; i + 2 < evs.size(); ++i) {
      const std::string& t = evs[i].type;
      if (t == "ping") continue;
      if (t == "content_block_start") {
        EXPECT_EQ(open, -1);
        open = int(int64_t(d[i].root["index"]));
        EXPECT_EQ(open, blocks++);
      } else if (t == "content_block_delta") {
        EXPECT_EQ(int64_t(d[i].root["index"]), open);
        text += str(d[i].root["delta"]["text"]);
      } else if (t == "content_block_stop") {
        EXPECT_EQ(int64_t(d[i].root["index"]), open);
        open = -1;
      } else {
        ADD_FAILURE() << "unexpected " << t;
      }
    }
    EXPECT_EQ(open, -1);
    EXPECT_EQ(blocks, openai_text.empty() ? 0 : 1);
    EXPECT_EQ(text, openai_text);
    element md = d[evs.size() - 2].root;
    EXPECT_EQ(str(md["delta"]["stop_reason"]), finish == "length" ? "max_tokens" : "end_turn");
    if (prompt >= 0) {
      EXPECT_EQ(int64_t(md["usage"]["input_tokens"]), prompt - cached);
      EXPECT_EQ(int64_t(md["usage"]["output_tokens"]), completion);
      EXPECT_EQ(int64_t(md["usage"]["cache_read_input_tokens"]), cached);
    }
    expect_cut_independent(sse);
  }
}

}  // namespace
