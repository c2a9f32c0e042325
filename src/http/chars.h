// Byte classes and small ASCII helpers shared by the HTTP parsers (request,
// response, chunked). Internal to src/http: one table lookup per byte
// instead of chains of comparisons, defined once so the three parsers agree
// on what a token or a field-value byte is.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace aigw::http::chars {

enum : uint8_t {
  kToken = 1,   // RFC 9110 tchar
  kValue = 2,   // field-value / reason-phrase byte: VCHAR, obs-text, SP, HTAB
  kTarget = 4,  // request-target byte: VCHAR only (no obs-text: clients must percent-encode)
  kQdtext = 8,  // quoted-string text: a value byte other than DQUOTE and backslash
};

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    constexpr std::string_view kTcharPunct = "!#$%&'*+-.^_`|~";
    if (alnum || kTcharPunct.find(static_cast<char>(c)) != std::string_view::npos) v |= kToken;
    if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' || c == '\t') v |= kValue;
    if (c >= 0x21 && c <= 0x7e) v |= kTarget;
    if ((v & kValue) && c != '"' && c != '\\') v |= kQdtext;
    t[static_cast<size_t>(c)] = v;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kClass = make_classes();

inline bool has_class(char c, uint8_t cls) {
  return (kClass[static_cast<unsigned char>(c)] & cls) != 0;
}

inline bool is_ows(char c) { return c == ' ' || c == '\t'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A hex digit's value, -1 for any other byte: one lookup, since a
// stream's every event begins with a chunk-size line.
constexpr std::array<int8_t, 256> make_hex_values() {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    t[static_cast<size_t>(c)] = static_cast<int8_t>(v);
  }
  return t;
}

inline constexpr std::array<int8_t, 256> kHexValue = make_hex_values();

inline int hex_digit(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

inline char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// `lower` must already be lower case; saves folding the literal on every call.
inline bool iequals_lower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (ascii_lower(s[i]) != lower[i]) return false;
  }
  return true;
}

}  // namespace aigw::http::chars
