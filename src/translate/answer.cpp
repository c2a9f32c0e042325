#include "translate/answer.h"

#include "json/write.h"

namespace aigw::translate::detail {

std::string_view stop_reason(std::string_view finish_reason) {
  if (finish_reason == "stop") return "end_turn";
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls" || finish_reason == "function_call") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return "end_turn";
}

void append_message_id(std::string& out, std::string_view openai_id, std::string_view fallback) {
  bool usable = !openai_id.empty();
  for (char c : openai_id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      usable = false;
      break;
    }
  }
  if (!usable) {
    json::append_string(out, fallback);
    return;
  }
  std::string id = "msg_";
  id += openai_id;
  json::append_string(out, id);
}

Usage read_usage(element usage) {
  Usage u;
  if (!usage.is_object()) return u;
  u.prompt = count_member(usage, "prompt_tokens");
  u.completion = count_member(usage, "completion_tokens");
  element details;
  if (member(usage, "prompt_tokens_details", details)) u.cached = count_member(details, "cached_tokens");
  return u;
}

}  // namespace aigw::translate::detail
