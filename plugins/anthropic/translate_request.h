// OpenAI -> Anthropic: a Chat Completions body as a Messages API body. Pure
// functions over bytes (no host calls), so unit tests and the fuzz target
// drive them directly; request.cpp calls them from request_new, so that a
// refusal is a 400 before any upstream traffic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace aigw::anthropic_plugin {

// Anthropic requires max_tokens; a client that sends neither max_tokens nor
// max_completion_tokens gets this many (with thinking on: this many on top
// of the thinking budget, which must stay below max_tokens).
constexpr int64_t kDefaultMaxTokens = 4096;

struct ChatRequestInfo {
  bool stream = false;         // "stream": true
  bool include_usage = false;  // "stream_options": {"include_usage": true}
};

// Why a body was refused: the client gets HTTP 400 with `message`, which
// names the parameter.
struct RequestError {
  std::string param;
  std::string message;
};

// `upstream_model` is the model after model_map: Anthropic reads it from the
// body. On success `out` holds the whole Messages body (valid JSON, strings
// under the SDK's UTF-8 policy).
bool translate_chat_request(simdjson::dom::parser& parser, std::string_view openai_json,
                            std::string_view upstream_model, std::string& out,
                            ChatRequestInfo& info, RequestError& error);

// thinking.budget_tokens for an OpenAI reasoning_effort (0: thinking off);
// false for a value OpenAI does not define.
bool thinking_budget_for(std::string_view effort, int64_t& budget);

// Whether the model takes output_config.format (structured outputs), by
// Anthropic's list of models that support it.
bool supports_structured_output(std::string_view model);

}  // namespace aigw::anthropic_plugin
