#include "load/results.h"

#include <algorithm>

namespace aigw::bench {

const char* error_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::connect_refused: return "connect_refused";
    case ErrorKind::connect_error: return "connect_error";
    case ErrorKind::reset: return "reset";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::bad_response: return "bad_response";
    case ErrorKind::http_4xx: return "http_4xx";
    case ErrorKind::http_5xx: return "http_5xx";
    case ErrorKind::incomplete_stream: return "incomplete_stream";
    case ErrorKind::count_: break;
  }
  return "?";
}

void Results::merge(const Results& o) {
  latency.merge(o.latency);
  service_time.merge(o.service_time);
  ttfb.merge(o.ttfb);
  first_content.merge(o.first_content);
  gaps.merge(o.gaps);
  for (size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
  for (size_t i = 0; i < status_classes.size(); ++i) status_classes[i] += o.status_classes[i];
  started += o.started;
  ok += o.ok;
  not_sent += o.not_sent;
  warmup_requests += o.warmup_requests;
  streams += o.streams;
  streams_without_done += o.streams_without_done;
  events += o.events;
  content_events += o.content_events;
  tokens += o.tokens;
  usage_streams += o.usage_streams;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  connects += o.connects;
  server_closes += o.server_closes;
  if (measure_start_ns == 0 || (o.measure_start_ns != 0 && o.measure_start_ns < measure_start_ns)) {
    measure_start_ns = o.measure_start_ns;
  }
  measure_end_ns = std::max(measure_end_ns, o.measure_end_ns);
}

uint64_t Results::error_total() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

}  // namespace aigw::bench
