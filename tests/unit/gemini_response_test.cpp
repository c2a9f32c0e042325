// plugins/gemini/translate_response.cpp: Gemini answers (recorded ones from
// tests/fixtures/gemini, and hand-written ones for the cases no recording
// has) translated to OpenAI Chat Completions, and the result read back as
// JSON by simdjson, the way a client would read it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aigw_plugin.hpp"
#include "tool_call_id.h"
#include "translate_response.h"

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace {

namespace g = aigw::gemini_plugin;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

g::ChatContext context(bool include_usage = false) {
  g::ChatContext ctx;
  ctx.id = "chatcmpl-test";
  ctx.model = "gemini-2.5-flash";
  ctx.created = 1700000000;
  ctx.include_usage = include_usage;
  return ctx;
}

// --- recordings -------------------------------------------------------------

struct Exchange {
  std::string name;  // file and interaction, for messages
  bool stream = false;
  std::vector<std::string> segments;  // each a GenerateContentResponse, minified
};

std::vector<Exchange> load_exchanges() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(AIGW_FIXTURES_DIR "/gemini")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Exchange> out;
  for (const auto& path : files) {
    simdjson::dom::parser parser;
    element root;
    if (parser.load(path.string()).get(root) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << path;
      continue;
    }
    array interactions;
    EXPECT_EQ(root["interactions"].get(interactions), simdjson::SUCCESS) << path;
    size_t n = 0;
    for (element it : interactions) {
      Exchange ex;
      ex.name = path.filename().string() + " #" + std::to_string(n++);
      std::string_view url;
      EXPECT_EQ(it["request"]["url"].get(url), simdjson::SUCCESS) << ex.name;
      ex.stream = url.find(":streamGenerateContent") != std::string_view::npos;
      // countTokens answers are not content: the plugin does not serve it.
      if (!ex.stream && url.find(":generateContent") == std::string_view::npos) continue;
      array segs;
      EXPECT_EQ(it["response"]["body_segments"].get(segs), simdjson::SUCCESS) << ex.name;
      for (element s : segs) ex.segments.push_back(simdjson::minify(s));
      // A recorded stream with no event at all (the headers-only test of
      // js-genai): what an empty stream gives is a case of its own below.
      if (ex.segments.empty()) continue;
      out.push_back(std::move(ex));
    }
  }
  return out;
}

// What the recorded answer says, read here on its own terms (candidate 0,
// over all of a stream's events) to compare the translation against.
struct Expected {
  std::string text;
  struct Call {
    std::string name, args, signature;
  };
  std::vector<Call> calls;
  std::string finish_reason;  // OpenAI's word
  uint64_t prompt = 0, candidates = 0, thoughts = 0, cached = 0, total = 0;
};

Expected expected_from(const std::vector<std::string>& segments) {
  Expected e;
  simdjson::dom::parser parser;
  std::vector<Expected::Call> calls;
  std::set<std::string> answered;  // functionResponse names: run by Gemini itself
  std::string raw_finish;
  for (const std::string& seg : segments) {
    element root;
    EXPECT_EQ(parser.parse(seg).get(root), simdjson::SUCCESS);
    object usage;
    if (root["usageMetadata"].get(usage) == simdjson::SUCCESS) {
      auto count = [&](const char* k) {
        uint64_t v = 0;
        return usage[k].get(v) == simdjson::SUCCESS ? v : 0;
      };
      e.prompt = count("promptTokenCount");
      e.candidates = count("candidatesTokenCount");
      e.thoughts = count("thoughtsTokenCount");
      e.cached = count("cachedContentTokenCount");
      e.total = count("totalTokenCount");
    }
    array cands;
    if (root["candidates"].get(cands) != simdjson::SUCCESS) continue;
    for (element cand : cands) {
      std::string_view fr;
      if (cand["finishReason"].get(fr) == simdjson::SUCCESS) raw_finish = fr;
      array parts;
      if (cand["content"]["parts"].get(parts) != simdjson::SUCCESS) continue;
      for (element p : parts) {
        std::string_view text;
        element fc;
        if (p["text"].get(text) == simdjson::SUCCESS) {
          bool thought = false;
          if (p["thought"].get(thought) != simdjson::SUCCESS) thought = false;
          if (!thought) e.text.append(text);
        } else if (p["functionCall"].get(fc) == simdjson::SUCCESS) {
          Expected::Call c;
          std::string_view name, sig;
          EXPECT_EQ(fc["name"].get(name), simdjson::SUCCESS);
          c.name = name;
          element args;
          c.args = fc["args"].get(args) == simdjson::SUCCESS ? simdjson::minify(args) : "{}";
          if (p["thoughtSignature"].get(sig) == simdjson::SUCCESS) c.signature = sig;
          calls.push_back(c);
        } else if (p["functionResponse"]["name"].get(text) == simdjson::SUCCESS) {
          answered.insert(std::string(text));
        }
      }
    }
  }
  for (auto& c : calls) {
    if (!answered.count(c.name)) e.calls.push_back(c);
  }
  if (raw_finish == "STOP") {
    e.finish_reason = e.calls.empty() ? "stop" : "tool_calls";
  } else if (raw_finish == "MAX_TOKENS") {
    e.finish_reason = "length";
  } else {
    ADD_FAILURE() << "a recording ends with " << raw_finish << ": extend the test";
  }
  return e;
}

// The same JSON value, whatever its spacing.
std::string canonical(std::string_view json) {
  simdjson::dom::parser parser;
  element v;
  EXPECT_EQ(parser.parse(json).get(v), simdjson::SUCCESS) << json;
  return simdjson::minify(v);
}

