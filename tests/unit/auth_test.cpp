// Client keys: credential extraction, digest parsing, lookup and model lists.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <string>

#include "auth/digest.h"
#include "auth/keys.h"

namespace aigw::auth {
namespace {

std::string hex(const uint8_t d[32]) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < 32; ++i) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}

config::KeyConfig key(std::string name, std::string_view secret, std::vector<std::string> models = {}) {
  config::KeyConfig k;
  k.name = std::move(name);
  sha256(secret, k.sha256);
  k.models = std::move(models);
  return k;
}

http::RequestHead head(std::vector<std::pair<std::string_view, std::string_view>> headers) {
  http::RequestHead h;
  for (auto& [n, v] : headers) h.headers.push_back(http::Header{n, v});
  return h;
}

// --- digests ---------------------------------------------------------------------

TEST(AuthDigest, Sha256KnownVectors) {
  uint8_t d[32];
  sha256("abc", d);
  EXPECT_EQ(hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256("", d);
  EXPECT_EQ(hex(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(AuthDigest, HexParsesEitherCase) {
  const std::string lower = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  uint8_t want[32], got[32];
  sha256("abc", want);
  ASSERT_TRUE(sha256_hex(lower, got));
  EXPECT_EQ(std::memcmp(got, want, 32), 0);
  std::memset(got, 0, 32);
  ASSERT_TRUE(sha256_hex(upper, got));
  EXPECT_EQ(std::memcmp(got, want, 32), 0);
  ASSERT_TRUE(sha256_hex("BA7816bf8f01CFEA414140de5dae2223b00361a396177a9cb410ff61f20015AD", got));
  EXPECT_EQ(std::memcmp(got, want, 32), 0);
}

TEST(AuthDigest, HexRejectsWrongInputAndLeavesOutputAlone) {
  const std::string good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  uint8_t out[32];
  std::memset(out, 0x5a, 32);
  EXPECT_FALSE(sha256_hex(good.substr(0, 63), out));
  EXPECT_FALSE(sha256_hex(good + "0", out));
  EXPECT_FALSE(sha256_hex("", out));
  EXPECT_FALSE(sha256_hex("0x" + good.substr(2), out));
  EXPECT_FALSE(sha256_hex(" " + good.substr(1), out));
  std::string bad = good;
  bad[63] = 'g';  // the last digit, so a partial write would show
  EXPECT_FALSE(sha256_hex(bad, out));
  for (uint8_t b : out) ASSERT_EQ(b, 0x5a);
}

// --- credentials ----------------------------------------------------------------

TEST(AuthCredential, BearerSchemeAnyCaseTrimmed) {
  EXPECT_EQ(credential(head({{"Authorization", "Bearer sk-abc"}})), "sk-abc");
  EXPECT_EQ(credential(head({{"authorization", "bearer sk-abc"}})), "sk-abc");
  EXPECT_EQ(credential(head({{"AUTHORIZATION", "BEARER \t sk-abc  "}})), "sk-abc");
  EXPECT_EQ(credential(head({{"Authorization", "  Bearer sk-abc"}})), "sk-abc");
}

TEST(AuthCredential, ApiKeyHeaders) {
  EXPECT_EQ(credential(head({{"x-api-key", "sk-x"}})), "sk-x");
  EXPECT_EQ(credential(head({{"X-Api-Key", " sk-x "}})), "sk-x");
  EXPECT_EQ(credential(head({{"api-key", "sk-azure"}})), "sk-azure");
  EXPECT_EQ(credential(head({{"Api-Key", "sk-azure"}})), "sk-azure");
}

TEST(AuthCredential, OrderBearerThenXApiKeyThenApiKey) {
  EXPECT_EQ(credential(head({{"api-key", "c"}, {"x-api-key", "b"}, {"Authorization", "Bearer a"}})), "a");
  EXPECT_EQ(credential(head({{"api-key", "c"}, {"x-api-key", "b"}})), "b");
}

TEST(AuthCredential, MalformedAuthorizationFallsThrough) {
  EXPECT_EQ(credential(head({{"Authorization", "Basic dXNlcjpwYXNz"}})), "");
  EXPECT_EQ(credential(head({{"Authorization", "Bearer"}})), "");
  EXPECT_EQ(credential(head({{"Authorization", "Bearer    "}})), "");
  EXPECT_EQ(credential(head({{"Authorization", "Bearersk-abc"}})), "");
  EXPECT_EQ(credential(head({{"Authorization", ""}})), "");
  EXPECT_EQ(credential(head({{"Authorization", "Basic xyz"}, {"x-api-key", "sk-x"}})), "sk-x");
  EXPECT_EQ(credential(head({{"Authorization", "Bearer"}, {"api-key", "sk-y"}})), "sk-y");
  EXPECT_EQ(credential(head({{"x-api-key", "   "}})), "");
  EXPECT_EQ(credential(head({})), "");
  EXPECT_EQ(credential(head({{"x-api-keys", "nope"}, {"apikey", "nope"}})), "");
}

// --- the table ------------------------------------------------------------------

TEST(AuthKeyTable, OpenWhenNoKeys) {
  auto t = KeyTable::build({});
  EXPECT_TRUE(t->open());
  EXPECT_EQ(t->size(), 0u);
  EXPECT_EQ(t->lookup("anything"), -1);
  EXPECT_FALSE(t->model_allowed(0, "gpt-4o"));
}

TEST(AuthKeyTable, LookupRightWrongEmpty) {
  auto t = KeyTable::build({key("alice", "sk-alice"), key("bob", "sk-bob"), key("carol", "sk-carol")});
  EXPECT_FALSE(t->open());
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ(t->lookup("sk-alice"), 0);
  EXPECT_EQ(t->lookup("sk-bob"), 1);
  EXPECT_EQ(t->lookup("sk-carol"), 2);
  EXPECT_EQ(t->key(1).name, "bob");
  EXPECT_EQ(t->lookup("sk-bob "), -1);
  EXPECT_EQ(t->lookup("SK-BOB"), -1);
  EXPECT_EQ(t->lookup("sk-dave"), -1);
  EXPECT_EQ(t->lookup(""), -1);
}

TEST(AuthKeyTable, OverlongSecretRefusedEvenWhenConfigured) {
  std::string at_limit(KeyTable::kMaxSecretBytes, 'k');
  std::string over(KeyTable::kMaxSecretBytes + 1, 'k');
  auto t = KeyTable::build({key("max", at_limit), key("over", over)});
  EXPECT_EQ(t->lookup(at_limit), 0);
  EXPECT_EQ(t->lookup(over), -1);
  EXPECT_EQ(t->lookup(std::string(1 << 20, 'k')), -1);
}

TEST(AuthKeyTable, ManyKeysAllFound) {
  std::vector<config::KeyConfig> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(key("k" + std::to_string(i), "secret-" + std::to_string(i)));
  auto t = KeyTable::build(keys);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(t->lookup("secret-" + std::to_string(i)), i);
  EXPECT_EQ(t->lookup("secret-1000"), -1);
}

TEST(AuthKeyTable, SameDigestFirstWins) {
  auto t = KeyTable::build({key("other", "x"), key("first", "dup"), key("second", "dup")});
  EXPECT_EQ(t->lookup("dup"), 1);
}

TEST(AuthKeyTable, SamePrefixDifferentDigest) {
  // Forge a second digest that shares the first 8 bytes: lookup must fall
  // through to the full comparison.
  config::KeyConfig a = key("a", "secret-a");
  config::KeyConfig b = a;
  b.name = "b";
  b.sha256[31] ^= 1;
  auto t = KeyTable::build({b, a});
  EXPECT_EQ(t->lookup("secret-a"), 1);
}

TEST(AuthKeyTable, ModelAllowed) {
  auto t = KeyTable::build({
      key("all", "s0"),
      key("some", "s1", {"gpt-4o", "claude-*", "o*-mini"}),
      key("star", "s2", {"gpt-4o", "*"}),
  });
  EXPECT_TRUE(t->model_allowed(0, "anything"));
  EXPECT_TRUE(t->model_allowed(0, ""));

  EXPECT_TRUE(t->model_allowed(1, "gpt-4o"));
  EXPECT_FALSE(t->model_allowed(1, "gpt-4o-mini"));
  EXPECT_FALSE(t->model_allowed(1, "gpt-4"));
  EXPECT_TRUE(t->model_allowed(1, "claude-"));
  EXPECT_TRUE(t->model_allowed(1, "claude-3-5-sonnet"));
  EXPECT_FALSE(t->model_allowed(1, "xclaude-3"));
  EXPECT_TRUE(t->model_allowed(1, "o3-mini"));
  EXPECT_TRUE(t->model_allowed(1, "o-mini"));
  EXPECT_FALSE(t->model_allowed(1, "o3-mini-high"));
  EXPECT_FALSE(t->model_allowed(1, ""));

  EXPECT_TRUE(t->model_allowed(2, "whatever"));

  EXPECT_FALSE(t->model_allowed(-1, "gpt-4o"));
  EXPECT_FALSE(t->model_allowed(3, "gpt-4o"));
}

TEST(AuthKeyTable, SnapshotIsIndependentOfTheConfigVector) {
  std::vector<config::KeyConfig> keys{key("a", "sa", {"m"})};
  auto t = KeyTable::build(keys);
  keys[0].name = "changed";
  keys[0].models.clear();
  EXPECT_EQ(t->key(0).name, "a");
  EXPECT_FALSE(t->model_allowed(0, "other"));
}

}  // namespace
}  // namespace aigw::auth
