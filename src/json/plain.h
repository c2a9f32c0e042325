// Which bytes a JSON string carries as they are ("plain": printable ASCII
// but `"` and `\`), and the copy that checks them as it goes. One home for
// the test: append_string (write.cpp) finds plain runs with it, writers
// that place bytes themselves copy with copy_if_plain.
//
// Inline because the access log calls copy_if_plain for each of its short
// strings (ids, names, a path), where a call cost about as much as the
// check itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace aigw::json {

namespace plain_detail {

// Bytes that cannot be copied as they are: controls, DEL, the two JSON
// metacharacters, and every non-ASCII byte (checked as UTF-8).
inline bool special(unsigned char c) { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\'; }

#if defined(__SSE2__)

// 16 bytes at a time (SSE2 is part of x86-64): a bitmask of the special
// bytes. Each byte plus one, read as signed, is below 0x21 exactly for the
// controls (0x01..0x20), DEL and every byte >= 0x80 (negative, and 0xff
// wraps to 0): one add and one compare for all of them.
inline int special_mask(__m128i x) {
  const __m128i other = _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8(1)), _mm_set1_epi8(0x21));
  const __m128i quote = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
  const __m128i backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
  return _mm_movemask_epi8(_mm_or_si128(other, _mm_or_si128(quote, backslash)));
}

inline __m128i load16(const char* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

#else

// Word-at-a-time check and copy (write.cpp).
char* copy_plain_portable(char* to, const char* p, size_t n);

#endif

}  // namespace plain_detail

// plain(s) and the copy in one pass: when `s` is plain, copies it to `to`
// (room for s.size() bytes) and returns the end; otherwise returns nullptr,
// having written some unspecified part of `s` there. For writers that place
// bytes through a cursor (the access log).
//
// Each block is checked in the register it was loaded into and stored from
// there. Blocks as in plain_run_end (write.cpp): 16 bytes at a time, the
// rest as the last 16 (overlapping); 8 to 15 bytes as two 8-byte halves,
// 4 to 7 as two 4-byte ones.
inline char* copy_if_plain(char* to, std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
#if defined(__SSE2__)
  using plain_detail::load16;
  using plain_detail::special_mask;
  if (n >= 16) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m128i x = load16(p + i);
      if (special_mask(x) != 0) return nullptr;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i), x);
    }
    if (i < n) {
      const __m128i x = load16(p + n - 16);
      if (special_mask(x) != 0) return nullptr;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + n - 16), x);
    }
    return to + n;
  }
  if (n >= 8) {
    const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + n - 8));
    if (special_mask(_mm_unpacklo_epi64(lo, hi)) != 0) return nullptr;
    _mm_storel_epi64(reinterpret_cast<__m128i*>(to), lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(to + n - 8), hi);
    return to + n;
  }
  if (n >= 4) {
    int32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    if ((special_mask(_mm_unpacklo_epi32(_mm_cvtsi32_si128(lo), _mm_cvtsi32_si128(hi))) & 0xff) != 0) {
      return nullptr;
    }
    std::memcpy(to, &lo, 4);
    std::memcpy(to + n - 4, &hi, 4);
    return to + n;
  }
  for (size_t i = 0; i < n; ++i) {
    if (plain_detail::special(static_cast<unsigned char>(p[i]))) return nullptr;
    to[i] = p[i];
  }
  return to + n;
#else
  return plain_detail::copy_plain_portable(to, p, n);
#endif
}

}  // namespace aigw::json
