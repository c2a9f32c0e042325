// The gemini plugin's request side (plugins/gemini): its configuration read
// through the fake host's config callbacks, the OpenAI -> Gemini body
// translation rule by rule and against requests recorded from Google's own
// SDK (tests/fixtures/gemini), and the translation of Gemini's errors.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "gemini_config.h"
#include "support/fake_host.h"
#include "tool_call_id.h"
#include "translate_request.h"
#include "upstream_error.h"

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace {

namespace gp = aigw::gemini_plugin;
using aigw::test::ConfigValue;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;
using simdjson::dom::element;

// --- JSON comparison ---------------------------------------------------------

// Structural equality: object members in any order, numbers by value (the
// recordings write 2 where a translation may write 2.0). `why` names the
// first difference.
bool json_equal(element a, element b, const std::string& path, std::string& why) {
  if (a.is_number() && b.is_number()) {
    if (double(a) == double(b)) return true;
    why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
    return false;
  }
  if (a.type() != b.type()) {
    why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
    return false;
  }
  switch (a.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object oa(a), ob(b);
      if (oa.size() != ob.size()) {
        why = path + ": members differ: " + simdjson::minify(a) + " vs " + simdjson::minify(b);
        return false;
      }
      for (auto field : oa) {
        element other;
        if (ob[field.key].get(other) != simdjson::SUCCESS) {
          why = path + "." + std::string(field.key) + " is missing";
          return false;
        }
        if (!json_equal(field.value, other, path + "." + std::string(field.key), why)) return false;
      }
      return true;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array xa(a), xb(b);
      if (xa.size() != xb.size()) {
        why = path + ": array lengths differ";
        return false;
      }
      for (size_t i = 0; i < xa.size(); ++i) {
        if (!json_equal(xa.at(i).value(), xb.at(i).value(), path + "[" + std::to_string(i) + "]", why)) return false;
      }
      return true;
    }
    default:
      if (simdjson::minify(a) == simdjson::minify(b)) return true;
      why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
      return false;
  }
}

::testing::AssertionResult same_json(const std::string& expected, const std::string& actual) {
  simdjson::dom::parser pe, pa;
  element e, a;
  if (pe.parse(expected).get(e) != simdjson::SUCCESS) return ::testing::AssertionFailure() << "expected is not JSON: " << expected;
  if (pa.parse(actual).get(a) != simdjson::SUCCESS) return ::testing::AssertionFailure() << "output is not JSON: " << actual;
  std::string why;
  if (json_equal(e, a, "$", why)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << why << "\n  output: " << actual;
}

// --- translation helpers ---------------------------------------------------------

struct Chat {
  bool ok = false;
  std::string out;
  gp::ChatRequestInfo info;
  gp::RequestError err;
};

Chat chat(const std::string& body) {
  simdjson::dom::parser parser;
  Chat c;
  c.ok = gp::translate_chat_request(parser, body, c.out, c.info, c.err);
  if (c.ok) {
    // Whatever the input, the output must be JSON.
    simdjson::dom::parser check;
    element root;
    EXPECT_EQ(check.parse(c.out).get(root), simdjson::SUCCESS) << c.out;
  }
  return c;
}

// A one-user-message body with extra top-level members.
std::string with(const std::string& members) {
  return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" +
         (members.empty() ? std::string() : "," + members) + "}";
}

// The generationConfig a translation produced.
std::string gen_config(const Chat& c) {
  simdjson::dom::parser p;
  element root, g;
  if (p.parse(c.out).get(root) != simdjson::SUCCESS || root["generationConfig"].get(g) != simdjson::SUCCESS) {
    return "<none>";
  }
  return simdjson::minify(g);
}

std::string member(const Chat& c, const char* name) {
  simdjson::dom::parser p;
  element root, m;
  if (p.parse(c.out).get(root) != simdjson::SUCCESS || root[name].get(m) != simdjson::SUCCESS) {
    return "<none>";
  }
  return simdjson::minify(m);
}

std::string json_quoted(const std::string& s) {
  std::string out;
  aigw::sdk::append_json_string(out, s);
  return out;
}

// --- configuration -----------------------------------------------------------------

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
  gp::Config config;
  Loaded l;
  l.st = gp::load_config(host.table(), cfg.handle(), config, l.error);
  l.keys = config.keys;
  l.read = cfg.read;
  return l;
}

