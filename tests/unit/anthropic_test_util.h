// Helpers shared by the anthropic plugin's unit tests: structural JSON
// comparison and the recordings of tests/fixtures/anthropic.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace anthropic_test {

using simdjson::dom::element;

// Object members in any order, numbers by value (a recording writes 1.0
// where a translation writes 1). `why` names the first difference.
inline bool json_equal(element a, element b, const std::string& path, std::string& why) {
  if (a.is_number() && b.is_number()) {
    if (double(a) == double(b)) return true;
    why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
    return false;
  }
  if (a.type() != b.type()) {
    why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
    return false;
  }
  if (a.is_object()) {
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
  if (a.is_array()) {
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
  if (simdjson::minify(a) == simdjson::minify(b)) return true;
  why = path + ": " + simdjson::minify(a) + " != " + simdjson::minify(b);
  return false;
}

inline ::testing::AssertionResult same_json(const std::string& expected, const std::string& actual) {
  simdjson::dom::parser pe, pa;
  element e, a;
  if (pe.parse(expected).get(e) != simdjson::SUCCESS) return ::testing::AssertionFailure() << "expected is not JSON: " << expected;
  if (pa.parse(actual).get(a) != simdjson::SUCCESS) return ::testing::AssertionFailure() << "output is not JSON: " << actual;
  std::string why;
  if (json_equal(e, a, "$", why)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << why << "\n  output: " << actual;
}

inline std::string read_fixture(const std::string& file) {
  std::ifstream in(std::string(AIGW_FIXTURES_DIR) + "/anthropic/" + file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One part of a recorded interaction, as compact JSON: "request" gives the
// request body, "response" the whole response body.
inline std::string recorded(const std::string& file, size_t index, const char* which) {
  simdjson::dom::parser p;
  element root, e;
  if (p.parse(read_fixture(file)).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not JSON: " << file;
    return {};
  }
  auto it = root["interactions"].at(index);
  if (std::string(which) == "request") {
    if (it["request"]["body"].at(0).get(e) != simdjson::SUCCESS) ADD_FAILURE() << file << ": no request body";
  } else if (it["response"]["body"].get(e) != simdjson::SUCCESS) {
    ADD_FAILURE() << file << ": no response body";
  }
  return simdjson::minify(e);
}

inline int recorded_status(const std::string& file, size_t index) {
  simdjson::dom::parser p;
  element root;
  int64_t s = 0;
  if (p.parse(read_fixture(file)).get(root) != simdjson::SUCCESS ||
      root["interactions"].at(index)["response"]["status"].get(s) != simdjson::SUCCESS) {
    ADD_FAILURE() << file << ": no status";
  }
  return static_cast<int>(s);
}

// A recorded stream: each event's data as Anthropic sends it.
inline std::vector<std::string> recorded_events(const std::string& file, size_t index = 0) {
  simdjson::dom::parser p;
  element root;
  std::vector<std::string> out;
  if (p.parse(read_fixture(file)).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not JSON: " << file;
    return out;
  }
  simdjson::dom::array segs;
  if (root["interactions"].at(index)["response"]["body_segments"].get(segs) != simdjson::SUCCESS) {
    ADD_FAILURE() << file << ": no body_segments";
    return out;
  }
  for (element s : segs) out.push_back(simdjson::minify(s));
  return out;
}

// The SSE body Anthropic sends for those events.
inline std::string sse_body(const std::vector<std::string>& events) {
  std::string out;
  simdjson::dom::parser p;
  for (const std::string& e : events) {
    element root;
    std::string_view type;
    if (p.parse(e).get(root) != simdjson::SUCCESS || root["type"].get(type) != simdjson::SUCCESS) {
      ADD_FAILURE() << "an event without a type: " << e;
    }
    out += "event: " + std::string(type) + "\ndata: " + e + "\n\n";
  }
  return out;
}

}  // namespace anthropic_test