void expect_usage(object usage, const Expected& e, const std::string& name) {
  uint64_t v = 0;
  ASSERT_EQ(usage["prompt_tokens"].get(v), simdjson::SUCCESS) << name;
  EXPECT_EQ(v, e.prompt) << name;
  ASSERT_EQ(usage["completion_tokens"].get(v), simdjson::SUCCESS) << name;
  EXPECT_EQ(v, e.candidates + e.thoughts) << name;
  ASSERT_EQ(usage["total_tokens"].get(v), simdjson::SUCCESS) << name;
  EXPECT_EQ(v, e.total) << name;
  ASSERT_EQ(usage["prompt_tokens_details"]["cached_tokens"].get(v), simdjson::SUCCESS) << name;
  EXPECT_EQ(v, e.cached) << name;
  ASSERT_EQ(usage["completion_tokens_details"]["reasoning_tokens"].get(v), simdjson::SUCCESS) << name;
  EXPECT_EQ(v, e.thoughts) << name;
}

// --- streams ----------------------------------------------------------------

// Feeds a stream the way the plugin does: the upstream bytes in pieces of
// `piece` bytes (0: all at once) through the SDK's SSE splitter, each
// event's data to on_event, then finish() at the end of the body.
struct StreamRun {
  std::string out;
  bool ok = true;
  g::Outcome outcome;
  bool content_started = false;
};

StreamRun run_stream(const std::string& body, size_t piece, const g::ChatContext& ctx) {
  g::StreamTranslator t(ctx);
  aigw::sdk::SseSplitter splitter;
  StreamRun r;
  auto on_event = [&](std::string_view event) {
    std::string data;
    bool any = false;
    aigw::sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
      if (name != "data") return;
      if (any) data.push_back('\n');
      data.append(value);
      any = true;
    });
    if (!any) return true;
    r.ok = t.on_event(data, r.out);
    return r.ok;
  };
  std::string_view rest = body;
  while (r.ok && !rest.empty()) {
    size_t n = piece == 0 ? rest.size() : std::min(piece, rest.size());
    if (!splitter.feed(rest.substr(0, n), on_event)) break;
    rest.remove_prefix(n);
  }
  if (r.ok) t.finish(r.out);
  r.outcome = t.outcome();
  r.content_started = t.content_started();
  return r;
}

std::string sse_body(const std::vector<std::string>& events) {
  std::string body;
  for (const auto& e : events) body += "data: " + e + "\r\n\r\n";
  return body;
}

// "call_" and 16 lowercase hex digits at s[i]: an id's fixed part.
// (Written out: std::regex trips GCC 12's -Wmaybe-uninitialized in the
// release sanitizer build.)
bool serial_at(std::string_view s, size_t i) {
  if (s.substr(i, 5) != "call_" || s.size() < i + 21) return false;
  for (size_t k = i + 5; k < i + 21; ++k) {
    if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f'))) return false;
  }
  return true;
}

// Tool-call ids carry a process-wide serial: the same stream translated
// twice differs only there.
std::string without_serials(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (serial_at(s, i)) {
      out += "call_#";
      i += 21;
    } else {
      out += s[i++];
    }
  }
  return out;
}

// The client's view of a stream: every event is "data: <JSON>\n\n" or the
// final "data: [DONE]\n\n".
struct ClientView {
  std::vector<std::string> chunks;  // JSON payloads, in order
  bool done = false;                // [DONE] came, and came last
  std::string content, reasoning;
  struct Call {
    std::string id, name, arguments;
  };
  std::map<uint64_t, Call> calls;  // by tool_calls[].index
  std::vector<std::string> finish_reasons;
  bool usage_chunk = false;
};

