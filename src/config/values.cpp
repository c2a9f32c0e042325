// Value syntaxes shared by the TOML loader and the command line: durations,
// byte sizes, env: secrets, listen addresses and log levels. Every parser
// returns a reason on failure that names what was wrong, so that the loader
// can put it after "<file>:<line>:<column>: <key>: ".
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "config/config.h"
#include "config/quote.h"

namespace aigw::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr Unit kDurationUnits[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
};

constexpr Unit kSizeUnits[] = {
    {"B", 1},
    {"KB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads the leading decimal digits of `text` into `value`; false on overflow.
// Leaves `text` pointing after the digits.
bool take_number(std::string_view& text, uint64_t& value) {
  value = 0;
  size_t i = 0;
  for (; i < text.size() && is_digit(text[i]); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  text.remove_prefix(i);
  return true;
}

std::string_view take_unit(std::string_view& text) {
  size_t i = 0;
  while (i < text.size() && is_alpha(text[i])) ++i;
  std::string_view unit = text.substr(0, i);
  text.remove_prefix(i);
  return unit;
}

template <size_t N>
const Unit* find_unit(const Unit (&units)[N], std::string_view name) {
  for (const Unit& u : units) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

// acc += n * factor, refusing to go past `limit`.
bool add_scaled(uint64_t& acc, uint64_t n, uint64_t factor, uint64_t limit) {
  if (n != 0 && factor > limit / n) return false;
  const uint64_t term = n * factor;
  if (term > limit - acc) return false;
  acc += term;
  return true;
}

// Common rejections with a specific reason, checked before the grammar so the
// user learns "no negatives" rather than "expected a digit".
bool reject_sign_or_space(std::string_view text, std::string_view what, std::string& why) {
  if (text.empty()) {
    why = "empty " + std::string(what);
    return true;
  }
  if (text.front() == '-') {
    why = "negative " + std::string(what) + "s are not allowed";
    return true;
  }
  if (text.find_first_of(" \t") != std::string_view::npos) {
    why = "spaces are not allowed";
    return true;
  }
  return false;
}

bool parse_port(std::string_view text, uint16_t& port, std::string& why) {
  if (text.empty()) {
    why = "missing port number after ':'";
    return false;
  }
  uint64_t value = 0;
  std::string_view rest = text;
  if (!take_number(rest, value) || !rest.empty() || text.size() > 5 || value > 65535) {
    why = "invalid port " + quoted(text) + " (must be a number between 0 and 65535)";
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

template <typename SockAddr>
void store_addr(ListenAddr& out, std::string normalised, const SockAddr& sa) {
  static_assert(sizeof sa <= sizeof out.addr);
  out = ListenAddr{};
  out.text = std::move(normalised);
  std::memcpy(&out.addr, &sa, sizeof sa);
  out.addr_len = sizeof sa;
}

bool parse_ipv6_addr(std::string_view text, ListenAddr& out, std::string& why) {
  const size_t close = text.find(']');
  if (close == std::string_view::npos) {
    why = "missing ']' after IPv6 address";
    return false;
  }
  const std::string host(text.substr(1, close - 1));
  std::string_view after = text.substr(close + 1);
  if (after.empty()) {
    why = "missing port (write e.g. \"[" + host + "]:8080\")";
    return false;
  }
  if (after.front() != ':') {
    why = "expected ':' and a port after ']'";
    return false;
  }
  uint16_t port = 0;
  if (!parse_port(after.substr(1), port, why)) return false;

  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(port);
  if (inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr) != 1) {
    why = quoted(host) + " is not an IPv6 address";
    return false;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &sa.sin6_addr, buf, sizeof buf);

  std::string normalised;  // appended piece by piece: see quote.cpp
  normalised += '[';
  normalised += buf;
  normalised += "]:";
  normalised += std::to_string(port);
  store_addr(out, std::move(normalised), sa);
  return true;
}

bool parse_ipv4_addr(std::string_view text, ListenAddr& out, std::string& why) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    why = "missing port (write e.g. \"" + std::string(text) + ":8080\")";
    return false;
  }
  if (text.find(':') != colon) {
    why = "IPv6 addresses must be written in brackets, e.g. \"[::1]:8080\"";
    return false;
  }
  const std::string host(text.substr(0, colon));
  uint16_t port = 0;
  if (!parse_port(text.substr(colon + 1), port, why)) return false;

  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    why = quoted(host) +
          " is not an IP address (listen takes IP literals such as 127.0.0.1 or [::1]; "
          "host names are not resolved)";
    return false;
  }
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);

  store_addr(out, std::string(buf) + ":" + std::to_string(port), sa);
  return true;
}

bool is_env_name(std::string_view name) {
  if (name.empty() || is_digit(name.front())) return false;
  for (char c : name) {
    if (!is_alpha(c) && !is_digit(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

bool parse_duration(std::string_view text, Duration& out, std::string& why) {
  if (reject_sign_or_space(text, "duration", why)) return false;
  if (text == "0") {
    out = Duration{0};
    return true;
  }
  // Duration's rep is signed: keep the total representable.
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max());
  uint64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    if (!is_digit(rest.front())) {
      why = "expected a number at " + quoted(rest);
      return false;
    }
    uint64_t n = 0;
    if (!take_number(rest, n)) {
      why = "duration is too large";
      return false;
    }
    if (!rest.empty() && (rest.front() == '.' || rest.front() == ',')) {
      why = "fractions are not supported (use a smaller unit, e.g. \"1500ms\" for 1.5s)";
      return false;
    }
    const std::string_view unit_name = take_unit(rest);
    if (unit_name.empty()) {
      why = "missing unit (use ms, s, m or h, e.g. \"10s\")";
      return false;
    }
    const Unit* unit = find_unit(kDurationUnits, unit_name);
    if (unit == nullptr) {
      why = "unknown unit " + quoted(unit_name) + " (use ms, s, m or h)";
      return false;
    }
    if (!add_scaled(total, n, unit->factor, limit)) {
      why = "duration is too large";
      return false;
    }
  }
  out = Duration{static_cast<Duration::rep>(total)};
  return true;
}

bool parse_size(std::string_view text, uint64_t& out, std::string& why) {
  if (reject_sign_or_space(text, "size", why)) return false;
  std::string_view rest = text;
  if (!is_digit(rest.front())) {
    why = "expected a number at " + quoted(rest);
    return false;
  }
  uint64_t n = 0;
  if (!take_number(rest, n)) {
    why = "size is too large";
    return false;
  }
  if (!rest.empty() && (rest.front() == '.' || rest.front() == ',')) {
    why = "fractions are not supported (use a smaller unit, e.g. \"1536KiB\" for 1.5MiB)";
    return false;
  }
  const std::string_view unit_name = take_unit(rest);
  uint64_t factor = 1;
  if (!unit_name.empty()) {
    const Unit* unit = find_unit(kSizeUnits, unit_name);
    if (unit == nullptr) {
      why = "unknown unit " + quoted(unit_name) +
            " (use B, KB, MB, GB, KiB, MiB or GiB; units are case-sensitive)";
      return false;
    }
    factor = unit->factor;
  }
  if (!rest.empty()) {
    why = "unexpected " + quoted(rest) + " after the unit (write one number and one unit)";
    return false;
  }
  uint64_t total = 0;
  if (!add_scaled(total, n, factor, std::numeric_limits<uint64_t>::max())) {
    why = "size is too large";
    return false;
  }
  out = total;
  return true;
}

bool resolve_secret(std::string_view value, std::string& out, std::string& why) {
  constexpr std::string_view prefix = "env:";
  if (!value.starts_with(prefix)) {
    out = std::string(value);
    return true;
  }
  const std::string name(value.substr(prefix.size()));
  if (!is_env_name(name)) {
    why = "invalid environment variable name " + quoted(name) +
          " (letters, digits and '_', not starting with a digit)";
    return false;
  }
  const char* env = std::getenv(name.c_str());
  if (env == nullptr || *env == '\0') {
    why = "environment variable " + name + " is not set";
    return false;
  }
  out = env;
  return true;
}

bool parse_listen_addr(std::string_view text, ListenAddr& out, std::string& why) {
  if (text.empty()) {
    why = "empty address";
    return false;
  }
  if (text.front() == '[') return parse_ipv6_addr(text, out, why);
  return parse_ipv4_addr(text, out, why);
}

std::string_view log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "unknown";
}

bool parse_log_level(std::string_view text, LogLevel& out, std::string& why) {
  for (LogLevel l : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == log_level_name(l)) {
      out = l;
      return true;
    }
  }
  why = "expected one of \"debug\", \"info\", \"warn\", \"error\", got " + quoted(text);
  return false;
}

std::string format_duration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string s;
  uint64_t left = 0;
  if (ms < 0) {
    s = "-";
    left = static_cast<uint64_t>(-(ms + 1)) + 1;  // no overflow at the minimum
  } else {
    left = static_cast<uint64_t>(ms);
  }
  // Largest unit first, as parse_duration reads them.
  for (auto it = std::rbegin(kDurationUnits); it != std::rend(kDurationUnits); ++it) {
    const uint64_t n = left / it->factor;
    if (n == 0) continue;
    s += std::to_string(n);
    s += it->name;
    left -= n * it->factor;
  }
  return s;
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0) {
    for (std::string_view unit : {"GiB", "MiB", "KiB"}) {
      const uint64_t factor = find_unit(kSizeUnits, unit)->factor;
      if (bytes % factor == 0) return std::to_string(bytes / factor) + std::string(unit);
    }
  }
  return std::to_string(bytes) + "B";
}

}  // namespace aigw::config

