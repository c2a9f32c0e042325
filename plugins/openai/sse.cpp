#include "sse.h"

#include <cstring>

namespace aigw::openai_plugin {

size_t SseSplitter::find_end(std::string_view bytes, size_t from) {
  size_t i = from;
  while (i < bytes.size()) {
    const void* hit = std::memchr(bytes.data() + i, '\n', bytes.size() - i);
    if (hit == nullptr) {
      if (bytes.find_first_not_of('\r', i) != std::string_view::npos) line_dirty_ = true;
      return std::string_view::npos;
    }
    size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - bytes.data());
    bool blank = !line_dirty_ && bytes.substr(i, nl - i).find_first_not_of('\r') ==
                                     std::string_view::npos;
    line_dirty_ = false;
    i = nl + 1;
    if (blank) return i;
  }
  return std::string_view::npos;
}

EventData read_event_data(std::string_view event, JsonScanner& scanner) {
  EventData out;
  std::string_view first;
  size_t pos = 0;
  while (pos < event.size()) {
    size_t nl = event.find('\n', pos);
    if (nl == std::string_view::npos) nl = event.size();
    std::string_view line = event.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == ':') continue;  // blank, or a comment
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (name != "data") continue;  // event:, id:, retry: carry nothing we use
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (out.data_lines > 0) scanner.feed("\n");
    scanner.feed(value);
    if (out.data_lines == 0) first = value;
    ++out.data_lines;
  }
  if (out.data_lines == 1) {
    while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    out.done = first == "[DONE]";
  }
  return out;
}

}  // namespace aigw::openai_plugin
