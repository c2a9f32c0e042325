// src/io/slot_table.h: generation-checked handles, reuse in place, and a
// second release of one tenant that fails loudly.
#include "io/slot_table.h"

#include <gtest/gtest.h>

#include <string>

namespace aigw::io {
namespace {

struct Thing {
  std::string name;
};

TEST(SlotTable, HandlesGoStaleWhenTheTenantLeaves) {
  SlotTable<Thing> t("thing");
  SlotHandle a = t.acquire();
  ASSERT_NE(t.get(a), nullptr);
  t.get(a)->name = "a";
  t.release(a);
  EXPECT_EQ(t.get(a), nullptr);
  SlotHandle b = t.acquire();
  EXPECT_EQ(b.index, a.index);  // the slot is reused...
  EXPECT_NE(b.generation, a.generation);
  EXPECT_EQ(t.get(a), nullptr);  // ...and the old handle still finds nothing
  ASSERT_NE(t.get(b), nullptr);
  EXPECT_EQ(t.get(b)->name, "a");  // in place: the owner resets what it needs
  EXPECT_EQ(t.live(), 1u);
  EXPECT_EQ(t.current(b.index), b);
  t.release(b);
  EXPECT_FALSE(t.current(b.index).set());
}

TEST(SlotTable, ObjectsNeverMove) {
  SlotTable<Thing> t("thing");
  SlotHandle first = t.acquire();
  Thing* p = t.get(first);
  for (int i = 0; i < 1000; ++i) t.acquire();
  EXPECT_EQ(t.get(first), p);
  EXPECT_EQ(t.live(), 1001u);
}

TEST(SlotTable, ForEachVisitsLiveTenantsAndMayReleaseThem) {
  SlotTable<Thing> t("thing");
  SlotHandle a = t.acquire(), b = t.acquire(), c = t.acquire();
  t.release(b);
  int seen = 0;
  t.for_each([&](SlotHandle h, Thing&) {
    ++seen;
    t.release(h);
  });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(t.live(), 0u);
  EXPECT_EQ(t.get(a), nullptr);
  EXPECT_EQ(t.get(c), nullptr);
}

#ifndef NDEBUG
// The bug the upstream pool once had: one slot freed twice, its index on
// the free list twice, two connections sharing one object.
TEST(SlotTableDeathTest, ReleasingATenantTwiceAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  SlotTable<Thing> t("upstream connection");
  SlotHandle a = t.acquire();
  t.release(a);
  EXPECT_DEATH(t.release(a), "upstream connection slot 0 released twice");
}

TEST(SlotTableDeathTest, ReleasingAHandleThatWasNeverIssuedAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  SlotTable<Thing> t("thing");
  EXPECT_DEATH(t.release(SlotHandle{7, 0}), "released twice");
}
#endif

}  // namespace
}  // namespace aigw::io