TEST(GeminiConfig, OneChannelPerKeyInTheList) {
  Loaded l = load({{"api_keys", std::vector<std::string>{"k-one", "k-two"}}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-one", "k-two"}));
}

TEST(GeminiConfig, ASingleKey) {
  Loaded l = load({{"api_key", std::string("k-one")}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-one"}));
}

TEST(GeminiConfig, KeysFromTheEnvironment) {
  setenv("AIGW_GEMINI_TEST_KEY", "k-from-env", 1);
  Loaded l = load({{"api_keys", std::vector<std::string>{"env:AIGW_GEMINI_TEST_KEY"}}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.keys, (std::vector<std::string>{"k-from-env"}));
  unsetenv("AIGW_GEMINI_TEST_KEY");
  l = load({{"api_keys", std::vector<std::string>{"env:AIGW_GEMINI_TEST_KEY"}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("api_keys[0]"), std::string::npos) << l.error;
}

TEST(GeminiConfig, RefusesMissingDoubledEmptyAndBrokenKeys) {
  Loaded l = load({});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("api_keys is required"), std::string::npos) << l.error;

  l = load({{"api_key", std::string("a")}, {"api_keys", std::vector<std::string>{"b"}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("not both"), std::string::npos) << l.error;

  l = load({{"api_keys", std::vector<std::string>{}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("at least one"), std::string::npos) << l.error;

  l = load({{"api_keys", std::vector<std::string>{"good", ""}}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("api_keys[1] is empty"), std::string::npos) << l.error;

  // A key that would break the header; its value is never quoted.
  l = load({{"api_key", std::string("secret-part\nX-Evil: 1")}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("printable ASCII"), std::string::npos) << l.error;
  EXPECT_EQ(l.error.find("secret-part"), std::string::npos) << l.error;

  l = load({{"api_keys", std::string("not-a-list")}});
  EXPECT_EQ(l.st, AIGW_ERR_CONFIG);
  EXPECT_NE(l.error.find("api_keys must be"), std::string::npos) << l.error;
}

// The host reports every key the plugin did not read as unknown, with a
// did-you-mean: so a misspelt key must stay unread. base_url is aigw's; the
// plugin reads it too, to check it against the API (gemini_config.cpp).
TEST(GeminiConfig, ReadsOnlyItsOwnKeys) {
  Loaded l = load({{"api_key", std::string("k")}, {"api_kyes", std::vector<std::string>{"x"}},
                   {"base_url", std::string("https://generativelanguage.googleapis.com")}});
  ASSERT_EQ(l.st, AIGW_OK) << l.error;
  EXPECT_EQ(l.read, (std::set<std::string>{"api_key", "base_url"}));
}

// --- messages ------------------------------------------------------------------------

TEST(GeminiChat, SystemAndDeveloperBecomeTheSystemInstruction) {
  Chat c = chat(R"({"model":"m","messages":[
      {"role":"system","content":"Be brief."},
      {"role":"user","content":"hi"},
      {"role":"developer","content":[{"type":"text","text":"Use French."}]}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({
      "contents":[{"role":"user","parts":[{"text":"hi"}]}],
      "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Use French."}]},
      "generationConfig":{}})", c.out));
}

TEST(GeminiChat, UserPartsTextImagesAndAudio) {
  Chat c = chat(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"text","text":"What is this?"},
      {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"high"}},
      {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"contents":[{"role":"user","parts":[
      {"text":"What is this?"},
      {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
      {"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}}]}],
      "generationConfig":{}})", c.out));
}

TEST(GeminiChat, ImageUrlsAreNeverFetched) {
  Chat c = chat(R"({"model":"m","messages":[{"role":"user","content":[
      {"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages[0].content[0].image_url.url");
  EXPECT_NE(c.err.message.find("not fetched"), std::string::npos) << c.err.message;
  EXPECT_NE(c.err.message.find("data:"), std::string::npos) << c.err.message;

  for (const char* url : {"data:image/png,rawbytes", "data:;base64,AAAA", "data:image/png;base64,",
                          "ftp://x/y.png"}) {
    c = chat(std::string(R"({"model":"m","messages":[{"role":"user","content":[)"
                         R"({"type":"image_url","image_url":{"url":")") + url + R"("}}]}]})");
    EXPECT_FALSE(c.ok) << url;
    EXPECT_EQ(c.err.param, "messages[0].content[0].image_url.url") << url;
  }
}

TEST(GeminiChat, UnsupportedPartsAndRolesAreRefused) {
  Chat c = chat(R"({"model":"m","messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages[0].content[0].type");
  c = chat(R"({"model":"m","messages":[{"role":"function","name":"f","content":"x"}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages[0].role");
  c = chat(R"({"model":"m","messages":[{"role":"robot","content":"x"}]})");
  EXPECT_FALSE(c.ok);
  c = chat(R"({"model":"m","messages":[{"role":"system","content":"only a system prompt"}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages");
  c = chat(R"({"model":"m"})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages");
  c = chat(R"([1,2])");
  EXPECT_FALSE(c.ok);
  c = chat(R"({"model":"m","messages":[{"role":"user","content":"x"}])");
  EXPECT_FALSE(c.ok);
  EXPECT_NE(c.err.message.find("not valid JSON"), std::string::npos);
}

TEST(GeminiChat, ConsecutiveTurnsOfOneRoleAreMerged) {
  Chat c = chat(R"({"model":"m","messages":[
      {"role":"user","content":"a"},{"role":"user","content":"b"},
      {"role":"assistant","content":"c"},{"role":"assistant","content":""},
      {"role":"assistant","content":[{"type":"text","text":"d"},{"type":"refusal","refusal":"e"}]},
      {"role":"user","content":"f"}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"contents":[
      {"role":"user","parts":[{"text":"a"},{"text":"b"}]},
      {"role":"model","parts":[{"text":"c"},{"text":"d"},{"text":"e"}]},
      {"role":"user","parts":[{"text":"f"}]}],"generationConfig":{}})", c.out));
}

TEST(GeminiChat, ToolCallsAndResultsBecomeFunctionCallsAndResponses) {
  std::string id1 = gp::make_tool_call_id(7, "c2lnbmF0dXJl+/A=");
  std::string id2 = gp::make_tool_call_id(8, "");
  Chat c = chat(R"({"model":"m","messages":[
      {"role":"user","content":"weather in Paris and Rome?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":")" + id1 + R"(","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\",\"days\":2}"}},
        {"id":")" + id2 + R"(","type":"function","function":{"name":"weather","arguments":""}}]},
      {"role":"tool","tool_call_id":")" + id1 + R"(","content":"sunny"},
      {"role":"tool","tool_call_id":")" + id2 + R"(","content":"{\"temp\":21,\"error\":null}"},
      {"role":"user","content":"thanks"}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"contents":[
      {"role":"user","parts":[{"text":"weather in Paris and Rome?"}]},
      {"role":"model","parts":[
        {"functionCall":{"name":"weather","args":{"city":"Paris","days":2}},"thoughtSignature":"c2lnbmF0dXJl+/A="},
        {"functionCall":{"name":"weather","args":{}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"weather","response":{"output":"sunny"}}},
        {"functionResponse":{"name":"weather","response":{"temp":21,"error":null}}},
        {"text":"thanks"}]}],
      "generationConfig":{}})", c.out));
}

TEST(GeminiChat, ToolMessagesMustAnswerAKnownCall) {
  Chat c = chat(R"({"model":"m","messages":[{"role":"user","content":"x"},
      {"role":"tool","tool_call_id":"call_nobody","content":"r"}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages[1].tool_call_id");
  c = chat(R"({"model":"m","messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"[1]"}}]}]})");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "messages[1].tool_calls[0].function.arguments");
  c = chat(R"({"model":"m","messages":[{"role":"user","content":"x"},
      {"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{oops"}}]}]})");
  EXPECT_FALSE(c.ok);
}

TEST(GeminiChat, StringsAreEscapedWhateverTheyHold) {
  Chat c = chat(R"({"model":"m","messages":[{"role":"user","content":"q\"uote \\ back\u0000nul\nline \u00e9 \ud83d\ude00"}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  simdjson::dom::parser p;
  element root;
  ASSERT_EQ(p.parse(c.out).get(root), simdjson::SUCCESS);
  std::string_view text = root["contents"].at(0)["parts"].at(0)["text"].get_string().value();
  std::string want = std::string("q\"uote \\ back") + '\0' + "nul\nline \xc3\xa9 \xf0\x9f\x98\x80";
  EXPECT_EQ(text, want);
}

// --- tools ---------------------------------------------------------------------------

TEST(GeminiChat, ToolsBecomeFunctionDeclarationsWithTheirJsonSchema) {
  Chat c = chat(with(R"("tools":[
      {"type":"function","function":{"name":"f","description":"d","strict":true,
        "parameters":{"type":"object","properties":{"x":{"type":["string","null"]}},"additionalProperties":false}}},
      {"type":"function","function":{"name":"g"}}])"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"([{"functionDeclarations":[
      {"name":"f","description":"d","parametersJsonSchema":
        {"type":"object","properties":{"x":{"type":["string","null"]}},"additionalProperties":false}},
      {"name":"g"}]}])", member(c, "tools")));
  EXPECT_EQ(member(c, "toolConfig"), "<none>");

  c = chat(with(R"("tools":[{"type":"custom","custom":{"name":"x"}}])"));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "tools[0].type");
  c = chat(with(R"("tools":[{"type":"function","function":{"name":"f","parameters":"nope"}}])"));
  EXPECT_FALSE(c.ok);
}

