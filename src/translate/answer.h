// What the whole answer (reply.cpp) and the stream (stream.cpp) write the
// same way: stop_reason from finish_reason, the message id, and usage.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "translate/json_value.h"

namespace aigw::translate::detail {

// OpenAI finish_reason -> Anthropic stop_reason. Anything unknown (or null)
// is end_turn: the model stopped and nothing says why.
std::string_view stop_reason(std::string_view finish_reason);

// "msg_" + the OpenAI id when it has only [A-Za-z0-9_-] (so it is safe in a
// header, a log and an SDK's id checks), else `fallback`; written as a JSON
// string.
void append_message_id(std::string& out, std::string_view openai_id, std::string_view fallback);

// OpenAI usage as Anthropic counts it: prompt tokens include the cached
// ones, Anthropic's input_tokens do not.
struct Usage {
  uint64_t prompt = 0;
  uint64_t completion = 0;
  uint64_t cached = 0;
  uint64_t input() const { return prompt > cached ? prompt - cached : 0; }
};

// Reads {"prompt_tokens","completion_tokens","prompt_tokens_details":{"cached_tokens"}}.
Usage read_usage(element usage);

}  // namespace aigw::translate::detail
