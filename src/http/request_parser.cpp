// Strict single-pass HTTP/1.1 request head parser (see request.h).
//
// The parser is stateless: the caller hands it everything buffered so far and
// it starts again from byte 0 each time. Heads are small and bounded by
// Limits::max_header_bytes, so re-scanning is cheaper than carrying a resumable
// state machine, and it lets every string_view point straight into the buffer.
//
// An error is reported as soon as it is certain, i.e. when no continuation of
// the bytes seen so far could make the head valid (a bad byte, a second
// Content-Length, an overlong target, ...). Everything that depends on the
// whole head (missing Host, the body size limit) waits for the blank line. So
// a prefix of a valid head is always `incomplete`, never an error.
#include <algorithm>
#include <array>
#include <cstring>

#include "http/request.h"
#include "http/chars.h"
#include "http/scan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aigw::http {
namespace {

using namespace chars;
using namespace scan;

// Returns the first byte in [p, end) that may not appear in a request-target.
inline const char* scan_target(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i k7f = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, k20), v);   // <= 0x20
    const __m128i high = _mm_cmpeq_epi8(_mm_max_epu8(v, k7f), v);  // >= 0x7f
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, high)));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && has_class(*p, kTarget)) ++p;
  return p;
}

Method method_from_text(std::string_view m) {
  // Methods are case-sensitive (RFC 9110 9.1): "get" is not GET.
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::get;
      if (m == "PUT") return Method::put;
      break;
    case 4:
      if (m == "POST") return Method::post;
      if (m == "HEAD") return Method::head;
      break;
    case 5:
      if (m == "PATCH") return Method::patch;
      if (m == "TRACE") return Method::trace;
      break;
    case 6:
      if (m == "DELETE") return Method::del;
      break;
    case 7:
      if (m == "OPTIONS") return Method::options;
      if (m == "CONNECT") return Method::connect;
      break;
    default:
      break;
  }
  return Method::other;
}

// Headers with a meaning for the framing or the connection.
enum class Special : uint8_t { none, content_length, transfer_encoding, connection, expect, host };

// `name` is a token (see token_iequals_lower).
Special classify(std::string_view name) {
  switch (name.size()) {
    case 4:
      if (token_iequals_lower(name, "host")) return Special::host;
      break;
    case 6:
      if (token_iequals_lower(name, "expect")) return Special::expect;
      break;
    case 10:
      if (token_iequals_lower(name, "connection")) return Special::connection;
      break;
    case 14:
      if (token_iequals_lower(name, "content-length")) return Special::content_length;
      break;
    case 17:
      if (token_iequals_lower(name, "transfer-encoding")) return Special::transfer_encoding;
      break;
    default:
      break;
  }
  return Special::none;
}

// Keeps the numbers usable as signed offsets (off_t) by the body readers.
constexpr uint64_t kMaxContentLength = (uint64_t{1} << 63) - 1;

// Checks a Content-Length value. `v` starts after the leading OWS. When the
// line is not complete yet (`complete` false), only errors that no further
// bytes could repair are reported, so a prefix of a valid value passes.
const char* check_content_length(std::string_view v, bool complete, uint64_t& n) {
  n = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
    const auto d = static_cast<uint64_t>(v[i] - '0');
    if (n > (kMaxContentLength - d) / 10) return "Content-Length is too large";
    n = n * 10 + d;
  }
  const size_t digits = i;
  while (i < v.size() && is_ows(v[i])) ++i;
  if (i < v.size()) {
    if (v[i] == ',') return "Content-Length must be a single number (lists are not accepted)";
    return "Content-Length must contain only digits";
  }
  if (complete && digits == 0) return "Content-Length is empty";
  return nullptr;
}

constexpr const char* kBadRequest = "bad_request";

// Walks one head. A class rather than one long function so that every error
// path is a one-liner and the per-header bookkeeping stays in one place.
class HeadParser {
 public:
  HeadParser(std::string_view data, const Limits& limits, RequestHead& out, ParseError& err)
      : begin_(data.data()),
        end_(data.data() + std::min(data.size(), limits.max_header_bytes)),
        over_limit_(data.size() > limits.max_header_bytes),
        limits_(limits),
        out_(out),
        err_(err) {}

