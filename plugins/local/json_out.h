// Appending JSON numbers and base64 to a std::string: what the OpenAI
// framing needs besides strings, which go through the SDK's
// sdk::append_json_string so that escaping lives in one place.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace aigw::local_plugin {

void append_uint(std::string& out, uint64_t v);
void append_int(std::string& out, int64_t v);
// Shortest text that reads back as the same float.
void append_float(std::string& out, float v);
// Standard base64 (RFC 4648, with padding).
void append_base64(std::string& out, std::span<const uint8_t> bytes);

}  // namespace aigw::local_plugin
