// The data payload of one upstream server-sent event (the SDK's
// sdk::SseSplitter cuts the stream into events).
#pragma once

#include <cstddef>
#include <string_view>

#include "json_scan.h"

namespace aigw::openai_plugin {

struct EventData {
  size_t data_lines = 0;  // 0: a comment or keep-alive, nothing to parse
  bool done = false;      // the payload is [DONE]
};

// Feeds the event's data payload (its "data:" field values joined by "\n",
// as the SSE spec assembles them) to `scanner`, which the caller has reset.
EventData read_event_data(std::string_view event, JsonScanner& scanner);

// The event carries the answer itself: a non-empty text field of a chunk's
// delta (content, refusal, reasoning_content, or "text" of the legacy
// completions), a tool or function call. The role-only first chunk and
// keep-alives do not. Decides when the plugin tells the host that content
// has begun (aigw_host.commit): until then a failed provider can still be
// replaced by another without the client seeing anything.
bool carries_content(std::string_view event);

}  // namespace aigw::openai_plugin