TEST(GeminiChat, ToolChoiceBecomesTheFunctionCallingMode) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}],)";
  EXPECT_EQ(member(chat(with(tools + R"("tool_choice":"auto")")), "toolConfig"),
            R"({"functionCallingConfig":{"mode":"AUTO"}})");
  EXPECT_EQ(member(chat(with(tools + R"("tool_choice":"none")")), "toolConfig"),
            R"({"functionCallingConfig":{"mode":"NONE"}})");
  EXPECT_EQ(member(chat(with(tools + R"("tool_choice":"required")")), "toolConfig"),
            R"({"functionCallingConfig":{"mode":"ANY"}})");
  EXPECT_EQ(member(chat(with(tools + R"("tool_choice":{"type":"function","function":{"name":"f"}})")), "toolConfig"),
            R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}})");
  Chat c = chat(with(tools + R"("tool_choice":"sometimes")"));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "tool_choice");
}

// --- generation parameters ---------------------------------------------------------

TEST(GeminiChat, SamplingParametersMapOneToOne) {
  Chat c = chat(with(R"("temperature":0.7,"top_p":0.9,"max_tokens":200,"stop":["END","STOP"],)"
                     R"("n":2,"seed":42,"presence_penalty":0.5,"frequency_penalty":-0.25)"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"temperature":0.7,"topP":0.9,"maxOutputTokens":200,
      "stopSequences":["END","STOP"],"candidateCount":2,"seed":42,
      "presencePenalty":0.5,"frequencyPenalty":-0.25})", gen_config(c)));

  c = chat(with(R"("max_tokens":10,"max_completion_tokens":300,"stop":"END")"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(R"({"maxOutputTokens":300,"stopSequences":["END"]})", gen_config(c)));

  // null is "not given", as at OpenAI.
  c = chat(with(R"("temperature":null,"stop":null,"seed":null,"tools":null,"tool_choice":null)"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(gen_config(c), "{}");
}

TEST(GeminiChat, OutOfRangeOrMistypedParametersAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("temperature":"hot")", "temperature"},
      {R"("max_tokens":0)", "max_tokens"},
      {R"("max_completion_tokens":1.5)", "max_completion_tokens"},
      {R"("n":0)", "n"},
      {R"("seed":4294967296)", "seed"},
      {R"("stop":[1])", "stop"},
      {R"("stream":"yes")", "stream"},
      {R"("response_format":{"type":"yaml"})", "response_format.type"},
  };
  for (const auto& [members, param] : cases) {
    Chat c = chat(with(members));
    EXPECT_FALSE(c.ok) << members;
    EXPECT_EQ(c.err.param, param) << members;
    EXPECT_NE(c.err.message.find(param), std::string::npos) << c.err.message;
  }
}

TEST(GeminiChat, ParametersGeminiCannotHonourAreRefusedByName) {
  for (const char* members : {R"("logit_bias":{"50256":-100})", R"("logprobs":true)", R"("top_logprobs":3)",
                              R"("parallel_tool_calls":false)", R"("modalities":["text","audio"])",
                              R"("functions":[{"name":"f"}])", R"("prediction":{"type":"content","content":"x"})",
                              R"("frobnicate":1)"}) {
    Chat c = chat(with(members));
    EXPECT_FALSE(c.ok) << members;
    std::string name = std::string(members).substr(1, std::string(members).find('"', 1) - 1);
    EXPECT_EQ(c.err.param, name);
    EXPECT_NE(c.err.message.find(name), std::string::npos) << c.err.message;
  }
  // What OpenAI keeps for its own bookkeeping, and defaults, change nothing.
  Chat c = chat(with(R"("user":"u1","store":true,"metadata":{"a":"b"},"service_tier":"auto",)"
                     R"("logprobs":false,"parallel_tool_calls":true,"modalities":["text"],"top_logprobs":null)"));
  EXPECT_TRUE(c.ok) << c.err.message;
  EXPECT_EQ(gen_config(c), "{}");
}

TEST(GeminiChat, ResponseFormatBecomesTheResponseMimeTypeAndSchema) {
  EXPECT_EQ(gen_config(chat(with(R"("response_format":{"type":"text"})"))), "{}");
  EXPECT_TRUE(same_json(R"({"responseMimeType":"application/json"})",
                        gen_config(chat(with(R"("response_format":{"type":"json_object"})")))));
  EXPECT_TRUE(same_json(
      R"({"responseMimeType":"application/json","responseJsonSchema":{"type":"object","properties":{"a":{"type":"integer"}}}})",
      gen_config(chat(with(R"("response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,)"
                           R"("schema":{"type":"object","properties":{"a":{"type":"integer"}}}}})")))));
}

TEST(GeminiChat, ReasoningEffortBecomesAThinkingBudget) {
  const std::pair<const char*, int> table[] = {
      {"none", 0}, {"minimal", 512}, {"low", 1024}, {"medium", 8192}, {"high", 24576}};
  for (const auto& [effort, budget] : table) {
    Chat c = chat(with(std::string(R"("reasoning_effort":")") + effort + "\""));
    ASSERT_TRUE(c.ok) << c.err.message;
    EXPECT_EQ(gen_config(c), R"({"thinkingConfig":{"thinkingBudget":)" + std::to_string(budget) + "}}")
        << effort;
  }
  Chat c = chat(with(R"("reasoning_effort":"extreme")"));
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.err.param, "reasoning_effort");
}

