#include "auth/keys.h"

#include <mbedtls/platform_util.h>

#include <bit>
#include <cstring>

#include "auth/digest.h"

namespace aigw::auth {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

uint64_t prefix_of(const uint8_t digest[32]) {
  uint64_t p;
  std::memcpy(&p, digest, sizeof p);
  return p;
}

}  // namespace

// RFC 9110 11.4: credentials = auth-scheme [ 1*SP token68 ], the scheme
// case-insensitive. The separator is taken as 1*(SP / HTAB): a tab cannot be
// part of a token68, so accepting it is unambiguous, and turning a client's
// stray tab into a 401 would help nobody. The parser has already trimmed the
// field value; trimming again keeps this right for any caller.
std::string_view bearer(std::string_view value) {
  value = trim(value);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() || !http::iequals(value.substr(0, kScheme.size()), kScheme)) {
    return {};
  }
  std::string_view rest = value.substr(kScheme.size());
  // "Bearerxyz" is not the Bearer scheme.
  if (rest.front() != ' ' && rest.front() != '\t') return {};
  return trim(rest);
}

bool secret_matches(std::string_view presented, std::string_view secret) {
  if (presented.empty() || secret.empty() || presented.size() > KeyTable::kMaxSecretBytes) return false;
  // Digests, not the secrets, are compared: 32 bytes each, so the compare
  // takes the same time whatever the lengths and wherever the first
  // difference is. Hashing time follows the lengths in 64-byte blocks only.
  uint8_t a[32], b[32];
  sha256(presented, a);
  sha256(secret, b);
  bool same = equal_ct(a, b);
  mbedtls_platform_zeroize(a, sizeof a);
  mbedtls_platform_zeroize(b, sizeof b);
  return same;
}

std::string_view credential(const http::RequestHead& head) {
  std::string_view v = bearer(head.header("authorization"));
  if (!v.empty()) return v;
  v = trim(head.header("x-api-key"));
  if (!v.empty()) return v;
  return trim(head.header("api-key"));
}

std::shared_ptr<const KeyTable> KeyTable::build(const std::vector<config::KeyConfig>& keys) {
  std::shared_ptr<KeyTable> t(new KeyTable);
  t->keys_ = keys;
  t->models_.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    Models& m = t->models_[i];
    m.any = keys[i].models.empty();
    for (const std::string& name : keys[i].models) {
      if (name == "*") {
        m.any = true;
      } else if (config::is_pattern(name)) {
        m.patterns.push_back(name);
      } else {
        m.exact.insert(name);
      }
    }
  }
  if (keys.empty()) return t;

  // Load factor <= 1/2 keeps probe runs short.
  size_t cap = std::bit_ceil(keys.size() * 2);
  t->slots_.resize(cap);
  for (size_t i = 0; i < keys.size(); ++i) {
    uint64_t p = prefix_of(keys[i].sha256);
    size_t at = p & (cap - 1);
    while (t->slots_[at].index >= 0) at = (at + 1) & (cap - 1);
    t->slots_[at] = Slot{p, static_cast<int32_t>(i)};
  }
  return t;
}

int32_t KeyTable::lookup(std::string_view presented) const {
  if (slots_.empty() || presented.empty() || presented.size() > kMaxSecretBytes) return -1;
  uint8_t digest[32];
  sha256(presented, digest);
  uint64_t p = prefix_of(digest);
  size_t mask = slots_.size() - 1;
  int32_t found = -1;
  // Slots are filled in index order, so the first match on the probe run is
  // the lowest index (the documented winner among duplicate digests).
  for (size_t at = p & mask; slots_[at].index >= 0; at = (at + 1) & mask) {
    const Slot& s = slots_[at];
    if (s.prefix != p) continue;
    bool same = equal_ct(digest, keys_[static_cast<size_t>(s.index)].sha256);
    if (same && found < 0) found = s.index;
  }
  mbedtls_platform_zeroize(digest, sizeof digest);
  return found;
}

bool KeyTable::model_allowed(int32_t key, std::string_view model) const {
  if (key < 0 || static_cast<size_t>(key) >= models_.size()) return false;
  const Models& m = models_[static_cast<size_t>(key)];
  if (m.any) return true;
  if (m.exact.find(model) != m.exact.end()) return true;
  for (const std::string& pat : m.patterns) {
    if (config::glob_match(pat, model)) return true;
  }
  return false;
}

}  // namespace aigw::auth