  ParseStatus run();

 private:
  ParseStatus fail(int status, const char* code, const char* message) {
    err_.status = status;
    err_.code = code;
    err_.message = message;
    return ParseStatus::error;
  }
  ParseStatus bad(const char* message) { return fail(400, kBadRequest, message); }

  // The data ran out before the blank line. If the caller has more bytes than
  // the window we looked at, the head can only end past the limit.
  ParseStatus out_of_data() {
    if (over_limit_) {
      return fail(431, "request_header_fields_too_large", "Request header section is too large");
    }
    return ParseStatus::incomplete;
  }

  ParseStatus request_line(const char*& p);
  ParseStatus on_header_name(Special kind);
  ParseStatus on_header_value(Special kind, std::string_view value);
  ParseStatus finish(const char* p);

  const char* const begin_;
  const char* const end_;  // end of the window: at most max_header_bytes
  const bool over_limit_;
  const Limits& limits_;
  RequestHead& out_;
  ParseError& err_;

  bool seen_content_length_ = false;
  bool seen_transfer_encoding_ = false;
  bool seen_host_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
};

ParseStatus HeadParser::request_line(const char*& p) {
  const char* const end = end_;

  // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the
  // request line. Any number is accepted; they count against the head limit.
  for (;;) {
    if (p == end) return out_of_data();
    if (*p != '\r') break;
    if (p + 1 == end) return out_of_data();
    if (p[1] != '\n') return bad("CR must be followed by LF");
    p += 2;
  }

  const char* const method = p;
  p = scan_token(p, end);
  if (p == end) return out_of_data();
  if (p == method) {
    if (*p == '\n') return bad("Lines must end with CRLF, not a bare LF");
    return bad("Request line must start with a method token");
  }
  if (*p != ' ') return bad("Invalid character in method");
  out_.method_text = std::string_view(method, static_cast<size_t>(p - method));
  ++p;

  const char* const target = p;
  p = scan_target(p, end);
  const auto target_len = static_cast<size_t>(p - target);
  if (target_len > limits_.max_uri_bytes) return fail(414, "uri_too_long", "Request URI is too long");
  if (p == end) return out_of_data();
  if (target_len == 0) {
    if (*p == ' ') return bad("Request line parts must be separated by exactly one space");
    return bad("Request target is empty");
  }
  if (*p != ' ') {
    if (*p == '\r' || *p == '\n') return bad("Request line has no HTTP version");
    if (static_cast<unsigned char>(*p) >= 0x80) {
      return bad("Request target must be ASCII (percent-encode other bytes)");
    }
    return bad("Invalid character in request target");
  }
  out_.target = std::string_view(target, target_len);
  ++p;

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
  if (p < end && *p == ' ') return bad("Request line parts must be separated by exactly one space");
  constexpr std::string_view kHttp = "HTTP/";
  for (char expected : kHttp) {
    if (p == end) return out_of_data();
    if (*p != expected) return bad("Only the HTTP protocol is supported");
    ++p;
  }
  char digits[3];
  for (int i = 0; i < 3; ++i, ++p) {
    if (p == end) return out_of_data();
    digits[i] = *p;
  }
  if (digits[0] < '0' || digits[0] > '9' || digits[1] != '.' || digits[2] < '0' || digits[2] > '9') {
    return bad("Malformed HTTP version");
  }
  if (digits[0] != '1' || digits[2] > '1') {
    return fail(505, "http_version_not_supported", "Only HTTP/1.0 and HTTP/1.1 are supported");
  }
  out_.version_minor = digits[2] - '0';

  if (p == end) return out_of_data();
  if (*p != '\r') {
    if (*p == '\n') return bad("Lines must end with CRLF, not a bare LF");
    return bad("Unexpected character after the HTTP version");
  }
  if (p + 1 == end) return out_of_data();
  if (p[1] != '\n') return bad("CR must be followed by LF");
  p += 2;

  out_.method = method_from_text(out_.method_text);
  const auto q = out_.target.find('?');
  if (q == std::string_view::npos) {
    out_.path = out_.target;
  } else {
    out_.path = out_.target.substr(0, q);
    out_.query = out_.target.substr(q + 1);
  }
  return ParseStatus::complete;
}

