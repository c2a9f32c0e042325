#include "tool_call_id.h"

namespace aigw::gemini_plugin {

std::string make_tool_call_id(uint64_t serial, std::string_view thought_signature) {
  static const char hex[] = "0123456789abcdef";
  std::string id = "call_";
  for (int shift = 60; shift >= 0; shift -= 4) id += hex[(serial >> shift) & 15];
  if (thought_signature.empty()) return id;
  id += '.';
  for (char c : thought_signature) {
    if (c == '+') {
      id += '-';
    } else if (c == '/') {
      id += '_';
    } else if (c != '=') {
      id += c;
    }
  }
  return id;
}

std::string signature_from_tool_call_id(std::string_view id) {
  constexpr size_t kPrefix = 5 + 16;  // "call_" and the serial
  if (id.size() <= kPrefix + 1 || id.substr(0, 5) != "call_" || id[kPrefix] != '.') return {};
  for (size_t i = 5; i < kPrefix; ++i) {
    char c = id[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  std::string sig;
  sig.reserve(id.size() - kPrefix + 2);
  for (char c : id.substr(kPrefix + 1)) {
    if (c == '-') {
      sig += '+';
    } else if (c == '_') {
      sig += '/';
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      sig += c;
    } else {
      return {};  // not one of ours: no signature rather than a corrupt one
    }
  }
  while (sig.size() % 4 != 0) sig += '=';
  return sig;
}

}  // namespace aigw::gemini_plugin