TEST(GeminiChat, StreamAndIncludeUsageAreRead) {
  Chat c = chat(with(R"("stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(c.info.stream);
  EXPECT_TRUE(c.info.include_usage);
  c = chat(with(R"("stream":true)"));
  EXPECT_TRUE(c.info.stream);
  EXPECT_FALSE(c.info.include_usage);
  c = chat(with(""));
  EXPECT_FALSE(c.info.stream);
  // Nothing of the stream settings goes upstream: the endpoint says it.
  EXPECT_EQ(member(chat(with(R"("stream":true)")), "stream"), "<none>");
}

// --- embeddings ----------------------------------------------------------------------

TEST(GeminiEmbeddings, InputsBecomeOneRequestEach) {
  simdjson::dom::parser parser;
  std::string out;
  gp::RequestError err;
  ASSERT_TRUE(gp::translate_embeddings_request(
      parser, R"({"model":"e","input":["one","two"],"dimensions":256,"encoding_format":"base64","user":"u"})",
      "gemini-embedding-001", out, err))
      << err.message;
  EXPECT_TRUE(same_json(R"({"requests":[
      {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"one"}]},"outputDimensionality":256},
      {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"two"}]},"outputDimensionality":256}]})",
                        out));
  ASSERT_TRUE(gp::translate_embeddings_request(parser, R"({"model":"e","input":"just one"})", "text-embedding-004",
                                               out, err));
  EXPECT_TRUE(same_json(
      R"({"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"just one"}]}}]})", out));
}

