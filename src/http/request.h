// HTTP/1.1 request parsing: the request head and the chunked body decoder.
//
// Zero-copy: every string_view in RequestHead points into the caller's buffer
// and is valid only while that buffer is unchanged. The parser is strict where
// proxies get exploited (request smuggling, header injection): it rejects what
// llhttp rejects in strict mode, see tests/unit/http_corpus_test.cpp for the
// few documented differences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::http {

enum class Method : uint8_t { get, head, post, put, del, options, patch, connect, trace, other };

struct Header {
  std::string_view name;   // as sent (case preserved); compare with iequals()
  std::string_view value;  // leading and trailing spaces/tabs trimmed
};

enum class BodyKind : uint8_t { none, length, chunked };

struct Limits {
  size_t max_header_bytes = 32 * 1024;  // whole head incl. request line -> 431
  size_t max_header_count = 100;        // -> 431
  size_t max_uri_bytes = 8 * 1024;      // request target -> 414
  uint64_t max_body_bytes = 32ull << 20;  // Content-Length or decoded chunked total -> 413
};

// Why a request was refused. `status` is the HTTP status to answer with; the
// connection is always closed after a parse error. `code` is a stable
// machine-readable token for the OpenAI-style error body.
struct ParseError {
  int status = 400;
  const char* code = "bad_request";
  const char* message = "";
};

struct RequestHead {
  std::string_view method_text;
  Method method = Method::other;
  std::string_view target;  // request-target as sent
  std::string_view path;    // target up to '?'
  std::string_view query;   // after '?', without it; empty if none
  int version_minor = 1;    // HTTP/1.<minor>; only 1.0 and 1.1 are accepted
  std::vector<Header> headers;  // reused between parses: clear() keeps capacity

  BodyKind body_kind = BodyKind::none;
  uint64_t content_length = 0;  // valid when body_kind == length
  bool keep_alive = true;       // after HTTP/1.0 and Connection: rules
  bool expect_continue = false; // Expect: 100-continue
  std::string_view host;

  size_t head_bytes = 0;  // bytes consumed incl. the blank line (and skipped leading CRLFs)

  // First header with this name (ASCII case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

enum class ParseStatus : uint8_t { complete, incomplete, error };

// Parses one request head from the start of `data`. On `incomplete` nothing in
// `out` is meaningful; call again with more data (the caller decides when; see
// Connection). Leading empty lines (CRLF) before a request line are skipped as
// RFC 9112 2.2 allows. Limits are enforced even on incomplete input, so a
// client cannot make us buffer more than max_header_bytes.
ParseStatus parse_request_head(std::string_view data, const Limits& limits, RequestHead& out,
                               ParseError& err);

// Where a ChunkedDecoder puts the payload of one feed(). The first run of
// chunk data is kept as a view into the input, with no copy; a second run
// (the input held more than one chunk) joins them in `spill`. A proxy that
// hands each read on at once (the upstream client) then copies nothing in
// the usual case of one chunk per read. Built over a string that already
// holds data, it appends to it (what a request body being collected needs).
class DecodedBytes {
 public:
  explicit DecodedBytes(std::string& spill, bool append = false) : spill_(spill), spilled_(append) {}
  void add(const char* p, size_t n) {
    if (n == 0) return;
    if (!spilled_ && view_.empty()) {
      view_ = {p, n};
      return;
    }
    if (!spilled_) {
      spill_.assign(view_);
      spilled_ = true;
    }
    spill_.append(p, n);
  }
  // The payload: a view into the input, or into `spill`.
  std::string_view data() const { return spilled_ ? std::string_view(spill_) : view_; }
  bool spilled() const { return spilled_; }

 private:
  std::string& spill_;
  std::string_view view_;
  bool spilled_;
};

// Incremental decoder for Transfer-Encoding: chunked. Feed it bytes as they
// arrive; it hands on the payload and stops after the last chunk and its
// trailer section.
class ChunkedDecoder {
 public:
  enum class Result : uint8_t { need_more, done, error };

  // Consumes a prefix of `in` (reported in `consumed`). Returns done once the
  // terminating chunk and trailers are consumed; bytes after that belong to the
  // next request and are not consumed. Input may be split at any byte: the
  // state carries over, so the outcome does not depend on how it was cut.
  // After an error the decoder stays failed (same error again) until reset().
  // This form appends the payload to `body`.
  Result feed(std::string_view in, size_t& consumed, std::string& body, const Limits& limits,
              ParseError& err) {
    DecodedBytes out(body, true);
    return feed(in, consumed, out, limits, err);
  }
  Result feed(std::string_view in, size_t& consumed, DecodedBytes& out, const Limits& limits,
              ParseError& err);
  void reset() { *this = ChunkedDecoder{}; }

 private:
  enum class State : uint8_t { size, size_ext, size_lf, data, data_cr, data_lf, trailer_line,
                               trailer_lf, done, failed };
  // A size line ended (chunk_left_ holds its size): its data next, or the
  // trailer section after the last chunk.
  void end_size_line();

  State state_ = State::size;
  uint8_t ext_state_ = 0;          // where inside `;name[=value]` while in size_ext
  bool trailer_in_value_ = false;  // past the colon of the current trailer line
  uint64_t chunk_left_ = 0;
  uint64_t total_ = 0;
  size_t size_digits_ = 0;
  size_t size_line_len_ = 0;       // chunk-size line so far, extensions included
  size_t trailer_bytes_ = 0;
  size_t trailer_line_len_ = 0;
  ParseError error_{};             // repeated by feed() once failed
};

// ASCII case-insensitive equality (header names, tokens). Inline with the
// length test first: a request compares its header names against dozens of
// names, nearly all of another length, and the call alone cost more.
bool iequals_same_size(const char* a, const char* b, size_t n);
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_same_size(a.data(), b.data(), a.size());
}
std::string_view method_name(Method m);

// A header line aigw writes from bytes it did not choose (a plugin's or a
// provider's): the name has no control byte, space, ':' or DEL, the value no
// CR, LF or NUL, so no header can end its line and start another.
bool safe_field_name(std::string_view name);
bool safe_field_value(std::string_view value);

}  // namespace aigw::http
