#include "tool_call_id.h"

namespace aigw::gemini_plugin {

// A signature is hundreds of bytes (400 to 950 in the recordings), and a request
// carries one per earlier tool call: both directions copy it whole and then
// map the few characters that differ in place, rather than appending byte by
// byte (14% of the translation of a request with two signed calls,
// bench/micro/gemini_bench BM_GeminiTranslateRequest).

std::string make_tool_call_id(uint64_t serial, std::string_view thought_signature) {
  static const char hex[] = "0123456789abcdef";
  std::string id;
  id.reserve(5 + 16 + (thought_signature.empty() ? 0 : 1 + thought_signature.size()));
  id = "call_";
  for (int shift = 60; shift >= 0; shift -= 4) id += hex[(serial >> shift) & 15];
  if (thought_signature.empty()) return id;
  id += '.';
  size_t start = id.size();
  id.append(thought_signature);
  size_t out = start;
  for (size_t i = start; i < id.size(); ++i) {
    char c = id[i];
    if (c == '=') continue;  // padding is dropped
    id[out++] = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  id.resize(out);
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
  sig.append(id.substr(kPrefix + 1));
  for (char& c : sig) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return {};  // not one of ours: no signature rather than a corrupt one
    }
  }
  sig.append((4 - sig.size() % 4) % 4, '=');
  return sig;
}

}  // namespace aigw::gemini_plugin
