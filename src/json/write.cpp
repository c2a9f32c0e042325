#include "json/write.h"

#include "json/utf8.h"

namespace aigw::json {
namespace {

// Bytes that cannot be copied as they are: controls, DEL, the two JSON
// metacharacters, and every non-ASCII byte (checked as UTF-8).
bool special(unsigned char c) { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\'; }

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

void append_string(std::string& out, std::string_view s) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Most values (ids, names, paths, messages) are plain ASCII: copy the
    // longest plain run in one append.
    size_t plain = i;
    while (plain < s.size() && !special(static_cast<unsigned char>(s[plain]))) ++plain;
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
