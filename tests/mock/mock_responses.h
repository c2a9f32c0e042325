// Canned OpenAI-shaped bodies and the SSE streams the mock sends, and the
// few facts it reads from a request body. Pure functions: no I/O here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::mock {

// The OpenAI error shape with `param` and `code` (an empty code is null).
std::string openai_error_body(std::string_view message, std::string_view type,
                              std::string_view code);

// What the mock needs from a request body; everything else is ignored.
struct RequestFacts {
  bool is_object = false;  // the body is a JSON object (false: not JSON, or another type)
  bool stream = false;     // "stream": true
  bool include_usage = false;  // "stream_options": {"include_usage": true}
  std::string model;       // empty when absent or not a string
  uint32_t inputs = 1;     // embeddings: how many strings "input" holds
};

// simdjson On-Demand behind a small face, so only this file and replay.cpp
// pay for including simdjson.h. One per worker thread (the parser keeps its
// buffers between requests).
class FactsReader {
 public:
  FactsReader();
  ~FactsReader();
  FactsReader(const FactsReader&) = delete;
  FactsReader& operator=(const FactsReader&) = delete;

  RequestFacts read(std::string_view body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Identity and size of one synthetic completion.
struct Completion {
  std::string id;
  std::string model;
  int64_t created = 0;
  uint32_t prompt_tokens = 1;
  uint32_t completion_tokens = 16;
};

// Token k of the synthetic text: "tok0", " tok1", " tok2", ... so that the
// stream's deltas concatenate to the non-stream content "tok0 tok1 tok2".
void append_token(std::string& out, uint32_t k);

std::string chat_completion_body(const Completion& c);
std::string text_completion_body(const Completion& c);
std::string embeddings_body(std::string_view model, uint32_t inputs, uint32_t prompt_tokens);
std::string models_body(const std::vector<std::string>& models);

enum class StreamKind : uint8_t { chat, completion, garbage, replay };

struct StreamSpec {
  StreamKind kind = StreamKind::chat;
  Completion completion;        // chat, completion: tokens = completion_tokens
  bool include_usage = false;   // chat, completion: a usage chunk before [DONE]
  bool done_event = true;       // false: no `data: [DONE]` (fault no-done)
  std::string_view replay_body; // replay: recorded SSE text, owned by the replay table
  uint32_t garbage_lines = 16;  // garbage: how many lines
};

// Produces a stream's events one at a time, on demand: a long stream costs
// one event of memory, not the whole body.
//
// Pacing: every event has a slot and is due at start + slot * interval.
// Synthetic streams: the role chunk and token 0 go at slot 0, token k at
// slot k, and the finish, usage and [DONE] events right after the last
// token, so N tokens take (N-1) intervals. Replay and garbage streams: event
// i at slot i.
class StreamGen {
 public:
  void start(StreamSpec spec);
  // False when no event is left.
  bool peek_slot(uint32_t& slot) const;
  // Appends the next event's SSE text (not chunk-framed) to `out`.
  void next(std::string& out);

 private:
  uint32_t count() const;
  StreamSpec spec_;
  uint32_t index_ = 0;
  size_t replay_off_ = 0;
};

}  // namespace aigw::mock
