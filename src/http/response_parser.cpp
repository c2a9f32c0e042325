// Strict HTTP/1.1 response head parser (see response_parser.h).
//
// Built like the request parser: stateless, rescans from byte 0 on each call
// (heads are small and bounded), and reports an error only once no further
// bytes could make the head valid, so a prefix of a valid head is always
// `incomplete`. Whatever depends on the whole head (the body kind, the body
// size limit, 101) waits for the blank line.
//
// The grammar (RFC 9112 4, 5):
//   status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason-phrase ] CRLF
//   field-line  = token ":" OWS field-value OWS CRLF
// The SP before an empty reason is optional here, as in llhttp and in the
// servers that omit it ("HTTP/1.1 301\r\n").
#include <algorithm>
#include <array>

#include "http/response_parser.h"
#include "http/chars.h"
#include "http/scan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aigw::http {
namespace {

using namespace chars;
using namespace scan;

// OpenAI's responses carry about twenty headers (request ids, rate limits,
// the CDN's); 24 views are 768 bytes.
constexpr size_t kUsualHeaders = 24;

enum class Special : uint8_t { none, content_length, transfer_encoding, connection };

Special classify(std::string_view name) {
  switch (name.size()) {
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

// Keeps lengths usable as signed offsets by the body readers.
constexpr uint64_t kMaxContentLength = (uint64_t{1} << 63) - 1;

// `v` starts after the leading OWS. With `complete` false (the line has not
// ended yet) only errors that no further bytes could repair are reported.
const char* check_content_length(std::string_view v, bool complete, uint64_t& n) {
  n = 0;
  size_t i = 0;
  for (; i < v.size() && is_digit(v[i]); ++i) {
    const auto d = static_cast<uint64_t>(v[i] - '0');
    if (n > (kMaxContentLength - d) / 10) return "Upstream Content-Length is too large";
    n = n * 10 + d;
  }
  const size_t digits = i;
  while (i < v.size() && is_ows(v[i])) ++i;
  if (i < v.size()) {
    if (v[i] == ',') return "Upstream Content-Length must be a single number (lists are not accepted)";
    return "Upstream Content-Length must contain only digits";
  }
  if (complete && digits == 0) return "Upstream Content-Length is empty";
  return nullptr;
}

constexpr const char* kBadUpstream = "bad_upstream_response";
constexpr const char* kTooLarge = "upstream_response_too_large";
constexpr const char* kBareLf = "Upstream lines must end with CRLF, not a bare LF";
constexpr const char* kLoneCr = "Upstream sent CR without LF";

class HeadParser {
 public:
  HeadParser(std::string_view data, bool request_was_head, const ResponseLimits& limits,
             ResponseHead& out, ParseError& err)
      : begin_(data.data()),
        end_(data.data() + std::min(data.size(), limits.max_header_bytes)),
        over_limit_(data.size() > limits.max_header_bytes),
        request_was_head_(request_was_head),
        limits_(limits),
        out_(out),
        err_(err) {}

  ParseStatus run();

 private:
  ParseStatus fail(const char* code, const char* message) {
    err_.status = 502;
    err_.code = code;
    err_.message = message;
    return ParseStatus::error;
  }
  ParseStatus bad(const char* message) { return fail(kBadUpstream, message); }

  // Out of bytes before the blank line. If the caller holds more than the
  // window, the head can only end past the limit.
  ParseStatus out_of_data() {
    if (over_limit_) return fail(kTooLarge, "Upstream response head is too large");
    return ParseStatus::incomplete;
  }

  ParseStatus status_line(const char*& p);
  ParseStatus on_header_name(Special kind);
  ParseStatus on_header_value(Special kind, std::string_view value);
  ParseStatus finish(const char* p);

  const char* const begin_;
  const char* const end_;  // end of the window: at most max_header_bytes
  const bool over_limit_;
  const bool request_was_head_;
  const ResponseLimits& limits_;
  ResponseHead& out_;
  ParseError& err_;

  bool seen_content_length_ = false;
  bool seen_transfer_encoding_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
};

ParseStatus HeadParser::status_line(const char*& p) {
  const char* const end = end_;

  // Empty lines before the status line: llhttp skips them, and they show up
  // after a body that was followed by a stray CRLF. They count to the limit.
  for (;;) {
    if (p == end) return out_of_data();
    if (*p != '\r') break;
    if (p + 1 == end) return out_of_data();
    if (p[1] != '\n') return bad(kLoneCr);
    p += 2;
  }

  // "HTTP/" DIGIT "." DIGIT, case-sensitive.
  constexpr std::string_view kHttp = "HTTP/";
  for (char expected : kHttp) {
    if (p == end) return out_of_data();
    if (*p != expected) {
      if (*p == '\n') return bad(kBareLf);
      return bad("Upstream response does not start with HTTP/");
    }
    ++p;
  }
  for (int i = 0; i < 3; ++i) {
    if (p + i == end) return out_of_data();
    const char c = p[i];
    if (i == 1 ? c != '.' : !is_digit(c)) return bad("Malformed HTTP version in upstream response");
  }
  if (p[0] != '1' || p[2] > '1') return bad("Upstream response is not HTTP/1.0 or HTTP/1.1");
  out_.version_minor = p[2] - '0';
  p += 3;

  if (p == end) return out_of_data();
  if (*p != ' ') return bad("Upstream status line must have a single space after the version");
  ++p;

  // status-code = 3DIGIT. Only 100..599 mean something to a client.
  int status = 0;
  for (int i = 0; i < 3; ++i, ++p) {
    if (p == end) return out_of_data();
    if (!is_digit(*p)) {
      if (i == 0 && *p == ' ') return bad("Upstream status line must have a single space after the version");
      return bad("Upstream status code must be three digits");
    }
    if (i == 0 && (*p < '1' || *p > '5')) return bad("Upstream status code is not in 100..599");
    status = status * 10 + (*p - '0');
  }
  out_.status = status;

  if (p == end) return out_of_data();
  if (*p == ' ') {
    ++p;
    const char* const reason = p;
    p = scan_value(p, end);
    if (p == end) return out_of_data();
    out_.reason = std::string_view(reason, static_cast<size_t>(p - reason));
  } else if (is_digit(*p)) {
    return bad("Upstream status code must be three digits");
  }
  if (*p != '\r') {
    if (*p == '\n') return bad(kBareLf);
    return bad("Invalid character in upstream status line");
  }
  if (p + 1 == end) return out_of_data();
  if (p[1] != '\n') return bad(kLoneCr);
  p += 2;
  return ParseStatus::complete;
}

ParseStatus HeadParser::on_header_name(Special kind) {
  switch (kind) {
    case Special::content_length:
      // Even equal duplicates: a proxy in front may have picked the other one.
      if (seen_content_length_) return bad("Upstream sent multiple Content-Length headers");
      if (seen_transfer_encoding_) return bad("Upstream sent both Content-Length and Transfer-Encoding");
      seen_content_length_ = true;
      break;
    case Special::transfer_encoding:
      // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing.
      if (out_.version_minor == 0) return bad("Upstream sent Transfer-Encoding in an HTTP/1.0 response");
      if (seen_content_length_) return bad("Upstream sent both Content-Length and Transfer-Encoding");
      // A second field adds a second coding to the list: at best chunked
      // twice, which RFC 9112 7.1 forbids.
      if (seen_transfer_encoding_) return bad("Upstream sent more than one Transfer-Encoding header");
      seen_transfer_encoding_ = true;
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
      // We never send TE, so RFC 9112 7.4 leaves the server chunked as the
      // only coding it may use; anything else we could not undo anyway.
      if (!iequals_lower(value, "chunked")) {
        return bad("Upstream used a transfer coding other than chunked");
      }
      break;
    case Special::connection: {
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
    default:
      break;
  }
  return ParseStatus::complete;
}

ParseStatus HeadParser::finish(const char* p) {
  const int status = out_.status;
  // After a 101 the bytes are another protocol. We never send Upgrade, so a
  // server that switches anyway cannot be followed.
  if (status == 101) return bad("Upstream switched protocols (101) without being asked to");

  if (out_.version_minor == 1) {
    out_.keep_alive = !connection_close_;
  } else {
    out_.keep_alive = connection_keep_alive_ && !connection_close_;
  }
  // RFC 9112 6.3: no body after 1xx, 204, 304 or for HEAD, whatever the
  // framing headers say (they were still checked above).
  if (status < 200 || status == 204 || status == 304 || request_was_head_) {
    out_.body_kind = ResponseBodyKind::none;
  } else if (seen_transfer_encoding_) {
    out_.body_kind = ResponseBodyKind::chunked;
  } else if (seen_content_length_) {
    if (out_.content_length > limits_.max_body_bytes) {
      return fail(kTooLarge, "Upstream response body is too large");
    }
    out_.body_kind = ResponseBodyKind::length;
  } else {
    out_.body_kind = ResponseBodyKind::until_close;
    out_.keep_alive = false;
  }
  out_.head_bytes = static_cast<size_t>(p - begin_);
  return ParseStatus::complete;
}

ParseStatus HeadParser::run() {
  const char* p = begin_;
  const char* const end = end_;
  if (ParseStatus s = status_line(p); s != ParseStatus::complete) return s;

  for (;;) {
    if (p == end) return out_of_data();
    if (*p == '\r') {
      if (p + 1 == end) return out_of_data();
      if (p[1] != '\n') return bad(kLoneCr);
      return finish(p + 2);
    }
    if (is_ows(*p)) return bad("Upstream used header line folding (obs-fold)");

    const char* const name = p;
    p = scan_token(p, end);
    if (p == end) return out_of_data();
    if (*p != ':') {
      if (p == name) {
        if (*p == '\n') return bad(kBareLf);
        return bad("Invalid character at the start of an upstream header line");
      }
      if (is_ows(*p)) return bad("Upstream sent whitespace between a header name and the colon");
      return bad("Invalid character in upstream header name");
    }
    if (p == name) return bad("Upstream sent an empty header name");
    if (out_.headers.size() >= limits_.max_header_count) {
      return fail(kTooLarge, "Upstream sent too many header fields");
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
      // A Content-Length that is already wrong stays wrong.
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
      if (*p == '\n') return bad(kBareLf);
      return bad("Invalid character in upstream header value");
    }
    if (p[1] != '\n') return bad(kLoneCr);
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

ParseStatus parse_response_head(std::string_view data, bool request_was_head,
                                const ResponseLimits& limits, ResponseHead& out, ParseError& err) {
  out.status = 0;
  out.version_minor = 1;
  out.reason = {};
  out.headers.clear();
  // Room for a provider's usual head (a score of headers) at once, not
  // grown four times; a no-op where the vector kept its room.
  out.headers.reserve(kUsualHeaders);
  out.body_kind = ResponseBodyKind::none;
  out.content_length = 0;
  out.keep_alive = true;
  out.head_bytes = 0;
  return HeadParser(data, request_was_head, limits, out, err).run();
}

std::string_view ResponseHead::header(std::string_view name) const {
  for (const Header& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return {};
}

ParseError to_upstream_error(const ParseError& decoder_err) {
  ParseError e = decoder_err;
  e.status = 502;
  switch (decoder_err.status) {
    case 413:
      e.code = kTooLarge;
      e.message = "Upstream response body is too large";
      break;
    case 431:
      e.code = kTooLarge;
      e.message = "Upstream trailer section is too large";
      break;
    default:
      e.code = kBadUpstream;
      break;
  }
  return e;
}

}  // namespace aigw::http
