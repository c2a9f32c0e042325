#include "json/utf8.h"

namespace aigw::json {
namespace {

bool in(unsigned char c, unsigned char lo, unsigned char hi) { return c >= lo && c <= hi; }

}  // namespace

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const size_t left = s.size() - i;
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = at(0);
  if (c < 0x80) return 1;
  // The allowed range of the second byte depends on the first (Table 3-7 of
  // the Unicode standard): that is what rules out overlongs and surrogates.
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (in(c, 0xC2, 0xDF)) {
    len = 2;
  } else if (c == 0xE0) {
    len = 3, lo = 0xA0;
  } else if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) {
    len = 3;
  } else if (c == 0xED) {
    len = 3, hi = 0x9F;
  } else if (c == 0xF0) {
    len = 4, lo = 0x90;
  } else if (in(c, 0xF1, 0xF3)) {
    len = 4;
  } else if (c == 0xF4) {
    len = 4, hi = 0x8F;
  } else {
    return 0;
  }
  if (left < len || !in(at(1), lo, hi)) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (!in(at(k), 0x80, 0xBF)) return 0;
  }
  return len;
}

size_t utf8_valid_run(std::string_view s, size_t i) {
  size_t j = i;
  while (j < s.size()) {
    size_t n = utf8_sequence_length(s, j);
    if (n == 0) break;
    j += n;
  }
  return j - i;
}

}  // namespace aigw::json
