// What Anthropic's Messages API (/v1/messages) costs per stream event and
// per request, translated (src/translate/messages.h, for a plugin that does
// not speak it) and passed through natively (the anthropic plugin, which
// declares AIGW_DIALECT_ANTHROPIC_MESSAGES), next to the openai plugin's
// pass-through of Chat Completions, in one binary so that all are measured
// in the same run. The model is gemini_bench.cpp; the host for the hooks is
// hook_host.h.
//
// The pairs behind the goal "a translated stream event costs at most 2x a
// passed-through one" (docs/benchmarks.md, "Messages API"):
//
//  (a) BM_MessagesStreamFeedToken: what the gateway adds for a translated
//      stream event (src/gateway/runtime.cpp Runtime::emit,
//      messages_api.cpp Runtime::translate_stream): the host's copy of the
//      plugin's bytes, then StreamToMessages::feed of one recorded OpenAI
//      chunk (a one-token text delta, "Hi", from
//      tests/fixtures/openai/chat-streaming.json) into a fresh string, as
//      translate_stream does. Against BM_OpenaiHookEventToken: the openai
//      plugin's pass-through of the same chunk (its on_upstream_body and
//      emit, the bench host's emit copying once), as in gemini_bench.
//      BM_MessagesTranslatedHookEventToken is the whole translated path of
//      that event: the openai plugin's hook, whose emit the host then
//      translates (the two above together), for reference.
//  (b) BM_AnthropicNativeHookEventText: the anthropic plugin's native
//      pass-through of one recorded Anthropic content_block_delta text
//      event (a one-token "Here are", from tests/fixtures/anthropic/
//      pydantic-ai_test_anthropic_model_thinking_part_stream.json, framed
//      as aigw-mock and Anthropic send it: "event: ...\ndata: ...\n\n"),
//      against the same BM_OpenaiHookEventToken. Skipped (with an error)
//      by an anthropic plugin without the native path.
//  (c) BM_MessagesToChat: messages_to_chat of a 10-message Messages request
//      with three tools (the conversation of gemini_bench in Anthropic's
//      shape), against BM_ChatBodyRead: gateway::BodyParser::read of the
//      Chat Completions body it becomes, the read the gateway does on every
//      OpenAI request anyway (and on the translation, messages_api.cpp).
//      Informative: no goal.
//
// The host's part after emit (chunked framing, the socket write) is the same
// code for every path and proportional to the bytes emitted, so it is left
// out, as in gemini_bench. A benchmark whose input cannot be read or whose
// plugin refuses it is skipped with an error, never measured on something
// else.
#include <benchmark/benchmark.h>

#include "hook_host.h"
#include "micro.h"

#include <simdjson.h>

#include <string>

#include "gateway/openai_body.h"
#include "translate/messages.h"

extern "C" const aigw_plugin_def* aigw_openai_plugin_entry(void);
extern "C" const aigw_plugin_def* aigw_anthropic_plugin_entry(void);

