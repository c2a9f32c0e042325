// Reading the client's OpenAI request body: only the fields the local
// plugin acts on, with every other value still validated so that malformed
// JSON is refused even where nobody looks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::local_plugin {

struct ParsedRequest {
  aigw_endpoint endpoint = 0;
  // chat: the text of the last "user" message ("" when there is none);
  // completions: the first prompt.
  std::string user_text;
  // What process mode writes to the child's stdin. chat: one "role: content"
  // line per message; completions: the first prompt as is.
  std::string transcript;
  // count_tokens over every message's text pieces, the used prompt, or every
  // embeddings input.
  uint64_t prompt_tokens = 0;
  bool include_usage = false;        // stream_options.include_usage
  std::vector<std::string> inputs;   // embeddings
  bool base64 = false;               // embeddings encoding_format
};

// Parses request bodies, keeping the simdjson parser's buffers between
// requests (one per worker). simdjson stays out of this header: it is the
// heaviest include by far, and only openai_request.cpp needs it.
class RequestParser {
 public:
  RequestParser();
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses the body (the chunks seen as one sequence). Returns AIGW_OK, or
  // AIGW_ERR_INVALID with a message for the client in `error`.
  aigw_status parse(aigw_endpoint endpoint, const aigw_host_bytes* body, size_t body_count,
                    ParsedRequest& out, std::string& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aigw::local_plugin
