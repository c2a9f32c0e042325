#include "upstream/request_writer.h"

#include "http/request.h"

namespace aigw::upstream {

namespace {

bool safe(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

bool valid_request_line(std::string_view method, std::string_view target) {
  return !method.empty() && method.find_first_of(" \r\n") == std::string_view::npos &&
         target.find_first_of(" \r\n") == std::string_view::npos &&
         (target.empty() || target[0] == '/' || target[0] == '?');
}

void write_request_head(std::string& out, std::string_view method, std::string_view base_path,
                        std::string_view target, std::string_view host, uint64_t body_len) {
  out.append(method).append(" ").append(base_path).append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body_len)).append("\r\n");
}

bool write_request_header(std::string& out, std::string_view name, std::string_view value) {
  if (!safe(name, value) || http::iequals(name, "host") || http::iequals(name, "content-length") ||
      http::iequals(name, "transfer-encoding") || http::iequals(name, "connection")) {
    return false;
  }
  out.append(name).append(": ").append(value).append("\r\n");
  return true;
}

}  // namespace aigw::upstream
