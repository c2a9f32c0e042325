// What the gateway reads of an OpenAI request body before it routes: the
// model (with where its value sits, so an adapter can splice another name
// in without re-serialising), whether it streams, and the fields of the
// token estimate a limited key is charged up front. One pass with simdjson
// On-Demand over the padded copy the request keeps anyway; the rest of the
// body is the plugin's to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "limits/estimate.h"

namespace aigw::gateway {

struct BodyFacts {
  std::string model;
  uint64_t model_value_offset = 0;  // the model string's bytes, inside the quotes
  uint64_t model_value_len = 0;
  bool stream = false;
  limits::CompletionFields estimate;  // read only when asked for
  // What a plugin is told of the body's top level (ABI 1.5,
  // aigw_client_request.body_facts): AIGW_BODY_READ when the object was
  // read to its end with nothing after it, AIGW_BODY_HAS_STREAM_OPTIONS.
  uint32_t plugin_facts = 0;
};

// Why a body was refused: the client's status, error code and a sentence
// that says what is wrong and where.
struct BodyError {
  int status = 0;  // 0: none
  std::string_view code;
  std::string message;
  explicit operator bool() const { return status != 0; }
};

// application/json, or a structured +json type, with any parameters.
bool json_media_type(std::string_view content_type);

// The reader, kept by its caller (one per worker) so that simdjson's buffers
// are reused from request to request. simdjson stays out of this header: it
// is slow to compile and the gateway's headers are included widely.
class BodyParser {
 public:
  BodyParser();
  ~BodyParser();
  BodyParser(const BodyParser&) = delete;
  BodyParser& operator=(const BodyParser&) = delete;

  // Reads `json`, which must have simdjson's padding in its capacity past
  // its size (pad_body()). `want_estimate`: read max_tokens,
  // max_completion_tokens and n too. A missing model is not an error here.
  BodyError read(const std::string& json, bool want_estimate, BodyFacts& out);

 private:
  struct Impl;
  Impl* impl_;
};

// A copy of `body` with the capacity read() needs past its end.
std::string pad_body(std::string_view body);

}  // namespace aigw::gateway
