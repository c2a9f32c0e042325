// Reading the small JSON values the scanner copied out of a response
// (simdjson On-Demand, kept out of the other headers).
#pragma once

#include <memory>
#include <string_view>

#include "aigw_plugin.h"

namespace aigw::openai_plugin {

// One per worker instance: the parser and its padded buffer are reused.
class ValueParser {
 public:
  ValueParser();
  ~ValueParser();
  ValueParser(const ValueParser&) = delete;
  ValueParser& operator=(const ValueParser&) = delete;

  // Token counts from a "usage" object. False when it is not an object
  // with at least one count. A missing total is the sum of the others.
  bool usage(std::string_view text, aigw_usage& out);
  // True when a "stream_options" object has "include_usage": true.
  bool include_usage(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "\"stop\"" -> AIGW_FINISH_STOP and so on; anything unknown (including
// null and "") is AIGW_FINISH_UNKNOWN.
aigw_finish_reason finish_reason_from(std::string_view raw_json);

}  // namespace aigw::openai_plugin