namespace aigw::config {

bool split_authority(std::string_view authority, uint16_t default_port, std::string_view& host, uint16_t& port,
                     std::string& why) {
  host = authority;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "unterminated IPv6 address";
      return false;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        why = "unexpected text after the IPv6 address";
        return false;
      }
      port_text = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) {
    why = "has no host";
    return false;
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':' || c == '_';
    if (!ok) {
      why = "the host contains a character that is not allowed";
      return false;
    }
  }
  port = default_port;
  if (!port_text.empty() || authority.ends_with(':')) {
    uint32_t p = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || p > 65535) {
        why = "invalid port";
        return false;
      }
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (port_text.empty() || p == 0 || p > 65535) {
      why = "invalid port (1 to 65535)";
      return false;
    }
    port = static_cast<uint16_t>(p);
  }
  return true;
}

bool parse_base_url(std::string_view text, UpstreamConfig& out, std::string& why) {
  std::string_view rest = text;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    out.tls = false;
    rest.remove_prefix(7);
  } else {
    why = "must start with http:// or https://";
    return false;
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) {
    why = "must not have a query or fragment";
    return false;
  }
  if (authority.find('@') != std::string_view::npos) {
    why = "must not contain user information: put keys in api_keys";
    return false;
  }
  std::string_view host;
  uint16_t port = 0;
  if (!split_authority(authority, out.tls ? 443 : 80, host, port, why)) return false;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base_url = std::string(text);
  out.host = std::string(host);
  out.port = port;
  out.base_path = std::string(path);
  bool v6 = out.host.find(':') != std::string::npos;
  out.host_header.clear();
  if (v6) out.host_header.append("[");
  out.host_header.append(out.host);
  if (v6) out.host_header.append("]");
  if (port != (out.tls ? 443u : 80u)) out.host_header.append(":").append(std::to_string(port));
  return true;
}

bool glob_match(std::string_view pattern, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      // The last star absorbs one more character and matching resumes.
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace aigw::config