// Checks that only need the header name: they hold whatever the value is.
ParseStatus HeadParser::on_header_name(Special kind) {
  switch (kind) {
    case Special::content_length:
      // Strict on purpose: even equal duplicates are refused (RFC 9112 6.3
      // allows a recipient to do so), because intermediaries that pick
      // different copies are how requests get smuggled.
      if (seen_content_length_) return bad("Multiple Content-Length headers are not allowed");
      if (seen_transfer_encoding_) {
        return bad("Content-Length and Transfer-Encoding together are not allowed");
      }
      seen_content_length_ = true;
      break;
    case Special::transfer_encoding:
      if (out_.version_minor == 0) return bad("Transfer-Encoding is not allowed in HTTP/1.0");
      if (seen_content_length_) {
        return bad("Content-Length and Transfer-Encoding together are not allowed");
      }
      // A second field makes a list of codings; only a lone "chunked" is supported.
      if (seen_transfer_encoding_) {
        return fail(501, "not_implemented", "Only Transfer-Encoding: chunked is supported");
      }
      seen_transfer_encoding_ = true;
      break;
    case Special::host:
      if (seen_host_) return bad("Multiple Host headers are not allowed");
      seen_host_ = true;
      break;
    default:
      break;
  }
  return ParseStatus::complete;
}

ParseStatus HeadParser::on_header_value(Special kind, std::string_view value) {
  switch (kind) {
    case Special::content_length: {
      uint64_t n = 0;
      if (const char* msg = check_content_length(value, true, n)) return bad(msg);
      out_.content_length = n;
      break;
    }
    case Special::transfer_encoding:
      if (!iequals_lower(value, "chunked")) {
        return fail(501, "not_implemented", "Only Transfer-Encoding: chunked is supported");
      }
      break;
    case Special::connection: {
      // Comma-separated tokens; unknown ones (upgrade, ...) are ignored.
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        if (comma == std::string_view::npos) comma = value.size();
        const std::string_view item = trim_ows(value.substr(pos, comma - pos));
        if (iequals_lower(item, "close")) connection_close_ = true;
        if (iequals_lower(item, "keep-alive")) connection_keep_alive_ = true;
        pos = comma + 1;
      }
      break;
    }
    case Special::expect:
      if (!iequals_lower(value, "100-continue")) {
        return fail(417, "expectation_failed", "Only Expect: 100-continue is supported");
      }
      // RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
      if (out_.version_minor == 1) out_.expect_continue = true;
      break;
    case Special::host:
      out_.host = value;
      break;
    default:
      break;
  }
  return ParseStatus::complete;
}

ParseStatus HeadParser::finish(const char* p) {
  if (out_.version_minor == 1 && !seen_host_) {
    // RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
    return bad("HTTP/1.1 request without a Host header");
  }
  if (seen_transfer_encoding_) {
    out_.body_kind = BodyKind::chunked;
  } else if (seen_content_length_) {
    if (out_.content_length > limits_.max_body_bytes) {
      return fail(413, "request_too_large", "Request body is too large");
    }
    out_.body_kind = BodyKind::length;
  }
  if (out_.version_minor == 1) {
    out_.keep_alive = !connection_close_;
  } else {
    out_.keep_alive = connection_keep_alive_ && !connection_close_;
  }
  out_.head_bytes = static_cast<size_t>(p - begin_);
  return ParseStatus::complete;
}

