// What the gemini plugin's translation costs (plugins/gemini), next to what
// the openai plugin does with the same traffic, in one binary so that the
// two are measured in the same run.
//
// Two layers:
//
//  1. The translation functions alone (translate_request.h,
//     translate_response.h): BM_GeminiTranslateRequest turns one OpenAI
//     request (a 10-turn conversation with tools) into Gemini's body;
//     BM_GeminiStreamTranslateText puts one recorded Gemini SSE event's data
//     (a text delta) through StreamTranslator::on_event;
//     BM_GeminiStreamTranslateCallStream a recorded one-event stream with a
//     functionCall through on_event and finish().
//
//  2. The plugins' hooks, through their hook tables, as aigw calls them: one
//     upstream SSE event in one on_upstream_body call, and everything the
//     plugin does for it up to and including its host->emit.
//     BM_GeminiHookEventText: the SDK's SSE splitter, the data field, the
//     parse that watches for finishReason, StreamTranslator::on_event, emit.
//     BM_OpenaiHookEvent* (pass-through): the same splitter, the incremental
//     JSON scan for usage and finish_reason, the content sniff, emit of the
//     event's own bytes. This is the like-for-like pair behind the goal "a
//     translated event costs at most 2x a passed-through one": the host's
//     part after emit (chunked framing, the socket write) is the same code
//     for both plugins and proportional to the bytes emitted, so it is left
//     out of both; the bench host's emit copies the bytes once, as the real
//     host's first step does (src/gateway/runtime.cpp Runtime::emit).
//
// Gemini streams text in larger pieces than OpenAI: a recorded Gemini event
// carries about 50 tokens (200 characters), an OpenAI chunk one token. So
// the pass-through is measured twice: on a recorded OpenAI chunk as it is
// ("Hi"), and on the same chunk carrying the Gemini event's text, which is
// the same content per event.
//
// BM_GeminiRequestHooks / BM_OpenaiRequestHooks: request_new +
// build_upstream + request_destroy for the same conversation (the openai
// plugin passes the body on as the client's bytes).
//
// Fixtures come from tests/fixtures (AIGW_FIXTURES_DIR). A benchmark whose
// input cannot be read or whose plugin refuses it is skipped with an error,
// never measured on something else.
#include <benchmark/benchmark.h>

#include "hook_host.h"
#include "micro.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "tool_call_id.h"
#include "translate_request.h"
#include "translate_response.h"

extern "C" const aigw_plugin_def* aigw_gemini_plugin_entry(void);
extern "C" const aigw_plugin_def* aigw_openai_plugin_entry(void);

