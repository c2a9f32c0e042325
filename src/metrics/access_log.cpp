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

[[gnu::always_inline]] inline char* str(char* p, std::string_view key_and_quote, std::string_view s) {
  p = put(p, key_and_quote);
  if (char* end = json::copy_if_plain(p, s)) [[likely]] {
    *end = '"';
    return end + 1;
  }
  return escaped(p - 1, s);
}

// An empty value is written as null, over the opening quote.
[[gnu::always_inline]] inline char* string_or_null(char* p, std::string_view key_and_quote, std::string_view v) {
  if (v.empty()) return put(put(p, key_and_quote) - 1, "null");
  return str(p, key_and_quote, v);
}

// 0 <= v < 1000, zero-padded: a digit and a pair from json/number.h's table.
char* three_digits(char* p, int64_t v) {
  const auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<char>('0' + u / 100);
  return json::write_two_digits(p + 1, u % 100);
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
  // All of the cached prefix's room in one fixed-size move (the line's room
  // holds it: 32 bytes where the widest timestamp is 32 with its quote).
  std::memcpy(p, prefix, sizeof prefix);
  p += prefix_len;
  p = three_digits(p, ms);
  return put(p, "Z\"");
}

// What a line holds besides its eight strings: the keys, the timestamp,
// the client address (Peer::kMaxTextBytes and its quotes), seven numbers
// and `false`, at most 429 bytes; the unit test TheWidestLineFitsItsBound
// writes the widest there is (423: every number at its widest, an IPv6
// address with no group to shorten). A string takes at most
// json::kMaxEscapedBytesPerByte per byte and its quotes, or `null`.
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

size_t max_line_size(const AccessRecord& r) {
  size_t n = kLineFixedBytes;
  for (std::string_view s : {r.request_id, r.method, r.path, r.key, r.model, r.provider, r.error, r.finish_reason}) {
    n += json::kMaxEscapedBytesPerByte * s.size() + 4;
  }
  return n;
}

char* format_to(const AccessRecord& r, char* p) {
  p = put(p, "{\"ts\":\"");
  p = timestamp(p, r.unix_ms);
  p = str(p, KS("request_id"), r.request_id);
  p = str(p, KS("method"), r.method);
  p = str(p, KS("path"), r.path);
  p = r.client.write_to(put(p, KS("client")));
  *p++ = '"';
  p = string_or_null(p, KS("key"), r.key);
  p = string_or_null(p, KS("model"), r.model);
  p = string_or_null(p, KS("provider"), r.provider);
  p = json::write_int(put(p, K("status")), int64_t{r.status});
  p = json::write_uint(put(p, K("prompt_tokens")), r.prompt_tokens);
  p = json::write_uint(put(p, K("completion_tokens")), r.completion_tokens);
  p = json::write_uint(put(p, K("total_tokens")), r.total_tokens);
  p = millis(p, K("ttfb_ms"), r.ttfb_us);
  p = millis(p, K("duration_ms"), r.duration_us);
  p = json::write_uint(put(p, K("attempts")), uint64_t{r.attempts});
  p = r.stream ? put(p, ",\"stream\":true") : put(p, ",\"stream\":false");
  p = string_or_null(p, KS("error"), r.error);
  p = string_or_null(p, KS("finish_reason"), r.finish_reason);
  return put(p, "}\n");
}

void format(const AccessRecord& r, std::string& out) {
  const size_t at = out.size();
  out.resize(at + max_line_size(r));
  char* begin = out.data() + at;
  out.resize(at + static_cast<size_t>(format_to(r, begin) - begin));
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
