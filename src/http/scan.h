// The scanners over a head's bytes that the request and response parsers
// share: where a field value ends, where a token (a header name) ends,
// OWS trimming, and a token's compare with a lower-case name. Internal to
// src/http, like chars.h, so that both parsers stop at exactly the same
// bytes and a faster scanner speeds up both.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "http/chars.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aigw::http::scan {

// Returns the first byte in [p, end) that may not appear in a header value.
// Values carry most of a head's bytes (tokens, user agents), so they get the
// 16-bytes-at-a-time path.
inline const char* scan_value(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1f);
  const __m128i k7f = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Control bytes (<= 0x1f) and DEL stop the scan; HTAB is one of them but
    // is legal, so it is stepped over below.
    const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, k1f), v);
    const __m128i del = _mm_cmpeq_epi8(v, k7f);
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(ctl, del)));
    if (mask == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(mask);
    if (*p != '\t') return p;
    ++p;
  }
#endif
  while (p < end && chars::has_class(*p, chars::kValue)) ++p;
  return p;
}

#if defined(__SSE2__)
// Bytes of `v` in [lo, hi], as a byte mask (unsigned compare via min).
inline __m128i in_range(__m128i v, uint8_t lo, uint8_t hi) {
  const __m128i shifted = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>(lo)));
  const __m128i width = _mm_set1_epi8(static_cast<char>(hi - lo));
  return _mm_cmpeq_epi8(_mm_min_epu8(shifted, width), shifted);
}
#endif

// Returns the first byte in [p, end) that is not a tchar. Header names are
// short, so a byte loop would pay a mispredicted exit per header; the vector
// form finds the end with one ctz. tchar is VCHAR minus the delimiters
// "(),/:;<=>?@[\]{} and DQUOTE, tested here as ranges and single bytes.
inline const char* scan_token(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i stop = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x20)), v);  // CTL, SP
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x7f)), v));  // DEL, >= 0x80
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    stop = _mm_or_si128(stop, in_range(v, '(', ')'));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8(',')));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('/')));
    stop = _mm_or_si128(stop, in_range(v, ':', '@'));
    stop = _mm_or_si128(stop, in_range(v, '[', ']'));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('{')));
    stop = _mm_or_si128(stop, _mm_cmpeq_epi8(v, _mm_set1_epi8('}')));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && chars::has_class(*p, chars::kToken)) ++p;
  return p;
}

inline std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && chars::is_ows(v.front())) v.remove_prefix(1);
  while (!v.empty() && chars::is_ows(v.back())) v.remove_suffix(1);
  return v;
}

// A header name already scanned as a token (scan_token) against a name of
// lower-case letters, digits and '-', eight bytes per step, the last step
// overlapping the one before it (4 to 7 bytes: two 4-byte words). Setting
// bit 0x20 folds only letters correctly, but the only other bytes it could
// turn into a letter, a digit or '-' are controls (0x0d | 0x20 == '-'),
// and no tchar is one. Both parsers classify every header name with it.
inline bool token_iequals_lower(std::string_view token, std::string_view lower) {
  const size_t n = token.size();
  if (n != lower.size()) return false;
  const char* t = token.data();
  const char* l = lower.data();
  auto same8 = [t, l](size_t i) {
    uint64_t a, b;
    std::memcpy(&a, t + i, 8);
    std::memcpy(&b, l + i, 8);
    return (a | 0x2020202020202020ull) == b;
  };
  auto same4 = [t, l](size_t i) {
    uint32_t a, b;
    std::memcpy(&a, t + i, 4);
    std::memcpy(&b, l + i, 4);
    return (a | 0x20202020u) == b;
  };
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      if (!same8(i)) return false;
    }
    return n % 8 == 0 || same8(n - 8);
  }
  if (n >= 4) return same4(0) && same4(n - 4);
  for (size_t i = 0; i < n; ++i) {
    if ((t[i] | 0x20) != l[i]) return false;
  }
  return true;
}

}  // namespace aigw::http::scan
