// Timing of one server-sent-events response, fed with the decoded body bytes
// and the time they arrived. The events come from http::SseReader (the
// gateway's own incremental reader); this adds the clock and just enough of
// the OpenAI chunk shape to tell a content event from a role, finish or usage
// event, and of Anthropic's Messages events (content_block_delta,
// message_delta's usage, message_stop) for streams from /v1/messages.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/sse.h"

namespace aigw::bench {

class Histogram;

// The JSON parser one worker thread shares among its connections (a parser
// per connection would cost memory per connection for nothing).
class EventJson {
 public:
  EventJson();
  ~EventJson();
  EventJson(const EventJson&) = delete;
  EventJson& operator=(const EventJson&) = delete;

  struct Facts {
    bool content = false;          // choices[0].delta.content or choices[0].text non-empty;
                                   // Anthropic: delta.text, .thinking or .partial_json
    bool has_usage_tokens = false;  // usage.completion_tokens (Anthropic: output_tokens) present
    uint64_t usage_tokens = 0;
    bool end = false;               // Anthropic's {"type":"message_stop"}
  };
  // `data` must have SIMDJSON_PADDING (64) bytes of capacity past its size;
  // StreamTiming guarantees that. Anything that is not an object gives {}.
  Facts inspect(std::string& data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct StreamStats {
  bool first_byte_seen = false;
  uint64_t ttfb_ns = 0;            // first response byte - origin
  bool content_seen = false;
  uint64_t first_content_ns = 0;   // first content event - origin
  uint64_t events = 0;             // data events dispatched, [DONE] included
  uint64_t content_events = 0;
  bool usage_seen = false;
  uint64_t usage_tokens = 0;       // completion_tokens of the (last) usage chunk
  bool done = false;               // a `data: [DONE]` event (Anthropic: message_stop) arrived

  // One content event = one token, unless the usage chunk said otherwise.
  uint64_t tokens() const { return usage_seen ? usage_tokens : content_events; }
};

class StreamTiming {
 public:
  // Starts a new stream. `origin_ns` is what latencies count from (the
  // intended send time in open loop, the send time in closed loop). Gaps
  // between consecutive events are recorded into `gaps` (may be null: warm-up
  // requests are not measured).
  void start(uint64_t origin_ns, EventJson* json, Histogram* gaps);

  // The first byte of the response (its head) arrived.
  void on_first_byte(uint64_t now_ns);

  // Decoded body bytes (no chunk framing) that arrived at `now_ns`.
  void feed(std::string_view body, uint64_t now_ns);

  const StreamStats& stats() const { return stats_; }

 private:
  void dispatch(std::string_view data, uint64_t now_ns);

  StreamStats stats_;
  uint64_t origin_ns_ = 0;
  uint64_t last_event_ns_ = 0;
  EventJson* json_ = nullptr;
  Histogram* gaps_ = nullptr;
  http::SseReader sse_;
  std::string json_buf_;    // an event's data, copied with the padding simdjson reads past its end
};

}  // namespace aigw::bench
