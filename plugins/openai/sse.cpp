#include "sse.h"

#include <cstring>

#include "aigw_plugin.hpp"

namespace aigw::openai_plugin {

namespace {

constexpr uint32_t kEventCaptures = JsonScanner::kUsage | JsonScanner::kFinishReasons;

}  // namespace

namespace {

constexpr std::string_view kData = "data:";

// The value of an event that is a data line ending at `nl` and then only
// the blank line (LF or CRLF), as for_each_sse_field reads it.
bool data_line_value(std::string_view event, size_t nl, std::string_view& value) {
  const std::string_view rest = event.substr(nl + 1);
  if (rest != "\n" && rest != "\r\n") return false;
  value = event.substr(kData.size(), nl - kData.size());
  if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  return true;
}

}  // namespace

bool one_data_line(std::string_view event, std::string_view& value) {
  if (!event.starts_with(kData)) return false;
  const void* hit = std::memchr(event.data() + kData.size(), '\n', event.size() - kData.size());
  if (hit == nullptr) return false;
  return data_line_value(event, static_cast<size_t>(static_cast<const char*>(hit) - event.data()), value);
}

bool one_line_data(std::string_view event, std::string_view& value) {
  // One line: its LF is the one before the blank line at the event's end.
  if (!event.starts_with(kData) || !event.ends_with('\n')) return false;
  const size_t blank = event.ends_with("\r\n") ? 2 : 1;
  if (event.size() < kData.size() + blank + 1) return false;
  const size_t nl = event.size() - blank - 1;
  return event[nl] == '\n' && data_line_value(event, nl, value);
}

EventData read_event_data(std::string_view event, size_t lines, JsonScanner& scanner, ValueParser& values) {
  EventData out;
  std::string_view first;
  if (lines == 1 ? one_line_data(event, first) : lines == kLinesUnknown && one_data_line(event, first)) {
    out.data_lines = 1;
  } else {
    sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
      if (name != "data") return;  // event:, id:, retry: carry nothing we use
      if (out.data_lines == 0) first = value;
      ++out.data_lines;
    });
  }
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
    // The last events (the finish reason, the usage): one On-Demand pass
    // costs about a quarter of the scan and the usage's second parse.
    if (values.event(first, out.facts)) {
      out.one_pass = true;
      return out;
    }
    out.scanned = true;
    scanner.reset(kEventCaptures);
    scanner.feed(first);
    return out;
  }
  out.scanned = true;
  scanner.reset(kEventCaptures);
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
  // Byte patterns, not a parse: a false "yes" costs only the failover of a
  // response that has begun, a false "no" a held event until the next.
  // The text keys end in '"' ':' and the call keys hold a '_': walking the
  // colons and the underscores (a chunk has a dozen or so of each) finds
  // every occurrence with fewer stops than a search per pattern, each of
  // which stopped at every quote.
  static constexpr std::string_view kText[] = {"\"content\"", "\"text\"", "\"refusal\"",
                                               "\"reasoning_content\""};
  const char* const data = event.data();
  const size_t size = event.size();
  for (size_t from = 0; from < size;) {
    const void* hit = std::memchr(data + from, ':', size - from);
    if (hit == nullptr) break;
    const auto colon = static_cast<size_t>(static_cast<const char*>(hit) - data);
    from = colon + 1;
    // The four keys end in nt", xt" or al" right before the colon: one look
    // at three bytes skips the colons of every other key ("object",
    // "model", "role" ...) before any compare.
    if (colon < 3 || data[colon - 1] != '"') continue;
    const char last = data[colon - 2];
    const char second = data[colon - 3];
    if (!(last == 't' && (second == 'n' || second == 'x')) && !(last == 'l' && second == 'a')) continue;
    const std::string_view before = event.substr(0, colon);
    for (std::string_view key : kText) {
      if (!before.ends_with(key)) continue;
      size_t v = from;
      while (v < size && (event[v] == ' ' || event[v] == '\t')) ++v;
      if (v + 1 < size && event[v] == '"' && event[v + 1] != '"') return true;
    }
  }
  static constexpr std::string_view kCalls[] = {"\"tool_calls\"", "\"function_call\""};
  for (size_t from = 0; from < size;) {
    const void* hit = std::memchr(data + from, '_', size - from);
    if (hit == nullptr) break;
    const auto at = static_cast<size_t>(static_cast<const char*>(hit) - data);
    from = at + 1;
    // '_' is at index 5 of "tool_calls" and 9 of "function_call" (quotes
    // counted), and a 'c' follows it in both ("finish_reason" is skipped).
    if (from >= size || data[from] != 'c') continue;
    if (at >= 5 && event.substr(at - 5).starts_with(kCalls[0])) return true;
    if (at >= 9 && event.substr(at - 9).starts_with(kCalls[1])) return true;
  }
  return false;
}

}  // namespace aigw::openai_plugin
