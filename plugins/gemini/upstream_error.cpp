#include "upstream_error.h"

#include "aigw_plugin.hpp"

namespace aigw::gemini_plugin {
namespace {

std::string_view openai_type(int32_t status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

// "<digits>[.<digits>]s", the JSON form of google.protobuf.Duration.
bool parse_duration(std::string_view v, uint64_t& ms) {
  if (v.size() < 2 || v.back() != 's') return false;
  v.remove_suffix(1);
  uint64_t whole = 0, frac_ms = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
    if (whole > kMaxRetryAfterMs) break;  // capped below; stops overflow
    whole = whole * 10 + static_cast<uint64_t>(v[i] - '0');
  }
  if (i == 0) return false;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;  // digits past the cap
  if (i < v.size()) {
    if (v[i] != '.' || i + 1 == v.size()) return false;
    uint64_t scale = 100;
    for (++i; i < v.size(); ++i) {
      if (v[i] < '0' || v[i] > '9') return false;
      frac_ms += static_cast<uint64_t>(v[i] - '0') * scale;
      scale /= 10;
    }
  }
  uint64_t total = whole > kMaxRetryAfterMs / 1000 ? kMaxRetryAfterMs : whole * 1000 + frac_ms;
  // A delay under 1 ms still asks for a pause.
  if (total == 0 && (whole > 0 || frac_ms > 0 || v.find_first_of("123456789") != std::string_view::npos)) total = 1;
  ms = total > kMaxRetryAfterMs ? kMaxRetryAfterMs : total;
  return true;
}

}  // namespace

aigw_error_class classify_status(int32_t status) {
  if (status >= 200 && status <= 299) return AIGW_ERROR_NONE;
  if (status == 401 || status == 403) return AIGW_ERROR_KEY_INVALID;
  if (status == 429) return AIGW_ERROR_RATE_LIMITED;
  if (status == 408 || status >= 500 || status < 200 || (status >= 300 && status <= 399)) {
    return AIGW_ERROR_RETRYABLE;
  }
  return AIGW_ERROR_CLIENT;
}

bool parse_retry_after(std::string_view v, uint64_t& ms) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || v.size() > 12) return false;
  uint64_t s = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    s = s * 10 + static_cast<uint64_t>(c - '0');
  }
  ms = s > kMaxRetryAfterMs / 1000 ? kMaxRetryAfterMs : s * 1000;
  return true;
}

bool retry_delay_ms(simdjson::dom::parser& parser, std::string_view body, uint64_t& ms) {
  simdjson::dom::element root, details;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS ||
      root["error"]["details"].get(details) != simdjson::SUCCESS || !details.is_array()) {
    return false;
  }
  for (simdjson::dom::element d : simdjson::dom::array(details)) {
    std::string_view type, delay;
    constexpr std::string_view kRetryInfo = "google.rpc.RetryInfo";
    if (d["@type"].get(type) != simdjson::SUCCESS || type.size() < kRetryInfo.size() ||
        type.substr(type.size() - kRetryInfo.size()) != kRetryInfo) {
      continue;
    }
    if (d["retryDelay"].get(delay) == simdjson::SUCCESS && parse_duration(delay, ms)) return true;
  }
  return false;
}

std::string openai_error(int32_t status, std::string_view code, std::string_view message) {
  std::string out = "{\"error\":{\"message\":";
  sdk::append_json_string(out, message);
  out.append(",\"type\":");
  sdk::append_json_string(out, openai_type(status));
  out.append(",\"code\":");
  if (code.empty()) {
    out.append("null");
  } else {
    sdk::append_json_string(out, code);
  }
  out.append("}}");
  return out;
}

std::string openai_error_body(simdjson::dom::parser& parser, int32_t status, std::string_view body) {
  simdjson::dom::element root, err;
  std::string_view message, gstatus;
  // Some Google front ends wrap the error in a one-element array.
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
    if (root.is_array()) {
      simdjson::dom::element first;
      if (root.at(0).get(first) == simdjson::SUCCESS) root = first;
    }
    if (root["error"].get(err) == simdjson::SUCCESS && err.is_object()) {
      // Either may be missing; the view then stays empty.
      if (err["message"].get(message) != simdjson::SUCCESS) message = {};
      if (err["status"].get(gstatus) != simdjson::SUCCESS) gstatus = {};
    }
  }
  std::string code;
  for (char c : gstatus) code.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  if (message.empty()) {
    return openai_error(status, code, "the Gemini API answered HTTP " + std::to_string(status));
  }
  return openai_error(status, code, message);
}

}  // namespace aigw::gemini_plugin
