#include "mock_faults.h"

#include "http/request.h"

namespace aigw::mock {

namespace {

struct Named {
  std::string_view name;
  FaultKind kind;
};

constexpr Named kNamed[] = {
    {"none", FaultKind::none},
    {"drip", FaultKind::drip},
    {"garbage-sse", FaultKind::garbage_sse},
    {"bad-content-length", FaultKind::bad_content_length},
    {"hang", FaultKind::hang},
    {"hang-after-head", FaultKind::hang_after_head},
    {"no-done", FaultKind::no_done},
    {"slow-first-byte", FaultKind::slow_first_byte},
};

// Digits only, at most 7 of them: counts stay far from overflow.
bool parse_count(std::string_view s, uint32_t& out) {
  if (s.empty() || s.size() > 7) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  out = v;
  return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

bool parse_fault(std::string_view text, Fault& out) {
  for (const auto& n : kNamed) {
    if (http::iequals(text, n.name)) {
      out = Fault{n.kind, 0};
      return true;
    }
  }
  uint32_t v = 0;
  if (text.size() == 3 && parse_count(text, v)) {
    if (v < 400 || v > 599) return false;
    out = Fault{FaultKind::status, v};
    return true;
  }
  if (starts_with_ci(text, "reset-after-") && parse_count(text.substr(12), v)) {
    out = Fault{FaultKind::reset_after, v};
    return true;
  }
  if (starts_with_ci(text, "close-after-") && parse_count(text.substr(12), v)) {
    out = Fault{FaultKind::close_after, v};
    return true;
  }
  return false;
}

std::string fault_name(const Fault& f) {
  switch (f.kind) {
    case FaultKind::status: return std::to_string(f.n);
    case FaultKind::reset_after: return "reset-after-" + std::to_string(f.n);
    case FaultKind::close_after: return "close-after-" + std::to_string(f.n);
    default: break;
  }
  for (const auto& n : kNamed) {
    if (n.kind == f.kind) return std::string(n.name);
  }
  return "none";
}

}  // namespace aigw::mock
