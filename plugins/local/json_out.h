// Appending JSON and base64 to a std::string. Only what the OpenAI framing
// needs; every string goes through append_json_string so escaping lives in
// one place.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace aigw::local_plugin {

// Appends s as a quoted JSON string. s must be valid UTF-8 (inputs come from
// simdjson, TOML or Utf8Carry, which all guarantee it); bytes >= 0x80 pass
// through, '"' and '\\' are escaped, control characters become \n, \r, \t
// or \u00XX.
void append_json_string(std::string& out, std::string_view s);
void append_uint(std::string& out, uint64_t v);
void append_int(std::string& out, int64_t v);
// Shortest text that reads back as the same float.
void append_float(std::string& out, float v);
// Standard base64 (RFC 4648, with padding).
void append_base64(std::string& out, std::span<const uint8_t> bytes);

}  // namespace aigw::local_plugin
