// The cursor's decimal writer must write exactly what std::to_chars writes,
// for every width: each branch (1 to 4 digits, 5 to 8, the library's path
// past 10^8) and each boundary between them.
#include "json/number.h"

#include <gtest/gtest.h>

#include <charconv>
#include <climits>
#include <string>
#include <type_traits>

namespace aigw::json {
namespace {

template <class T>
std::string by_library(T v) {
  char b[32];
  return {b, static_cast<size_t>(std::to_chars(b, b + sizeof b, v).ptr - b)};
}

// Writes into a block of exactly kMaxIntegerBytes followed by a guard, and
// checks the guard too: the writer must stay inside its stated room.
template <class T>
std::string ours(T v) {
  char b[kMaxIntegerBytes + 1];
  b[kMaxIntegerBytes] = '#';
  char* end;
  if constexpr (std::is_signed_v<T>) {
    end = write_int(b, v);
  } else {
    end = write_uint(b, v);
  }
  EXPECT_EQ(b[kMaxIntegerBytes], '#') << v;
  return {b, static_cast<size_t>(end - b)};
}

TEST(JsonNumber, EveryValueBelowAMillion) {
  for (uint64_t v = 0; v < 1000000; ++v) ASSERT_EQ(ours(v), by_library(v));
}

TEST(JsonNumber, EachPowerOfTenAndItsNeighbours) {
  for (uint64_t p = 1;; p *= 10) {
    for (uint64_t v : {p - 1, p, p + 1}) EXPECT_EQ(ours(v), by_library(v));
    if (p > UINT64_MAX / 10) break;
  }
  for (uint64_t v : {uint64_t{99999999}, uint64_t{100000000}, uint64_t{4294967295}, uint64_t{4294967296},
                     UINT64_MAX - 1, UINT64_MAX}) {
    EXPECT_EQ(ours(v), by_library(v));
  }
}

// Every digit in every position between 10^4 and 10^8 (the two-part path):
// the low half keeps its leading zeros ("10001" is not "11").
TEST(JsonNumber, InnerZerosOfTheEightDigitPath) {
  for (uint64_t hi : {1u, 9u, 10u, 99u, 100u, 999u, 1000u, 9999u}) {
    for (uint64_t lo : {0u, 1u, 9u, 10u, 99u, 100u, 999u, 1000u, 5050u, 9999u}) {
      const uint64_t v = hi * 10000 + lo;
      EXPECT_EQ(ours(v), by_library(v));
    }
  }
}

TEST(JsonNumber, SignedValues) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{-9}, int64_t{-10}, int64_t{-12345}, int64_t{-99999999},
                    int64_t{-100000000}, INT64_MIN, INT64_MIN + 1, INT64_MAX}) {
    EXPECT_EQ(ours(v), by_library(v));
  }
  EXPECT_EQ(ours(INT64_MIN).size(), kMaxIntegerBytes);  // the widest there is
}

}  // namespace
}  // namespace aigw::json
