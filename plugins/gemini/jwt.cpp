#include "jwt.h"

#include <array>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "aigw_plugin.hpp"

namespace aigw::gemini_plugin {

std::string base64url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
  } else if (rest == 2) {
    uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out.push_back(kAlphabet[v >> 18 & 63]);
    out.push_back(kAlphabet[v >> 12 & 63]);
    out.push_back(kAlphabet[v >> 6 & 63]);
  }
  return out;
}

std::string jwt_header_json(std::string_view key_id) {
  std::string out = "{\"alg\":\"RS256\",\"typ\":\"JWT\"";
  if (!key_id.empty()) {
    out.append(",\"kid\":");
    sdk::append_json_string(out, key_id);
  }
  out.push_back('}');
  return out;
}

std::string jwt_claims_json(const JwtClaims& c) {
  std::string out = "{\"iss\":";
  sdk::append_json_string(out, c.issuer);
  out.append(",\"scope\":");
  sdk::append_json_string(out, c.scope);
  out.append(",\"aud\":");
  sdk::append_json_string(out, c.audience);
  out.append(",\"iat\":");
  out.append(std::to_string(c.issued_at));
  out.append(",\"exp\":");
  out.append(std::to_string(c.expires_at));
  out.push_back('}');
  return out;
}

bool sign_jwt_rs256(mbedtls_pk_context& key, mbedtls_ctr_drbg_context& drbg,
                    std::string_view header_json, std::string_view claims_json, std::string& jwt,
                    std::string& error) {
  if (!mbedtls_pk_can_do(&key, MBEDTLS_PK_RSA)) {
    error = "the private key is not an RSA key (RS256 needs one)";
    return false;
  }
  std::string signing_input = base64url(header_json);
  signing_input.push_back('.');
  signing_input.append(base64url(claims_json));
  std::array<unsigned char, 32> hash{};
  if (mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(signing_input.data()),
                         signing_input.size(), hash.data(), 0) != 0) {
    error = "SHA-256 failed";
    return false;
  }
  // MBEDTLS_PK_SIGNATURE_MAX_SIZE covers the largest RSA modulus mbedTLS
  // was built for.
  std::array<unsigned char, MBEDTLS_PK_SIGNATURE_MAX_SIZE> sig{};
  size_t sig_len = 0;
  int rc = mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, hash.data(), hash.size(), sig.data(), &sig_len,
                           mbedtls_ctr_drbg_random, &drbg);
  if (rc != 0) {
    error = "signing the token request failed (mbedTLS error -0x" +
            [](int v) {
              static constexpr char kHex[] = "0123456789abcdef";
              std::string h;
              for (int s = 12; s >= 0; s -= 4) h.push_back(kHex[(v >> s) & 15]);
              return h;
            }(-rc) +
            ")";
    return false;
  }
  jwt = std::move(signing_input);
  jwt.push_back('.');
  jwt.append(base64url(std::string_view(reinterpret_cast<const char*>(sig.data()), sig_len)));
  return true;
}

}  // namespace aigw::gemini_plugin
