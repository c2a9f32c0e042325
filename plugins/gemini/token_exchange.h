// The OAuth2 token request and its answer (RFC 7523 section 2.1, RFC 6749
// section 5): what goes to the key file's token_uri and what comes back.
// Pure text in and out; token_client.h moves the bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::gemini_plugin {

// The scope Vertex AI accepts (all Google Cloud APIs; IAM roles narrow it).
constexpr std::string_view kCloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

// application/x-www-form-urlencoded body:
// grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>,
// each value percent-encoded.
std::string token_request_form(std::string_view assertion);

struct TokenAnswer {
  TokenAnswer() = default;
  TokenAnswer(const TokenAnswer&) = delete;
  TokenAnswer& operator=(const TokenAnswer&) = delete;
  ~TokenAnswer();  // wipes access_token
  std::string access_token;  // secret
  int64_t expires_in_s = 0;
};

// Reads a 200 answer: access_token (printable ASCII, it becomes a header),
// token_type Bearer, expires_in > 0. Any other status: the OAuth error
// ("invalid_grant: Invalid JWT Signature.") in `error`, cut short and
// stripped of control characters; never the request's assertion.
bool parse_token_answer(int status, std::string_view body, TokenAnswer& out, std::string& error);

}  // namespace aigw::gemini_plugin