TEST(GeminiEmbeddings, RefusesWhatGeminiCannotEmbed) {
  simdjson::dom::parser parser;
  std::string out;
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"e","input":[1,2,3]})", "input"},
      {R"({"model":"e","input":[]})", "input"},
      {R"({"model":"e"})", "input"},
      {R"({"model":"e","input":"x","dimensions":0})", "dimensions"},
      {R"({"model":"e","input":"x","truncate":true})", "truncate"},
  };
  for (const auto& [body, param] : cases) {
    gp::RequestError err;
    EXPECT_FALSE(gp::translate_embeddings_request(parser, body, "m", out, err)) << body;
    EXPECT_EQ(err.param, param) << body;
  }
}

// --- recorded requests -------------------------------------------------------------

// The request body of a recorded interaction, as JSON text.
std::string recorded_request(const std::string& file, size_t interaction = 0) {
  std::string path = std::string(AIGW_FIXTURES_DIR) + "/gemini/" + file;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  simdjson::dom::parser p;
  element root;
  if (p.parse(ss.str()).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not JSON: " << path;
    return "{}";
  }
  return simdjson::minify(root["interactions"].at(interaction)["request"]["body"].at(0).value());
}

TEST(GeminiRecorded, GenerationParameters) {
  std::string expected =
      recorded_request("Client_Tests_generateContent_ML_Dev_should_generate_content_with_specified_parameters.json");
  // The SDK asked for a budget of 50 tokens, which no reasoning_effort
  // gives; "low" gives 1024. Everything else must match as recorded.
  const std::string budget = R"("thinkingBudget":50)";
  size_t at = expected.find(budget);
  ASSERT_NE(at, std::string::npos) << expected;
  expected.replace(at, budget.size(), R"("thinkingBudget":1024)");
  Chat c = chat(R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"why is the sky blue?"}],)"
                R"("n":1,"max_completion_tokens":200,"reasoning_effort":"low"})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(expected, c.out));
}

