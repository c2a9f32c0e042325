// Helpers shared by the translate tests: reading fixtures, parsing output
// with simdjson, and splitting Messages SSE output into events.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace translate_test {

using simdjson::dom::element;

inline std::string read_fixture(const std::string& rel) {
  std::ifstream in(std::string(AIGW_FIXTURES_DIR) + "/" + rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A parsed document that owns its parser, so tests can hold several.
struct Doc {
  std::unique_ptr<simdjson::dom::parser> parser = std::make_unique<simdjson::dom::parser>();
  element root;
  bool ok = false;
};

inline Doc parse(const std::string& json) {
  Doc d;
  d.ok = d.parser->parse(json).get(d.root) == simdjson::SUCCESS;
  EXPECT_TRUE(d.ok) << "not JSON: " << json;
  return d;
}

inline std::string str(element e) { return std::string(std::string_view(e)); }
inline std::string compact(element e) { return simdjson::minify(e); }

struct Event {
  std::string type;
  std::string data;
};

// Splits "event: T\ndata: J\n\n"... exactly; any other shape fails the test.
inline std::vector<Event> events(const std::string& out) {
  std::vector<Event> list;
  size_t pos = 0;
  while (pos < out.size()) {
    const size_t end = out.find("\n\n", pos);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated event at " << pos << ": " << out.substr(pos);
      break;
    }
    const std::string ev = out.substr(pos, end - pos);
    pos = end + 2;
    const size_t nl = ev.find('\n');
    if (ev.rfind("event: ", 0) != 0 || nl == std::string::npos || ev.compare(nl + 1, 6, "data: ") != 0 ||
        ev.find('\n', nl + 1) != std::string::npos) {
      ADD_FAILURE() << "malformed event: " << ev;
      continue;
    }
    list.push_back({ev.substr(7, nl - 7), ev.substr(nl + 7)});
  }
  return list;
}

}  // namespace translate_test