namespace {

using namespace aigw::micro;
namespace tr = aigw::translate;

constexpr const char* kAnthropicStream = "pydantic-ai_test_anthropic_model_thinking_part_stream.json";

// The first text_delta event of a recorded Anthropic stream, framed as
// aigw-mock replays it (tests/mock/replay.cpp join_segments).
std::string anthropic_text_event(const std::string& file) {
  simdjson::dom::parser p;
  simdjson::dom::element root;
  simdjson::dom::array segs;
  std::string text = read_file("anthropic/" + file);
  if (p.parse(text).get(root) != simdjson::SUCCESS ||
      root["interactions"].at(0)["response"]["body_segments"].get(segs) != simdjson::SUCCESS) {
    return {};
  }
  for (simdjson::dom::element seg : segs) {
    std::string_view type;
    if (seg["delta"]["type"].get(type) == simdjson::SUCCESS && type == "text_delta") {
      return "event: content_block_delta\ndata: " + simdjson::minify(seg) + "\n\n";
    }
  }
  return {};
}

// The recorded request of that stream (its first interaction), minified.
std::string anthropic_request(const std::string& file) {
  simdjson::dom::parser p;
  simdjson::dom::element root, body;
  std::string text = read_file("anthropic/" + file);
  if (p.parse(text).get(root) != simdjson::SUCCESS ||
      root["interactions"].at(0)["request"]["body"].at(0).get(body) != simdjson::SUCCESS) {
    return {};
  }
  return simdjson::minify(body);
}

// One request of a 10-message conversation with three tools, as an Anthropic
// client sends it on its 6th call: the system prompt, then user, assistant
// with two parallel tool_use blocks, user with their two tool_result blocks,
// assistant text, user, assistant with one tool_use, user with its result,
// assistant text, user. The same conversation as gemini_bench's OpenAI one.
std::string conversation() {
  std::string b = R"({"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"temperature":0.4,)";
  b += R"("system":"You are a travel assistant. Use the tools to look up weather and flights; answer )"
       R"(in short paragraphs and quote prices in euros.","messages":[)";
  b += R"({"role":"user","content":"I want to fly from Lisbon to Berlin next Friday. What will the )"
       R"(weather be like in Berlin, and which morning flights are there?"},)";
  b += R"({"role":"assistant","content":[{"type":"text","text":"Let me look both up."},)"
       R"({"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":)"
       R"({"city":"Berlin","date":"2026-12-11","unit":"celsius"}},)"
       R"({"type":"tool_use","id":"toolu_01B19q90qw90lq917835lq8","name":"search_flights","input":)"
       R"({"from":"LIS","to":"BER","date":"2026-12-11","depart_before":"12:00"}}]},)";
  b += R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01A09q90qw90lq917835lq9",)"
       R"("content":"{\"city\":\"Berlin\",\"date\":\"2026-12-11\",\"high\":4,\"low\":-1,)"
       R"(\"conditions\":\"overcast, light snow in the evening\",\"precipitation_mm\":2.5}"},)"
       R"({"type":"tool_result","tool_use_id":"toolu_01B19q90qw90lq917835lq8","content":[{"type":"text",)"
       R"("text":"{\"flights\":[{\"number\":\"TP538\",\"depart\":\"06:25\",\"arrive\":\"10:40\",)"
       R"(\"price_eur\":189},{\"number\":\"FR1223\",\"depart\":\"09:10\",\"arrive\":\"13:35\",)"
       R"(\"price_eur\":74},{\"number\":\"EW8871\",\"depart\":\"11:05\",\"arrive\":\"15:20\",)"
       R"(\"price_eur\":112}]}"}]}]},)";
  b += R"({"role":"assistant","content":"Berlin next Friday: overcast, 4 °C at most and -1 °C at night, )"
       R"(with light snow in the evening. Morning flights from Lisbon: TP538 at 06:25 (189 €), FR1223 )"
       R"(at 09:10 (74 €) and EW8871 at 11:05 (112 €)."},)";
  b += R"({"role":"user","content":"The 09:10 one is fine. Is there a direct train from BER to )"
       R"(Alexanderplatz, and how long does it take?"},)";
  b += R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_01C29q90qw90lq917835lq7",)"
       R"("name":"search_transit","input":{"from":"BER Airport","to":"Alexanderplatz","arrive_by":"14:30"}}]},)";
  b += R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01C29q90qw90lq917835lq7",)"
       R"("content":"FEX airport express to Hauptbahnhof, then S5 to Alexanderplatz; 38 minutes, )"
       R"(every 15 minutes; ticket ABC zone 4.40 EUR"}]},)";
  b += R"({"role":"assistant","content":[{"type":"text","text":"Yes: the FEX airport express and then )"
       R"(the S-Bahn S5 get you to Alexanderplatz in about 38 minutes; trains run every 15 minutes and )"
       R"(an ABC ticket costs 4.40 €."}]},)";
  b += R"({"role":"user","content":[{"type":"text","text":"Great. Summarise the plan for me in three )"
       R"(bullet points."}]}],)";
  b += R"("tools":[)";
  b += R"({"name":"get_weather","description":"Weather forecast for a city on a date","input_schema":)"
       R"({"type":"object","properties":{"city":{"type":"string"},"date":{"type":"string",)"
       R"("description":"ISO 8601 date"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},)"
       R"("required":["city","date"],"additionalProperties":false}},)";
  b += R"({"name":"search_flights","description":"Scheduled flights between two airports","input_schema":)"
       R"({"type":"object","properties":{"from":{"type":"string","description":"IATA code"},"to":)"
       R"({"type":"string","description":"IATA code"},"date":{"type":"string"},"depart_before":)"
       R"({"type":"string","description":"HH:MM local time"}},"required":["from","to","date"],)"
       R"("additionalProperties":false}},)";
  b += R"({"name":"search_transit","description":"Public transport connections","input_schema":)"
       R"({"type":"object","properties":{"from":{"type":"string"},"to":{"type":"string"},"arrive_by":)"
       R"({"type":"string"}},"required":["from","to"]}}],)";
  b += R"("tool_choice":{"type":"auto"}})";
  return b;
}

// The client of the openai plugin's stream (the conversation in Chat
// Completions form, as messages_to_chat writes it); what it says does not
// matter to the per-event hook, only that it streams.
ClientCall openai_call() {
  std::string chat;
  if (tr::messages_to_chat(conversation(), chat)) return {};
  return ClientCall{chat, "claude-sonnet-4-5"};
}

