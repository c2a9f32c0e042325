#include "metrics/access_log.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json/number.h"
#include "json/plain.h"
#include "json/write.h"

namespace aigw::metrics {
namespace {

// A line is some forty pieces in about 400 bytes; the pieces cost more
// than the bytes. So the line is written through a plain cursor into room
// reserved once for the whole line (max_line_size), with no capacity check
// per piece: a check reads the string's size again after each copy (the
// compiler cannot keep it in a register across the stores), and growing by
// resize() zero-fills what it adds. The caller (LogBuffer::append_with)
// keeps that room between lines.

// Most pieces are short (keys, ids, names, a route path): up to 32 bytes as
// two overlapping moves of a fixed size, which the compiler inlines, rather
// than a call into memcpy per piece. An empty view may have no data
// pointer, which memcpy must not get.
template <size_t N>
void move(char* to, const char* from) {
  char w[N];
  std::memcpy(w, from, N);
  std::memcpy(to, w, N);
}

[[gnu::always_inline]] inline char* put(char* to, std::string_view s) {
  const char* from = s.data();
  const size_t n = s.size();
  if (n > 16 && n <= 32) {  // the longer keys (",\"completion_tokens\":")
    move<16>(to, from);
    move<16>(to + n - 16, from + n - 16);
  } else if (n >= 8 && n <= 16) {
    move<8>(to, from);
    move<8>(to + n - 8, from + n - 8);
  } else if (n >= 4 && n < 8) {
    move<4>(to, from);
    move<4>(to + n - 4, from + n - 4);
  } else if (n > 32) {
    std::memcpy(to, from, n);
  } else {
    for (size_t i = 0; i < n; ++i) to[i] = from[i];
  }
  return to + n;
}

// A string field: its key and the opening quote as one piece (KS below),
// then the value, copied when plain (nearly always; checked as it is
// copied), and the closing quote. Otherwise json::append_string, the one
// escaping rule, writes the value over the opening quote, quotes included
// (into a string of its own: a rare path, not worth a second escaper).
[[gnu::noinline]] char* escaped(char* p, std::string_view s) {
  std::string e;
  json::append_string(e, s);
  return put(p, e);
}

// At `p`, just past a value's opening quote: the value and its closing
// quote.
[[gnu::always_inline]] inline char* value(char* p, std::string_view s) {
  if (char* end = json::copy_if_plain(p, s)) [[likely]] {
    *end = '"';
    return end + 1;
  }
  return escaped(p - 1, s);
}

[[gnu::always_inline]] inline char* str(char* p, std::string_view key_and_quote, std::string_view s) {
  return value(put(p, key_and_quote), s);
}

// An empty value is written as null, over the opening quote.
[[gnu::always_inline]] inline char* value_or_null(char* p, std::string_view v) {
  if (v.empty()) return put(p - 1, "null");
  return value(p, v);
}

[[gnu::always_inline]] inline char* string_or_null(char* p, std::string_view key_and_quote, std::string_view v) {
  return value_or_null(put(p, key_and_quote), v);
}

// Sums and differences of int64 nanoseconds, modulo 2^64: the line is
// written for any record, and signed overflow would be undefined.
inline int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// 0 <= v < 1000, zero-padded: a digit and a pair from json/number.h's table.
char* three_digits(char* p, int64_t v) {
  const auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<char>('0' + u / 100);
  return json::write_two_digits(p + 1, u % 100);
}

// Every HTTP status has three digits; anything else is written as it is.
inline char* status_text(char* p, int status) {
  if (static_cast<unsigned>(status) - 100u < 900u) return three_digits(p, status);
  return json::write_int(p, int64_t{status});
}

// The line's last field and its end, `,"finish_reason":"stop"}\n` or
// `...:null}\n`, one ready-made piece per reason: the labels are the
// gateway's own (nothing to escape), so the piece is one fixed-size move
// of kTailRoom bytes and an add. The room past the piece's end is inside
// the line's reserve (kLineFixedBytes) and is overwritten by the next line.
constexpr size_t kTailRoom = 48;
constexpr size_t kTails = static_cast<size_t>(FinishReason::count_) + 1;  // the last: none
struct Tails {
  char text[kTails][kTailRoom] = {};
  uint8_t size[kTails] = {};
  constexpr Tails() {
    for (size_t i = 0; i < kTails; ++i) {
      std::string_view parts[3] = {",\"finish_reason\":\"", {}, "\"}\n"};
      if (i + 1 == kTails) {
        parts[0] = ",\"finish_reason\":null}\n";
        parts[2] = {};
      } else {
        parts[1] = label(static_cast<FinishReason>(i));
      }
      size_t n = 0;
      for (std::string_view part : parts) {
        for (char c : part) text[i][n++] = c;
      }
      size[i] = static_cast<uint8_t>(n);
    }
  }
};
constexpr Tails kTail;

inline char* tail(char* p, std::optional<FinishReason> reason) {
  const size_t i = reason && *reason < FinishReason::count_ ? static_cast<size_t>(*reason) : kTails - 1;
  std::memcpy(p, kTail.text[i], kTailRoom);
  return p + kTail.size[i];
}

// Milliseconds with three decimals from whole microseconds: integer
// arithmetic, where a double to_chars in fixed notation costs several times
// more and this runs twice per line. At most 21 characters.
inline char* millis(char* p, std::string_view key, int64_t us) {
  p = put(p, key);
  if (us < 0) return put(p, "null");
  p = json::write_uint(p, static_cast<uint64_t>(us / 1000));
  *p = '.';
  return three_digits(p + 1, us % 1000);
}

// The date and time change once a second; formatting them (gmtime_r and a
// printf) per line would cost more than the rest of the line. Written after
// the opening quote (the key's piece holds it): at most 32 characters with
// the closing one (an int year has at most 11).
char* timestamp(char* p, int64_t unix_ms) {
  int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
  if (ms < 0) secs -= 1, ms += 1000;
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char prefix[32];
  thread_local size_t prefix_len = 0;
  if (secs != cached_secs) {
    const time_t t = static_cast<time_t>(secs);
    tm u{};
    gmtime_r(&t, &u);
    int n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", u.tm_year + 1900,
                          u.tm_mon + 1, u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec);
    prefix_len = n > 0 ? std::min(static_cast<size_t>(n), sizeof prefix - 1) : 0;
    cached_secs = secs;
  }
  // All of the cached prefix's room in one fixed-size move (the line's
  // reserve covers all 32 bytes; the prefix is at most 20 of them).
  std::memcpy(p, prefix, sizeof prefix);
  p += prefix_len;
  return three_digits(p, ms);  // the caller writes the Z and the closing quote
}

// What a line holds besides its seven strings: the keys, the timestamp,
// the client address (Peer::kMaxTextBytes and its quotes), seven numbers,
// `false` and the finish reason's piece, which is written as a kTailRoom
// move. The unit test TheWidestLineFitsItsBound writes the widest there is
// (412 bytes: every number at its widest, an IPv6 address with no group to
// shorten, content_filter; the move reaches 13 bytes further). A string
// takes at most json::kMaxEscapedBytesPerByte per byte and its quotes, or
// `null`.
constexpr size_t kLineFixedBytes = 512;

// splitmix64's finaliser: a bijection on 64 bits that scatters the bits.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint64_t kCounterMask = (uint64_t{1} << 48) - 1;

}  // namespace

