// Server-Sent Events reader and writer (see sse.h).
//
// The reader works line by line. A line that lies wholly inside the current
// input is used in place; one cut by the end of the input is kept in line_
// until its end arrives. A line ending in CR is taken as ended at once
// (waiting for a possible LF would hold every CRLF-framed event back until
// the next network read); skip_lf_ then swallows the LF if it comes.
#include "http/sse.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aigw::http {
namespace {

constexpr unsigned char kBom[3] = {0xef, 0xbb, 0xbf};

// First CR or LF in [p, end), or end.
inline const char* find_eol(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf))));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && *p != '\r' && *p != '\n') ++p;
  return p;
}

}  // namespace

bool SseReader::count(size_t n) {
  raw_bytes_ += n;
  block_bytes_ += n;
  if (block_bytes_ > max_event_bytes_) {
    failed_ = true;
    return false;
  }
  return true;
}

void SseReader::on_line(std::string_view line, bool borrow, Sink sink, void* ctx) {
  if (line.empty()) {
    // The spec dispatches only when a data field was seen; an "event:" or
    // "id:" alone (or nothing but comments) sends no event.
    if (has_data_) {
      const SseEvent e{event_.view(), data_.view(), last_id_, raw_bytes_};
      if (is_sse_done(e.data)) saw_done_ = true;
      ++events_;
      raw_bytes_ = 0;
      sink(ctx, e);
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    block_bytes_ = 0;
    return;
  }
  if (line.front() == ':') return;  // comment (servers send them as keep-alives)

  std::string_view name = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (has_data_) {
      data_.append_line(value);
    } else {
      data_.set(value, borrow);
      has_data_ = true;
    }
  } else if (name == "event") {
    event_.set(value, borrow);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" and unknown fields are ignored, as the spec says.
}

SseReader::Status SseReader::feed_impl(std::string_view bytes, Sink sink, void* ctx) {
  if (failed_) return Status::error;
  const char* p = bytes.data();
  const char* const end = p + bytes.size();

  if (!bom_done_) {
    // The BOM may itself be cut; held bytes that turn out not to be one are
    // the start of the first line.
    while (p < end && bom_matched_ < 3) {
      if (static_cast<unsigned char>(*p) != kBom[bom_matched_]) {
        line_.append(reinterpret_cast<const char*>(kBom), bom_matched_);
        bom_done_ = true;
        break;
      }
      ++bom_matched_;
      ++p;
      if (!count(1)) return Status::error;
    }
    if (bom_matched_ == 3) bom_done_ = true;
  }

  while (p < end) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (*p == '\n') {
        ++p;
        if (!count(1)) return Status::error;
        continue;
      }
    }
    const char* const eol = find_eol(p, end);
    const auto len = static_cast<size_t>(eol - p);
    if (eol == end) {
      if (!count(len)) return Status::error;
      line_.append(p, len);
      break;
    }
    if (!count(len + 1)) return Status::error;
    skip_lf_ = *eol == '\r';
    if (line_.empty()) {
      on_line(std::string_view(p, len), true, sink, ctx);
    } else {
      line_.append(p, len);
      on_line(line_, false, sink, ctx);
      line_.clear();
    }
    p = eol + 1;
  }

  // Views into `bytes` die with this call.
  if (has_data_) data_.own();
  event_.own();
  return Status::ok;
}

void append_sse_event(std::string& out, std::string_view data, std::string_view event) {
  if (!event.empty()) {
    out += "event: ";
    out.append(event.substr(0, event.find_first_of("\r\n")));
    out += '\n';
  }
  size_t pos = 0;
  for (;;) {
    const size_t eol = data.find_first_of("\r\n", pos);
    out += "data: ";
    if (eol == std::string_view::npos) {
      out.append(data.substr(pos));
      out += '\n';
      break;
    }
    out.append(data.substr(pos, eol - pos));
    out += '\n';
    pos = eol + 1;
    if (data[eol] == '\r' && pos < data.size() && data[pos] == '\n') ++pos;
  }
  out += '\n';
}

}  // namespace aigw::http
