#include "config/quote.h"

namespace aigw::config {

namespace {

// Built by appending: `"literal" + std::string` trips a GCC 12 -Wrestrict
// false positive at -O3, and release builds use -Werror.
void append_escaped(std::string& q, std::string_view s, bool in_quotes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        q += in_quotes ? "\\\"" : "\"";
        break;
      case '\\':
        q += in_quotes ? "\\\\" : "\\";
        break;
      case '\n': q += "\\n"; break;
      case '\r': q += "\\r"; break;
      case '\t': q += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          q += "\\u00";
          q += kHex[c >> 4];
          q += kHex[c & 15];
        } else {
          q += ch;  // UTF-8 stays as written
        }
    }
  }
}

}  // namespace

std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  append_escaped(q, s, true);
  q += '"';
  return q;
}

std::string printable(std::string_view s) {
  std::string q;
  q.reserve(s.size());
  append_escaped(q, s, false);
  return q;
}

}  // namespace aigw::config