ParseStatus HeadParser::run() {
  const char* p = begin_;
  const char* const end = end_;
  if (ParseStatus s = request_line(p); s != ParseStatus::complete) return s;

  for (;;) {
    if (p == end) return out_of_data();
    if (*p == '\r') {
      if (p + 1 == end) return out_of_data();
      if (p[1] != '\n') return bad("CR must be followed by LF");
      return finish(p + 2);
    }
    if (is_ows(*p)) return bad("Header line folding (obs-fold) is not allowed");

    const char* const name = p;
    p = scan_token(p, end);
    if (p == end) return out_of_data();
    if (*p != ':') {
      if (p == name) {
        if (*p == '\n') return bad("Lines must end with CRLF, not a bare LF");
        return bad("Invalid character at the start of a header line");
      }
      if (is_ows(*p)) return bad("Whitespace between a header name and the colon is not allowed");
      return bad("Invalid character in header name");
    }
    if (p == name) return bad("Header name is empty");
    if (out_.headers.size() >= limits_.max_header_count) {
      return fail(431, "request_header_fields_too_large", "Too many header fields");
    }
    const std::string_view name_view(name, static_cast<size_t>(p - name));
    const Special kind = classify(name_view);
    if (kind != Special::none) {
      if (ParseStatus s = on_header_name(kind); s != ParseStatus::complete) return s;
    }
    ++p;

    while (p < end && is_ows(*p)) ++p;
    const char* const value = p;
    p = scan_value(p, end);
    if (p == end || (*p == '\r' && p + 1 == end)) {
      // Reject a Content-Length that is already wrong instead of waiting.
      if (kind == Special::content_length) {
        uint64_t n = 0;
        if (const char* msg =
                check_content_length(std::string_view(value, static_cast<size_t>(p - value)), false, n)) {
          return bad(msg);
        }
      }
      return out_of_data();
    }
    if (*p != '\r') {
      if (*p == '\n') return bad("Lines must end with CRLF, not a bare LF");
      return bad("Invalid character in header value");
    }
    if (p[1] != '\n') return bad("CR must be followed by LF");
    const char* value_end = p;
    while (value_end > value && is_ows(value_end[-1])) --value_end;
    const std::string_view value_view(value, static_cast<size_t>(value_end - value));
    p += 2;
    out_.headers.push_back(Header{name_view, value_view});
    if (kind != Special::none) {
      if (ParseStatus s = on_header_value(kind, value_view); s != ParseStatus::complete) return s;
    }
  }
}

}  // namespace

ParseStatus parse_request_head(std::string_view data, const Limits& limits, RequestHead& out,
                               ParseError& err) {
  out.method_text = {};
  out.method = Method::other;
  out.target = {};
  out.path = {};
  out.query = {};
  out.version_minor = 1;
  out.headers.clear();
  out.body_kind = BodyKind::none;
  out.content_length = 0;
  out.keep_alive = true;
  out.expect_continue = false;
  out.host = {};
  out.head_bytes = 0;
  return HeadParser(data, limits, out, err).run();
}

std::string_view RequestHead::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

namespace {

constexpr uint64_t kEachByte = 0x0101010101010101ull;

uint64_t load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

#if defined(__SSE2__)

// Whether `bad` (sixteen bytes in, 0xff out where a byte is bad) flags
// some byte of [p, p + n), with no byte loop from 4 bytes up: 16 at a
// time, the last 16 overlapping bytes already checked; 8 to 15 as two
// 8-byte halves of one register, 4 to 7 as two 4-byte ones (the rest of
// that register is zeros, so only its low 8 lanes count).
template <class Bad, class Byte>
bool any_byte(const char* p, size_t n, Bad bad, Byte byte_bad) {
  auto flagged = [&bad](__m128i x) { return _mm_movemask_epi8(bad(x)); };
  if (n >= 16) {
    for (size_t i = 0; i + 16 <= n; i += 16) {
      if (flagged(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i))) != 0) return true;
    }
    return n % 16 != 0 && flagged(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + n - 16))) != 0;
  }
  if (n >= 8) {
    return flagged(_mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)),
                                      _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + n - 8)))) != 0;
  }
  if (n >= 4) {
    int32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return (flagged(_mm_unpacklo_epi32(_mm_cvtsi32_si128(lo), _mm_cvtsi32_si128(hi))) & 0xff) != 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (byte_bad(static_cast<unsigned char>(p[i]))) return true;
  }
  return false;
}

}  // namespace

// Every header a plugin or provider hands over passes these, on both
// sides of the proxy: sixteen bytes per step (SSE2, part of x86-64).
bool safe_field_name(std::string_view name) {
  return !name.empty() && !any_byte(
                              name.data(), name.size(),
                              [](__m128i x) {
                                const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(' ')), x);  // <= ' '
                                return _mm_or_si128(low, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(':')),
                                                                      _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
                              },
                              [](unsigned char c) { return c <= ' ' || c == ':' || c == 0x7f; });
}

