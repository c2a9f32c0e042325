// Transfer-Encoding: chunked decoder (RFC 9112 7.1), see request.h.
//
// Unlike the head parser this one is a resumable state machine: a body can be
// far larger than what is buffered at once, and the payload is moved out as
// it arrives. Every byte outside chunk data goes through the switch below, so
// the outcome cannot depend on where the input was split.
#include <algorithm>
#include <array>

#include "http/request.h"
#include "http/chars.h"

namespace aigw::http {
namespace {

// A size line is hex digits plus extensions we never use; bounding it keeps a
// client from streaming an endless extension at us.
constexpr size_t kMaxChunkLine = 4096;

using namespace chars;

// Position inside `;name[=value]` (ext_state_).
enum ExtState : uint8_t {
  ext_name_start,     // just after ';'
  ext_name,
  ext_value_start,    // just after '='
  ext_token_value,
  ext_quoted,         // inside "..."
  ext_quoted_escape,  // after a backslash inside "..."
  ext_after_quoted,   // after the closing quote
};

}  // namespace

void ChunkedDecoder::end_size_line() {
  if (chunk_left_ == 0) {  // the last chunk: its trailer section follows
    state_ = State::trailer_line;
    trailer_line_len_ = 0;
    trailer_in_value_ = false;
  } else {
    state_ = State::data;
  }
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string_view in, size_t& consumed, DecodedBytes& body,
                                            const Limits& limits, ParseError& err) {
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;

  if (state_ == State::failed) {
    err = error_;
    consumed = 0;
    return Result::error;
  }
  if (state_ == State::done) {
    consumed = 0;
    return Result::done;
  }

  auto fail = [&](int status, const char* code, const char* message) {
    error_.status = status;
    error_.code = code;
    error_.message = message;
    err = error_;
    state_ = State::failed;
    consumed = static_cast<size_t>(p - begin);
    return Result::error;
  };
  auto bad = [&](const char* message) { return fail(400, "bad_request", message); };
  constexpr const char* kBareLf = "Lines must end with CRLF, not a bare LF";

  while (p < end) {
    const char c = *p;
    switch (state_) {
      case State::size: {
        // Nearly every size line arrives whole, digits and CRLF: read it in
        // one go (a stream's event is one chunk, so this runs per event).
        // Anything else (an extension, a line cut off, a bad byte, a size
        // over the limit) is left to the byte-at-a-time path below, which
        // then decides exactly as if this shortcut did not exist.
        if (size_digits_ == 0) {
          const char* q = p;
          uint64_t v = 0;
          int d;
          while (q < end && q - p < 16 && (d = hex_digit(*q)) >= 0) {
            v = (v << 4) | static_cast<uint64_t>(d);
            ++q;
          }
          if (q != p && end - q >= 2 && q[0] == '\r' && q[1] == '\n' && v <= limits.max_body_bytes - total_) {
            p = q + 2;
            // The data and its CRLF in view too (an event whole in one
            // read): taken here, not in two more turns of the switch.
            const auto left = static_cast<uint64_t>(end - p);  // v + 2 could wrap: 16 digits fit 64 bits
            if (v != 0 && left >= 2 && v <= left - 2 && p[v] == '\r' && p[v + 1] == '\n') {
              body.add(p, static_cast<size_t>(v));
              total_ += v;
              p += v + 2;
              break;
            }
            chunk_left_ = v;
            end_size_line();
            break;
          }
        }
        const int d = hex_digit(c);
        if (d >= 0) {
          // 16 digits fill 64 bits exactly, so this cap is also the overflow check.
          if (size_digits_ == 16) return bad("Chunk size has more than 16 hex digits");
          chunk_left_ = (chunk_left_ << 4) | static_cast<uint64_t>(d);
          ++size_digits_;
          ++size_line_len_;
          // total_ never exceeds the limit, so the subtraction cannot wrap.
          if (chunk_left_ > limits.max_body_bytes - total_) {
            return fail(413, "request_too_large", "Request body is too large");
          }
          ++p;
          break;
        }
        if (size_digits_ == 0) {
          if (c == '\n') return bad(kBareLf);
          return bad("Chunk size must start with a hex digit");
        }
        if (c == ';') {
          state_ = State::size_ext;
          ext_state_ = ext_name_start;
          ++size_line_len_;
          ++p;
          break;
        }
        if (c == '\r') {
          state_ = State::size_lf;
          ++p;
          break;
        }
        if (c == '\n') return bad(kBareLf);
        if (c == ' ' || c == '\t') return bad("Whitespace after the chunk size is not allowed");
        return bad("Invalid character in chunk size");
      }

      case State::size_ext: {
        // Extensions are parsed only to find where they end; their content is
        // ignored. No whitespace is allowed around ';' and '=' (strict).
        if (++size_line_len_ > kMaxChunkLine) return bad("Chunk extensions are too long");
        bool end_of_line = false;
        switch (ext_state_) {
          case ext_name_start:
            if (!has_class(c, kToken)) return bad("Chunk extension name is missing or invalid");
            ext_state_ = ext_name;
            break;
          case ext_name:
            if (has_class(c, kToken)) break;
            if (c == '=') {
              ext_state_ = ext_value_start;
            } else if (c == ';') {
              ext_state_ = ext_name_start;
            } else if (c == '\r') {
              end_of_line = true;
            } else {
              return bad("Invalid character in chunk extension");
            }
            break;
          case ext_value_start:
            if (c == '"') {
              ext_state_ = ext_quoted;
            } else if (has_class(c, kToken)) {
              ext_state_ = ext_token_value;
            } else {
              return bad("Chunk extension value is missing or invalid");
            }
            break;
          case ext_token_value:
            if (has_class(c, kToken)) break;
            if (c == ';') {
              ext_state_ = ext_name_start;
            } else if (c == '\r') {
              end_of_line = true;
            } else {
              return bad("Invalid character in chunk extension value");
            }
            break;
          case ext_quoted:
            if (c == '"') {
              ext_state_ = ext_after_quoted;
            } else if (c == '\\') {
              ext_state_ = ext_quoted_escape;
            } else if (!has_class(c, kQdtext)) {
              return bad("Invalid character in quoted chunk extension value");
            }
            break;
          case ext_quoted_escape:
            if (!has_class(c, kValue)) return bad("Invalid escaped character in chunk extension");
            ext_state_ = ext_quoted;
            break;
          case ext_after_quoted:
            if (c == ';') {
              ext_state_ = ext_name_start;
            } else if (c == '\r') {
              end_of_line = true;
            } else {
              return bad("Invalid character after quoted chunk extension value");
            }
            break;
          default:
            return bad("Invalid chunk extension");
        }
        if (end_of_line) state_ = State::size_lf;
        ++p;
        break;
      }

      case State::size_lf:
        if (c != '\n') return bad("Chunk size line must end with CRLF");
        ++p;
        size_digits_ = 0;
        size_line_len_ = 0;
        end_size_line();
        break;

      case State::data: {
        const auto avail = static_cast<uint64_t>(end - p);
        const auto n = static_cast<size_t>(std::min(chunk_left_, avail));
        body.add(p, n);
        p += n;
        chunk_left_ -= n;
        total_ += n;
        if (chunk_left_ == 0) state_ = State::data_cr;
        break;
      }

      case State::data_cr:
        if (c != '\r') return bad("Chunk data must be followed by CRLF");
        if (end - p >= 2 && p[1] == '\n') {  // the CRLF whole: one step
          state_ = State::size;
          p += 2;
          break;
        }
        state_ = State::data_lf;
        ++p;
        break;

      case State::data_lf:
        if (c != '\n') return bad("Chunk data must be followed by CRLF");
        state_ = State::size;
        ++p;
        break;

      case State::trailer_line:
        // Trailers get the same strictness as header lines, then are dropped:
        // nothing downstream consumes them.
        if (++trailer_bytes_ > limits.max_header_bytes) {
          return fail(431, "request_header_fields_too_large", "Trailer section is too large");
        }
        if (trailer_line_len_ == 0) {
          if (c == '\r') {
            state_ = State::trailer_lf;
            ++p;
            break;
          }
          if (c == ' ' || c == '\t') return bad("Trailer line folding (obs-fold) is not allowed");
          if (c == ':') return bad("Trailer name is empty");
        }
        if (!trailer_in_value_) {
          if (has_class(c, kToken)) {
            ++trailer_line_len_;
            ++p;
            break;
          }
          if (c == ':') {
            trailer_in_value_ = true;
            ++trailer_line_len_;
            ++p;
            break;
          }
          if (c == ' ' || c == '\t') {
            return bad("Whitespace between a trailer name and the colon is not allowed");
          }
          if (c == '\n') return bad(kBareLf);
          return bad("Invalid character in trailer name");
        }
        if (has_class(c, kValue)) {
          ++trailer_line_len_;
          ++p;
          break;
        }
        if (c == '\r') {
          state_ = State::trailer_lf;
          ++p;
          break;
        }
        if (c == '\n') return bad(kBareLf);
        return bad("Invalid character in trailer value");

      case State::trailer_lf:
        if (++trailer_bytes_ > limits.max_header_bytes) {
          return fail(431, "request_header_fields_too_large", "Trailer section is too large");
        }
        if (c != '\n') return bad("CR must be followed by LF");
        ++p;
        if (trailer_line_len_ == 0) {
          state_ = State::done;
          consumed = static_cast<size_t>(p - begin);
          return Result::done;
        }
        trailer_line_len_ = 0;
        trailer_in_value_ = false;
        state_ = State::trailer_line;
        break;

      case State::done:
      case State::failed:
        // Both return before the loop; here only to keep the switch complete.
        return bad("Chunked decoder in an impossible state");
    }
  }
  consumed = in.size();
  return Result::need_more;
}

}  // namespace aigw::http
