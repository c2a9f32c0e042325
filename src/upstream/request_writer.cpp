#include "upstream/request_writer.h"

#include <cstring>

#include "http/request.h"
#include "json/number.h"

namespace aigw::upstream {

namespace {

bool safe(std::string_view name, std::string_view value) {
  return http::safe_field_name(name) && http::safe_field_value(value);
}

// No space, CR or LF: a method or target that cannot end the request line.
bool one_word(std::string_view s) {
  for (const char c : s) {
    if (c <= ' ' && (c == ' ' || c == '\r' || c == '\n')) return false;
  }
  return true;
}

}  // namespace

bool valid_request_line(std::string_view method, std::string_view target) {
  return !method.empty() && one_word(method) && one_word(target) &&
         (target.empty() || target[0] == '/' || target[0] == '?');
}

void write_request_head(std::string& out, std::string_view method, std::string_view base_path,
                        std::string_view target, std::string_view host, uint64_t body_len) {
  out.append(method).append(" ").append(base_path).append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host).append("\r\n");
  char digits[json::kMaxIntegerBytes];
  const char* end = json::write_uint(digits, body_len);
  out.append("Content-Length: ").append(digits, static_cast<size_t>(end - digits)).append("\r\n");
}

bool write_request_header(std::string& out, std::string_view name, std::string_view value) {
  if (!safe(name, value) || http::iequals(name, "host") || http::iequals(name, "content-length") ||
      http::iequals(name, "transfer-encoding") || http::iequals(name, "connection")) {
    return false;
  }
  // One resize and two copies: four appends, each checking the capacity
  // and calling memcpy for two bytes, were half of this function's cost.
  const size_t at = out.size();
  out.resize(at + name.size() + value.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  if (!value.empty()) {  // an empty view may have no buffer, and memcpy wants one
    std::memcpy(p, value.data(), value.size());
    p += value.size();
  }
  p[0] = '\r';
  p[1] = '\n';
  return true;
}

}  // namespace aigw::upstream
