#include "upstream_error.h"

#include "aigw_plugin.hpp"

namespace aigw::anthropic_plugin {
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

int32_t status_for_error_type(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "billing_error") return 402;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "timeout_error") return 504;
  if (type == "overloaded_error") return 529;
  return 500;  // api_error and anything new
}

aigw_status finish_status_for(int32_t http) {
  if (http == 429) return AIGW_ERR_LIMIT;
  if (http >= 400 && http < 500) return AIGW_ERR_INVALID;
  return AIGW_ERR_INTERNAL;
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
  std::string_view message, type;
  if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      root["error"].get(err) == simdjson::SUCCESS && err.is_object()) {
    // Either may be missing; the view then stays empty.
    if (err["message"].get(message) != simdjson::SUCCESS) message = {};
    if (err["type"].get(type) != simdjson::SUCCESS) type = {};
  }
  if (message.empty()) {
    return openai_error(status, type, "the Anthropic API answered HTTP " + std::to_string(status));
  }
  return openai_error(status, type, message);
}

}  // namespace aigw::anthropic_plugin
