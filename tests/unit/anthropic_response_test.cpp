// The anthropic plugin's response side (plugins/anthropic/translate_response):
// whole Messages answers and streams, recorded (tests/fixtures/anthropic) and
// written for one rule each, as the chat.completion objects and chunks an
// OpenAI client reads.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>
#include <vector>

#include "aigw_plugin.hpp"
#include "anthropic_test_util.h"
#include "thinking_carry.h"
#include "translate_response.h"

namespace {

namespace ap = aigw::anthropic_plugin;
using anthropic_test::recorded;
using anthropic_test::recorded_events;
using anthropic_test::same_json;
using simdjson::dom::element;

ap::ChatContext ctx(bool include_usage = false) {
  ap::ChatContext c;
  c.id = "chatcmpl-anthropic-1";
  c.model = "claude";
  c.created = 1700000000;
  c.include_usage = include_usage;
  return c;
}

// What an OpenAI client assembles from a stream.
struct Assembled {
  std::string content, reasoning, finish;
  struct Call {
    std::string id, name, args;
  };
  std::map<int64_t, Call> calls;
  std::string usage = "<none>";
  int chunks = 0;
  bool done = false;
  bool role = false;
  bool ok = true;
  ap::Outcome outcome;
};

void read_chunks(const std::string& sse, Assembled& a) {
  simdjson::dom::parser p;
  size_t pos = 0;
  while (pos < sse.size()) {
    size_t end = sse.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos) << "an event without its blank line: " << sse.substr(pos);
    std::string ev = sse.substr(pos, end - pos);
    pos = end + 2;
    ASSERT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    std::string data = ev.substr(6);
    if (data == "[DONE]") {
      EXPECT_FALSE(a.done) << "two [DONE]";
      a.done = true;
      continue;
    }
    EXPECT_FALSE(a.done) << "a chunk after [DONE]";
    element c;
    ASSERT_EQ(p.parse(data).get(c), simdjson::SUCCESS) << data;
    ++a.chunks;
    EXPECT_EQ(std::string_view(c["object"]), "chat.completion.chunk");
    EXPECT_EQ(std::string_view(c["id"]), "chatcmpl-anthropic-1");
    element u;
    if (c["usage"].get(u) == simdjson::SUCCESS) {
      EXPECT_EQ(simdjson::dom::array(c["choices"]).size(), 0u) << "usage rides on a chunk of its own";
      a.usage = simdjson::minify(u);
      continue;
    }
    element ch = c["choices"].at(0);
    element d = ch["delta"];
    std::string_view s;
    if (d["role"].get(s) == simdjson::SUCCESS) a.role = true;
    if (d["content"].get(s) == simdjson::SUCCESS) a.content += s;
    if (d["reasoning_content"].get(s) == simdjson::SUCCESS) a.reasoning += s;
    simdjson::dom::array tcs;
    if (d["tool_calls"].get(tcs) == simdjson::SUCCESS) {
      for (element tc : tcs) {
        int64_t i = int64_t(tc["index"]);
        if (tc["id"].get(s) == simdjson::SUCCESS) a.calls[i].id = std::string(s);
        if (tc["function"]["name"].get(s) == simdjson::SUCCESS) a.calls[i].name = std::string(s);
        if (tc["function"]["arguments"].get(s) == simdjson::SUCCESS) a.calls[i].args += s;
      }
    }
    if (ch["finish_reason"].get(s) == simdjson::SUCCESS) {
      EXPECT_TRUE(a.finish.empty()) << "two finish chunks";
      a.finish = std::string(s);
    }
  }
}

Assembled stream(const std::vector<std::string>& events, bool include_usage = false) {
  ap::StreamTranslator tr(ctx(include_usage));
  Assembled a;
  std::string out;
  for (const std::string& e : events) {
    if (!tr.on_event(e, out)) {
      a.ok = false;
      break;
    }
  }
  read_chunks(out, a);
  a.outcome = tr.outcome();
  if (a.ok) {
    EXPECT_EQ(tr.ended(), a.done);
  }
  return a;
}

struct Whole {
  std::string out;
  ap::Outcome oc;
  element message;
  std::string finish;
  simdjson::dom::parser p;
};