TEST(GeminiRecorded, FunctionDeclarationFromJsonSchema) {
  Chat c = chat(R"({"model":"gemini-2.5-flash",
      "messages":[{"role":"user","content":"put word: hello and word: world into a string"}],
      "tools":[{"type":"function","function":{"name":"concatStringFunction",
        "description":"this is a concat string function",
        "parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
          "properties":{"firstString":{"type":"string"},"secondString":{"type":"string"}},
          "required":["firstString","secondString"],"additionalProperties":false}}}],
      "tool_choice":{"type":"function","function":{"name":"concatStringFunction"}}})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(
      recorded_request("Client_Tests_generateContent_ML_Dev_can_use_JSON_schema_in_parameters_to_build_FunctionDeclaration.json"),
      c.out));
}

TEST(GeminiRecorded, ResponseJsonSchema) {
  std::string expected = recorded_request(
      "Client_Tests_generateContent_ML_Dev_should_generate_content_with_given_valid_json_schema_in_responseSchema.json");
  // The client's schema is the recorded one: it must arrive unchanged.
  simdjson::dom::parser p;
  element root;
  ASSERT_EQ(p.parse(expected).get(root), simdjson::SUCCESS);
  std::string schema = simdjson::minify(root["generationConfig"]["responseJsonSchema"].value());
  Chat c = chat(R"({"model":"gemini-2.5-flash","messages":[{"role":"user","content":"populate the following object"}],)"
                R"("response_format":{"type":"json_schema","json_schema":{"name":"o","strict":true,"schema":)" +
                schema + "}}}");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(expected, c.out));
}