ClientView read_stream(const std::string& out, const g::ChatContext& ctx) {
  ClientView v;
  size_t pos = 0;
  simdjson::dom::parser parser;
  while (pos < out.size()) {
    size_t end = out.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "unterminated event: " << out.substr(pos);
    if (end == std::string::npos) break;
    std::string ev = out.substr(pos, end - pos);
    pos = end + 2;
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    std::string payload = ev.substr(6);
    EXPECT_FALSE(v.done) << "an event after [DONE]";
    if (payload == "[DONE]") {
      v.done = true;
      continue;
    }
    v.chunks.push_back(payload);
    element root;
    EXPECT_EQ(parser.parse(payload).get(root), simdjson::SUCCESS) << payload;
    std::string_view s;
    int64_t created = 0;
    EXPECT_EQ(root["id"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, ctx.id);
    EXPECT_EQ(root["object"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "chat.completion.chunk");
    EXPECT_EQ(root["model"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, ctx.model);
    EXPECT_EQ(root["created"].get(created), simdjson::SUCCESS);
    EXPECT_EQ(created, ctx.created);
    array choices;
    EXPECT_EQ(root["choices"].get(choices), simdjson::SUCCESS) << payload;
    if (choices.size() == 0) {
      EXPECT_FALSE(v.usage_chunk) << "two usage chunks";
      object usage;
      EXPECT_EQ(root["usage"].get(usage), simdjson::SUCCESS) << payload;
      v.usage_chunk = true;
      continue;
    }
    EXPECT_FALSE(v.usage_chunk) << "a choice after the usage chunk";
    if (ctx.include_usage) {
      EXPECT_TRUE(root["usage"].is_null()) << payload;
    } else {
      EXPECT_EQ(root["usage"].error(), simdjson::NO_SUCH_FIELD) << payload;
    }
    for (element c : choices) {
      object delta;
      EXPECT_EQ(c["delta"].get(delta), simdjson::SUCCESS) << payload;
      if (delta["content"].get(s) == simdjson::SUCCESS) v.content.append(s);
      if (delta["reasoning_content"].get(s) == simdjson::SUCCESS) v.reasoning.append(s);
      array tcs;
      if (delta["tool_calls"].get(tcs) == simdjson::SUCCESS) {
        for (element tc : tcs) {
          uint64_t index = 0;
          EXPECT_EQ(tc["index"].get(index), simdjson::SUCCESS) << payload;
          EXPECT_FALSE(v.calls.count(index)) << "a call delta repeated: " << payload;
          ClientView::Call call;
          EXPECT_EQ(tc["id"].get(s), simdjson::SUCCESS);
          call.id = s;
          EXPECT_EQ(tc["type"].get(s), simdjson::SUCCESS);
          EXPECT_EQ(s, "function");
          EXPECT_EQ(tc["function"]["name"].get(s), simdjson::SUCCESS);
          call.name = s;
          EXPECT_EQ(tc["function"]["arguments"].get(s), simdjson::SUCCESS);
          call.arguments = s;
          v.calls[index] = call;
        }
      }
      element fr;
      EXPECT_EQ(c["finish_reason"].get(fr), simdjson::SUCCESS) << payload;
      if (fr.is_string()) {
        EXPECT_EQ(fr.get(s), simdjson::SUCCESS);
        v.finish_reasons.emplace_back(s);
        EXPECT_EQ(delta.size(), 0u) << "the finish chunk carries an empty delta: " << payload;
      } else {
        EXPECT_TRUE(fr.is_null()) << payload;
        EXPECT_TRUE(v.finish_reasons.empty()) << "a delta after the finish chunk: " << payload;
      }
    }
  }
  return v;
}

// The first chunk of every stream: the assistant role, with empty content.
void expect_role_first(const ClientView& v) {
  ASSERT_FALSE(v.chunks.empty());
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(v.chunks[0]).get(root), simdjson::SUCCESS);
  std::string_view s;
  EXPECT_EQ(root["choices"].at(0)["delta"]["role"].get(s), simdjson::SUCCESS) << v.chunks[0];
  EXPECT_EQ(s, "assistant");
}

// --- whole answers: every recording --------------------------------------------

TEST(GeminiResponse, EveryRecordedAnswerTranslates) {
  auto exchanges = load_exchanges();
  size_t whole = 0;
  for (const Exchange& ex : exchanges) {
    if (ex.stream) continue;
    ++whole;
    ASSERT_EQ(ex.segments.size(), 1u) << ex.name;
    Expected e = expected_from(ex.segments);
    std::string out;
    g::Outcome oc;
    g::translate_chat_response(ex.segments[0], context(), out, oc);
    ASSERT_FALSE(oc.error) << ex.name << ": " << oc.message;
    simdjson::dom::parser parser;
    element root;
    ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << ex.name << ": " << out;
    std::string_view s;
    EXPECT_EQ(root["object"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "chat.completion");
    EXPECT_EQ(root["id"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "chatcmpl-test");
    EXPECT_EQ(root["model"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "gemini-2.5-flash");
    array choices;
    ASSERT_EQ(root["choices"].get(choices), simdjson::SUCCESS);
    ASSERT_EQ(choices.size(), 1u) << ex.name;
    element choice = choices.at(0);
    uint64_t index = 9;
    EXPECT_EQ(choice["index"].get(index), simdjson::SUCCESS);
    EXPECT_EQ(index, 0u);
    object msg;
    ASSERT_EQ(choice["message"].get(msg), simdjson::SUCCESS);
    EXPECT_EQ(msg["role"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "assistant");
    if (e.text.empty() && !e.calls.empty()) {
      EXPECT_TRUE(msg["content"].is_null()) << ex.name;
    } else {
      ASSERT_EQ(msg["content"].get(s), simdjson::SUCCESS) << ex.name;
      EXPECT_EQ(s, e.text) << ex.name;
    }
    array tcs;
    if (e.calls.empty()) {
      EXPECT_EQ(msg["tool_calls"].error(), simdjson::NO_SUCH_FIELD) << ex.name;
    } else {
      ASSERT_EQ(msg["tool_calls"].get(tcs), simdjson::SUCCESS) << ex.name;
      ASSERT_EQ(tcs.size(), e.calls.size()) << ex.name;
      for (size_t i = 0; i < e.calls.size(); ++i) {
        element tc = tcs.at(i);
        EXPECT_EQ(tc["type"].get(s), simdjson::SUCCESS);
        EXPECT_EQ(s, "function");
        EXPECT_EQ(tc["function"]["name"].get(s), simdjson::SUCCESS);
        EXPECT_EQ(s, e.calls[i].name) << ex.name;
        ASSERT_EQ(tc["function"]["arguments"].get(s), simdjson::SUCCESS) << ex.name;
        EXPECT_EQ(canonical(s), e.calls[i].args) << ex.name;
        ASSERT_EQ(tc["id"].get(s), simdjson::SUCCESS);
        EXPECT_EQ(g::signature_from_tool_call_id(s), e.calls[i].signature) << ex.name;
      }
    }
    EXPECT_EQ(choice["finish_reason"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, e.finish_reason) << ex.name;
    object usage;
    ASSERT_EQ(root["usage"].get(usage), simdjson::SUCCESS) << ex.name;
    expect_usage(usage, e, ex.name);
    EXPECT_EQ(oc.usage.prompt, e.prompt);
    EXPECT_EQ(oc.usage.total, e.total);
    EXPECT_EQ(oc.finish, e.finish_reason == "stop"         ? AIGW_FINISH_STOP
                         : e.finish_reason == "tool_calls" ? AIGW_FINISH_TOOL_CALLS
                                                           : AIGW_FINISH_LENGTH)
        << ex.name;
  }
  // A recording lost from the folder would otherwise pass unnoticed.
  EXPECT_GE(whole, 14u);
}

// Some answers checked by hand against the recording, so that the test
// above does not merely agree with itself.
std::string translate_recorded(const std::string& file, size_t interaction, g::Outcome& oc) {
  for (const Exchange& ex : load_exchanges()) {
    if (ex.name == file + " #" + std::to_string(interaction)) {
      std::string out;
      g::translate_chat_response(ex.segments.at(0), context(), out, oc);
      return out;
    }
  }
  ADD_FAILURE() << "no recording " << file;
  return {};
}

TEST(GeminiResponse, RecordedFunctionCall) {
  g::Outcome oc;
  std::string out =
      translate_recorded("non-streaming_Tests_generateContent_afc_disabled_Google_AI_AFC_disabled.json", 0, oc);
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  element msg = root["choices"].at(0)["message"];
  EXPECT_TRUE(msg["content"].is_null());
  std::string_view s;
  ASSERT_EQ(msg["tool_calls"].at(0)["function"]["arguments"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(canonical(s), canonical(R"({"denominator":2,"numerator":10})"));
  ASSERT_EQ(msg["tool_calls"].at(0)["function"]["name"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "customDivide");
  ASSERT_EQ(msg["tool_calls"].at(0)["id"].get(s), simdjson::SUCCESS);
  EXPECT_TRUE(s.size() == 21 && serial_at(s, 0)) << s;
  EXPECT_EQ(root["choices"].at(0)["finish_reason"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "tool_calls");
  uint64_t n = 0;
  EXPECT_EQ(root["usage"]["prompt_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 17u);
  EXPECT_EQ(root["usage"]["completion_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(root["usage"]["total_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 23u);
  EXPECT_EQ(oc.finish, AIGW_FINISH_TOOL_CALLS);
}

TEST(GeminiResponse, RecordedParallelCallsKeepOrderAndDistinctIds) {
  g::Outcome oc;
  std::string out = translate_recorded(
      "MCP_related_client_Tests_generateContent_ML_Dev_will_give_FunctionDeclaration_back_when_AFC_is_disabled.json",
      0, oc);
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  array tcs;
  ASSERT_EQ(root["choices"].at(0)["message"]["tool_calls"].get(tcs), simdjson::SUCCESS) << out;
  ASSERT_EQ(tcs.size(), 2u);
  std::string_view a, b;
  ASSERT_EQ(tcs.at(0)["id"].get(a), simdjson::SUCCESS);
  ASSERT_EQ(tcs.at(1)["id"].get(b), simdjson::SUCCESS);
  EXPECT_NE(a, b);
}

TEST(GeminiResponse, RecordedCachedAndReasoningTokens) {
  g::Outcome oc;
  std::string out = translate_recorded(
      "Client_Tests_generateContent_ML_Dev_should_generate_content_with_given_valid_json_schema_in_responseSchema.json",
      0, oc);
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  uint64_t n = 0;
  EXPECT_EQ(root["usage"]["prompt_tokens_details"]["cached_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(root["usage"]["completion_tokens_details"]["reasoning_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 41u);
  EXPECT_EQ(root["usage"]["completion_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 238u + 41u);
  EXPECT_EQ(oc.usage.cached, 3u);
  EXPECT_EQ(oc.usage.reasoning, 41u);
}

// Gemini ran this call on its own MCP server and answered from the result:
// the client gets the answer, not a call to run.
TEST(GeminiResponse, RecordedServerSideCallIsNotTheClients) {
  g::Outcome oc;
  std::string out =
      translate_recorded("Client_Tests_server_side_MCP_server_ML_Dev_should_call_server_side_MCP_server.json", 0, oc);
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  element msg = root["choices"].at(0)["message"];
  EXPECT_EQ(msg["tool_calls"].error(), simdjson::NO_SUCH_FIELD) << out;
  std::string_view s;
  ASSERT_EQ(msg["content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "On February 2, 2026, the weather in New York is expected to range from -13\u00b0C at 8 AM "
               "to 0.9\u00b0C at 7 PM.");
  EXPECT_EQ(root["choices"].at(0)["finish_reason"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "stop");
  uint64_t n = 0;
  EXPECT_EQ(root["usage"]["total_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 584u);  // totalTokenCount as sent, tool-use prompt tokens included
}

// --- streams: every recording ---------------------------------------------------

TEST(GeminiResponse, EveryRecordedStreamTranslates) {
  auto exchanges = load_exchanges();
  size_t streams = 0;
  for (const Exchange& ex : exchanges) {
    if (!ex.stream) continue;
    ++streams;
    Expected e = expected_from(ex.segments);
    for (bool include_usage : {false, true}) {
      g::ChatContext ctx = context(include_usage);
      StreamRun r = run_stream(sse_body(ex.segments), 0, ctx);
      ASSERT_TRUE(r.ok) << ex.name << ": " << r.outcome.message;
      ASSERT_FALSE(r.outcome.error) << ex.name << ": " << r.outcome.message;
      ClientView v = read_stream(r.out, ctx);
      expect_role_first(v);
      EXPECT_TRUE(v.done) << ex.name;
      EXPECT_EQ(v.content, e.text) << ex.name;
      EXPECT_TRUE(v.reasoning.empty()) << ex.name;
      ASSERT_EQ(v.calls.size(), e.calls.size()) << ex.name;
      for (size_t i = 0; i < e.calls.size(); ++i) {
        ASSERT_TRUE(v.calls.count(i)) << ex.name << ": tool call indices from 0";
        EXPECT_EQ(v.calls[i].name, e.calls[i].name) << ex.name;
        EXPECT_EQ(canonical(v.calls[i].arguments), e.calls[i].args) << ex.name;
        EXPECT_EQ(g::signature_from_tool_call_id(v.calls[i].id), e.calls[i].signature) << ex.name;
      }
      ASSERT_EQ(v.finish_reasons.size(), 1u) << ex.name;
      EXPECT_EQ(v.finish_reasons[0], e.finish_reason) << ex.name;
      EXPECT_EQ(v.usage_chunk, include_usage) << ex.name;
      if (include_usage) {
        simdjson::dom::parser parser;
        element last;
        ASSERT_EQ(parser.parse(v.chunks.back()).get(last), simdjson::SUCCESS);
        object usage;
        ASSERT_EQ(last["usage"].get(usage), simdjson::SUCCESS);
        expect_usage(usage, e, ex.name);
      }
      EXPECT_EQ(r.outcome.usage.prompt, e.prompt) << ex.name;
      EXPECT_EQ(r.outcome.usage.completion, e.candidates + e.thoughts) << ex.name;
      EXPECT_TRUE(r.content_started) << ex.name;
    }
  }
  EXPECT_GE(streams, 5u);
}

// The plugin sees the upstream bytes in whatever pieces the network made;
// the client must see the same stream however they were cut.
TEST(GeminiResponse, RecordedStreamsSameOutputHoweverSplit) {
  for (const Exchange& ex : load_exchanges()) {
    if (!ex.stream) continue;
    std::string body = sse_body(ex.segments);
    std::string whole = without_serials(run_stream(body, 0, context(true)).out);
    for (size_t piece : {1u, 2u, 7u, 64u, 1000u}) {
      StreamRun r = run_stream(body, piece, context(true));
      EXPECT_EQ(without_serials(r.out), whole) << ex.name << " in pieces of " << piece;
    }
  }
}

// Deltas go out as each event arrives: the first event's text is out before
// the second event is fed.
TEST(GeminiResponse, StreamDoesNotWaitForTheEnd) {
  g::StreamTranslator t(context());
  std::string out;
  ASSERT_TRUE(t.on_event(R"({"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]})", out));
  ClientView v = read_stream(out, context());
  EXPECT_EQ(v.content, "Hel");
  EXPECT_FALSE(v.done);
  EXPECT_TRUE(t.content_started());
  out.clear();
  ASSERT_TRUE(t.on_event(
      R"({"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP","index":0}],)"
      R"("usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}})",
      out));
  EXPECT_NE(out.find("\"content\":\"lo\""), std::string::npos) << out;
  t.finish(out);
  EXPECT_EQ(out.substr(out.size() - 14), "data: [DONE]\n\n");
  EXPECT_EQ(t.outcome().finish, AIGW_FINISH_STOP);
  EXPECT_EQ(t.outcome().usage.total, 5u);
}

TEST(GeminiResponse, RecordedServerSideCallStreamIsNotTheClients) {
  for (const Exchange& ex : load_exchanges()) {
    if (ex.name.find("server_side_MCP_server_ML_Dev_should_call_server_side_MCP_server,_stream") ==
        std::string::npos) {
      continue;
    }
    StreamRun r = run_stream(sse_body(ex.segments), 0, context());
    ClientView v = read_stream(r.out, context());
    EXPECT_TRUE(v.calls.empty()) << r.out;
    EXPECT_EQ(v.content.rfind("On February 2nd, 2026", 0), 0u) << v.content;
    ASSERT_EQ(v.finish_reasons.size(), 1u);
    EXPECT_EQ(v.finish_reasons[0], "stop");
    return;
  }
  FAIL() << "recording missing";
}

// --- reasoning ----------------------------------------------------------------

TEST(GeminiResponse, ThoughtsAreReasoningNotContent) {
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(
      R"({"candidates":[{"content":{"parts":[{"text":"Let me think.","thought":true},{"text":"Because","thought":true},)"
      R"({"text":"Answer: 4"},{"text":"."}],"role":"model"},"finishReason":"STOP","index":0}],)"
      R"("usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"thoughtsTokenCount":7,"totalTokenCount":15}})",
      context(), out, oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  std::string_view s;
  ASSERT_EQ(root["choices"].at(0)["message"]["content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "Answer: 4.");
  ASSERT_EQ(root["choices"].at(0)["message"]["reasoning_content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "Let me think.Because");
  uint64_t n = 0;
  EXPECT_EQ(root["usage"]["completion_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 10u);
  EXPECT_EQ(root["usage"]["completion_tokens_details"]["reasoning_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 7u);
}

TEST(GeminiResponse, StreamThoughtsAreReasoningDeltas) {
  std::string body = sse_body({
      R"({"candidates":[{"content":{"parts":[{"text":"Hmm, ","thought":true}],"role":"model"},"index":0}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"four.","thought":true},{"text":"It is "}],"role":"model"},"index":0}]})",
      R"({"candidates":[{"content":{"parts":[{"text":"4."}],"role":"model"},"finishReason":"STOP","index":0}]})",
  });
  StreamRun r = run_stream(body, 0, context());
  ASSERT_TRUE(r.ok);
  ClientView v = read_stream(r.out, context());
  EXPECT_EQ(v.reasoning, "Hmm, four.");
  EXPECT_EQ(v.content, "It is 4.");
  ASSERT_EQ(v.finish_reasons.size(), 1u);
  EXPECT_EQ(v.finish_reasons[0], "stop");
  // Reasoning alone counts as content for commit: the client has bytes.
  g::StreamTranslator t(context());
  std::string out;
  ASSERT_TRUE(t.on_event(
      R"({"candidates":[{"content":{"parts":[{"text":"x","thought":true}],"role":"model"},"index":0}]})", out));
  EXPECT_TRUE(t.content_started());
}

// --- tool calls in streams --------------------------------------------------------

constexpr const char* kSignature = "CsYBAY89a1+/abc/def+ghi=";  // standard base64, with padding

TEST(GeminiResponse, StreamToolCallsWithIndexAndSignature) {
  std::string call1 = std::string(R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"get_weather",)") +
                      R"("args":{"city":"Paris","days":[1,2]}},"thoughtSignature":")" + kSignature +
                      R"("},{"functionCall":{"name":"get_time"}}],"role":"model"},"finishReason":"STOP","index":0}],)" +
                      R"("usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":4,"totalTokenCount":14}})";
  StreamRun r = run_stream(sse_body({call1}), 0, context(true));
  ASSERT_TRUE(r.ok) << r.outcome.message;
  ClientView v = read_stream(r.out, context(true));
  ASSERT_EQ(v.calls.size(), 2u);
  EXPECT_EQ(v.calls[0].name, "get_weather");
  EXPECT_EQ(canonical(v.calls[0].arguments), canonical(R"({"city":"Paris","days":[1,2]})"));
  EXPECT_EQ(g::signature_from_tool_call_id(v.calls[0].id), kSignature);
  EXPECT_EQ(v.calls[1].name, "get_time");
  EXPECT_EQ(v.calls[1].arguments, "{}");
  EXPECT_EQ(g::signature_from_tool_call_id(v.calls[1].id), "");
  EXPECT_NE(v.calls[0].id, v.calls[1].id);
  ASSERT_EQ(v.finish_reasons.size(), 1u);
  EXPECT_EQ(v.finish_reasons[0], "tool_calls");
  EXPECT_EQ(r.outcome.finish, AIGW_FINISH_TOOL_CALLS);
  EXPECT_TRUE(v.usage_chunk);
  EXPECT_TRUE(r.content_started);
}

// Text after a call in a later event: the call was the client's (no
// functionResponse came), and goes out before the text.
TEST(GeminiResponse, StreamHeldCallGoesOutBeforeLaterText) {
  g::StreamTranslator t(context());
  std::string out;
  ASSERT_TRUE(t.on_event(R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"index":0}]})", out));
  ASSERT_TRUE(t.on_event(R"({"candidates":[{"content":{"parts":[{"text":"done"}]},"finishReason":"STOP","index":0}]})", out));
  size_t call = out.find("\"tool_calls\"");
  size_t text = out.find("\"content\":\"done\"");
  ASSERT_NE(call, std::string::npos) << out;
  ASSERT_NE(text, std::string::npos) << out;
  EXPECT_LT(call, text);
  t.finish(out);
  ClientView v = read_stream(out, context());
  EXPECT_EQ(v.finish_reasons, std::vector<std::string>{"tool_calls"});
}

TEST(GeminiResponse, WholeAnswerSignatureRoundTrip) {
  std::string answer = std::string(R"({"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{"a":"\u00e9\n"}},)") +
                       R"("thoughtSignature":")" + kSignature + R"("}],"role":"model"},"finishReason":"STOP"}]})";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, context(), out, oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  std::string_view id, args;
  ASSERT_EQ(root["choices"].at(0)["message"]["tool_calls"].at(0)["id"].get(id), simdjson::SUCCESS);
  EXPECT_EQ(g::signature_from_tool_call_id(id), kSignature);
  ASSERT_EQ(root["choices"].at(0)["message"]["tool_calls"].at(0)["function"]["arguments"].get(args),
            simdjson::SUCCESS);
  EXPECT_EQ(canonical(args), canonical(R"({"a":"\u00e9\n"})"));
  // No usageMetadata: the usage object is still there, with zeros.
  uint64_t n = 1;
  EXPECT_EQ(root["usage"]["total_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 0u);
}

// --- finish reasons -----------------------------------------------------------------

struct FinishCase {
  const char* gemini;
  const char* openai;
  aigw_finish_reason finish;
};

TEST(GeminiResponse, FinishReasons) {
  const FinishCase cases[] = {
      {"STOP", "stop", AIGW_FINISH_STOP},
      {"MAX_TOKENS", "length", AIGW_FINISH_LENGTH},
      {"SAFETY", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"RECITATION", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"BLOCKLIST", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"PROHIBITED_CONTENT", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"SPII", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"IMAGE_SAFETY", "content_filter", AIGW_FINISH_CONTENT_FILTER},
      {"OTHER", "stop", AIGW_FINISH_UNKNOWN},
  };
  for (const FinishCase& c : cases) {
    std::string answer = std::string(R"({"candidates":[{"content":{"parts":[{"text":"x"}],"role":"model"},"finishReason":")") +
                         c.gemini + R"("}]})";
    std::string out;
    g::Outcome oc;
    g::translate_chat_response(answer, context(), out, oc);
    ASSERT_FALSE(oc.error) << c.gemini;
    EXPECT_NE(out.find(std::string("\"finish_reason\":\"") + c.openai + "\""), std::string::npos)
        << c.gemini << ": " << out;
    EXPECT_EQ(oc.finish, c.finish) << c.gemini;

    StreamRun r = run_stream(sse_body({answer}), 0, context());
    ASSERT_TRUE(r.ok) << c.gemini;
    ClientView v = read_stream(r.out, context());
    EXPECT_EQ(v.finish_reasons, std::vector<std::string>{c.openai}) << c.gemini;
    EXPECT_EQ(r.outcome.finish, c.finish) << c.gemini;
  }
}

// A safety stop in a stream comes with no content at all.
TEST(GeminiResponse, StreamSafetyStopWithoutContent) {
  StreamRun r = run_stream(sse_body({R"({"candidates":[{"content":{"parts":[{"text":"Sure, "}]},"index":0}]})",
                                     R"({"candidates":[{"finishReason":"SAFETY","index":0}]})"}),
                           0, context());
  ASSERT_TRUE(r.ok);
  ClientView v = read_stream(r.out, context());
  EXPECT_EQ(v.content, "Sure, ");
  EXPECT_EQ(v.finish_reasons, std::vector<std::string>{"content_filter"});
}

// --- failures -----------------------------------------------------------------

TEST(GeminiResponse, MalformedFunctionCallIsAnError) {
  const char* answer =
      R"({"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL","index":0}],)"
      R"("usageMetadata":{"promptTokenCount":2595,"totalTokenCount":2595}})";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, context(), out, oc);
  EXPECT_TRUE(oc.error);
  EXPECT_EQ(oc.status, 502);
  EXPECT_EQ(oc.code, "upstream_malformed_function_call");
  EXPECT_NE(oc.message.find("MALFORMED_FUNCTION_CALL"), std::string::npos) << oc.message;
  EXPECT_EQ(oc.finish, AIGW_FINISH_ERROR);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(oc.usage.prompt, 2595u);  // still reported

  // In a stream, after some text: what was sent stays valid, the stream ends.
  g::StreamTranslator t(context());
  std::string sout;
  ASSERT_TRUE(t.on_event(R"({"candidates":[{"content":{"parts":[{"text":"Calling"}]},"index":0}]})", sout));
  EXPECT_FALSE(t.on_event(answer, sout));
  EXPECT_TRUE(t.outcome().error);
  EXPECT_EQ(t.outcome().code, "upstream_malformed_function_call");
  size_t before = sout.size();
  t.finish(sout);
  EXPECT_EQ(sout.size(), before) << "nothing after an error";
  ClientView v = read_stream(sout, context());
  EXPECT_FALSE(v.done);
  EXPECT_EQ(v.content, "Calling");
}

TEST(GeminiResponse, UnexpectedToolCallIsAnError) {
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(R"({"candidates":[{"finishReason":"UNEXPECTED_TOOL_CALL"}]})", context(), out, oc);
  EXPECT_TRUE(oc.error);
  EXPECT_EQ(oc.status, 502);
  EXPECT_EQ(oc.code, "upstream_unexpected_tool_call");
}

TEST(GeminiResponse, BlockedPromptIsAnError) {
  const char* answer =
      R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8}})";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, context(), out, oc);
  EXPECT_TRUE(oc.error);
  EXPECT_EQ(oc.status, 400);
  EXPECT_EQ(oc.code, "content_filter");
  EXPECT_NE(oc.message.find("PROHIBITED_CONTENT"), std::string::npos) << oc.message;
  EXPECT_TRUE(out.empty());

  g::StreamTranslator t(context());
  std::string sout;
  EXPECT_FALSE(t.on_event(answer, sout));
  EXPECT_TRUE(sout.empty());
  EXPECT_TRUE(t.outcome().error);
  EXPECT_EQ(t.outcome().code, "content_filter");
  EXPECT_FALSE(t.content_started());
}

TEST(GeminiResponse, ErrorEventEndsTheStream) {
  g::StreamTranslator t(context());
  std::string out;
  ASSERT_TRUE(t.on_event(R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]},"index":0}]})", out));
  EXPECT_FALSE(t.on_event(
      R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}})",
      out));
  const g::Outcome& oc = t.outcome();
  EXPECT_TRUE(oc.error);
  EXPECT_EQ(oc.status, 503);
  EXPECT_EQ(oc.code, "unavailable");
  EXPECT_NE(oc.message.find("The model is overloaded. Please try again later."), std::string::npos)
      << oc.message;
  // An error object as a whole answer reads the same way.
  std::string whole;
  g::Outcome woc;
  g::translate_chat_response(R"({"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}})",
                             context(), whole, woc);
  EXPECT_TRUE(woc.error);
  EXPECT_EQ(woc.status, 429);
  EXPECT_EQ(woc.code, "resource_exhausted");
  EXPECT_NE(woc.message.find("Quota exceeded"), std::string::npos);
}