void whole(const std::string& json, Whole& w) {
  simdjson::dom::parser parser;
  ap::translate_chat_response(parser, json, ctx(), w.out, w.oc);
  if (w.oc.error) return;
  element root;
  ASSERT_EQ(w.p.parse(w.out).get(root), simdjson::SUCCESS) << w.out;
  EXPECT_EQ(std::string_view(root["object"]), "chat.completion");
  w.message = root["choices"].at(0)["message"];
  w.finish = std::string(std::string_view(root["choices"].at(0)["finish_reason"]));
}

std::string str(element e, const char* k) {
  std::string_view s;
  if (e[k].get(s) != simdjson::SUCCESS) return "<none>";
  return std::string(s);
}

// --- whole answers -------------------------------------------------------------

TEST(AnthropicWhole, RecordedThinkingAnswer) {
  Whole w;
  whole(recorded("pydantic-ai_test_anthropic_model_thinking_part.json", 0, "response"), w);
  ASSERT_FALSE(w.oc.error) << w.oc.message;
  EXPECT_EQ(str(w.message, "content").rfind("Here's how to cross the street safely:", 0), 0u);
  EXPECT_EQ(str(w.message, "reasoning_content"),
            "This is a straightforward question about pedestrian safety. I should provide clear, "
            "practical advice about crossing the street safely.");
  EXPECT_EQ(w.finish, "stop");
  EXPECT_EQ(w.oc.finish, AIGW_FINISH_STOP);
  EXPECT_TRUE(same_json(R"({"prompt_tokens":43,"completion_tokens":321,"total_tokens":364,
      "prompt_tokens_details":{"cached_tokens":0}})", simdjson::minify(w.p.parse(w.out).value()["usage"])));
  EXPECT_EQ(w.oc.usage.prompt(), 43u);
  EXPECT_EQ(w.oc.usage.output, 321u);
}

TEST(AnthropicWhole, ToolUseWithThinkingCarriesTheBlocksInTheFirstCallId) {
  Whole w;
  whole(R"({"type":"message","role":"assistant","content":[
      {"type":"thinking","thinking":"Need the weather.","signature":"EqSig"},
      {"type":"redacted_thinking","data":"EmRed"},
      {"type":"text","text":"Checking."},
      {"type":"tool_use","id":"toolu_A","name":"weather","input":{"city":"Paris"}},
      {"type":"tool_use","id":"toolu_B","name":"clock","input":{}}],
      "stop_reason":"tool_use","usage":{"input_tokens":10,"cache_creation_input_tokens":20,
      "cache_read_input_tokens":30,"output_tokens":5}})", w);
  ASSERT_FALSE(w.oc.error) << w.oc.message;
  EXPECT_EQ(w.finish, "tool_calls");
  EXPECT_EQ(str(w.message, "content"), "Checking.");
  simdjson::dom::array calls = w.message["tool_calls"];
  ASSERT_EQ(calls.size(), 2u);
  std::string first = str(calls.at(0), "id");
  std::string_view use_id;
  std::string blocks;
  ASSERT_TRUE(ap::split_tool_call_id(first, use_id, blocks));
  EXPECT_EQ(use_id, "toolu_A");
  EXPECT_TRUE(same_json(R"([{"type":"thinking","thinking":"Need the weather.","signature":"EqSig"},
      {"type":"redacted_thinking","data":"EmRed"}])", blocks));
  EXPECT_EQ(str(calls.at(1), "id"), "toolu_B");
  EXPECT_EQ(str(calls.at(0)["function"], "arguments"), R"({"city":"Paris"})");
  EXPECT_EQ(str(calls.at(1)["function"], "arguments"), "{}");
  EXPECT_EQ(str(calls.at(0), "type"), "function");
  // Cache tokens are prompt tokens; the read ones are OpenAI's cached_tokens.
  EXPECT_TRUE(same_json(R"({"prompt_tokens":60,"completion_tokens":5,"total_tokens":65,
      "prompt_tokens_details":{"cached_tokens":30}})", simdjson::minify(w.p.parse(w.out).value()["usage"])));
}

