// Anthropic's error shape for the gateway's own refusals and for a
// plugin's OpenAI-shaped error answers.
#include <simdjson.h>

#include "json/write.h"
#include "translate/json_value.h"
#include "translate/messages.h"

namespace aigw::translate {

std::string_view error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: break;
  }
  if (status >= 400 && status < 500) return "invalid_request_error";
  // 5xx, and a status that is no error at all (a caller's mistake): the
  // client still gets a well-formed error, typed as the server's fault.
  return "api_error";
}

std::string error_body(int status, std::string_view message, std::string_view request_id) {
  std::string out = R"({"type":"error","error":{"type":)";
  json::append_string(out, error_type(status));
  out += R"(,"message":)";
  json::append_string(out, message);
  out += '}';
  if (!request_id.empty()) {
    out += R"(,"request_id":)";
    json::append_string(out, request_id);
  }
  out += '}';
  return out;
}

std::string error_from_openai(int status, std::string_view openai_body, std::string_view request_id) {
  simdjson::dom::parser parser;
  simdjson::dom::element root, error;
  std::string_view message;
  if (parser.parse(openai_body.data(), openai_body.size()).get(root) == simdjson::SUCCESS &&
      detail::member(root, "error", error)) {
    // OpenAI's shape is {"error":{"message":...}}; some compatible servers
    // put the sentence directly in "error".
    if (detail::string_member(error, "message", message) || error.get_string().get(message) == simdjson::SUCCESS) {
      if (!message.empty()) return error_body(status, message, request_id);
    }
  }
  // Not OpenAI's shape: the body may be an HTML page of a proxy, so it is
  // not passed on; the status says what kind of failure it was.
  std::string generic = "the provider answered with HTTP status " + std::to_string(status);
  return error_body(status, generic, request_id);
}

}  // namespace aigw::translate
