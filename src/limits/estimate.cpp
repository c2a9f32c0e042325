#include "limits/estimate.h"

#include <simdjson.h>

#include <algorithm>
#include <limits>
#include <string>

namespace aigw::limits {

namespace {

constexpr size_t kKeepBytes = 1 << 20;

uint64_t sat_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::numeric_limits<uint64_t>::max();
  return a * b;
}

uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

// `json` must have SIMDJSON_PADDING bytes of capacity past its size.
CompletionFields read_fields(simdjson::ondemand::parser& parser, std::string& json) {
  CompletionFields f;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (parser.iterate(json.data(), json.size(), json.capacity()).get(doc) || doc.get_object().get(obj)) {
    return f;
  }
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) break;
    uint64_t v = 0;
    if (key == "max_completion_tokens") {
      if (!field.value().get_uint64().get(v)) f.max_completion_tokens = v;
    } else if (key == "max_tokens") {
      if (!field.value().get_uint64().get(v)) f.max_tokens = v;
    } else if (key == "n") {
      if (!field.value().get_uint64().get(v) && v > 1) f.n = v;
    }
  }
  return f;
}

}  // namespace

uint64_t estimate_tokens(uint64_t body_bytes, const CompletionFields& f, uint64_t default_max_tokens) {
  uint64_t prompt = body_bytes / 4 + (body_bytes % 4 != 0);
  uint64_t completion = f.max_completion_tokens ? *f.max_completion_tokens
                        : f.max_tokens          ? *f.max_tokens
                                                : default_max_tokens;
  return sat_add(prompt, sat_mul(completion, std::max<uint64_t>(f.n, 1)));
}

uint64_t estimate_tokens(std::string_view body_json, uint64_t default_max_tokens) {
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: parse a copy
  // rather than trusting the caller's buffer.
  CompletionFields f;
  if (body_json.size() <= kKeepBytes) {
    thread_local simdjson::ondemand::parser parser;
    thread_local std::string scratch;
    scratch.reserve(body_json.size() + simdjson::SIMDJSON_PADDING);
    scratch.assign(body_json);
    f = read_fields(parser, scratch);
  } else {
    simdjson::ondemand::parser parser;
    std::string copy;
    copy.reserve(body_json.size() + simdjson::SIMDJSON_PADDING);
    copy.assign(body_json);
    f = read_fields(parser, copy);
  }
  return estimate_tokens(body_json.size(), f, default_max_tokens);
}

}  // namespace aigw::limits