// `,"key":` as one piece; KS: a string field's, with its opening quote.
#define K(key) std::string_view(",\"" key "\":")
#define KS(key) std::string_view(",\"" key "\":\"")

size_t max_line_size(const RequestRecord& r) {
  size_t n = kLineFixedBytes;
  for (std::string_view s : {r.request_id, r.method, r.path, r.key, r.model, r.provider, r.error}) {
    n += json::kMaxEscapedBytesPerByte * s.size() + 4;
  }
  return n;
}

char* format_to(const RequestRecord& r, int64_t wall_minus_mono_ns, char* p) {
  p = put(p, "{\"ts\":\"");
  p = timestamp(p, wrapping_add(r.end_ns, wall_minus_mono_ns) / 1'000'000);
  p = str(p, "Z\",\"request_id\":\"", r.request_id);
  p = str(p, KS("method"), r.method);
  p = str(p, KS("path"), r.path);
  p = r.peer.write_to(put(p, KS("client")));
  *p++ = '"';
  p = string_or_null(p, KS("key"), r.key);
  p = string_or_null(p, KS("model"), r.model);
  p = string_or_null(p, KS("provider"), r.provider);
  p = status_text(put(p, K("status")), r.status);
  p = json::write_uint(put(p, K("prompt_tokens")), r.prompt_tokens);
  p = json::write_uint(put(p, K("completion_tokens")), r.completion_tokens);
  p = json::write_uint(put(p, K("total_tokens")), r.total_tokens);
  p = millis(p, K("ttfb_ms"), r.first_byte_ns != 0 ? wrapping_sub(r.first_byte_ns, r.start_ns) / 1000 : -1);
  p = millis(p, K("duration_ms"), wrapping_sub(r.end_ns, r.start_ns) / 1000);
  p = json::write_uint(put(p, K("attempts")), uint64_t{r.attempts});
  const std::string_view error = r.status >= 400 ? r.error : std::string_view();
  p = r.stream ? string_or_null(p, KS("stream\":true,\"error"), error)
               : string_or_null(p, KS("stream\":false,\"error"), error);
  return tail(p, r.finish_reason);
}

