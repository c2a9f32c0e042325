// RS256 JSON Web Tokens (RFC 7515/7519) as Google's OAuth2 service-account
// flow wants them (RFC 7523): the assertion the token endpoint exchanges
// for an access token. Signing only; verification is the endpoint's job
// (the unit tests verify with the public key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>

namespace aigw::gemini_plugin {

// base64url without padding (RFC 7515 section 2): what JWS segments use.
std::string base64url(std::string_view bytes);

struct JwtClaims {
  std::string_view issuer;    // iss: the service account's client_email
  std::string_view scope;     // a Google extension: space-separated scopes
  std::string_view audience;  // aud: the token_uri the assertion is for
  int64_t issued_at = 0;      // iat, seconds since the epoch
  int64_t expires_at = 0;     // exp; Google refuses more than 1 h after iat
};

// {"alg":"RS256","typ":"JWT","kid":...}; kid is the key file's
// private_key_id, which lets Google pick the public key without trying all.
std::string jwt_header_json(std::string_view key_id);
std::string jwt_claims_json(const JwtClaims& claims);

// header.claims.signature, RSASSA-PKCS1-v1_5 over SHA-256. `key` must be an
// RSA private key; `drbg` feeds mbedTLS's RSA blinding. False with a
// message (never key material) on failure.
bool sign_jwt_rs256(mbedtls_pk_context& key, mbedtls_ctr_drbg_context& drbg,
                    std::string_view header_json, std::string_view claims_json, std::string& jwt,
                    std::string& error);

}  // namespace aigw::gemini_plugin