TEST(GeminiRecorded, FunctionCallAndResultTurns) {
  Chat c = chat(R"({"model":"gemini-2.0-flash","messages":[
      {"role":"user","content":"Divide 10 by 2 using the customDivide function"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_0000000000000001","type":"function",
        "function":{"name":"customDivide","arguments":"{\"numerator\":10,\"denominator\":2}"}}]},
      {"role":"tool","tool_call_id":"call_0000000000000001","content":"{\"output\": 42}"},
      {"role":"assistant","content":"I cannot provide the correct answer using the available tools. The customDivide function is flawed and does not perform the division operation as expected.\n"},
      {"role":"user","content":"Thanks!"}],
      "tools":[{"type":"function","function":{"name":"customDivide","description":"Custom divide function",
        "parameters":{"type":"object","properties":{"numerator":{"type":"number"},"denominator":{"type":"number"}}}}}],
      "tool_choice":"auto"})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(
      recorded_request("non-streaming_Tests_chat_AFC_enabled_chat_AFC_enabled_with_default_max_calls_Google_AI_chat_stream.json", 2),
      c.out));
}

// A real thought signature, carried out and back in a tool-call id: the
// turns must be the recorded ones (Gemini 2.5 Pro accepted them). The
// recording groups its two functions as two Tools; aigw sends one Tool, so
// only the contents are compared here.
TEST(GeminiRecorded, ThoughtSignatureComesBackFromTheToolCallId) {
  std::string expected_body = recorded_request(
      "MCP_related_client_Tests_generateContent_ML_Dev_Multiple_CallableTool_with_MCPClients_and_conduct_automated_function_calling.json",
      1);
  simdjson::dom::parser p;
  element root;
  ASSERT_EQ(p.parse(expected_body).get(root), simdjson::SUCCESS);
  element contents = root["contents"].value();
  element model_parts = contents.at(1)["parts"].value();
  std::string signature(model_parts.at(0)["thoughtSignature"].get_string().value());
  std::string print_result = simdjson::minify(contents.at(2)["parts"].at(0)["functionResponse"]["response"].value());
  std::string beep_result = simdjson::minify(contents.at(2)["parts"].at(1)["functionResponse"]["response"].value());
  std::string id1 = gp::make_tool_call_id(1, signature);
  std::string id2 = gp::make_tool_call_id(2, "");
  Chat c = chat(R"({"model":"gemini-2.5-pro","messages":[
      {"role":"user","content":"Use the printer to print a simple word: hello in blue, and beep with the beeper, make sure you beep"},
      {"role":"assistant","content":"","tool_calls":[
        {"id":")" + id1 + R"(","type":"function","function":{"name":"print","arguments":"{\"color\":\"blue\",\"text\":\"hello\"}"}},
        {"id":")" + id2 + R"(","type":"function","function":{"name":"beep","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":")" + id1 + R"(","content":)" + json_quoted(print_result) + R"(},
      {"role":"tool","tool_call_id":")" + id2 + R"(","content":)" + json_quoted(beep_result) + R"(}]})");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(simdjson::minify(contents), member(c, "contents")));
}

// Three user messages in a row: the recording sent three user Contents,
// aigw joins them into one (Gemini expects turns to alternate), so the
// expected body is the recorded one with those parts in one Content.
TEST(GeminiRecorded, HistoryOfUserTurns) {
  std::string expected_body = recorded_request("Chats_Tests_sendMessage_Google_AI_with_history_stream.json");
  simdjson::dom::parser p;
  element root;
  ASSERT_EQ(p.parse(expected_body).get(root), simdjson::SUCCESS);
  std::string parts;
  std::string messages;
  // Kept in locals: a range-for over simdjson_result::value() of a
  // temporary would walk a destroyed object.
  simdjson::dom::array contents = root["contents"].get_array().value();
  for (element content : contents) {
    ASSERT_EQ(std::string_view(content["role"].get_string().value()), "user");
    simdjson::dom::array content_parts = content["parts"].get_array().value();
    for (element part : content_parts) {
      if (!parts.empty()) parts += ',';
      parts += simdjson::minify(part);
      if (!messages.empty()) messages += ',';
      messages += R"({"role":"user","content":)" + json_quoted(std::string(part["text"].get_string().value())) + "}";
    }
  }
  std::string expected = R"({"contents":[{"role":"user","parts":[)" + parts + R"(]}],"generationConfig":)" +
                         simdjson::minify(root["generationConfig"].value()) + "}";
  Chat c = chat(R"({"model":"gemini-2.0-flash","stream":true,"messages":[)" + messages + "]}");
  ASSERT_TRUE(c.ok) << c.err.message;
  EXPECT_TRUE(same_json(expected, c.out));
}

// --- upstream errors -------------------------------------------------------------

TEST(GeminiErrors, StatusClasses) {
  EXPECT_EQ(gp::classify_status(200), AIGW_ERROR_NONE);
  EXPECT_EQ(gp::classify_status(400), AIGW_ERROR_CLIENT);
  EXPECT_EQ(gp::classify_status(404), AIGW_ERROR_CLIENT);
  EXPECT_EQ(gp::classify_status(401), AIGW_ERROR_KEY_INVALID);
  EXPECT_EQ(gp::classify_status(403), AIGW_ERROR_KEY_INVALID);
  EXPECT_EQ(gp::classify_status(429), AIGW_ERROR_RATE_LIMITED);
  EXPECT_EQ(gp::classify_status(408), AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(gp::classify_status(500), AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(gp::classify_status(503), AIGW_ERROR_RETRYABLE);
  EXPECT_EQ(gp::classify_status(302), AIGW_ERROR_RETRYABLE);
}

TEST(GeminiErrors, RetryAfterAndRetryInfo) {
  uint64_t ms = 0;
  EXPECT_TRUE(gp::parse_retry_after(" 30 ", ms));
  EXPECT_EQ(ms, 30'000u);
  EXPECT_TRUE(gp::parse_retry_after("999999999", ms));
  EXPECT_EQ(ms, gp::kMaxRetryAfterMs);
  EXPECT_FALSE(gp::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", ms));
  EXPECT_FALSE(gp::parse_retry_after("", ms));

  simdjson::dom::parser p;
  const std::string body = R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[
      {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]},
      {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"%s"}]}})";
  const std::pair<const char*, uint64_t> delays[] = {
      {"42s", 42'000}, {"1.5s", 1'500}, {"0.0004s", 1}, {"86400s", gp::kMaxRetryAfterMs}};
  for (const auto& [text, want] : delays) {
    std::string b = body;
    b.replace(b.find("%s"), 2, text);
    ms = 0;
    EXPECT_TRUE(gp::retry_delay_ms(p, b, ms)) << text;
    EXPECT_EQ(ms, want) << text;
  }
  for (const char* bad : {"s", "4", "x2s", "1.s"}) {
    std::string b = body;
    b.replace(b.find("%s"), 2, bad);
    EXPECT_FALSE(gp::retry_delay_ms(p, b, ms)) << bad;
  }
  EXPECT_FALSE(gp::retry_delay_ms(p, R"({"error":{"code":429,"message":"quota"}})", ms));
  EXPECT_FALSE(gp::retry_delay_ms(p, "<html>", ms));
}

TEST(GeminiErrors, ErrorBodiesTakeTheOpenAiShape) {
  simdjson::dom::parser p;
  EXPECT_TRUE(same_json(
      R"({"error":{"message":"API key not valid. Please pass a valid API key.","type":"invalid_request_error","code":"invalid_argument"}})",
      gp::openai_error_body(p, 400, R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[]}})")));
  EXPECT_TRUE(same_json(
      R"({"error":{"message":"Resource has been exhausted (e.g. check quota).","type":"rate_limit_error","code":"resource_exhausted"}})",
      gp::openai_error_body(p, 429, R"([{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}])")));
  // Not a Gemini error: not quoted.
  std::string html = gp::openai_error_body(p, 502, "<html><body>Bad Gateway</body></html>");
  EXPECT_TRUE(same_json(R"({"error":{"message":"the Gemini API answered HTTP 502","type":"server_error","code":null}})", html));
  EXPECT_TRUE(same_json(R"({"error":{"message":"blocked: \"SAFETY\"","type":"invalid_request_error","code":"content_filter"}})",
                        gp::openai_error(400, "content_filter", "blocked: \"SAFETY\"")));
}

}  // namespace
