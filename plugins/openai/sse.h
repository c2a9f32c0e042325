// The data payload of one upstream server-sent event (the SDK's
// sdk::SseSplitter cuts the stream into events).
#pragma once

#include <cstddef>
#include <string_view>

#include "json_scan.h"
#include "usage.h"

namespace aigw::openai_plugin {

struct EventData {
  size_t data_lines = 0;  // 0: a comment or keep-alive, nothing to parse
  bool done = false;      // the payload is [DONE]
  // The payload went through the scanner. It does not when it is one line
  // that cannot hold a usage or a finish reason (may_hold_usage_or_finish),
  // and then `braced` stands for the scanner's complete_object().
  bool scanned = false;
  bool braced = false;
  // A one-line payload that may hold them is read in one pass first
  // (ValueParser::event): then `one_pass` is true, `facts` holds what it
  // found in a complete object, and the scanner did not run.
  bool one_pass = false;
  EventFacts facts;
};

// Nearly every event of a stream is one data line and the blank line that
// ends it ("data: {...}\n\n"): true for that shape, with the data value
// (what sdk::for_each_sse_field gives for it), found with one search for
// the line end. False for any other shape (more fields, comments, a line
// end that is not LF or CRLF), which then takes for_each_sse_field.
bool one_data_line(std::string_view event, std::string_view& value);

// The same for an event that sdk::SseSplitter::event_lines() says has one
// line: that line ends where the blank line at the event's end begins, so
// no search is needed.
bool one_line_data(std::string_view event, std::string_view& value);

// For read_event_data: the event's line count is not known (it did not come
// from the splitter).
constexpr size_t kLinesUnknown = static_cast<size_t>(-1);

// Reads the event's data payload (its "data:" field values joined by "\n",
// as the SSE spec assembles them) and, unless it need not be read (see
// EventData), reads it with `values` in one pass or, where that refuses or
// the data spans lines, resets `scanner` for usage and finish reasons and
// feeds it. The scanner's results mean something only when `scanned` is
// true. `lines` is event_lines() for an event from the splitter, else
// kLinesUnknown.
EventData read_event_data(std::string_view event, size_t lines, JsonScanner& scanner, ValueParser& values);

// The event carries the answer itself: a non-empty text field of a chunk's
// delta (content, refusal, reasoning_content, or "text" of the legacy
// completions), a tool or function call. The role-only first chunk and
// keep-alives do not. Decides when the plugin tells the host that content
// has begun (aigw_host.commit): until then a failed provider can still be
// replaced by another without the client seeing anything.
bool carries_content(std::string_view event);

}  // namespace aigw::openai_plugin
