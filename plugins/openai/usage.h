// Reading the small JSON values the scanner copied out of a response, and
// a whole non-stream answer that came in one piece (simdjson On-Demand,
// kept out of the other headers).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "aigw_plugin.h"

namespace aigw::openai_plugin {

// What a non-stream answer tells the plugin: the root's "usage" and
// choices[0].finish_reason, as JsonScanner and ValueParser::usage read them.
struct AnswerFacts {
  bool have_usage = false;  // the last root "usage" is an object with a count
  aigw_usage usage{};
  // choices[0]'s last "finish_reason", as raw JSON ("\"stop\"", "null");
  // empty when absent. It points into the parser's buffer: valid until the
  // parser's next call.
  std::string_view first_finish;
};

// What one stream event's data tells: what JsonScanner with kUsage |
// kFinishReasons finds in it, read as Request::on_event reads that.
struct EventFacts {
  bool have_usage = false;  // the last root "usage" is an object with a count
  aigw_usage usage{};
  bool choices_found = false;  // the root has a "choices" member
  uint32_t choice_count = 0;   // the values in the last "choices" array
  // The last finish_reason other than null of any choice, as raw JSON;
  // empty when none. Points into the parser's buffer, as first_finish.
  std::string_view last_finish;
};

// One per worker instance: the parser and its padded buffer are reused.
class ValueParser {
 public:
  // The largest answer answer() reads; a longer one (an embeddings list)
  // is left to the scanner, which needs no copy of it.
  static constexpr size_t kMaxAnswer = 64 * 1024;

  ValueParser();
  ~ValueParser();
  ValueParser(const ValueParser&) = delete;
  ValueParser& operator=(const ValueParser&) = delete;

  // Token counts from a "usage" object. False when it is not an object
  // with at least one count. A missing total is the sum of the others.
  // Its keys are compared raw, as the scanner compares the root's.
  bool usage(std::string_view text, aigw_usage& out);
  // True when a "stream_options" object has "include_usage": true.
  bool include_usage(std::string_view text);

  // A whole answer, `chunks` joined, in one On-Demand pass: a simdjson
  // stage 1 over it and a walk of the root's members, which skips every
  // value but "usage" and "choices" by its structural index. On a chat
  // answer that is two fifths of the scanner's work, the usage's own parse
  // included. Keys are compared raw, as the scanner compares them.
  // False when the answer is longer than kMaxAnswer, its root is not an
  // object, or On-Demand meets an error on the way: the caller scans it
  // then, so that a malformed answer reads exactly as it did.
  bool answer(const aigw_host_bytes* chunks, size_t count, AnswerFacts& out);

  // The largest event payload event() reads: the scanner's limit on a
  // copied value, which no value of a shorter payload can reach, so that
  // the two cannot differ on a dropped copy.
  static constexpr size_t kMaxEvent = 16 * 1024;

  // A stream event's payload (one data line) that may carry a usage or a
  // finish reason, in one On-Demand pass, as answer() reads an answer, but
  // every choice. About a quarter of the scanner's work on a chunk and its
  // usage's second parse. False when the payload is longer than kMaxEvent,
  // is not one object with nothing after it, or On-Demand meets an error:
  // the caller scans it then, so that a malformed event counts as it did.
  bool event(std::string_view payload, EventFacts& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "\"stop\"" -> AIGW_FINISH_STOP and so on; anything unknown (including
// null and "") is AIGW_FINISH_UNKNOWN.
aigw_finish_reason finish_reason_from(std::string_view raw_json);

}  // namespace aigw::openai_plugin
