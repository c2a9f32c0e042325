#include "sse.h"

#include <cstring>

#include "aigw_plugin.hpp"

namespace aigw::openai_plugin {

EventData read_event_data(std::string_view event, JsonScanner& scanner) {
  EventData out;
  std::string_view first;
  sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return;  // event:, id:, retry: carry nothing we use
    if (out.data_lines == 0) first = value;
    ++out.data_lines;
  });
  if (out.data_lines == 0) return out;
  if (out.data_lines == 1) {
    std::string_view payload = first;
    while (!payload.empty() && (payload.back() == ' ' || payload.back() == '\t')) payload.remove_suffix(1);
    out.done = payload == "[DONE]";
    if (out.done) return out;
    // Most events of a stream: a token, "finish_reason":null. The scan
    // would find nothing, so it is not run (it was 60% of a stream's
    // instructions).
    if (!may_hold_usage_or_finish(first)) {
      out.braced = braced(first);
      return out;
    }
    out.scanned = true;
    scanner.feed(first);
    return out;
  }
  out.scanned = true;
  bool more = false;
  sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return;
    if (more) scanner.feed("\n");
    scanner.feed(value);
    more = true;
  });
  return out;
}

bool carries_content(std::string_view event) {
  // Byte patterns, not a parse: the scanner already walked this event for
  // usage and finish_reason, and a false "yes" costs only the failover of
  // a response that has begun, a false "no" a held event until the next.
  // Every pattern starts with a quote, so one pass over the quotes finds
  // them all (a search per pattern stopped at each of the event's ~30
  // quotes again for each pattern).
  static constexpr std::string_view kText[] = {"content\":", "text\":", "refusal\":",
                                               "reasoning_content\":"};
  static constexpr std::string_view kCalls[] = {"tool_calls\"", "function_call\""};
  const char* const data = event.data();
  const size_t size = event.size();
  for (size_t at = 0; at < size; ++at) {
    const void* hit = std::memchr(data + at, '"', size - at);
    if (hit == nullptr) break;
    at = static_cast<size_t>(static_cast<const char*>(hit) - data);
    const std::string_view rest = event.substr(at + 1);
    // Most keys and values start with other letters: one test skips them.
    if (rest.empty() || std::string_view("ctrf").find(rest.front()) == std::string_view::npos) continue;
    for (std::string_view key : kText) {
      if (!rest.starts_with(key)) continue;
      size_t v = key.size();
      while (v < rest.size() && (rest[v] == ' ' || rest[v] == '\t')) ++v;
      if (v + 1 < rest.size() && rest[v] == '"' && rest[v + 1] != '"') return true;
    }
    for (std::string_view key : kCalls) {
      if (rest.starts_with(key)) return true;
    }
  }
  return false;
}

}  // namespace aigw::openai_plugin
