// Gemini -> OpenAI: a generateContent answer, or one streamGenerateContent
// event at a time, as OpenAI Chat Completions bytes. Pure functions and a
// small state machine over bytes: no host calls, so that unit tests and the
// fuzz target drive them directly. The plugin glue (gemini_plugin.cpp,
// request.cpp) emits what they produce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "aigw_plugin.h"

namespace aigw::gemini_plugin {

// What the OpenAI answer echoes and how it is framed.
struct ChatContext {
  std::string id;            // "chatcmpl-..." made by the plugin
  std::string model;         // the model name the client asked for
  int64_t created = 0;       // Unix seconds
  bool include_usage = false;  // stream_options.include_usage: a usage chunk before [DONE]
};

struct Usage {
  bool present = false;
  uint64_t prompt = 0;       // promptTokenCount
  uint64_t completion = 0;   // candidatesTokenCount + thoughtsTokenCount
  uint64_t total = 0;        // totalTokenCount, else prompt + completion
  uint64_t cached = 0;       // cachedContentTokenCount
  uint64_t reasoning = 0;    // thoughtsTokenCount
};

// How the answer ended, for report_usage / report_finish_reason / finish.
struct Outcome {
  aigw_finish_reason finish = AIGW_FINISH_UNKNOWN;
  Usage usage;
  // A failure the client must see (MALFORMED_FUNCTION_CALL, a blocked
  // prompt, an error object inside a stream, JSON that is not a Gemini
  // answer): error is true, with an OpenAI error code and message.
  bool error = false;
  int status = 0;            // for a whole answer: the HTTP status to answer with
  std::string code;
  std::string message;
};

// A whole generateContent answer (HTTP 200) -> one chat.completion object
// in `out`. On error, `out` is left empty and outcome.error is set.
void translate_chat_response(std::string_view gemini_json, const ChatContext& ctx, std::string& out,
                             Outcome& outcome);

// A streamGenerateContent?alt=sse answer, one event's `data:` payload at a
// time (a GenerateContentResponse JSON).
class StreamTranslator {
 public:
  explicit StreamTranslator(ChatContext ctx);
  // Appends the OpenAI SSE events ("data: {...}\n\n") this event makes to
  // `out`: the role chunk first (once), text deltas, tool-call deltas with
  // their index, the finish chunk. Returns false when the stream must end
  // with an error (outcome().error is then set); `out` may still hold bytes
  // to send first.
  bool on_event(std::string_view data, std::string& out);
  // True once an event with content (text, a tool call) was appended: the
  // plugin calls host->commit after emitting it.
  bool content_started() const { return content_started_; }
  // The end of the upstream body: appends the finish chunk if none came,
  // the usage chunk when asked for, and "data: [DONE]\n\n".
  void finish(std::string& out);
  const Outcome& outcome() const { return outcome_; }

 private:
  ChatContext ctx_;
  Outcome outcome_;
  bool role_sent_ = false;
  bool content_started_ = false;
  bool finish_sent_ = false;
  bool saw_tool_call_ = false;
  uint32_t next_tool_index_ = 0;
};

// /v1/embeddings: a batchEmbedContents answer -> an OpenAI "list" of
// embeddings (`model` echoed). Usage is not reported by Gemini here.
void translate_embeddings_response(std::string_view gemini_json, std::string_view model, std::string& out,
                                   Outcome& outcome);

}  // namespace aigw::gemini_plugin
