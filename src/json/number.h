// Decimal integers written through a cursor, for the writers that place
// bytes themselves (the access log's line, a peer's port).
//
// std::to_chars first counts the digits with a loop over powers of 10^4 and
// then writes pairs; for the numbers a log line holds (a status, token
// counts, milliseconds, a port: nearly all under 10^8) that count is most of
// its cost. Here the size is found by at most three compares, and each pair
// of digits is one 2-byte copy from a table.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>

namespace aigw::json {

namespace number_detail {

struct DigitPairs {
  char text[200] = {};
  constexpr DigitPairs() {
    for (int v = 0; v < 100; ++v) {
      text[2 * v] = static_cast<char>('0' + v / 10);
      text[2 * v + 1] = static_cast<char>('0' + v % 10);
    }
  }
};
inline constexpr DigitPairs kPairs;

inline char* pair(char* p, uint32_t v) {  // v < 100: exactly two digits
  std::memcpy(p, kPairs.text + 2 * v, 2);
  return p + 2;
}

inline char* up_to_4(char* p, uint32_t v) {  // v < 10000, no leading zeros
  if (v < 100) {
    if (v < 10) {
      *p = static_cast<char>('0' + v);
      return p + 1;
    }
    return pair(p, v);
  }
  const uint32_t hi = v / 100, lo = v % 100;
  if (hi < 10) {
    *p++ = static_cast<char>('0' + hi);
  } else {
    p = pair(p, hi);
  }
  return pair(p, lo);
}

}  // namespace number_detail

// Writes 0 <= v < 100 as exactly two digits ("07"); returns the end.
inline char* write_two_digits(char* p, uint32_t v) { return number_detail::pair(p, v); }

// The most bytes write_uint / write_int write.
inline constexpr size_t kMaxIntegerBytes = 20;

// Writes `v` in decimal at `p` (room for kMaxIntegerBytes) and returns the
// end. Same text as std::to_chars.
inline char* write_uint(char* p, uint64_t v) {
  using namespace number_detail;
  if (v < 10000) return up_to_4(p, static_cast<uint32_t>(v));
  if (v < 100000000) {
    const auto w = static_cast<uint32_t>(v);
    p = up_to_4(p, w / 10000);
    const uint32_t lo = w % 10000;
    p = pair(p, lo / 100);
    return pair(p, lo % 100);
  }
  return std::to_chars(p, p + kMaxIntegerBytes, v).ptr;  // rare: let the library count
}

inline char* write_int(char* p, int64_t v) {
  if (v >= 0) return write_uint(p, static_cast<uint64_t>(v));
  *p = '-';
  // Negated in unsigned arithmetic: INT64_MIN has no positive int64.
  return write_uint(p + 1, 0 - static_cast<uint64_t>(v));
}

}  // namespace aigw::json