TEST(GeminiResponse, NotAGeminiAnswer) {
  const char* bad[] = {
      "",
      "{not json",
      R"({"candidates":[{"content":{"parts":[{"text":"cut)",
      "[1,2]",
      R"("text")",
      R"({"candidates":[]})",                       // empty candidates
      R"({"modelVersion":"gemini-2.5-flash"})",    // no candidates
      R"({"candidates":{"text":"x"}})",            // not an array
      R"({"candidates":[{"content":{"parts":{"text":"x"}}}]})",
      R"({"candidates":[{"content":{"parts":[{"text":7}]}}]})",
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\xff\"}]}}]}",  // not UTF-8
  };
  for (const char* b : bad) {
    std::string out;
    g::Outcome oc;
    g::translate_chat_response(b, context(), out, oc);
    EXPECT_TRUE(oc.error) << b;
    EXPECT_EQ(oc.status, 502) << b;
    EXPECT_EQ(oc.code, "bad_upstream_response") << b;
    EXPECT_TRUE(out.empty()) << b;
  }
  for (const char* b : {"{not json", "[1,2]", R"({"foo":1})"}) {
    g::StreamTranslator t(context());
    std::string out;
    EXPECT_FALSE(t.on_event(b, out)) << b;
    EXPECT_EQ(t.outcome().code, "bad_upstream_response") << b;
    EXPECT_EQ(t.outcome().status, 502) << b;
  }
}

