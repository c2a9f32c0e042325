// Anthropic's Messages API in front of OpenAI-dialect plugins: the client's
// /v1/messages request becomes a Chat Completions request, and the plugin's
// OpenAI answer (whole, streamed, or an error) becomes Anthropic's. The
// gateway (src/gateway) uses these only for a plugin that does not serve the
// Messages API natively (aigw_hooks.native_dialects); a native plugin gets
// the client's bytes and its answer goes back untouched.
//
// Pure functions and one incremental stream translator: no I/O, no worker,
// unit-testable alone (tests/unit/translate/), fuzzed (tests/fuzz/).
// The mapping tables are in docs/anthropic.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aigw::translate {

// Why a Messages request cannot be translated: a 400 the client gets in
// Anthropic's error shape (invalid_request_error), with a sentence that names
// the field, e.g. "messages.2.content.0: unsupported block type 'document'".
struct RequestError {
  bool failed = false;
  std::string message;
  explicit operator bool() const { return failed; }
};

// The Messages request `anthropic_json` as a Chat Completions request body,
// written to `openai_json` (replaced). The model name stays the client's (the
// gateway finds it in the new body and the plugin splices its own name in, as
// for any OpenAI request). Streams ask for usage
// (stream_options.include_usage) so that message_delta can carry it. The
// input need not be padded.
RequestError messages_to_chat(std::string_view anthropic_json, std::string& openai_json);

// An estimate of the input tokens of a Messages request (count_tokens for a
// provider that cannot count, and message_start's input_tokens before the
// provider says): the characters of the text it carries (system, text
// blocks, tool names, descriptions and schemas, tool inputs and results)
// divided by four, rounded up; at least 1. Never fails: a body it cannot
// read counts its raw bytes.
uint64_t estimate_input_tokens(std::string_view anthropic_json);

// Anthropic's error `type` for an HTTP status: 400 invalid_request_error,
// 401 authentication_error, 402 billing_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 504
// timeout_error, 529 overloaded_error, other 4xx invalid_request_error,
// other 5xx api_error.
std::string_view error_type(int status);

// {"type":"error","error":{"type":<error_type(status)>,"message":<message>}}
// with `request_id` added at the top level when it is not empty.
std::string error_body(int status, std::string_view message, std::string_view request_id = {});

// An error answer a plugin made in OpenAI's shape ({"error":{"message",...}})
// in Anthropic's, keeping the message; anything else (not JSON, another
// shape) becomes a generic message for the status. Never fails.
std::string error_from_openai(int status, std::string_view openai_body, std::string_view request_id = {});

// A whole (not streamed) Chat Completions answer as a Messages answer:
// {"id","type":"message","role":"assistant","model","content":[...],
//  "stop_reason","stop_sequence":null,"usage":{...}}.
// `model` is the name the client asked for; `message_id` the id to use when
// the answer's own id cannot be used (it is "msg_" + the OpenAI id when that
// has only [A-Za-z0-9_-]). Returns false (and leaves `out` empty) when
// `openai_json` is not a Chat Completions answer; the caller then answers
// 502 api_error.
bool chat_to_message(std::string_view openai_json, std::string_view model,
                     std::string_view message_id, std::string& out);

// A Chat Completions event stream (the bytes of "data: {...}\n\n" events
// and a final "data: [DONE]", cut anywhere) as Messages events
// ("event: <type>\ndata: {...}\n\n"). One per streamed request.
class StreamToMessages {
 public:
  // `model`: the client's model name; `message_id`: as for chat_to_message;
  // `input_tokens_estimate`: message_start's input_tokens unless the first
  // chunk carries usage (estimate_input_tokens of the request).
  StreamToMessages(std::string_view model, std::string_view message_id,
                   uint64_t input_tokens_estimate);
  ~StreamToMessages();
  StreamToMessages(const StreamToMessages&) = delete;
  StreamToMessages& operator=(const StreamToMessages&) = delete;

  // Appends to `out` the Messages events that `bytes` completes. The first
  // chunk opens message_start; text, reasoning and each tool call get their
  // own content block (content_block_start, *_delta, content_block_stop);
  // an OpenAI error event becomes an `error` event and ends the stream.
  void feed(std::string_view bytes, std::string& out);

  // The upstream stream ended (cleanly or not): appends what is still owed
  // so that the client sees a complete sequence: the open block's
  // content_block_stop, message_delta (stop_reason, usage) and
  // message_stop. Nothing when the stream already ended (error or done).
  void finish(std::string& out);

  // Ends the stream with an `error` event of this status and message (the
  // provider failed after content); nothing more is written after it.
  void fail(int status, std::string_view message, std::string& out);

  // True once an event carrying content (a text, thinking or tool_use
  // block, or the end of the message) has been written: the gateway commits
  // the stream then.
  bool content_started() const;

  // The usage the stream reported (0 when none yet), for accounting.
  uint64_t prompt_tokens() const;
  uint64_t completion_tokens() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aigw::translate
