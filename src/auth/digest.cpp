#include "auth/digest.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include <cstring>

namespace aigw::auth {

void sha256(std::string_view data, uint8_t out[32]) {
  // mbedtls_sha256_ret cannot fail for the software implementation; the
  // one-shot call also zeroises its context, so no state derived from a
  // secret outlives the call.
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, 0);
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool sha256_hex(std::string_view hex, uint8_t out[32]) {
  if (hex.size() != 64) return false;
  uint8_t tmp[32];
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    tmp[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  std::memcpy(out, tmp, sizeof tmp);
  return true;
}

bool equal_ct(const uint8_t a[32], const uint8_t b[32]) {
  // volatile keeps the compiler from stopping at the first difference.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < 32; ++i) diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace aigw::auth
