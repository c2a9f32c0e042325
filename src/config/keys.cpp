// [[key]]: client credentials for aigw itself and their limits.
#include <cstring>
#include <string>
#include <utility>

#include <mbedtls/sha256.h>

#include "config/sections.h"

namespace aigw::config {
namespace {

bool hex_digest(std::string_view hex, uint8_t out[32]) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = hex[i * 2 + j];
      int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

}  // namespace

void read_keys(TableReader& top, Config& config) {
  read_table_array(top, "key", [&](TableReader r, const toml::table& t, size_t) {
    KeyConfig key;
    require_name(r, t, key.name);
    for (const KeyConfig& seen : config.keys) {
      if (!key.name.empty() && seen.name == key.name) {
        r.error(*t.get("name"), r.path_of("name"), "key " + quoted(key.name) + " is declared twice");
      }
    }
    std::string secret, digest;
    const toml::node* secret_node = r.get_string("secret", secret);
    const toml::node* digest_node = r.get_string("sha256", digest);
    bool have = false;
    if (secret_node && digest_node) {
      r.error(*digest_node, r.path_of("sha256"), "give either secret or sha256, not both");
    } else if (secret_node) {
      std::string resolved, why;
      if (!resolve_secret(secret, resolved, why)) {
        r.error(*secret_node, r.path_of("secret"), why);
      } else if (resolved.size() < 8 || resolved.size() > 4096) {
        // Never echo the value: only its length is safe to report.
        r.error(*secret_node, r.path_of("secret"),
                "must be 8 to 4096 bytes long, got " + std::to_string(resolved.size()));
      } else {
        mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(resolved.data()), resolved.size(),
                           key.sha256, 0);
        have = true;
      }
    } else if (digest_node) {
      if (!hex_digest(digest, key.sha256)) {
        r.error(*digest_node, r.path_of("sha256"), "expected 64 hexadecimal characters (a SHA-256 digest)");
      } else {
        have = true;
      }
    } else if (!t.contains("secret") && !t.contains("sha256")) {
      r.error_here(r.path_of("secret"), "is required (or sha256: the hex digest of the secret)");
    }
    if (have) {
      for (const KeyConfig& seen : config.keys) {
        if (std::memcmp(seen.sha256, key.sha256, 32) == 0) {
          r.error(secret_node ? *secret_node : *digest_node, r.path_of(secret_node ? "secret" : "sha256"),
                  "the same secret is already used by key " + quoted(seen.name));
        }
      }
    }
    if (const toml::node* node = r.get_node("models")) {
      const toml::array* list = node->as_array();
      if (list == nullptr) {
        r.error(*node, r.path_of("models"), "expected an array of model names or patterns");
      } else {
        for (size_t m = 0; m < list->size(); ++m) {
          const toml::node& item = *list->get(m);
          if (!item.is_string() || !valid_model_name(item.as_string()->get())) {
            r.error(item, r.path_of("models") + "[" + std::to_string(m) + "]",
                    "expected a model name or pattern");
            continue;
          }
          key.models.push_back(item.as_string()->get());
        }
      }
    }
    constexpr IntRange any{0, 1ull << 50};
    r.get_integer("rpm", any, key.rpm);
    r.get_integer("tpm", any, key.tpm);
    r.get_integer("max_concurrent", {0, 1'000'000}, key.max_concurrent);
    r.get_integer("daily_tokens", any, key.daily_tokens);
    r.get_integer("monthly_tokens", any, key.monthly_tokens);
    r.report_unknown_keys();
    config.keys.push_back(std::move(key));
  });
}

}  // namespace aigw::config
