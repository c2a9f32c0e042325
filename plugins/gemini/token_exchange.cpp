#include "token_exchange.h"

#include <simdjson.h>

#include "aigw_plugin.hpp"

namespace aigw::gemini_plugin {
namespace {

void append_form_value(std::string& out, std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_' || c == '*';
    if (plain) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

// Text from the token endpoint goes into log lines and error bodies: no
// control characters, and short.
std::string printable(std::string_view s, size_t max) {
  std::string out;
  for (char ch : s.substr(0, max)) {
    auto c = static_cast<unsigned char>(ch);
    out.push_back(c >= 0x20 && c < 0x7f ? ch : '?');
  }
  return out;
}

}  // namespace

TokenAnswer::~TokenAnswer() { sdk::wipe(access_token); }

std::string token_request_form(std::string_view assertion) {
  std::string out = "grant_type=";
  append_form_value(out, "urn:ietf:params:oauth:grant-type:jwt-bearer");
  out.append("&assertion=");
  append_form_value(out, assertion);
  return out;
}

bool parse_token_answer(int status, std::string_view body, TokenAnswer& out, std::string& error) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool json = parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
              root.is_object();
  if (status != 200) {
    error = "the token endpoint answered " + std::to_string(status);
    std::string_view code, description;
    if (json && root["error"].get(code) == simdjson::SUCCESS) {
      error.append(": ").append(printable(code, 64));
      if (root["error_description"].get(description) == simdjson::SUCCESS) {
        error.append(": ").append(printable(description, 200));
      }
    }
    return false;
  }
  if (!json) {
    error = "the token endpoint's answer is not a JSON object";
    return false;
  }
  std::string_view token, type;
  int64_t expires = 0;
  if (root["access_token"].get(token) != simdjson::SUCCESS || token.empty()) {
    error = "the token endpoint's answer has no access_token";
    return false;
  }
  if (token.size() > 8192) {
    error = "the token endpoint's access_token is longer than 8192 bytes";
    return false;
  }
  for (char ch : token) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) {
      error = "the token endpoint's access_token has characters a header cannot carry";
      return false;
    }
  }
  // RFC 6749 makes token_type required; Google sends "Bearer". Anything
  // else would be sent wrongly as a Bearer token.
  if (root["token_type"].get(type) != simdjson::SUCCESS || !sdk::iequals(type, "Bearer")) {
    error = "the token endpoint's token_type is not Bearer";
    return false;
  }
  if (root["expires_in"].get(expires) != simdjson::SUCCESS || expires <= 0 ||
      expires > 7 * 24 * 3600) {
    error = "the token endpoint's expires_in is missing or out of range";
    return false;
  }
  out.access_token.assign(token);
  out.expires_in_s = expires;
  return true;
}

}  // namespace aigw::gemini_plugin
