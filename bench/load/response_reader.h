// Reads one HTTP/1.1 response after another from a connection's byte stream:
// the head (src/http/response_parser.h, strict, so a garbled answer counts as
// bad_response), then the body framed by Content-Length, chunked transfer
// coding or the end of the connection. Bodies are counted, not kept, except an
// event stream's, which is handed back decoded so the stream timing can read
// its events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/request.h"
#include "http/response_parser.h"

namespace aigw::bench {

// What the bench needs to know about a response once its head is in.
struct ResponseInfo {
  int status = 0;
  bool event_stream = false;  // Content-Type: text/event-stream
  bool keep_alive = true;     // the connection can carry the next request
  http::ResponseBodyKind body = http::ResponseBodyKind::none;
  uint64_t content_length = 0;
};

class ResponseReader {
 public:
  enum class Result : uint8_t { need_more, done, error };

  // Forget everything: the next byte starts a response.
  void reset();

  // Consumes a prefix of `in`. On done the response is complete and bytes
  // after it (`consumed` < size) belong to whatever comes next. Event-stream
  // body bytes, decoded, are appended to `stream_body`.
  Result feed(std::string_view in, size_t& consumed, std::string& stream_body);

  // The peer closed the connection: done if the body was close-delimited,
  // error otherwise (the response was cut short).
  Result on_eof();

  bool head_complete() const { return state_ != State::head; }
  const ResponseInfo& info() const { return info_; }
  const char* error() const { return error_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State : uint8_t { head, body, done, failed };
  Result fail(const char* why) {
    state_ = State::failed;
    error_ = why;
    return Result::error;
  }
  // Parses a head from `data`; returns need_more (incomplete, or a 1xx that
  // was skipped: `consumed` says how much), done (a body-less response) or
  // error. On success sets state_ body or done.
  Result parse_head(std::string_view data, size_t& consumed);

  State state_ = State::head;
  ResponseInfo info_;
  http::ResponseHead head_;  // reused: keeps its header vector's capacity
  http::ResponseLimits limits_;
  std::string head_buf_;     // a head that arrived in pieces
  uint64_t left_ = 0;        // Content-Length bytes still to come
  uint64_t body_bytes_ = 0;
  http::ChunkedDecoder chunked_;
  std::string scratch_;      // decoded chunked payload of a body nobody reads
  const char* error_ = "";
};

}  // namespace aigw::bench
