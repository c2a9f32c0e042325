// HTTP/1.1 response head parsing, for the upstream client and aigw-bench.
//
// The counterpart of parse_request_head (request.h) for the other direction:
// zero-copy (every view points into the caller's buffer), stateless (call it
// again with everything buffered so far), and strict where a desynchronised
// connection would hand one client's bytes to another: framing headers are
// checked like in requests, and anything that is not a plain HTTP/1.0 or 1.1
// response is an error. Bodies are read by the caller: body_kind says how,
// and chunked bodies go through ChunkedDecoder (request.h) with
// ResponseLimits::chunked_limits(). See tests/unit/http_response_parser_test.cpp
// for the rules and for how we differ from llhttp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace aigw::http {

// How the body after a response head is delimited (RFC 9112 6.3).
enum class ResponseBodyKind : uint8_t {
  none,         // 1xx, 204, 304, or the answer to a HEAD request: the next response follows
  length,       // exactly content_length bytes
  chunked,      // Transfer-Encoding: chunked; feed it to a ChunkedDecoder
  until_close,  // neither header: the body ends when the server closes (keep_alive is false)
};

struct ResponseLimits {
  size_t max_header_bytes = 64 * 1024;     // status line + headers (+ leading blank lines)
  size_t max_header_count = 200;
  uint64_t max_body_bytes = 256ull << 20;  // Content-Length; decoded chunked total via chunked_limits()

  // Limits for ChunkedDecoder::feed on a response body: the same body cap, and
  // the head cap for the trailer section. The decoder reports errors in
  // request terms (400/413/431); pass them through to_upstream_error().
  Limits chunked_limits() const {
    Limits l;
    l.max_header_bytes = max_header_bytes;
    l.max_header_count = max_header_count;
    l.max_body_bytes = max_body_bytes;
    return l;
  }
};

struct ResponseHead {
  int status = 0;          // 100..599
  int version_minor = 1;   // HTTP/1.<minor>; only 1.0 and 1.1 are accepted
  std::string_view reason; // as sent, may be empty or start with spaces; never interpret it
  std::vector<Header> headers;  // reused between parses: clear() keeps capacity

  ResponseBodyKind body_kind = ResponseBodyKind::none;
  // The Content-Length value when the header was present, even where it does
  // not delimit a body (HEAD, 204, 304); 0 otherwise.
  uint64_t content_length = 0;
  // Whether the connection can carry another request after this response's
  // body: HTTP/1.1 unless "Connection: close", HTTP/1.0 only with
  // "Connection: keep-alive", never with an until_close body.
  bool keep_alive = true;

  size_t head_bytes = 0;  // bytes consumed incl. the blank line (and skipped leading CRLFs)

  // 1xx (100 Continue, 103 Early Hints, ...): not the response yet. Skip
  // head_bytes and parse the next head from there. 101 is never reported: we
  // do not ask to upgrade, so it is an error.
  bool informational() const { return status < 200; }

  // First header with this name (ASCII case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

// Parses one response head from the start of `data`. `request_was_head`: the
// request was HEAD, so a body is never read whatever the headers say. On
// `incomplete` nothing in `out` is meaningful; call again with more data. A
// prefix of a valid head is always incomplete, never an error, and limits are
// enforced on incomplete input too. Errors have status 502 and code
// "bad_upstream_response" (or "upstream_response_too_large" for a limit).
ParseStatus parse_response_head(std::string_view data, bool request_was_head,
                                const ResponseLimits& limits, ResponseHead& out, ParseError& err);

// Turns an error from ChunkedDecoder (request terms: 400/413/431) into the
// response-side one: status 502, code "bad_upstream_response" or
// "upstream_response_too_large". The message is kept.
ParseError to_upstream_error(const ParseError& decoder_err);

}  // namespace aigw::http
