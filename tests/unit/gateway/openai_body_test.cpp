// src/gateway/openai_body.cpp: what the gateway reads of a client's JSON
// body before it routes, and what it tells plugins of the body's top level
// (ABI 1.5, aigw_client_request.body_facts). The fuzz target body_facts
// checks the same against simdjson's full parse on arbitrary bytes.
#include "gateway/openai_body.h"

#include <gtest/gtest.h>

#include <string>

#include "aigw_plugin.h"

namespace {

using aigw::gateway::BodyFacts;
using aigw::gateway::BodyParser;
using aigw::gateway::pad_body;

uint32_t facts_of(const std::string& body) {
  BodyParser parser;
  BodyFacts facts;
  EXPECT_FALSE(parser.read(pad_body(body), false, facts)) << body;
  return facts.plugin_facts;
}

constexpr uint32_t kRead = AIGW_BODY_READ;
constexpr uint32_t kHas = AIGW_BODY_READ | AIGW_BODY_HAS_STREAM_OPTIONS;

TEST(OpenAiBody, TellsPluginsWhetherTheTopLevelHasStreamOptions) {
  EXPECT_EQ(facts_of(R"({"model":"m","stream":true})"), kRead);
  EXPECT_EQ(facts_of(" \n\t{\"model\":\"m\",\"stream\":true}\r\n "), kRead);
  EXPECT_EQ(facts_of(R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})"), kHas);
  EXPECT_EQ(facts_of(R"({"stream_options":null,"model":"m"})"), kHas);
  // Keys as JSON means them, as the provider will read them.
  EXPECT_EQ(facts_of(R"({"model":"m","stream_\u006fptions":{}})"), kHas);
  // Only the top level counts.
  EXPECT_EQ(facts_of(R"({"model":"m","metadata":{"stream_options":{}}})"), kRead);
  EXPECT_EQ(facts_of(R"({"model":"m","messages":[{"stream_options":1}]})"), kRead);
}

// The walk reads the object but not what follows it: a body with more
// after its object is not marked read, so a plugin that would splice into
// it reads it itself (and the openai plugin then leaves it as it is).
TEST(OpenAiBody, AnObjectWithMoreAfterItIsNotMarkedRead) {
  // (simdjson refuses some such bodies outright, as not valid JSON; these
  // two its walk reads to the object's end.)
  for (const std::string& body : {std::string(R"({"model":"m","stream":true} {})"),
                                  std::string(R"({"model":"m","stream":true,"stream_options":{}}{"a":1})")}) {
    EXPECT_EQ(facts_of(body) & AIGW_BODY_READ, 0u) << body;
  }
}

}  // namespace
