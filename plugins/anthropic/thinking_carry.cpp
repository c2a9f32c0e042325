#include "thinking_carry.h"

#include <cstdint>

namespace aigw::anthropic_plugin {
namespace {

constexpr char kSep = '~';
constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int value_of(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

std::string make_tool_call_id(std::string_view tool_use_id, std::string_view blocks_json) {
  std::string id(tool_use_id);
  if (blocks_json.empty()) return id;
  id.reserve(id.size() + 1 + (blocks_json.size() + 2) / 3 * 4);
  id.push_back(kSep);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(blocks_json[k])); };
  for (; i + 3 <= blocks_json.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    id.push_back(kAlphabet[v >> 18 & 63]);
    id.push_back(kAlphabet[v >> 12 & 63]);
    id.push_back(kAlphabet[v >> 6 & 63]);
    id.push_back(kAlphabet[v & 63]);
  }
  size_t rest = blocks_json.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    id.push_back(kAlphabet[v >> 18 & 63]);
    id.push_back(kAlphabet[v >> 12 & 63]);
  } else if (rest == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    id.push_back(kAlphabet[v >> 18 & 63]);
    id.push_back(kAlphabet[v >> 12 & 63]);
    id.push_back(kAlphabet[v >> 6 & 63]);
  }
  return id;
}

bool split_tool_call_id(std::string_view id, std::string_view& tool_use_id,
                        std::string& blocks_json) {
  blocks_json.clear();
  size_t sep = id.find(kSep);
  if (sep == std::string_view::npos) {
    tool_use_id = id;
    return true;
  }
  tool_use_id = id.substr(0, sep);
  std::string_view enc = id.substr(sep + 1);
  if (enc.size() % 4 == 1) return false;  // no base64 text has that length
  blocks_json.reserve(enc.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : enc) {
    int v = value_of(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      blocks_json.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace aigw::anthropic_plugin
