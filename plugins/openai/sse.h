// text/event-stream handling: splitting upstream bytes into whole events
// (so that the client gets one write per event, never half of one) and
// reading an event's data payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json_scan.h"

namespace aigw::openai_plugin {

class SseSplitter {
 public:
  // An event that has not ended after this many buffered bytes ends the
  // stream: nothing legitimate is that big, and the buffer must stay bounded.
  static constexpr size_t kMaxEvent = 16u << 20;

  // Calls on_event(std::string_view) for each event that `bytes` completes:
  // its bytes up to and including the blank line that ends it, exactly as
  // received. The view is valid during the call only. An event wholly inside
  // `bytes` is passed without a copy. Returns false when on_event returned
  // false or when the pending event outgrew kMaxEvent (overflow() is then
  // true).
  template <typename OnEvent>
  bool feed(std::string_view bytes, OnEvent&& on_event) {
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t end = find_end(bytes, pos);
      if (end == std::string_view::npos) {
        if (pending_.size() + (bytes.size() - pos) > kMaxEvent) {
          overflow_ = true;
          return false;
        }
        pending_.append(bytes.substr(pos));
        return true;
      }
      bool go;
      if (pending_.empty()) {
        go = on_event(bytes.substr(pos, end - pos));
      } else {
        pending_.append(bytes.substr(pos, end - pos));
        go = on_event(std::string_view(pending_));
        pending_.clear();
      }
      pos = end;
      if (!go) return false;
    }
    return true;
  }

  // The bytes of an event that has not ended yet.
  std::string_view tail() const { return pending_; }
  bool overflow() const { return overflow_; }

 private:
  // The index just past the blank line that ends the event starting at or
  // before `from`, or npos. Lines end in LF or CRLF; a line of nothing but
  // CRs is blank.
  size_t find_end(std::string_view bytes, size_t from);

  std::string pending_;
  bool line_dirty_ = false;  // the current line has a byte other than CR
  bool overflow_ = false;
};

struct EventData {
  size_t data_lines = 0;  // 0: a comment or keep-alive, nothing to parse
  bool done = false;      // the payload is [DONE]
};

// Feeds the event's data payload (its "data:" field values joined by "\n",
// as the SSE spec assembles them) to `scanner`, which the caller has reset.
EventData read_event_data(std::string_view event, JsonScanner& scanner);

}  // namespace aigw::openai_plugin
