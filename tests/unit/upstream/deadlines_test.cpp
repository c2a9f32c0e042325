// src/upstream/deadlines.h: the indexed min-heap of exchange deadlines.
#include "upstream/deadlines.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace aigw::upstream {
namespace {

TEST(DeadlineHeap, PopsInDeadlineOrderAndMovesInPlace) {
  DeadlineHeap h;
  h.set(3, 30);
  h.set(1, 10);
  h.set(2, 20);
  EXPECT_EQ(h.top().index, 1u);
  h.set(1, 40);  // later: moves down
  EXPECT_EQ(h.top().index, 2u);
  h.set(3, 5);   // earlier: moves up
  EXPECT_EQ(h.top().index, 3u);
  EXPECT_EQ(h.size(), 3u);  // updates, never duplicates
  h.remove(3);
  EXPECT_FALSE(h.contains(3));
  EXPECT_EQ(h.top().index, 2u);
  h.remove(3);  // absent: nothing happens
  EXPECT_EQ(h.size(), 2u);
}

TEST(DeadlineHeap, MatchesASortedListUnderRandomUpdates) {
  std::mt19937 rng(7);
  DeadlineHeap h;
  std::vector<int64_t> want(64, -1);
  for (int step = 0; step < 5000; ++step) {
    uint32_t i = rng() % 64;
    if (rng() % 3 == 0) {
      h.remove(i);
      want[i] = -1;
    } else {
      int64_t at = rng() % 1000;
      h.set(i, at);
      want[i] = at;
    }
    int64_t min = -1;
    for (int64_t w : want) {
      if (w >= 0 && (min < 0 || w < min)) min = w;
    }
    if (min < 0) {
      ASSERT_TRUE(h.empty());
    } else {
      ASSERT_EQ(h.top().at, min);
      ASSERT_EQ(want[h.top().index], min);
    }
    for (uint32_t j = 0; j < want.size(); ++j) {
      ASSERT_EQ(h.contains(j), want[j] >= 0);
      if (want[j] >= 0) {
        ASSERT_EQ(h.at(j), want[j]);
      }
    }
  }
}

}  // namespace
}  // namespace aigw::upstream
