#include "splice.h"

namespace aigw::openai_plugin {

size_t splice_chunks(const aigw_host_bytes* body, size_t body_count, const Edit* edits,
                     size_t edit_count, aigw_plugin_bytes* out) {
  uint64_t total = 0;
  for (size_t i = 0; i < body_count; ++i) total += body[i].len;
  uint64_t prev_end = 0;
  for (size_t k = 0; k < edit_count; ++k) {
    if (edits[k].offset < prev_end || edits[k].offset > total ||
        edits[k].remove > total - edits[k].offset) {
      return SIZE_MAX;
    }
    prev_end = edits[k].offset + edits[k].remove;
  }

  size_t n = 0;
  size_t ci = 0;        // the chunk holding position `cstart`..
  uint64_t cstart = 0;  // ..which starts here in the sequence
  // Ranges come in increasing order, so the chunk walk never goes back.
  auto copy_range = [&](uint64_t from, uint64_t to) {
    while (from < to) {
      while (ci < body_count && cstart + body[ci].len <= from) {
        cstart += body[ci].len;
        ++ci;
      }
      uint64_t end = cstart + body[ci].len < to ? cstart + body[ci].len : to;
      out[n++] = {body[ci].ptr + (from - cstart), static_cast<size_t>(end - from)};
      from = end;
    }
  };
  uint64_t pos = 0;
  for (size_t k = 0; k < edit_count; ++k) {
    copy_range(pos, edits[k].offset);
    if (!edits[k].insert.empty()) {
      out[n++] = {reinterpret_cast<const uint8_t*>(edits[k].insert.data()),
                  edits[k].insert.size()};
    }
    pos = edits[k].offset + edits[k].remove;
  }
  copy_range(pos, total);
  return n;
}

void append_path_segment(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace aigw::openai_plugin