TEST(GeminiResponse, FunctionCallWithoutNameIsMalformed) {
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(R"({"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]},"finishReason":"STOP"}]})",
                             context(), out, oc);
  EXPECT_TRUE(oc.error);
  EXPECT_EQ(oc.code, "upstream_malformed_function_call");
}

// Usage-only events are part of a stream; a stream of nothing but them is
// not an answer.
TEST(GeminiResponse, StreamWithoutCandidates) {
  g::StreamTranslator t(context(true));
  std::string out;
  EXPECT_TRUE(t.on_event(R"({"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}})", out));
  EXPECT_TRUE(t.on_event(R"({"candidates":[],"usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}})", out));
  EXPECT_TRUE(out.empty());
  t.finish(out);
  EXPECT_TRUE(out.empty()) << out;
  EXPECT_TRUE(t.outcome().error);
  EXPECT_EQ(t.outcome().code, "bad_upstream_response");
}

TEST(GeminiResponse, StreamUsageOnlyEventAfterFinishIsKept) {
  StreamRun r = run_stream(
      sse_body({R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP","index":0}]})",
                R"({"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"thoughtsTokenCount":2,)"
                R"("cachedContentTokenCount":1,"totalTokenCount":7}})"}),
      0, context(true));
  ASSERT_TRUE(r.ok) << r.outcome.message;
  ClientView v = read_stream(r.out, context(true));
  ASSERT_TRUE(v.usage_chunk);
  simdjson::dom::parser parser;
  element last;
  ASSERT_EQ(parser.parse(v.chunks.back()).get(last), simdjson::SUCCESS);
  uint64_t n = 0;
  EXPECT_EQ(last["usage"]["completion_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(last["usage"]["total_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 7u);
  EXPECT_EQ(last["usage"]["prompt_tokens_details"]["cached_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 1u);
  // A missing total is the sum.
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(
      R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}})",
      context(), out, oc);
  EXPECT_EQ(oc.usage.total, 5u);
}

