// Replay of recorded exchanges (tests/fixtures/{openai,gemini,anthropic}/*.json):
// a request that matches a recorded one gets the recorded response back.
//
// Matching: same method, same path and query (the recorded URL's scheme and
// host are ignored; an absolute-form request target is reduced the same
// way), and the same body compared as parsed JSON: key order, whitespace
// and string escapes do not matter, values do (numbers compare by value:
// integers exactly, others as doubles). A body that is not a JSON object or
// array is compared byte for byte. An interaction whose request lists
// `headers` (hand-written fixtures: recordings carry none) also needs each
// of them with exactly that value, so that one provider key can get another
// answer than the next. The first matching interaction wins.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

namespace aigw::mock {

struct Interaction {
  std::string source;  // "chat-basic.json#0", for logs and errors
  std::string method;
  std::string target;  // path and query of the recorded URL
  std::string body;    // recorded request body
  bool body_is_json = false;
  std::string canonical;  // body in canonical JSON form when body_is_json
  // request.headers: name (any case) and the exact value a request must carry.
  std::vector<std::pair<std::string, std::string>> match_headers;

  int status = 200;
  // Recorded headers, one entry per value, without hop-by-hop headers,
  // Content-Length, Server and Date (the mock writes its own framing).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string response_body;  // byte for byte as recorded (segments joined, see replay.cpp)
  bool streaming = false;     // Content-Type text/event-stream: sent chunked, event by event
  bool has_segments = false;  // recorded as body_segments (Gemini, Anthropic fixtures)
  std::vector<std::string> segments;  // each compact JSON
};

// Immutable once loaded; shared read-only by every worker thread.
class ReplayTable {
 public:
  bool load(const std::string& path, std::string& why);
  bool empty() const { return items_.empty(); }
  const std::vector<Interaction>& items() const { return items_; }

 private:
  std::vector<Interaction> items_;
};

// One per worker thread: holds the JSON parser used to canonicalise bodies.
class ReplayMatcher {
 public:
  explicit ReplayMatcher(const ReplayTable& table);
  ~ReplayMatcher();
  ReplayMatcher(const ReplayMatcher&) = delete;
  ReplayMatcher& operator=(const ReplayMatcher&) = delete;

  // `head` supplies the headers an interaction's request.headers name.
  const Interaction* match(std::string_view method, std::string_view target,
                           std::string_view body, const http::RequestHead& head);

 private:
  struct Impl;
  const ReplayTable& table_;
  std::unique_ptr<Impl> impl_;
};

// "https://api.openai.com/v1/x?y" -> "/v1/x?y"; "/v1/x" stays. The fragment
// is dropped.
std::string_view origin_form(std::string_view url);

}  // namespace aigw::mock
