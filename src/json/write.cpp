#include "json/write.h"

#include <cstdint>
#include <cstring>

#include "json/plain.h"
#include "json/utf8.h"

namespace aigw::json {

namespace {

using plain_detail::special;

#if defined(__SSE2__)

using plain_detail::load16;
using plain_detail::special_mask;

// The end of the plain run that starts at `i`. Whatever is left is read in
// whole registers: past 16 bytes the last 16 overlap bytes already found
// plain (their bits are clear); 8 to 15 bytes as two 8-byte halves, 4 to 7
// as two 4-byte ones; so the first special byte is found without a byte loop.
size_t plain_run_end(std::string_view s, size_t i) {
  const char* p = s.data();
  const size_t n = s.size();
  if (n - i >= 16) {
    for (; i + 16 <= n; i += 16) {
      if (const int m = special_mask(load16(p + i))) return i + static_cast<size_t>(__builtin_ctz(m));
    }
    if (i == n) return n;
    const int m = special_mask(load16(p + n - 16));
    return m != 0 ? n - 16 + static_cast<size_t>(__builtin_ctz(m)) : n;
  }
  const size_t left = n - i;
  if (left >= 8) {
    const __m128i x = _mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i)),
                                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + n - 8)));
    const int m = special_mask(x);
    if (m == 0) return n;
    return (m & 0xff) != 0 ? i + static_cast<size_t>(__builtin_ctz(m)) : n - 8 + static_cast<size_t>(__builtin_ctz(m >> 8));
  }
  if (left >= 4) {
    int32_t lo, hi;
    std::memcpy(&lo, p + i, 4);
    std::memcpy(&hi, p + n - 4, 4);
    const int m = special_mask(_mm_unpacklo_epi32(_mm_cvtsi32_si128(lo), _mm_cvtsi32_si128(hi)));
    if ((m & 0xff) == 0) return n;
    return (m & 0xf) != 0 ? i + static_cast<size_t>(__builtin_ctz(m)) : n - 4 + static_cast<size_t>(__builtin_ctz(m >> 4));
  }
  while (i < n && !special(static_cast<unsigned char>(p[i]))) ++i;
  return i;
}

#else

// Whether any of the 8 bytes of `x` is special, a word at a time (access-log
// lines and error bodies are mostly long plain runs). Each test is the
// classic "has a zero byte" trick, which is exact about whether there is one.
bool word_has_special(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighs;  // a byte < 0x20
  return (below_space | (x & kHighs) | has_zero(x ^ (kOnes * 0x7f)) | has_zero(x ^ (kOnes * '"')) |
          has_zero(x ^ (kOnes * '\\'))) != 0;
}

// The end of the plain run that starts at `i`.
size_t plain_run_end(std::string_view s, size_t i) {
  while (i + 8 <= s.size()) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    if (word_has_special(x)) break;
    i += 8;
  }
  // Fewer than 8 left: the last 8 bytes as one word (they overlap what
  // was checked), so a plain string ends without a byte loop.
  if (i < s.size() && s.size() - i < 8 && s.size() >= 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + s.size() - 8, 8);
    if (!word_has_special(x)) return s.size();
  }
  while (i < s.size() && !special(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

#endif

void escape_control(std::string& out, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  switch (c) {
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out.append(u, sizeof u);
    }
  }
}

}  // namespace

#if !defined(__SSE2__)
// plain.h's word-at-a-time path, on the portable plain_run_end above.
char* plain_detail::copy_plain_portable(char* to, const char* p, size_t n) {
  if (plain_run_end(std::string_view(p, n), 0) != n) return nullptr;
  if (n > 0) std::memcpy(to, p, n);
  return to + n;
}
#endif

bool plain(std::string_view s) { return plain_run_end(s, 0) == s.size(); }

void append_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Most values (ids, names, paths, messages) are plain ASCII: copy the
    // longest plain run in one append.
    const size_t plain = plain_run_end(s, i);
    out.append(s.data() + i, plain - i);
    i = plain;
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x80) {
      escape_control(out, c);
      ++i;
    } else if (size_t n = utf8_sequence_length(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

}  // namespace aigw::json
