#include "http/query.h"

#include "http/chars.h"

namespace aigw::http {

bool query_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int h = chars::hex_digit(in[i + 1]), l = chars::hex_digit(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return true;
}

bool for_each_query_param(std::string_view query,
                          const std::function<bool(const std::string& name, const std::string& value)>& each,
                          std::string& why) {
  size_t start = 0;
  std::string name, value;
  while (start < query.size()) {
    const size_t amp = query.find('&', start);
    const std::string_view part =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    start = amp == std::string_view::npos ? query.size() : amp + 1;
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    if (!query_decode(part.substr(0, eq), name) ||
        !query_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), value)) {
      why = "malformed percent-encoding in the query";
      return false;
    }
    if (!each(name, value)) return false;
  }
  return true;
}

}  // namespace aigw::http
