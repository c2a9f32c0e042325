// libFuzzer target for what the gateway reads of a client's JSON body before
// it routes (src/gateway/openai_body.cpp): the model, where its value sits,
// `stream`, and the fields of the token estimate. The bytes are the client's,
// and the model's place is where an adapter splices another name in without
// re-serialising (plugins/openai), so a wrong offset would corrupt what goes
// upstream.
//
// The first input byte is a mode: bit 0 asks for the estimate fields. The
// rest is the body. Besides crashes and sanitizer reports it aborts when:
//   - a refusal has no 4xx status, error code or message;
//   - an accepted body's model range lies outside the body, or (when the
//     model was written without escapes) does not hold the model's bytes;
//   - splicing another name into that range, as an adapter does, gives a
//     body that does not read back with that name and the same `stream`;
//   - what plugins are told of the top level (ABI 1.5's body_facts)
//     differs from simdjson's full parse: a body it accepts as an object
//     must be marked read, with the stream_options bit set exactly when
//     that key is there; a body marked read must start with the object's
//     '{', whitespace aside (the openai plugin splices after it). (What
//     follows the object is the unit test's: on broken JSON the walk's
//     idea of where the object closes is simdjson's own.)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "aigw_plugin.h"
#include "gateway/openai_body.h"

namespace {

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "body_facts_fuzz: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

using aigw::gateway::BodyError;
using aigw::gateway::BodyFacts;
using aigw::gateway::BodyParser;
using aigw::gateway::pad_body;

void check_refusal(const BodyError& e) {
  FUZZ_CHECK(e.status >= 400 && e.status < 500);
  FUZZ_CHECK(!e.code.empty());
  FUZZ_CHECK(!e.message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool want_estimate = (data[0] & 1) != 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  // One parser for the whole run, as a worker keeps one: state left over
  // from an earlier input must not leak into the next.
  static BodyParser parser;
  const std::string json = pad_body(body);
  BodyFacts facts;
  if (BodyError e = parser.read(json, want_estimate, facts)) {
    check_refusal(e);
    return 0;
  }
  static simdjson::dom::parser dom;
  simdjson::dom::object obj;
  if (dom.parse(body.data(), body.size()).get_object().get(obj) == simdjson::SUCCESS) {
    FUZZ_CHECK((facts.plugin_facts & AIGW_BODY_READ) != 0);
    simdjson::dom::element v;
    const bool has = obj["stream_options"].get(v) == simdjson::SUCCESS;
    FUZZ_CHECK(((facts.plugin_facts & AIGW_BODY_HAS_STREAM_OPTIONS) != 0) == has);
  }
  if ((facts.plugin_facts & AIGW_BODY_READ) != 0) {
    const size_t first = body.find_first_not_of(" \t\r\n");
    FUZZ_CHECK(first != std::string_view::npos && body[first] == '{');
  }
  if (facts.model_value_len == 0 && facts.model_value_offset == 0) return 0;  // no model, or ""
  FUZZ_CHECK(facts.model_value_offset >= 1);
  FUZZ_CHECK(facts.model_value_offset + facts.model_value_len < body.size());
  FUZZ_CHECK(body[facts.model_value_offset - 1] == '"');
  FUZZ_CHECK(body[facts.model_value_offset + facts.model_value_len] == '"');
  const std::string_view raw = body.substr(facts.model_value_offset, facts.model_value_len);
  if (raw.find('\\') == std::string_view::npos) FUZZ_CHECK(raw == facts.model);

  // The adapter's splice: a plain name (nothing to escape) in the range.
  constexpr std::string_view kName = "spliced-model";
  std::string spliced(body.substr(0, facts.model_value_offset));
  spliced += kName;
  spliced += body.substr(facts.model_value_offset + facts.model_value_len);
  BodyFacts again;
  const BodyError e = parser.read(pad_body(spliced), want_estimate, again);
  FUZZ_CHECK(!e);
  FUZZ_CHECK(again.model == kName);
  FUZZ_CHECK(again.stream == facts.stream);
  if (want_estimate) {
    FUZZ_CHECK(again.estimate.n == facts.estimate.n);
    FUZZ_CHECK(again.estimate.max_tokens == facts.estimate.max_tokens);
    FUZZ_CHECK(again.estimate.max_completion_tokens == facts.estimate.max_completion_tokens);
  }
  return 0;
}