namespace {

namespace gp = aigw::gemini_plugin;
using namespace aigw::micro;

// --- fixtures ---------------------------------------------------------------

// Event `index` of a recorded Gemini stream: its data (minified JSON, as
// aigw-mock replays it).
std::string gemini_event(const std::string& file, size_t interaction, size_t index) {
  simdjson::dom::parser p;
  simdjson::dom::element root, seg;
  std::string text = read_file("gemini/" + file);
  if (p.parse(text).get(root) != simdjson::SUCCESS ||
      root["interactions"].at(interaction)["response"]["body_segments"].at(index).get(seg) !=
          simdjson::SUCCESS) {
    return {};
  }
  return simdjson::minify(seg);
}

// The first thoughtSignature of a recording (standard base64), for tool-call
// ids of the size a Gemini 2.5 conversation carries.
std::string recorded_signature() {
  std::string text = read_file(
      "gemini/Client_Tests_generateContent_ML_Dev_should_be_able_to_help_build_the_FunctionDeclaration.json");
  const std::string key = "\"thoughtSignature\": \"";
  size_t at = text.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  size_t end = text.find('"', at);
  return end == std::string::npos ? std::string() : text.substr(at, end - at);
}

// The text of a Gemini event's first part.
std::string gemini_text(const std::string& data) {
  simdjson::dom::parser p;
  std::string_view t;
  if (p.parse(data)["candidates"].at(0)["content"]["parts"].at(0)["text"].get(t) != simdjson::SUCCESS) return {};
  return std::string(t);
}

// An OpenAI chunk event with its delta content replaced by `text`.
std::string openai_event_with_content(const std::string& event, const std::string& text) {
  const std::string key = "\"content\":\"";
  size_t at = event.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  size_t end = event.find('"', at);
  std::string escaped;
  aigw::sdk::append_json_string(escaped, text);  // with its quotes
  return event.substr(0, at - 1) + escaped + event.substr(end + 1);
}

// --- the conversation -------------------------------------------------------

// One request of a 10-turn conversation with three tools, as an OpenAI
// client sends it on its 11th call: a system message, then user, assistant
// with two parallel tool calls, two tool results, assistant text, user,
// assistant with one tool call, its result, assistant text, user (10
// messages after the system one). Tool-call ids are the plugin's own, two
// of the three carrying a recorded thought signature, as they come back
// from a client of aigw.
std::string conversation(bool stream) {
  std::string sig = recorded_signature();
  std::string id1 = gp::make_tool_call_id(0x1a2b3c4d5e6f7081, sig);
  std::string id2 = gp::make_tool_call_id(0x1a2b3c4d5e6f7082, "");
  std::string id3 = gp::make_tool_call_id(0x1a2b3c4d5e6f7083, sig);
  std::string b = R"({"model":"gemini-2.5-flash",)";
  if (stream) b += R"("stream":true,"stream_options":{"include_usage":true},)";
  b += R"("temperature":0.4,"max_completion_tokens":1024,"messages":[)";
  b += R"({"role":"system","content":"You are a travel assistant. Use the tools to look up weather and )"
       R"(flights; answer in short paragraphs and quote prices in euros."},)";
  b += R"({"role":"user","content":"I want to fly from Lisbon to Berlin next Friday. What will the )"
       R"(weather be like in Berlin, and which morning flights are there?"},)";
  b += R"({"role":"assistant","content":null,"tool_calls":[)";
  b += R"({"id":")" + id1 + R"(","type":"function","function":{"name":"get_weather","arguments":)"
       R"("{\"city\":\"Berlin\",\"date\":\"2026-12-11\",\"unit\":\"celsius\"}"}},)";
  b += R"({"id":")" + id2 + R"(","type":"function","function":{"name":"search_flights","arguments":)"
       R"("{\"from\":\"LIS\",\"to\":\"BER\",\"date\":\"2026-12-11\",\"depart_before\":\"12:00\"}"}}]},)";
  b += R"({"role":"tool","tool_call_id":")" + id1 +
       R"(","content":"{\"city\":\"Berlin\",\"date\":\"2026-12-11\",\"high\":4,\"low\":-1,)"
       R"(\"conditions\":\"overcast, light snow in the evening\",\"precipitation_mm\":2.5}"},)";
  b += R"({"role":"tool","tool_call_id":")" + id2 +
       R"(","content":"{\"flights\":[{\"number\":\"TP538\",\"depart\":\"06:25\",\"arrive\":\"10:40\",)"
       R"(\"price_eur\":189},{\"number\":\"FR1223\",\"depart\":\"09:10\",\"arrive\":\"13:35\",)"
       R"(\"price_eur\":74},{\"number\":\"EW8871\",\"depart\":\"11:05\",\"arrive\":\"15:20\",)"
       R"(\"price_eur\":112}]}"},)";
  b += R"({"role":"assistant","content":"Berlin next Friday: overcast, 4 °C at most and -1 °C at night, )"
       R"(with light snow in the evening. Morning flights from Lisbon: TP538 at 06:25 (189 €), FR1223 )"
       R"(at 09:10 (74 €) and EW8871 at 11:05 (112 €)."},)";
  b += R"({"role":"user","content":"The 09:10 one is fine. Is there a direct train from BER to )"
       R"(Alexanderplatz, and how long does it take?"},)";
  b += R"({"role":"assistant","content":"","tool_calls":[)";
  b += R"({"id":")" + id3 + R"(","type":"function","function":{"name":"search_transit","arguments":)"
       R"("{\"from\":\"BER Airport\",\"to\":\"Alexanderplatz\",\"arrive_by\":\"14:30\"}"}}]},)";
  b += R"({"role":"tool","tool_call_id":")" + id3 +
       R"(","content":"FEX airport express to Hauptbahnhof, then S5 to Alexanderplatz; 38 minutes, )"
       R"(every 15 minutes; ticket ABC zone 4.40 EUR"},)";
  b += R"({"role":"assistant","content":"Yes: the FEX airport express and then the S-Bahn S5 get you )"
       R"(to Alexanderplatz in about 38 minutes; trains run every 15 minutes and an ABC ticket costs )"
       R"(4.40 €."},)";
  b += R"({"role":"user","content":"Great. Summarise the plan for me in three bullet points."}],)";
  b += R"("tools":[)";
  b += R"({"type":"function","function":{"name":"get_weather","description":"Weather forecast for a )"
       R"(city on a date","parameters":{"type":"object","properties":{"city":{"type":"string"},)"
       R"("date":{"type":"string","description":"ISO 8601 date"},"unit":{"type":"string",)"
       R"("enum":["celsius","fahrenheit"]}},"required":["city","date"],"additionalProperties":false}}},)";
  b += R"({"type":"function","function":{"name":"search_flights","description":"Scheduled flights )"
       R"(between two airports","parameters":{"type":"object","properties":{"from":{"type":"string",)"
       R"("description":"IATA code"},"to":{"type":"string","description":"IATA code"},"date":)"
       R"({"type":"string"},"depart_before":{"type":"string","description":"HH:MM local time"}},)"
       R"("required":["from","to","date"],"additionalProperties":false}}},)";
  b += R"({"type":"function","function":{"name":"search_transit","description":"Public transport )"
       R"(connections","parameters":{"type":"object","properties":{"from":{"type":"string"},"to":)"
       R"({"type":"string"},"arrive_by":{"type":"string"}},"required":["from","to"]}}}],)";
  b += R"("tool_choice":"auto"})";
  return b;
}

// --- layer 1: the translation functions -------------------------------------

void BM_GeminiTranslateRequest(benchmark::State& state) {
  const std::string body = conversation(true);
  simdjson::dom::parser parser;  // the plugin's per-worker parser
  {
    std::string out;
    gp::ChatRequestInfo info;
    gp::RequestError err;
    if (!gp::translate_chat_request(parser, body, out, info, err)) {
      state.SkipWithError(("refused: " + err.message).c_str());
      return;
    }
  }
  size_t out_bytes = 0;
  for (auto _ : state) {
    std::string out;  // a fresh Request's upstream_body_, as in the plugin
    gp::ChatRequestInfo info;
    gp::RequestError err;
    bool ok = gp::translate_chat_request(parser, body, out, info, err);
    benchmark::DoNotOptimize(ok);
    out_bytes = out.size();
  }
  state.counters["in_bytes"] = static_cast<double>(body.size());
  state.counters["out_bytes"] = static_cast<double>(out_bytes);
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_GeminiTranslateRequest);

gp::ChatContext stream_context() {
  gp::ChatContext ctx;
  ctx.id = "chatcmpl-gemini-12345";
  ctx.model = "gemini-2.5-flash";
  ctx.created = 1765000000;
  ctx.include_usage = true;
  return ctx;
}

const char* kTextStream = "Client_Tests_generateContentStream_ML_Dev_should_stream_generate_content_with_specified_parameters.json";

// One text event in the middle of a stream (the role chunk went out with
// the first event, before the timed loop).
void BM_GeminiStreamTranslateText(benchmark::State& state) {
  const std::string data = gemini_event(kTextStream, 0, 1);
  if (data.empty()) {
    state.SkipWithError("fixture not readable");
    return;
  }
  gp::StreamTranslator tr(stream_context());
  std::string out;
  if (!tr.on_event(data, out)) {
    state.SkipWithError("refused");
    return;
  }
  for (auto _ : state) {
    out.clear();  // the plugin's out_, reused for every event
    bool ok = tr.on_event(data, out);
    benchmark::DoNotOptimize(ok);
  }
  state.counters["in_bytes"] = static_cast<double>(data.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_GeminiStreamTranslateText);

// A whole recorded stream of one event: a functionCall with finishReason
// STOP (Gemini 2.0 answering with a tool call), then the end of the body.
// A call is held until text or the end of the stream (a later functionResponse
// would mean Gemini ran it itself), so one event is not enough to see its
// cost: this is a fresh StreamTranslator, on_event and finish(), writing the
// role chunk, the tool_calls delta (with a fresh id), the finish chunk, the
// usage chunk and [DONE].
void BM_GeminiStreamTranslateCallStream(benchmark::State& state) {
  const std::string data =
      gemini_event("AFC_Streaming_Tests_generateContentStream_afc_disabled_Google_AI_AFC_disabled.json", 0, 0);
  if (data.find("\"functionCall\"") == std::string::npos) {
    state.SkipWithError("fixture not readable");
    return;
  }
  const gp::ChatContext ctx = stream_context();
  std::string out;
  for (auto _ : state) {
    out.clear();
    gp::StreamTranslator tr(ctx);
    bool ok = tr.on_event(data, out);
    tr.finish(out);
    benchmark::DoNotOptimize(ok);
  }
  if (out.find("\"tool_calls\"") == std::string::npos) state.SkipWithError("no tool call came out");
  state.counters["in_bytes"] = static_cast<double>(data.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_GeminiStreamTranslateCallStream);

// --- layer 2: the hooks -----------------------------------------------------

// request_new + build_upstream + request_destroy of one streamed request of
// the conversation.
void request_hooks(benchmark::State& state, const aigw_plugin_def* def) {
  Plugin p(def);
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  const ClientCall call{conversation(true), "gemini-2.5-flash"};
  {
    Exchange probe(p, call);
    if (!probe.error.empty()) {
      state.SkipWithError(probe.error.c_str());
      return;
    }
  }
  for (auto _ : state) {
    Exchange x(p, call);
    benchmark::DoNotOptimize(x.ctx);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GeminiRequestHooks(benchmark::State& state) { request_hooks(state, aigw_gemini_plugin_entry()); }
AIGW_MICRO(BM_GeminiRequestHooks);

void BM_OpenaiRequestHooks(benchmark::State& state) { request_hooks(state, aigw_openai_plugin_entry()); }
AIGW_MICRO(BM_OpenaiRequestHooks);

// One upstream event per on_upstream_body call (hook_host.h), for the
// streamed conversation.
void event_hook(benchmark::State& state, const aigw_plugin_def* def, const std::string& event) {
  Plugin p(def);
  aigw::micro::event_hook(state, p, ClientCall{conversation(true), "gemini-2.5-flash"}, event);
}

// Gemini's SSE framing as aigw-mock replays it (and Gemini sends it).
std::string gemini_sse(const std::string& data) { return data.empty() ? data : "data: " + data + "\r\n\r\n"; }

void BM_GeminiHookEventText(benchmark::State& state) {
  event_hook(state, aigw_gemini_plugin_entry(), gemini_sse(gemini_event(kTextStream, 0, 1)));
}
AIGW_MICRO(BM_GeminiHookEventText);

// The recorded OpenAI chunk as it is: one token ("Hi").
void BM_OpenaiHookEventToken(benchmark::State& state) {
  event_hook(state, aigw_openai_plugin_entry(), openai_event(1));
}
AIGW_MICRO(BM_OpenaiHookEventToken);

// The same chunk carrying the Gemini event's text: the same content per
// event as BM_GeminiHookEventText.
void BM_OpenaiHookEventSameText(benchmark::State& state) {
  std::string text = gemini_text(gemini_event(kTextStream, 0, 1));
  event_hook(state, aigw_openai_plugin_entry(), text.empty() ? text : openai_event_with_content(openai_event(1), text));
}
AIGW_MICRO(BM_OpenaiHookEventSameText);

}  // namespace

BENCHMARK_MAIN();