TEST(AnthropicWhole, StopReasons) {
  struct Case {
    const char* stop;
    const char* finish;
    aigw_finish_reason report;
  };
  for (Case c : {Case{"end_turn", "stop", AIGW_FINISH_STOP}, Case{"stop_sequence", "stop", AIGW_FINISH_STOP},
                 Case{"max_tokens", "length", AIGW_FINISH_LENGTH}, Case{"tool_use", "tool_calls", AIGW_FINISH_TOOL_CALLS},
                 Case{"refusal", "content_filter", AIGW_FINISH_CONTENT_FILTER},
                 Case{"pause_turn", "stop", AIGW_FINISH_UNKNOWN}, Case{"new_reason", "stop", AIGW_FINISH_UNKNOWN}}) {
    Whole w;
    whole(std::string(R"({"type":"message","content":[{"type":"text","text":"x"}],"stop_reason":")") + c.stop + R"("})", w);
    ASSERT_FALSE(w.oc.error);
    EXPECT_EQ(w.finish, c.finish) << c.stop;
    EXPECT_EQ(w.oc.finish, c.report) << c.stop;
  }
}

TEST(AnthropicWhole, ServerToolBlocksAreLeftOutAndBadAnswersAreErrors) {
  Whole w;
  whole(R"({"type":"message","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"q":"x"}},
      {"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},{"type":"text","text":"found"}],
      "stop_reason":"end_turn"})", w);
  ASSERT_FALSE(w.oc.error);
  EXPECT_EQ(str(w.message, "content"), "found");
  element calls;
  EXPECT_NE(w.message["tool_calls"].get(calls), simdjson::SUCCESS);
  for (const char* bad : {"", "[]", "{\"type\":\"message\"}", "not json"}) {
    Whole b;
    whole(bad, b);
    EXPECT_TRUE(b.oc.error) << bad;
    EXPECT_EQ(b.oc.status, 502) << bad;
    EXPECT_TRUE(b.out.empty());
  }
  Whole e;
  whole(R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", e);
  EXPECT_TRUE(e.oc.error);
  EXPECT_EQ(e.oc.status, 529);
  EXPECT_EQ(e.oc.code, "overloaded_error");
}

// --- streams ---------------------------------------------------------------------

TEST(AnthropicStream, RecordedThinking) {
  Assembled a = stream(recorded_events("llm-anthropic_test_stream_events_thinking.json"), true);
  ASSERT_TRUE(a.ok) << a.outcome.message;
  EXPECT_TRUE(a.role);
  EXPECT_TRUE(a.done);
  EXPECT_EQ(a.content, "1. **Pouch** - references their iconic bill pouch\n2. **Pel\xc3\xa9** - playful take on \"pelican\"");
  EXPECT_EQ(a.reasoning.rfind("The user wants two names for a pet pelican", 0), 0u) << a.reasoning;
  EXPECT_EQ(a.finish, "stop");
  EXPECT_TRUE(same_json(R"({"prompt_tokens":46,"completion_tokens":133,"total_tokens":179,
      "prompt_tokens_details":{"cached_tokens":0}})", a.usage));
  EXPECT_EQ(a.outcome.finish, AIGW_FINISH_STOP);
}

TEST(AnthropicStream, RecordedToolCallWithoutInputGetsEmptyObjectArguments) {
  Assembled a = stream(recorded_events("llm-anthropic_test_stream_events_tool_calls.json"));
  ASSERT_TRUE(a.ok) << a.outcome.message;
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].id, "toolu_01CzN6riCPqw4pVSuTd9Dwn7");
  EXPECT_EQ(a.calls[0].name, "pelican_name_generator");
  EXPECT_EQ(a.calls[0].args, "{}");
  EXPECT_EQ(a.finish, "tool_calls");
  EXPECT_EQ(a.usage, "<none>");  // not asked for
  EXPECT_TRUE(a.done);
}

TEST(AnthropicStream, RecordedServerToolSearchIsNotTheClientsToolCall) {
  Assembled a = stream(recorded_events("pydantic-ai_test_anthropic_native_tool_search_streaming.json"), true);
  ASSERT_TRUE(a.ok) << a.outcome.message;
  // server_tool_use and tool_search_tool_result are Anthropic's; the one
  // tool_use is the client's, with its streamed arguments.
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].name, "get_exchange_rate");
  simdjson::dom::parser p;
  element args;
  ASSERT_EQ(p.parse(a.calls[0].args).get(args), simdjson::SUCCESS) << a.calls[0].args;
  EXPECT_TRUE(args.is_object());
  EXPECT_FALSE(a.content.empty());
  EXPECT_EQ(a.finish, "tool_calls");
  EXPECT_NE(a.usage.find("\"prompt_tokens\":1591"), std::string::npos) << a.usage;
}

