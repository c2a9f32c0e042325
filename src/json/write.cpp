#include "json/write.h"

#include <cstdint>
#include <cstring>

#include "json/utf8.h"

namespace aigw::json {
namespace {

// Bytes that cannot be copied as they are: controls, DEL, the two JSON
// metacharacters, and every non-ASCII byte (checked as UTF-8).
bool special(unsigned char c) { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\'; }

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
