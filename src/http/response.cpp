#include "http/response.h"

#include <ctime>

#include "json/number.h"
#include "json/write.h"
#include "translate/messages.h"

namespace aigw::http {

std::string_view status_reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {

void append_uint(std::string& out, uint64_t v) {
  char buf[json::kMaxIntegerBytes];
  out.append(buf, static_cast<size_t>(json::write_uint(buf, v) - buf));
}

}  // namespace

void write_response(std::string& out, int status, const ResponseMeta& meta,
                    std::string_view content_type, std::string_view body,
                    std::initializer_list<ResponseHeader> extra) {
  write_response(out, status, meta, content_type, body, extra.begin(), extra.size());
}

namespace {

void write_status_and_common(std::string& out, int status, const ResponseMeta& meta) {
  out.append("HTTP/1.1 ");
  append_uint(out, static_cast<uint64_t>(status));
  out.push_back(' ');
  out.append(status_reason(status));
  out.append("\r\nServer: aigw\r\n");
  if (!meta.date.empty()) {
    out.append("Date: ");
    out.append(meta.date);
    out.append("\r\n");
  }
  if (!meta.request_id.empty()) {
    out.append("x-request-id: ");
    out.append(meta.request_id);
    out.append("\r\n");
  }
}

void write_extra(std::string& out, const ResponseHeader* extra, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    out.append(extra[i].name);
    out.append(": ");
    out.append(extra[i].value);
    out.append("\r\n");
  }
}

}  // namespace

// The status line, Server, Date, x-request-id and the framing lines take
// under 200 bytes; each extra header its name, value, ": " and CRLF. The
// head is then written into one allocation, not grown five times over.
size_t head_bound(const ResponseMeta& meta, const ResponseHeader* extra, size_t extra_count) {
  size_t bytes = 256 + meta.date.size() + meta.request_id.size();
  for (size_t i = 0; i < extra_count; ++i) bytes += extra[i].name.size() + extra[i].value.size() + 4;
  return bytes;
}

void write_stream_head(std::string& out, int status, const ResponseMeta& meta,
                       const ResponseHeader* extra, size_t extra_count) {
  out.reserve(out.size() + head_bound(meta, extra, extra_count));
  write_status_and_common(out, status, meta);
  write_extra(out, extra, extra_count);
  if (meta.version_minor == 0) {
    out.append("Connection: close\r\n\r\n");  // HTTP/1.0: the close ends the body
    return;
  }
  out.append("Transfer-Encoding: chunked\r\n");
  if (!meta.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
}

std::string_view chunk_size_line(ChunkSizeText& buf, size_t size) {
  static const char hex[] = "0123456789abcdef";
  char* const end = buf.data() + buf.size();
  char* p = end;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = hex[size & 15];
    size >>= 4;
  } while (size != 0);
  return {p, static_cast<size_t>(end - p)};
}

void write_chunk(std::string& out, std::string_view data) {
  if (data.empty()) return;
  out.reserve(out.size() + data.size() + 20);  // one allocation at most
  ChunkSizeText size;
  out.append(chunk_size_line(size, data.size()));
  out.append(data);
  out.append("\r\n");
}

void write_last_chunk(std::string& out) { out.append("0\r\n\r\n"); }

void write_response(std::string& out, int status, const ResponseMeta& meta,
                    std::string_view content_type, std::string_view body,
                    const ResponseHeader* extra_list, size_t extra_count) {
  out.reserve(out.size() + head_bound(meta, extra_list, extra_count) + content_type.size() +
              (meta.head_only ? 0 : body.size()));
  write_status_and_common(out, status, meta);
  if (!content_type.empty()) {
    out.append("Content-Type: ");
    out.append(content_type);
    out.append("\r\n");
  }
  out.append("Content-Length: ");
  append_uint(out, body.size());
  out.append("\r\n");
  write_extra(out, extra_list, extra_count);
  if (!meta.keep_alive) {
    out.append("Connection: close\r\n");
  } else if (meta.version_minor == 0) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!meta.head_only) out.append(body);
}

std::string error_body(int status, std::string_view code, std::string_view message) {
  std::string body;
  body.reserve(64 + message.size() + code.size());
  body.append("{\"error\":{\"message\":");
  json::append_string(body, message);
  body.append(",\"type\":");
  json::append_string(body, status >= 500 ? "server_error" : "invalid_request_error");
  body.append(",\"code\":");
  json::append_string(body, code);
  body.append("}}");
  return body;
}

std::string error_body(const ResponseMeta& meta, int status, std::string_view code,
                       std::string_view message) {
  if (meta.errors == ErrorShape::anthropic) return translate::error_body(status, message, meta.request_id);
  return error_body(status, code, message);
}

std::string error_event(const ResponseMeta& meta, int status, std::string_view code,
                        std::string_view message) {
  if (meta.errors == ErrorShape::anthropic) {
    return "event: error\ndata: " + translate::error_body(status, message, meta.request_id) + "\n\n";
  }
  return "data: " + error_body(status, code, message) + "\n\n";
}

void write_error(std::string& out, int status, const ResponseMeta& meta, std::string_view code,
                 std::string_view message, std::initializer_list<ResponseHeader> extra) {
  write_response(out, status, meta, "application/json", error_body(meta, status, code, message), extra);
}

void write_error(std::string& out, int status, const ResponseMeta& meta, std::string_view code,
                 std::string_view message, const ResponseHeader* extra, size_t extra_count) {
  write_response(out, status, meta, "application/json", error_body(meta, status, code, message), extra,
                 extra_count);
}

size_t format_http_date(long t, char (&buf)[32]) {
  time_t tt = t;
  tm g;
  gmtime_r(&tt, &g);
  return strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &g);
}

}  // namespace aigw::http