TEST(AnthropicStream, RecordedThinkingStreamMatchesTheEventsJoined) {
  std::vector<std::string> events = recorded_events("pydantic-ai_test_anthropic_model_thinking_part_stream.json");
  std::string text, thinking;
  simdjson::dom::parser p;
  for (const std::string& e : events) {
    element d;
    std::string_view s;
    if (p.parse(e).get(d) != simdjson::SUCCESS || d["delta"].get(d) != simdjson::SUCCESS) continue;
    if (d["text"].get(s) == simdjson::SUCCESS) text += s;
    if (d["thinking"].get(s) == simdjson::SUCCESS) thinking += s;
  }
  Assembled a = stream(events);
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.content, text);
  EXPECT_EQ(a.reasoning, thinking);
  EXPECT_FALSE(text.empty());
}

TEST(AnthropicStream, ThinkingBeforeAToolCallTravelsInItsId) {
  Assembled a = stream({
      R"({"type":"message_start","message":{"usage":{"input_tokens":5,"cache_read_input_tokens":7,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Use f."}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"Sig1"}})",
      R"({"type":"content_block_stop","index":0})",
      R"({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_X","name":"f","input":{}}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}})",
      R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}})",
      R"({"type":"content_block_stop","index":1})",
      R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_Y","name":"g","input":{}}})",
      R"({"type":"content_block_stop","index":2})",
      R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})",
      R"({"type":"message_stop"})"}, true);
  ASSERT_TRUE(a.ok);
  ASSERT_EQ(a.calls.size(), 2u);
  std::string_view use_id;
  std::string blocks;
  ASSERT_TRUE(ap::split_tool_call_id(a.calls[0].id, use_id, blocks));
  EXPECT_EQ(use_id, "toolu_X");
  EXPECT_TRUE(same_json(R"([{"type":"thinking","thinking":"Use f.","signature":"Sig1"}])", blocks));
  EXPECT_EQ(a.calls[0].args, R"({"a":1})");
  EXPECT_EQ(a.calls[1].id, "toolu_Y");
  EXPECT_EQ(a.calls[1].args, "{}");
  EXPECT_EQ(a.reasoning, "Use f.");
  EXPECT_TRUE(same_json(R"({"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,
      "prompt_tokens_details":{"cached_tokens":7}})", a.usage));
}

TEST(AnthropicStream, AnErrorEventEndsTheStreamAfterTheContent) {
  Assembled a = stream({
      R"({"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}})",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})",
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
      R"({"type":"message_stop"})"});
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.content, "Hello");
  EXPECT_FALSE(a.done);
  EXPECT_TRUE(a.finish.empty());
  EXPECT_TRUE(a.outcome.error);
  EXPECT_EQ(a.outcome.status, 529);
  EXPECT_EQ(a.outcome.code, "overloaded_error");
  EXPECT_EQ(a.outcome.message, "Overloaded");
}

TEST(AnthropicStream, StopReasonsAndJunk) {
  auto run = [](const char* stop) {
    return stream({R"({"type":"message_start","message":{}})", R"({"type":"ping"})",
                   std::string(R"({"type":"message_delta","delta":{"stop_reason":")") + stop + R"("}})",
                   R"({"type":"message_stop"})"});
  };
  EXPECT_EQ(run("max_tokens").finish, "length");
  EXPECT_EQ(run("refusal").finish, "content_filter");
  EXPECT_EQ(run("end_turn").finish, "stop");
  Assembled junk = stream({R"({"type":"message_start","message":{}})", "not json"});
  EXPECT_FALSE(junk.ok);
  EXPECT_EQ(junk.outcome.status, 502);
  // Indices out of range are errors, not allocations.
  Assembled big = stream({R"({"type":"content_block_start","index":99999999999,"content_block":{"type":"text"}})"});
  EXPECT_FALSE(big.ok);
  // Unknown events and deltas of unknown blocks are skipped.
  Assembled skip = stream({R"({"type":"message_start","message":{}})", R"({"type":"something_new"})",
                           R"({"type":"content_block_delta","index":3,"delta":{"type":"citations_delta"}})",
                           R"({"type":"message_stop"})"});
  EXPECT_TRUE(skip.ok);
  EXPECT_TRUE(skip.done);
}

}  // namespace