// --- JSON safety and several candidates ----------------------------------------------

TEST(GeminiResponse, OutputIsValidJsonWhateverTheText) {
  // Control characters, quotes, backslashes and non-ASCII, from Gemini's
  // escapes; the context strings too.
  const char* answer =
      R"({"candidates":[{"content":{"parts":[{"text":"a\"b\\c\u0001\u001f\n\t\u00e9\ud83d\ude00</script>"}]},"finishReason":"STOP"}]})";
  g::ChatContext ctx = context();
  ctx.model = "m\"odel\n";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, ctx, out, oc);
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  std::string_view s;
  ASSERT_EQ(root["choices"].at(0)["message"]["content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "a\"b\\c\x01\x1f\n\t\xc3\xa9\xf0\x9f\x98\x80</script>");
  EXPECT_EQ(root["model"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "m\"odel\n");
  StreamRun r = run_stream(sse_body({answer}), 0, ctx);
  ClientView v = read_stream(r.out, ctx);
  EXPECT_EQ(v.content, "a\"b\\c\x01\x1f\n\t\xc3\xa9\xf0\x9f\x98\x80</script>");
}

TEST(GeminiResponse, SeveralCandidatesEachWithItsIndex) {
  const char* answer =
      R"({"candidates":[{"content":{"parts":[{"text":"one"}]},"finishReason":"STOP","index":0},)"
      R"({"content":{"parts":[{"functionCall":{"name":"f","args":{"x":1}}}]},"finishReason":"STOP","index":1}]})";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, context(), out, oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  array choices;
  ASSERT_EQ(root["choices"].get(choices), simdjson::SUCCESS);
  ASSERT_EQ(choices.size(), 2u);
  uint64_t idx = 0;
  std::string_view s;
  EXPECT_EQ(choices.at(1)["index"].get(idx), simdjson::SUCCESS);
  EXPECT_EQ(idx, 1u);
  EXPECT_EQ(choices.at(0)["finish_reason"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "stop");
  EXPECT_EQ(choices.at(1)["finish_reason"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "tool_calls");

  StreamRun r = run_stream(sse_body({answer}), 0, context());
  ASSERT_TRUE(r.ok);
  std::set<uint64_t> finished;
  simdjson::dom::parser p2;
  ClientView v = read_stream(r.out, context());
  for (const std::string& c : v.chunks) {
    element ch;
    ASSERT_EQ(p2.parse(c).get(ch), simdjson::SUCCESS);
    element choice = ch["choices"].at(0);
    if (choice["finish_reason"].is_string()) {
      EXPECT_EQ(choice["index"].get(idx), simdjson::SUCCESS);
      finished.insert(idx);
    }
  }
  EXPECT_EQ(finished, (std::set<uint64_t>{0, 1}));
}

// Answers above the size the shared parser keeps (an image answer is
// megabytes) take the other parser; the result is the same.
TEST(GeminiResponse, BigAnswer) {
  std::string text(5u << 20, 'x');
  std::string answer = R"({"candidates":[{"content":{"parts":[{"text":")" + text +
                       R"("}]},"finishReason":"STOP","index":0}]})";
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(answer, context(), out, oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS);
  std::string_view s;
  ASSERT_EQ(root["choices"].at(0)["message"]["content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, text);
  StreamRun r = run_stream(sse_body({answer}), 0, context());
  ASSERT_TRUE(r.ok) << r.outcome.message;
  EXPECT_EQ(read_stream(r.out, context()).content, text);
  // A small one after it still works (the shared parser was left alone).
  g::translate_chat_response(R"({"candidates":[{"content":{"parts":[{"text":"y"}]},"finishReason":"STOP"}]})",
                             context(), out, oc);
  EXPECT_NE(out.find("\"content\":\"y\""), std::string::npos) << out;
}

// Parts a chat completion has no place for are left out, not errors.
TEST(GeminiResponse, OtherPartsAreSkipped) {
  std::string out;
  g::Outcome oc;
  g::translate_chat_response(
      R"({"candidates":[{"content":{"parts":[{"text":"Here:"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]},"finishReason":"STOP"}]})",
      context(), out, oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  std::string_view s;
  ASSERT_EQ(root["choices"].at(0)["message"]["content"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "Here:");
}

// --- embeddings -------------------------------------------------------------

TEST(GeminiResponse, Embeddings) {
  std::string out;
  g::Outcome oc;
  g::translate_embeddings_response(
      R"({"embeddings":[{"values":[0.013168523,-0.008711934,1e-05,3]},{"values":[-0.25]}]})", "text-embedding-004", out,
      oc);
  ASSERT_FALSE(oc.error) << oc.message;
  simdjson::dom::parser parser;
  element root;
  ASSERT_EQ(parser.parse(out).get(root), simdjson::SUCCESS) << out;
  std::string_view s;
  EXPECT_EQ(root["object"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "list");
  EXPECT_EQ(root["model"].get(s), simdjson::SUCCESS);
  EXPECT_EQ(s, "text-embedding-004");
  array data;
  ASSERT_EQ(root["data"].get(data), simdjson::SUCCESS);
  ASSERT_EQ(data.size(), 2u);
  const std::vector<std::vector<double>> want = {{0.013168523, -0.008711934, 1e-05, 3}, {-0.25}};
  for (size_t i = 0; i < 2; ++i) {
    element d = data.at(i);
    uint64_t idx = 9;
    EXPECT_EQ(d["index"].get(idx), simdjson::SUCCESS);
    EXPECT_EQ(idx, i);
    EXPECT_EQ(d["object"].get(s), simdjson::SUCCESS);
    EXPECT_EQ(s, "embedding");
    array values;
    ASSERT_EQ(d["embedding"].get(values), simdjson::SUCCESS);
    ASSERT_EQ(values.size(), want[i].size());
    for (size_t k = 0; k < want[i].size(); ++k) {
      double x = 0;
      ASSERT_EQ(values.at(k).get(x), simdjson::SUCCESS);
      EXPECT_EQ(x, want[i][k]) << "exactly the value sent";
    }
  }
  uint64_t n = 1;
  EXPECT_EQ(root["usage"]["prompt_tokens"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 0u);

  for (const char* bad : {"{", R"({"embedding":{"values":[1]}})", R"({"embeddings":[{"values":["x"]}]})",
                          R"({"embeddings":[{}]})"}) {
    g::translate_embeddings_response(bad, "m", out, oc);
    EXPECT_TRUE(oc.error) << bad;
    EXPECT_EQ(oc.code, "bad_upstream_response") << bad;
    EXPECT_TRUE(out.empty()) << bad;
  }
}

}  // namespace

// A stream whose body holds no event at all (recorded once by js-genai for a
// headers-only test): an error for the client, never an empty success.
TEST(GeminiResponse, AnEmptyStreamIsAnError) {
  g::StreamTranslator t(context());
  std::string out;
  t.finish(out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(t.outcome().error);
  EXPECT_EQ(t.outcome().status, 502);
  EXPECT_EQ(t.outcome().code, "bad_upstream_response");
}
