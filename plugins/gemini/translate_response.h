// Gemini -> OpenAI: a generateContent answer, or one streamGenerateContent
// event at a time, as OpenAI Chat Completions bytes. Pure functions and a
// small state machine over bytes: no host calls, so that unit tests and the
// fuzz target drive them directly. The plugin glue (gemini_plugin.cpp,
// request.cpp) emits what they produce.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
//
// Tool-call ids, here and in streams, are make_tool_call_id(serial,
// thoughtSignature) with one process-wide serial that starts at a random
// value: an id must not repeat within a conversation, and a conversation
// outlives the process. A functionCall answered by a functionResponse in
// the same answer was run by Gemini itself (server-side tools) and is not
// passed on. Parts with no place in a chat completion (inlineData,
// executableCode, ...) are left out.
void translate_chat_response(std::string_view gemini_json, const ChatContext& ctx, std::string& out,
                             Outcome& outcome);

// A streamGenerateContent?alt=sse answer, one event's `data:` payload at a
// time (a GenerateContentResponse JSON).
class StreamTranslator {
 public:
  explicit StreamTranslator(ChatContext ctx);
  // Appends the OpenAI SSE events ("data: {...}\n\n") this event makes to
  // `out`: the role chunk first (once per choice), text and reasoning
  // deltas, tool-call deltas with their index. Returns false when the
  // stream must end with an error (outcome().error is then set); `out` may
  // still hold bytes to send first.
  //
  // Two things wait for a later event or finish(), because Gemini's
  // server-side tools (recorded: a built-in MCP server) stream a
  // functionCall with finishReason STOP, then in the next event the
  // functionResponse Gemini got by running it itself, then more text:
  //   - a functionCall is held until the next event of its candidate (or
  //     finish()); one answered by a functionResponse there was run by
  //     Gemini and is not the client's to run, so it is dropped;
  //   - the finish chunk is written by finish(), with the last finishReason.
  bool on_event(std::string_view data, std::string& out);
  // True once text, reasoning or a tool call was appended: the plugin calls
  // host->commit after emitting it. finish() can make it true as well (a
  // held tool call), so ask again after finish().
  bool content_started() const { return content_started_; }
  // The end of the upstream body: appends held tool calls, the finish
  // chunk, the usage chunk when asked for, and "data: [DONE]\n\n". A
  // stream that carried no candidate at all is not an answer: then nothing
  // is appended and outcome().error is set (502 bad_upstream_response).
  // Nothing is appended after on_event returned false either.
  void finish(std::string& out);
  const Outcome& outcome() const { return outcome_; }
  // True once an event's candidate carried a finishReason. Gemini's last
  // event has one, so a body that ends before it was cut; finish() cannot
  // tell, as it takes a missing reason for STOP. Read from the parse that
  // on_event does anyway: a second parse of every event only for this was
  // a quarter of the plugin's work per event (bench/micro/gemini_bench).
  bool finish_reason_seen() const { return finish_reason_seen_; }

 private:
  struct HeldCall {
    std::string name;
    std::string id;  // Gemini's functionCall.id, when it sent one
    std::string arguments;  // the args object as JSON text
    std::string signature;  // thoughtSignature, standard base64
  };
  // One per OpenAI choice (Gemini candidate index).
  struct Choice {
    uint32_t index = 0;
    bool role_sent = false;
    bool saw_tool_call = false;  // a tool call went to the client
    uint32_t next_tool_index = 0;
    std::string finish_reason;  // the last finishReason Gemini sent
    std::vector<HeldCall> held;
  };
  Choice& choice(uint32_t index);
  void flush_held(Choice& c, std::string& out);
  bool fail(int status, std::string code, std::string message);

  ChatContext ctx_;
  std::string chunk_prefix_;  // "data: {\"id\":...,\"choices\":[{\"index\":" of every chunk
  Outcome outcome_;
  std::vector<Choice> choices_;
  bool content_started_ = false;
  bool finish_reason_seen_ = false;
  bool finished_ = false;
};

// /v1/embeddings: a batchEmbedContents answer -> an OpenAI "list" of
// embeddings (`model` echoed). Usage is not reported by Gemini here.
// `vertex_predict`: Vertex's :predict answer instead,
// {predictions: [{embeddings: {values, statistics: {token_count}}}]}, whose
// token counts become the usage.
void translate_embeddings_response(std::string_view gemini_json, std::string_view model, std::string& out,
                                   Outcome& outcome, bool vertex_predict = false);

}  // namespace aigw::gemini_plugin
