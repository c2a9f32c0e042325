#include "sse.h"

#include "aigw_plugin.hpp"

namespace aigw::openai_plugin {

EventData read_event_data(std::string_view event, JsonScanner& scanner) {
  EventData out;
  std::string_view first;
  sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return;  // event:, id:, retry: carry nothing we use
    if (out.data_lines > 0) scanner.feed("\n");
    scanner.feed(value);
    if (out.data_lines == 0) first = value;
    ++out.data_lines;
  });
  if (out.data_lines == 1) {
    while (!first.empty() && (first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    out.done = first == "[DONE]";
  }
  return out;
}

bool carries_content(std::string_view event) {
  // Byte patterns, not a parse: the scanner already walked this event for
  // usage and finish_reason, and a false "yes" costs only the failover of
  // a response that has begun, a false "no" a held event until the next.
  static constexpr std::string_view kText[] = {"\"content\":", "\"text\":", "\"refusal\":",
                                               "\"reasoning_content\":"};
  for (std::string_view key : kText) {
    for (size_t at = event.find(key); at != std::string_view::npos; at = event.find(key, at + 1)) {
      size_t v = at + key.size();
      while (v < event.size() && (event[v] == ' ' || event[v] == '\t')) ++v;
      if (v + 1 < event.size() && event[v] == '"' && event[v + 1] != '"') return true;
    }
  }
  return event.find("\"tool_calls\"") != std::string_view::npos ||
         event.find("\"function_call\"") != std::string_view::npos;
}

}  // namespace aigw::openai_plugin
