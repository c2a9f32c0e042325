// What one worker thread measured; merged over threads at the end.
#pragma once

#include <array>
#include <cstdint>

#include "histogram.h"

namespace aigw::bench {

enum class ErrorKind : uint8_t {
  connect_refused,    // connect() got ECONNREFUSED
  connect_error,      // connect() failed otherwise (no route, no socket, ...)
  reset,              // ECONNRESET/EPIPE, or closed before the response was complete
  timeout,            // no complete response within --timeout, or still running at the end
  bad_response,       // not parseable as HTTP/1.1 (head, framing, bytes nobody asked for)
  http_4xx,
  http_5xx,
  incomplete_stream,  // an event stream that ended without `data: [DONE]`
  count_
};
constexpr size_t kErrorKinds = static_cast<size_t>(ErrorKind::count_);
const char* error_name(ErrorKind k);

struct Results {
  Histogram latency;        // successful requests: intended (open) or send (closed) time to last byte
  Histogram service_time;   // successful requests: send time to last byte
  Histogram ttfb;           // streams: origin to the first response byte
  Histogram first_content;  // streams: origin to the first content event
  Histogram gaps;           // streams: between consecutive events

  std::array<uint64_t, kErrorKinds> errors{};
  std::array<uint64_t, 6> status_classes{};  // [1..5] = 1xx..5xx answers seen
  uint64_t started = 0;        // measured requests sent
  uint64_t ok = 0;             // measured requests answered 2xx/3xx (streams: with [DONE])
  uint64_t not_sent = 0;       // open loop: came due, never found a free connection
  uint64_t warmup_requests = 0;

  uint64_t streams = 0;        // measured 2xx answers with Content-Type: text/event-stream
  uint64_t streams_without_done = 0;
  uint64_t events = 0;
  uint64_t content_events = 0;
  uint64_t tokens = 0;
  uint64_t usage_streams = 0;  // streams whose tokens came from usage.completion_tokens

  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t connects = 0;       // successful connects
  uint64_t server_closes = 0;  // connections the server closed (Connection: close or EOF)

  uint64_t measure_start_ns = 0;
  uint64_t measure_end_ns = 0;  // time-bound runs: the stop time; --requests: last completion

  void merge(const Results& o);
  uint64_t error_total() const;
};

}  // namespace aigw::bench
