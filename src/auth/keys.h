// Client keys: who is calling aigw, and which models they may use.
//
// A KeyTable is built once per configuration on the control thread and then
// shared, immutable, by every worker (std::shared_ptr<const KeyTable>; no
// mutable state, so concurrent reads need no synchronisation). A reload
// builds a new table; requests keep the snapshot they started with.
//
// Key indexes (0 .. size()-1) follow the order of the vector given to build().
// src/limits builds its per-key state from the same vector, so an index from
// lookup() is also the limits key.
//
// Secrets: only SHA-256 digests are stored. The presented secret is hashed on
// the stack and never copied, logged or kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "http/request.h"

namespace aigw::auth {

// The secret the client presented, as a view into the request head (valid
// while the head's buffer is). Looked for in this order:
//   Authorization: Bearer <secret>   (scheme case-insensitive, spaces trimmed)
//   x-api-key: <secret>              (Anthropic-style clients)
//   api-key: <secret>                (Azure-style clients)
// An Authorization header with another scheme (Basic ...) or an empty Bearer
// falls through to the next header. Empty when none is usable.
std::string_view credential(const http::RequestHead& head);

// The token of an `Authorization: Bearer <token>` value: the scheme in any
// case, then one or more spaces or tabs, then the token (surrounding spaces
// and tabs trimmed). Empty for another scheme, "Bearer" alone, "Bearerxyz"
// or an empty token. The one Bearer parser: client keys and the admin key.
std::string_view bearer(std::string_view authorization);

// Whether `presented` is `secret` (the admin key), compared as SHA-256
// digests in constant time (equal_ct). False when either is empty or
// `presented` is over KeyTable::kMaxSecretBytes (refused unhashed).
bool secret_matches(std::string_view presented, std::string_view secret);

class KeyTable {
 public:
  // Presented secrets longer than this are refused without being hashed, so a
  // client cannot make us hash megabytes per request.
  static constexpr size_t kMaxSecretBytes = 4096;

  // Called on the control thread. Keys with the same digest: the first wins.
  static std::shared_ptr<const KeyTable> build(const std::vector<config::KeyConfig>& keys);

  // No keys configured: the gateway is open, every request is allowed and
  // lookup() is never needed.
  bool open() const { return keys_.empty(); }

  // Index of the key whose secret is `presented`, or -1 (also for an empty or
  // overlong secret). The digest is found through a hash of its first 8
  // bytes; the full 32 bytes are then compared in constant time.
  int32_t lookup(std::string_view presented) const;

  // Whether `key` may use `model`: an exact name from its models, a '*'
  // pattern (config::glob_match), or any model when its list is empty.
  // False for an index out of range.
  bool model_allowed(int32_t key, std::string_view model) const;

  // `key` must be in 0 .. size()-1.
  const config::KeyConfig& key(int32_t key) const { return keys_[static_cast<size_t>(key)]; }
  size_t size() const { return keys_.size(); }

 private:
  KeyTable() = default;

  struct Slot {
    uint64_t prefix = 0;  // first 8 bytes of the digest
    int32_t index = -1;   // -1: empty
  };

  // Heterogeneous lookup, so model_allowed() does not build a std::string.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  struct Models {
    bool any = false;  // empty list, or a "*" entry
    std::unordered_set<std::string, Hash, std::equal_to<>> exact;
    std::vector<std::string> patterns;
  };

  std::vector<config::KeyConfig> keys_;
  std::vector<Models> models_;  // parallel to keys_
  std::vector<Slot> slots_;     // open addressing, linear probing, power-of-two size
};

}  // namespace aigw::auth
