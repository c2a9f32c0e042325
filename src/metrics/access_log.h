// The per-request access log: one JSON object per line, e.g.
//   {"ts":"2025-01-31T12:00:00.123Z","request_id":"9f2c41d07ab35e18","method":"POST",
//    "path":"/v1/chat/completions","client":"127.0.0.1:50312","key":"team-a",
//    "model":"gpt-4o","provider":"openai","status":200,"prompt_tokens":12,
//    "completion_tokens":40,"total_tokens":52,"ttfb_ms":180.250,"duration_ms":912.004,
//    "attempts":1,"stream":true,"error":null}
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

#include "metrics/peer.h"

namespace aigw::metrics {

// Strings are borrowed: they must stay valid until format() returns.
// The client address is the one field the gateway always writes itself
// (metrics/peer.h), so it is a Peer, written with no escaping check.
// They should come from the config or the request's canonical route, but
// format() is safe with any bytes: every string is JSON-escaped and invalid
// UTF-8 becomes U+FFFD, so the line always parses.
struct AccessRecord {
  int64_t unix_ms = 0;            // wall clock at the end of the request
  std::string_view request_id;
  std::string_view method;
  std::string_view path;          // the canonical route path, not the raw target
  Peer client;                    // written "127.0.0.1:50312" / "[::1]:50312"; unknown: ""
  std::string_view key;           // client key name; empty: written as null
  std::string_view model;         // route name; empty: null
  std::string_view provider;      // provider of the last attempt; empty: null
  int status = 0;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;      // as the provider reported it (may differ from the sum)
  int64_t ttfb_us = -1;           // first response byte to the client; < 0: null (none sent)
  int64_t duration_us = 0;        // written as milliseconds with three decimals; < 0: null
  uint32_t attempts = 0;
  bool stream = false;
  std::string_view error;         // error code ("upstream_timeout"); empty: null
  std::string_view finish_reason; // "stop", "length", ... as the plugin reported it; empty: null
};

// The most bytes format_to() writes for `r`: a bound, not the size (each
// string counted as if every byte needed escaping). Cheap: no string read.
size_t max_line_size(const AccessRecord& r);

// Writes one JSON line, '\n' included, at `to`, which has room for
// max_line_size(r) bytes; returns its end. The worker writes straight into
// its LogBuffer (LogBuffer::append_with).
char* format_to(const AccessRecord& r, char* to);

// The same line appended to `out`.
void format(const AccessRecord& r, std::string& out);

// True for a share `rate` of calls (>= 1: always, <= 0: never). `rng_state`
// is per worker; any seed works, 0 included.
bool sample(double rate, uint64_t& rng_state);

// The access-log decision: status >= 400 always, otherwise sample(rate).
inline bool should_log(int status, double rate, uint64_t& rng_state) {
  return status >= 400 || sample(rate, rng_state);
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
