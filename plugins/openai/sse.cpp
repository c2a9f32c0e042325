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

}  // namespace aigw::openai_plugin
