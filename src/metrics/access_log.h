// The per-request access log: one JSON object per line, e.g.
//   {"ts":"2025-01-31T12:00:00.123Z","request_id":"9f2c41d07ab35e18","method":"POST",
//    "path":"/v1/chat/completions","client":"127.0.0.1:50312","key":"team-a",
//    "model":"gpt-4o","provider":"openai","status":200,"prompt_tokens":12,
//    "completion_tokens":40,"total_tokens":52,"ttfb_ms":180.250,"duration_ms":912.004,
//    "attempts":1,"stream":true,"error":null,"finish_reason":"stop"}
//
// Pure functions, no I/O and no shared state: the worker formats into its
// own LogBuffer (log_buffer.h), which it writes through its io_uring.
//
// Which requests are logged: every one with status >= 400, and a share
// `[access_log] sample` of the others (should_log()). Errors are never
// sampled away because they are the lines an operator looks for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/record.h"

namespace aigw::metrics {

// The line of one finished request, read straight from its RequestRecord
// (no copy of its fields into another struct: that was 28 instructions a
// line). Strings are borrowed from `r`. They should come from the config
// or the request's canonical route, but the line is safe with any bytes:
// every string is JSON-escaped and invalid UTF-8 becomes U+FFFD, so it
// always parses. The client address (a Peer) and the finish reason (an
// enum) are written by the gateway itself, with no escaping check.
//   ts           r.end_ns + wall_minus_mono_ns (the wall clock's offset from
//                CLOCK_MONOTONIC, io::wall_minus_mono_ns()), in ms
//   ttfb_ms      r.first_byte_ns - r.start_ns; null when first_byte_ns is 0
//   duration_ms  r.end_ns - r.start_ns; null when negative
//   error        r.error when r.status >= 400, else null
//   key, model, provider, error: empty is null
// (Times are differences of int64 nanoseconds taken modulo 2^64, so that
// no input is undefined behaviour.)

// The most bytes format_to() writes for `r`: a bound, not the size (each
// string counted as if every byte needed escaping). Cheap: no string read.
size_t max_line_size(const RequestRecord& r);

// Writes one JSON line, '\n' included, at `to`, which has room for
// max_line_size(r) bytes; returns its end. The worker writes straight into
// its LogBuffer (LogBuffer::append_with, through record()).
char* format_to(const RequestRecord& r, int64_t wall_minus_mono_ns, char* to);

// The same line appended to `out`.
void format(const RequestRecord& r, int64_t wall_minus_mono_ns, std::string& out);

// True for a share `rate` of calls (>= 1: always, <= 0: never). `rng_state`
// is per worker; any seed works, 0 included.
bool sample(double rate, uint64_t& rng_state);

// The access-log decision: status >= 400 always, otherwise sample(rate).
// (Logging everything, the default, needs no call.)
inline bool should_log(int status, double rate, uint64_t& rng_state) {
  return status >= 400 || rate >= 1 || sample(rate, rng_state);
}

// Request ids: 16 lowercase hex chars. Distinct within the process by
// construction (the state holds the worker index and a counter, and the
// output is a bijection of the state); across restarts the counter starts at
// a random point. Seed each worker's state once with request_id_seed().
uint64_t request_id_seed(uint32_t worker_index);
// A value, not a string: it lives on the caller's stack (16 bytes are one
// past std::string's inline room, so a string allocated per request).
struct GeneratedId {
  char text[16];
  std::string_view view() const { return {text, sizeof text}; }
};
GeneratedId make_request_id(uint64_t& state);
// `v` as 16 lowercase hex digits, most significant first (printf's %016x):
// the text make_request_id() gives its value.
GeneratedId hex_id(uint64_t v);

// A client's x-request-id is kept only if it is 1..128 characters of
// [A-Za-z0-9._:-]; otherwise the gateway makes one. This keeps ids safe to
// echo in headers and logs without escaping.
bool valid_request_id(std::string_view id);

}  // namespace aigw::metrics
