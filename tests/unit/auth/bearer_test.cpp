// The one Bearer parser (client keys and the admin key) and the admin key's
// constant-time compare.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "auth/digest.h"
#include "auth/keys.h"

namespace aigw::auth {
namespace {

TEST(AuthBearer, SchemeInAnyCase) {
  EXPECT_EQ(bearer("Bearer sk-abc"), "sk-abc");
  EXPECT_EQ(bearer("bearer sk-abc"), "sk-abc");
  EXPECT_EQ(bearer("BEARER sk-abc"), "sk-abc");
  EXPECT_EQ(bearer("bEaReR sk-abc"), "sk-abc");
}

TEST(AuthBearer, SpacesAndTabsSeparateAndAreTrimmed) {
  EXPECT_EQ(bearer("Bearer   sk-abc"), "sk-abc");
  EXPECT_EQ(bearer("Bearer\tsk-abc"), "sk-abc");
  EXPECT_EQ(bearer("Bearer \t sk-abc \t"), "sk-abc");
  EXPECT_EQ(bearer(" \tBearer sk-abc"), "sk-abc");
  // Whitespace inside the token is not ours to judge: it stays, and simply
  // matches no key.
  EXPECT_EQ(bearer("Bearer sk abc"), "sk abc");
}

TEST(AuthBearer, TokenKeepsItsCaseAndPadding) {
  EXPECT_EQ(bearer("Bearer AbC+/9=="), "AbC+/9==");
}

TEST(AuthBearer, NoTokenIsEmpty) {
  EXPECT_EQ(bearer(""), "");
  EXPECT_EQ(bearer("Bearer"), "");
  EXPECT_EQ(bearer("Bearer "), "");
  EXPECT_EQ(bearer("Bearer \t  "), "");
  EXPECT_EQ(bearer("Bearer\t"), "");
}

TEST(AuthBearer, OtherSchemesAndRunTogetherAreEmpty) {
  EXPECT_EQ(bearer("Bearersk-abc"), "");
  EXPECT_EQ(bearer("Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(bearer("Token sk-abc"), "");
  EXPECT_EQ(bearer("Bear sk-abc"), "");
  EXPECT_EQ(bearer("sk-abc"), "");
}

TEST(AuthSecret, MatchesOnlyTheSameSecret) {
  EXPECT_TRUE(secret_matches("admin-secret", "admin-secret"));
  EXPECT_FALSE(secret_matches("admin-secreT", "admin-secret"));
  EXPECT_FALSE(secret_matches("admin-secret ", "admin-secret"));
  EXPECT_FALSE(secret_matches("admin", "admin-secret"));
  EXPECT_FALSE(secret_matches("admin-secret-and-more", "admin-secret"));
}

TEST(AuthSecret, EmptyOrOverlongNeverMatches) {
  EXPECT_FALSE(secret_matches("", ""));
  EXPECT_FALSE(secret_matches("", "admin-secret"));
  EXPECT_FALSE(secret_matches("x", ""));
  const std::string huge(KeyTable::kMaxSecretBytes + 1, 'a');
  EXPECT_FALSE(secret_matches(huge, huge));
  const std::string max(KeyTable::kMaxSecretBytes, 'a');
  EXPECT_TRUE(secret_matches(max, max));
}

TEST(AuthSecret, AdminHeaderRoundTrip) {
  // What the admin endpoints do with an Authorization value.
  EXPECT_TRUE(secret_matches(bearer("bearer\tadmin-secret"), "admin-secret"));
  EXPECT_FALSE(secret_matches(bearer("Bearer"), "admin-secret"));
  EXPECT_FALSE(secret_matches(bearer("Basic admin-secret"), "admin-secret"));
}

TEST(AuthDigest, EqualCtComparesAll32Bytes) {
  uint8_t a[32], b[32];
  sha256("x", a);
  std::memcpy(b, a, 32);
  EXPECT_TRUE(equal_ct(a, b));
  for (size_t i : {0u, 7u, 8u, 31u}) {
    std::memcpy(b, a, 32);
    b[i] ^= 1;
    EXPECT_FALSE(equal_ct(a, b)) << "byte " << i;
  }
}

}  // namespace
}  // namespace aigw::auth
