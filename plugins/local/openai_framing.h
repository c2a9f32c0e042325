// The OpenAI response objects the local plugin sends: whole responses,
// server-sent-event chunks for streams, and embeddings lists.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::local_plugin {

enum class ReplyKind { chat, completion };

class Framer {
 public:
  // `serial` makes the id ("chatcmpl-aigw-<serial>" or "cmpl-aigw-<serial>");
  // `model` must outlive the framer (it points into the client request).
  Framer(ReplyKind kind, uint64_t serial, int64_t created, std::string_view model,
         bool include_usage);

  // Appends one "data: {...}\n\n" event.
  void role_event(std::string& out) const;  // chat only: the assistant role, empty content
  void content_event(std::string& out, std::string_view text) const;
  void finish_event(std::string& out, std::string_view finish_reason) const;
  void usage_event(std::string& out, const aigw_usage& usage) const;
  static void done_event(std::string& out);

  // The non-stream response: chat.completion or text_completion.
  void full_response(std::string& out, std::string_view text, const aigw_usage& usage) const;

  ReplyKind kind() const { return kind_; }
  bool include_usage() const { return include_usage_; }

 private:
  void open_object(std::string& out, bool chunk) const;
  void close_chunk(std::string& out) const;

  ReplyKind kind_;
  uint64_t serial_;
  int64_t created_;
  std::string_view model_;
  bool include_usage_;
};

// The embeddings response: a list with one 8-dimensional vector per input,
// as JSON floats or base64 little-endian float32.
void embeddings_response(std::string& out, std::string_view model,
                         const std::vector<std::string>& inputs, bool base64,
                         const aigw_usage& usage);

void append_usage(std::string& out, const aigw_usage& usage, bool with_completion);

}  // namespace aigw::local_plugin