bool safe_field_value(std::string_view value) {
  return !any_byte(
      value.data(), value.size(),
      [](__m128i x) {
        return _mm_or_si128(_mm_cmpeq_epi8(x, _mm_setzero_si128()),
                            _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))));
      },
      [](unsigned char c) { return c == 0 || c == '\r' || c == '\n'; });
}

#else

// Whether some byte of `w` is below `n` (n at most 0x80). Subtracting n
// from a byte below n borrows, which sets its high bit (n <= 0x80), and ~w
// keeps that bit (the byte's own is clear); a byte at or above n neither
// borrows nor keeps a high bit. Borrows start only at bytes below n, so
// the lowest such byte is always flagged: exact as a yes or no, which is
// all that is asked.
bool any_below(uint64_t w, uint8_t n) { return ((w - kEachByte * n) & ~w & (kEachByte * 0x80)) != 0; }
bool any_equal(uint64_t w, uint8_t c) { return any_below(w ^ (kEachByte * c), 1); }

// Whether `bad` holds for some byte of [p, p + n): eight bytes per step,
// the last step overlapping the one before it.
template <class Word, class Byte>
bool any_byte(const char* p, size_t n, Word word_bad, Byte byte_bad) {
  if (n < 8) {
    for (size_t i = 0; i < n; ++i) {
      if (byte_bad(static_cast<unsigned char>(p[i]))) return true;
    }
    return false;
  }
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n) i = n - 8;
    if (word_bad(load8(p + i))) return true;
    if (i + 8 == n) return false;
  }
}

}  // namespace

// Every header a plugin or provider hands over passes these, on both
// sides of the proxy: eight bytes per step, like iequals.
bool safe_field_name(std::string_view name) {
  return !name.empty() &&
         !any_byte(
             name.data(), name.size(),
             [](uint64_t w) { return any_below(w, ' ' + 1) || any_equal(w, ':') || any_equal(w, 0x7f); },
             [](unsigned char c) { return c <= ' ' || c == ':' || c == 0x7f; });
}

bool safe_field_value(std::string_view value) {
  return !any_byte(
      value.data(), value.size(),
      [](uint64_t w) { return any_below(w, 1) || any_equal(w, '\r') || any_equal(w, '\n'); },
      [](unsigned char c) { return c == 0 || c == '\r' || c == '\n'; });
}

#endif

namespace {

// Whether the bytes of two words are equal but for the case of letters:
// where they differ, only in the case bit (0x20), and only where x holds a
// letter (then y holds the same letter in the other case), so neither word
// is folded. x's letters, per byte, on its low seven bits with the case bit
// set: adding 0x1f sets the high bit from 'a' up, adding 0x05 from past 'z'
// up, and neither carries into the next byte; a byte with its own high bit
// set is not ASCII and is no letter. The arithmetic is per byte, so it
// holds on either endianness.
bool same_folded(uint64_t x, uint64_t y) {
  const uint64_t c = (x | (kEachByte * 0x20)) & (kEachByte * 0x7f);
  const uint64_t from_a = c + kEachByte * (0x80 - 'a');
  const uint64_t past_z = c + kEachByte * (0x7f - 'z');
  const uint64_t letter = from_a & ~past_z & ~x & (kEachByte * 0x80);
  return ((x ^ y) & ~(letter >> 2)) == 0;
}

uint64_t load4(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

}  // namespace

// Header names are compared on every lookup (a request's head is searched
// for a dozen names), so eight bytes per step: the last step overlaps the
// one before it instead of finishing byte by byte; 4 to 7 bytes as two
// overlapping 4-byte words.
bool iequals_same_size(const char* a, const char* b, size_t n) {
  if (n < 8) {
    if (n >= 4) return same_folded(load4(a), load4(b)) && same_folded(load4(a + n - 4), load4(b + n - 4));
    for (size_t i = 0; i < n; ++i) {
      if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
  }
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n) i = n - 8;
    if (!same_folded(load8(a + i), load8(b + i))) return false;
    if (i + 8 == n) return true;
  }
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::del: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::patch: return "PATCH";
    case Method::connect: return "CONNECT";
    case Method::trace: return "TRACE";
    case Method::other: break;
  }
  // No canonical spelling: "OTHER" would itself be a valid method token, so
  // callers that need the text use RequestHead::method_text.
  return {};
}

}  // namespace aigw::http
