#include "load/target.h"

#include <arpa/inet.h>


namespace aigw::bench {

bool parse_target(std::string_view url, Target& out, std::string& why) {
  out = Target{};
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, 8) == "https://") {
    why = "https is not supported: aigw-bench speaks plain HTTP to a gateway on this machine";
    return false;
  }
  if (url.substr(0, scheme.size()) != scheme) {
    why = "the URL must start with http:// (for example http://127.0.0.1:8080)";
    return false;
  }
  url.remove_prefix(scheme.size());
  size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  if (path.find('#') != std::string_view::npos) {
    why = "the URL must not contain a fragment (#)";
    return false;
  }
  if (authority.find('@') != std::string_view::npos) {
    why = "the URL must not contain user information (user@host)";
    return false;
  }

  std::string_view host, port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "unterminated [ in the URL's host";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        why = "unexpected characters after ] in the URL";
        return false;
      }
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) {
    why = "the URL has no host";
    return false;
  }

  unsigned port = 80;
  if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
    if (port_text.empty() || port_text.size() > 5) {
      why = "the URL's port must be a number from 1 to 65535";
      return false;
    }
    port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') {
        why = "the URL's port must be a number from 1 to 65535";
        return false;
      }
      port = port * 10 + static_cast<unsigned>(c - '0');
    }
    if (port == 0 || port > 65535) {
      why = "the URL's port must be a number from 1 to 65535";
      return false;
    }
  }

  std::string h(host);
  bool loopback = false;
  std::string lower = h;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (lower == "localhost") h = "127.0.0.1";
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    // 127.0.0.0/8 is loopback as a whole (RFC 1122 3.2.1.3).
    loopback = (ntohl(a4.s_addr) >> 24) == 127;
    if (loopback) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(port));
      sin->sin_addr = a4;
      out.addr_len = sizeof(sockaddr_in);
    }
  } else if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    if (loopback) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<uint16_t>(port));
      sin6->sin6_addr = a6;
      out.addr_len = sizeof(sockaddr_in6);
    }
  }
  if (!loopback) {
    why = "refusing to load " + std::string(host) +
          ": aigw-bench only targets this machine (an IPv4 address in 127.0.0.0/8, [::1] or "
          "localhost), so that it can never load a remote host by accident";
    return false;
  }
  out.host_header = std::string(authority);
  if (path != "/") out.path = std::string(path);
  return true;
}

}  // namespace aigw::bench