void format(const RequestRecord& r, int64_t wall_minus_mono_ns, std::string& out) {
  const size_t at = out.size();
  out.resize(at + max_line_size(r));
  char* begin = out.data() + at;
  out.resize(at + static_cast<size_t>(format_to(r, wall_minus_mono_ns, begin) - begin));
}

#undef K
#undef KS

bool sample(double rate, uint64_t& rng_state) {
  if (rate >= 1) return true;
  if (!(rate > 0)) return false;  // NaN too
  rng_state += 0x9e3779b97f4a7c15ull;
  // The top 53 bits as a double in [0, 1).
  const double u = static_cast<double>(mix(rng_state) >> 11) * 0x1.0p-53;
  return u < rate;
}

uint64_t request_id_seed(uint32_t worker_index) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    // No entropy yet (early boot): the clock and pid still differ per run.
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = mix(static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 30) ^
            (static_cast<uint64_t>(getpid()) << 20));
  }
  return (static_cast<uint64_t>(worker_index & 0xFFFF) << 48) | (r & kCounterMask);
}

GeneratedId hex_id(uint64_t v) {
  GeneratedId id;
#if defined(__SSE2__)
  // All sixteen digits at once (a loop per digit was some 100 instructions
  // on every request that brings no id of its own): the bytes in text
  // order, each split into its two nibbles, each nibble n becoming
  // '0' + n, plus 'a' - '0' - 10 where n > 9.
  const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(__builtin_bswap64(v)));
  const __m128i low4 = _mm_set1_epi8(0x0f);
  const __m128i nibbles =
      _mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low4), _mm_and_si128(bytes, low4));
  const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
  const __m128i text = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(id.text), text);
#else
  static const char hex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) id.text[i] = hex[v & 15];
#endif
  return id;
}

GeneratedId make_request_id(uint64_t& state) {
  // The counter wraps inside its 48 bits, so the worker bits never change.
  state = (state & ~kCounterMask) | ((state + 1) & kCounterMask);
  return hex_id(mix(state));
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace aigw::metrics
