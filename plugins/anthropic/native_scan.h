// Reading a native /v1/messages answer without changing a byte of it: the
// plugin forwards Anthropic's answer to an Anthropic client as it is, and
// reads only what the host needs to know (when content begins, the usage
// and stop reason for accounting, whether the stream ended or failed).
// Pure: no host calls, so that unit tests drive it directly.
#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

#include "translate_response.h"

namespace aigw::anthropic_plugin {

// One SSE event's `event:` name (empty when absent) and its data: the data
// lines joined by LF (the SSE rule). Anthropic sends one data line, which
// needs no copy; more are joined in `scratch`. False when the event has no
// data (a comment or keep-alive).
bool split_sse_event(std::string_view event, std::string_view& name, std::string_view& data,
                     std::string& scratch);

// What one event of a Messages stream is to the plugin.
enum class NativeEvent {
  kOther,    // message_start, ping, content_block_stop, a comment
  kContent,  // content_block_start/_delta, message_delta: the answer has begun
  kStop,     // message_stop: the answer is whole (content too)
  kError,    // an `error` event: the stream failed
};

class NativeStreamScan {
 public:
  // One whole SSE event, its bytes as received (the blank line included).
  // The data is parsed only for the events that carry what is read
  // (message_start, message_delta, error), or to learn an unnamed event's
  // type: text deltas, the bulk of a stream, cost a look at the name only.
  NativeEvent on_event(simdjson::dom::parser& parser, std::string_view event);
  // True once an event of kind kContent or kStop went by.
  bool content_started() const { return content_started_; }
  // finish (with stop_reason) and usage so far; for a kError event also
  // error, status (Anthropic's status for its error type) and message.
  const Outcome& outcome() const { return outcome_; }

 private:
  void read_message_start(simdjson::dom::element ev);
  void read_message_delta(simdjson::dom::element ev);
  void read_error(simdjson::dom::element ev);

  Outcome outcome_;
  bool content_started_ = false;
};

// True when the event's data is one JSON value: a stream's last event that
// lacks its blank line is whole, not cut, when this holds.
bool native_event_is_whole(simdjson::dom::parser& parser, std::string_view event);

// A whole (not streamed) Messages answer: its usage and stop_reason into
// `outcome`. False when the body is not a JSON object.
bool read_native_answer(simdjson::dom::parser& parser, std::string_view json, Outcome& outcome);

}  // namespace aigw::anthropic_plugin
