// Anthropic -> OpenAI: a Messages answer, or one streamed event at a time,
// as OpenAI Chat Completions bytes. Pure functions and a small state
// machine over bytes: no host calls, so that unit tests and the fuzz target
// drive them directly. request.cpp emits what they produce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aigw_plugin.h"

namespace aigw::anthropic_plugin {

// What the OpenAI answer echoes and how it is framed.
struct ChatContext {
  std::string id;              // "chatcmpl-..." made by the plugin
  std::string model;           // the model name the client asked for
  int64_t created = 0;         // Unix seconds
  bool include_usage = false;  // stream_options.include_usage: a usage chunk before [DONE]
};

struct Usage {
  bool present = false;
  uint64_t input = 0;           // input_tokens (the uncached part)
  uint64_t cache_creation = 0;  // cache_creation_input_tokens
  uint64_t cache_read = 0;      // cache_read_input_tokens
  uint64_t output = 0;          // output_tokens (thinking included)
  // OpenAI's prompt_tokens: every input token, cached or not.
  uint64_t prompt() const { return input + cache_creation + cache_read; }
};

// How the answer ended, for report_usage / report_finish_reason / finish.
struct Outcome {
  aigw_finish_reason finish = AIGW_FINISH_UNKNOWN;
  Usage usage;
  // A failure the client must see (an `error` event, JSON that is not an
  // Anthropic answer): error is true, with the HTTP status Anthropic gives
  // that error, an OpenAI error code and a message.
  bool error = false;
  int status = 0;
  std::string code;
  std::string message;
};

// Reads the counts present in an Anthropic usage object into `usage`;
// absent ones keep their value (message_delta repeats only some). Shared
// with the native pass-through, which accounts the same way.
void read_usage(simdjson::dom::element u, Usage& usage);

// stop_reason -> OpenAI finish_reason and aigw's report. end_turn,
// stop_sequence: stop; max_tokens, model_context_window_exceeded: length;
// tool_use: tool_calls; refusal: content_filter; pause_turn and anything
// unknown: stop (reported as unknown).
std::string_view finish_reason_for(std::string_view stop_reason, aigw_finish_reason& report);

// A whole Messages answer (HTTP 200) -> one chat.completion object in
// `out`. On error `out` is left empty and outcome.error is set.
//
// text blocks become content, thinking blocks reasoning_content (a field
// clients that do not know it ignore), tool_use blocks tool_calls with
// `arguments` a JSON string ("{}" for empty input). The thinking and
// redacted_thinking blocks before the first tool_use travel in that call's
// id (thinking_carry.h). Server-side tool blocks (server_tool_use and their
// *_tool_result) are Anthropic's own work, not the client's to run: left out.
void translate_chat_response(simdjson::dom::parser& parser, std::string_view json,
                             const ChatContext& ctx, std::string& out, Outcome& outcome);

// The usage object OpenAI writes, from Anthropic's counts.
void append_usage(std::string& out, const Usage& u);

// A /v1/messages stream, one event's `data:` payload at a time (the event's
// name is also its "type" member, which is what is read).
class StreamTranslator {
 public:
  explicit StreamTranslator(ChatContext ctx);
  // Appends the OpenAI SSE events this event makes: the role chunk at
  // message_start, text and reasoning deltas, tool-call deltas with their
  // index, and at message_stop the finish chunk, the usage chunk when asked
  // for and "data: [DONE]". Returns false when the stream must end with an
  // error (an `error` event, an event that does not parse): outcome() then
  // says which; `out` may still hold bytes to send first.
  bool on_event(std::string_view data, std::string& out);
  // True once text, reasoning or a tool call was appended.
  bool content_started() const { return content_started_; }
  // True once message_stop was translated: the answer is whole. A body that
  // ends before it was cut.
  bool ended() const { return ended_; }
  const Outcome& outcome() const { return outcome_; }

 private:
  enum class Kind { kOther, kText, kThinking, kRedacted, kToolUse };
  struct Block {
    Kind kind = Kind::kOther;
    std::string thinking;   // a thinking block's text so far
    std::string signature;  // its signature_delta(s)
    std::string data;       // a redacted_thinking block's data
    uint32_t tool_index = 0;
    bool args_sent = false;  // an arguments fragment went out
  };
  Block* block(int64_t index);
  void chunk(std::string& out, std::string_view delta, std::string_view finish);
  bool fail(int status, std::string code, std::string message);

  ChatContext ctx_;
  Outcome outcome_;
  simdjson::dom::parser parser_;
  std::vector<Block> blocks_;
  std::string carry_;  // thinking blocks since the message began, not yet carried
  std::string stop_reason_;
  uint32_t next_tool_index_ = 0;
  bool role_sent_ = false;
  bool content_started_ = false;
  bool ended_ = false;
  bool failed_ = false;
};

}  // namespace aigw::anthropic_plugin