// A translator past message_start (the first chunk, the role chunk, went
// through before the timed loop) and inside the text block.
struct Translator {
  tr::StreamToMessages s{"claude-sonnet-4-5", "msg_aigw_bench", 1200};
  bool primed(const std::string& role_chunk, const std::string& token_chunk) {
    std::string out;
    s.feed(role_chunk, out);
    s.feed(token_chunk, out);
    return s.content_started() && out.find("\"text_delta\"") != std::string::npos;
  }
};

// The gateway's part of a translated event (Runtime::emit +
// translate_stream): the plugin's bytes copied once (the bench host's emit
// does the same for the pass-through), then fed to the translator, whose
// output replaces them.
void host_translate(BenchRequest& br, tr::StreamToMessages& s, const uint8_t* p, size_t n) {
  br.sink.assign(reinterpret_cast<const char*>(p), n);
  std::string out;
  s.feed(br.sink, out);
  br.sink.swap(out);
  br.emitted += br.sink.size();
}

// --- (a) -------------------------------------------------------------------

void BM_MessagesStreamFeedToken(benchmark::State& state) {
  const std::string role = openai_event(0), token = openai_event(1);
  Translator t;
  if (role.empty() || token.empty() || !t.primed(role, token)) {
    state.SkipWithError("fixture not readable, or no text_delta came out");
    return;
  }
  BenchRequest br;
  const auto* p = reinterpret_cast<const uint8_t*>(token.data());
  for (auto _ : state) {
    host_translate(br, t.s, p, token.size());
    benchmark::DoNotOptimize(br.sink.data());
  }
  state.counters["in_bytes"] = static_cast<double>(token.size());
  state.counters["out_bytes"] = static_cast<double>(br.sink.size());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_MessagesStreamFeedToken);

// The openai plugin's pass-through of the chunk (gemini_bench's
// BM_OpenaiHookEventToken).
void BM_OpenaiHookEventToken(benchmark::State& state) {
  Plugin p(aigw_openai_plugin_entry());
  event_hook(state, p, openai_call(), openai_event(1));
}
AIGW_MICRO(BM_OpenaiHookEventToken);

// Both together: the openai plugin's hook, the host translating what it
// emits.
void BM_MessagesTranslatedHookEventToken(benchmark::State& state) {
  aigw_host h = make_host();
  h.emit = [](aigw_request* r, const aigw_plugin_bytes* chunks, size_t n) -> aigw_status {
    BenchRequest& br = from(r);
    auto* s = static_cast<tr::StreamToMessages*>(br.user);
    for (size_t i = 0; i < n; ++i) host_translate(br, *s, chunks[i].ptr, chunks[i].len);
    return AIGW_OK;
  };
  Plugin p(aigw_openai_plugin_entry(), h);
  Translator t;
  const std::string role = openai_event(0), token = openai_event(1);
  if (role.empty() || token.empty() || !t.primed(role, token)) {
    state.SkipWithError("fixture not readable, or no text_delta came out");
    return;
  }
  event_hook(state, p, openai_call(), token, &t.s);
}
AIGW_MICRO(BM_MessagesTranslatedHookEventToken);

// --- (b) -------------------------------------------------------------------

void BM_AnthropicNativeHookEventText(benchmark::State& state) {
  std::string body = anthropic_request(kAnthropicStream);
  ClientCall call{body, "claude-sonnet-4-0", AIGW_ENDPOINT_MESSAGES, "/v1/messages", true};
  Plugin p(aigw_anthropic_plugin_entry());
  event_hook(state, p, call, body.empty() ? body : anthropic_text_event(kAnthropicStream));
}
AIGW_MICRO(BM_AnthropicNativeHookEventText);

// --- (c) -------------------------------------------------------------------

void BM_MessagesToChat(benchmark::State& state) {
  const std::string body = conversation();
  std::string chat;
  if (tr::RequestError e = tr::messages_to_chat(body, chat)) {
    state.SkipWithError(("refused: " + e.message).c_str());
    return;
  }
  for (auto _ : state) {
    std::string out;  // a fresh request's chat_body
    tr::RequestError e = tr::messages_to_chat(body, out);
    benchmark::DoNotOptimize(e.failed);
  }
  state.counters["in_bytes"] = static_cast<double>(body.size());
  state.counters["out_bytes"] = static_cast<double>(chat.size());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_MessagesToChat);

void BM_ChatBodyRead(benchmark::State& state) {
  std::string chat;
  if (tr::messages_to_chat(conversation(), chat)) {
    state.SkipWithError("messages_to_chat refused the conversation");
    return;
  }
  const std::string padded = aigw::gateway::pad_body(chat);
  aigw::gateway::BodyParser parser;  // one per worker
  for (auto _ : state) {
    aigw::gateway::BodyFacts facts;
    aigw::gateway::BodyError e = parser.read(padded, false, facts);
    benchmark::DoNotOptimize(e.status);
  }
  state.counters["in_bytes"] = static_cast<double>(chat.size());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_ChatBodyRead);

}  // namespace

BENCHMARK_MAIN();
