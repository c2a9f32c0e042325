// Writing HTTP/1.1 responses into a connection's output buffer.
//
// Responses are appended to a std::string the connection owns; the bytes are
// handed to the kernel by one send per event-loop turn, so pipelined responses
// coalesce into one write.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::http {

struct ResponseHeader {
  std::string_view name;
  std::string_view value;
};

// Which API's error shape the gateway's own error answers take: OpenAI's on
// the OpenAI routes, Anthropic's on /v1/messages (src/translate/messages.h).
enum class ErrorShape : uint8_t { openai, anthropic };

struct ResponseMeta {
  int version_minor = 1;     // HTTP/1.0 clients get HTTP/1.1 responses but keep-alive rules of 1.0
  bool keep_alive = true;    // false adds "Connection: close"
  bool head_only = false;    // HEAD: headers with the Content-Length a GET would get, no body
  std::string_view date;     // preformatted IMF-fixdate, cached per second by the worker
  std::string_view request_id;  // non-empty: sent as x-request-id
  ErrorShape errors = ErrorShape::openai;
};

std::string_view status_reason(int status);

// A complete response with a Content-Length body.
void write_response(std::string& out, int status, const ResponseMeta& meta,
                    std::string_view content_type, std::string_view body,
                    std::initializer_list<ResponseHeader> extra = {});

// The same with headers from a runtime list (plugins choose their own).
void write_response(std::string& out, int status, const ResponseMeta& meta,
                    std::string_view content_type, std::string_view body,
                    const ResponseHeader* extra, size_t extra_count);

// At least the bytes a head written by write_response or write_stream_head
// takes, with these extra headers: for a caller that reserves once for the
// head and what follows it.
size_t head_bound(const ResponseMeta& meta, const ResponseHeader* extra, size_t extra_count);

// The head of a response whose body follows in chunks (Transfer-Encoding:
// chunked), or, for an HTTP/1.0 client, until the connection closes.
void write_stream_head(std::string& out, int status, const ResponseMeta& meta,
                       const ResponseHeader* extra, size_t extra_count);

// One chunk of a chunked body; an empty `data` writes nothing (the last
// chunk is written by write_last_chunk).
void write_chunk(std::string& out, std::string_view data);
// A chunk's size line alone ("1a\r\n"), written into `buf`, for a chunk
// gathered from parts without a join (the view points into `buf`): `size`
// bytes of data and "\r\n" must follow. `size` must not be 0 (that is the
// last chunk).
using ChunkSizeText = std::array<char, 20>;
std::string_view chunk_size_line(ChunkSizeText& buf, size_t size);
void write_last_chunk(std::string& out);

// An error answer in meta.errors' shape. OpenAI's:
// {"error":{"message":...,"type":...,"code":...}}, `type` by status:
// invalid_request_error for 4xx, server_error for 5xx. Anthropic's:
// {"type":"error","error":{"type":...,"message":...},"request_id":...}, its
// type by status (translate::error_type); `code` has no place there.
void write_error(std::string& out, int status, const ResponseMeta& meta, std::string_view code,
                 std::string_view message, std::initializer_list<ResponseHeader> extra = {});
void write_error(std::string& out, int status, const ResponseMeta& meta, std::string_view code,
                 std::string_view message, const ResponseHeader* extra, size_t extra_count);

// Just the JSON body of an error, for callers that frame it themselves (e.g.
// an SSE error event).
std::string error_body(int status, std::string_view code, std::string_view message);
std::string error_body(const ResponseMeta& meta, int status, std::string_view code,
                       std::string_view message);

// A stream's last event for an error after content: OpenAI's
// "data: {error}\n\n", or Anthropic's "event: error\ndata: {...}\n\n".
std::string error_event(const ResponseMeta& meta, int status, std::string_view code,
                        std::string_view message);

// Formats `t` (seconds since the epoch) as an IMF-fixdate for the Date header.
// Returns the number of bytes written into `buf` (29).
size_t format_http_date(long t, char (&buf)[32]);

}  // namespace aigw::http
