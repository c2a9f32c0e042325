// SHA-256 helpers for client keys, shared by the config loader (which turns
// `sha256 = "<hex>"` or a plain secret into KeyConfig::sha256) and KeyTable.
// Free of other aigw dependencies so the loader can call them directly.
#pragma once

#include <cstdint>
#include <string_view>

namespace aigw::auth {

// SHA-256 of `data` into out[32].
void sha256(std::string_view data, uint8_t out[32]);

// Parses exactly 64 hex digits (either case, no prefix, no spaces) into
// out[32]. Returns false on anything else and leaves `out` untouched.
bool sha256_hex(std::string_view hex, uint8_t out[32]);

// Whether two digests are equal, in constant time: every byte is looked at
// whatever the differences, so the time taken says nothing about how much of
// a digest matched. The one comparison of secrets' digests in aigw.
bool equal_ct(const uint8_t a[32], const uint8_t b[32]);

}  // namespace aigw::auth
