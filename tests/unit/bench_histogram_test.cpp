// bench/histogram.cpp: the relative error bound at every magnitude,
// percentiles against an exact sort, merging.
#include "histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace aigw::bench {
namespace {

double bound(int digits) { return std::pow(10.0, -digits); }

TEST(BenchHistogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.percentile(100), 0u);
}

TEST(BenchHistogram, SmallValuesAreExact) {
  Histogram h(3);
  for (uint64_t v = 0; v < 2048; ++v) {
    size_t i = h.index_of(v);
    EXPECT_EQ(h.lowest_at(i), v);
    EXPECT_EQ(h.highest_at(i), v);
  }
}

// Every value lies inside its sub-bucket, and the sub-bucket is narrower than
// 10^-digits of the value, from 1 ns to an hour, for each precision.
TEST(BenchHistogram, ErrorBoundAtEveryMagnitude) {
  for (int digits = 1; digits <= 4; ++digits) {
    Histogram h(digits);
    std::vector<uint64_t> values;
    for (double v = 1; v < 3.6e12; v *= 1.07) values.push_back(static_cast<uint64_t>(v));
    for (int shift = 0; shift < 42; ++shift) {
      uint64_t p = uint64_t{1} << shift;
      values.insert(values.end(), {p - 1, p, p + 1});
    }
    std::mt19937_64 rng(digits);
    for (int i = 0; i < 20000; ++i) values.push_back(rng() % 3'600'000'000'000ull);
    size_t last = 0;
    for (uint64_t v : values) {
      if (v == 0 || v > h.max_value()) continue;
      size_t i = h.index_of(v);
      uint64_t lo = h.lowest_at(i), hi = h.highest_at(i);
      ASSERT_LE(lo, v) << "digits " << digits << " value " << v;
      ASSERT_GE(hi, v) << "digits " << digits << " value " << v;
      // Reporting hi for any value of the sub-bucket errs by at most hi - lo.
      ASSERT_LT(static_cast<double>(hi - lo) / static_cast<double>(v), bound(digits))
          << "digits " << digits << " value " << v;
      last = std::max(last, i);
    }
    // Buckets are contiguous: the next index starts right after this one ends.
    for (size_t i = 0; i + 1 <= last; i += 97) {
      ASSERT_EQ(h.highest_at(i) + 1, h.lowest_at(i + 1)) << "digits " << digits << " index " << i;
    }
  }
}

TEST(BenchHistogram, CountMinMaxMeanAreExact) {
  Histogram h;
  for (uint64_t v : {5'000ull, 1'000'000ull, 7ull, 123'456'789ull}) h.record(v);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.min(), 7u);
  EXPECT_EQ(h.max(), 123'456'789u);
  EXPECT_DOUBLE_EQ(h.mean(), (5'000.0 + 1'000'000.0 + 7.0 + 123'456'789.0) / 4);
  EXPECT_EQ(h.percentile(0), 7u);
  EXPECT_EQ(h.percentile(100), 123'456'789u);
}

// Nearest-rank percentile of sorted data: the value at rank ceil(p/100 * n).
uint64_t exact_percentile(const std::vector<uint64_t>& sorted, double p) {
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size()) - 1e-9));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

TEST(BenchHistogram, PercentilesMatchAnExactSort) {
  std::mt19937_64 rng(42);
  // Log-uniform latencies from 10 us to 10 s, plus a cluster, like a real run.
  std::uniform_real_distribution<double> exp10(4, 10);
  std::vector<uint64_t> data;
  for (int i = 0; i < 200'000; ++i) data.push_back(static_cast<uint64_t>(std::pow(10, exp10(rng))));
  for (int i = 0; i < 50'000; ++i) data.push_back(1'000'000 + rng() % 1000);
  Histogram h(3);
  for (uint64_t v : data) h.record(v);
  std::sort(data.begin(), data.end());
  for (double p : {0.01, 0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    uint64_t exact = exact_percentile(data, p);
    uint64_t got = h.percentile(p);
    EXPECT_GE(got, exact) << "p" << p;
    EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) * bound(3)) << "p" << p;
  }
  EXPECT_EQ(h.count(), data.size());
  EXPECT_EQ(h.min(), data.front());
  EXPECT_EQ(h.max(), data.back());
}

TEST(BenchHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  Histogram a, b, all;
  for (int i = 0; i < 100'000; ++i) {
    uint64_t v = rng() % 50'000'000'000ull;
    (i % 3 == 0 ? a : b).record(v);
    all.record(v);
  }
  Histogram merged;
  ASSERT_TRUE(merged.merge(a));
  ASSERT_TRUE(merged.merge(b));
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_NEAR(merged.mean(), all.mean(), all.mean() * 1e-12);
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << "p" << p;
  }
}

TEST(BenchHistogram, MergeRefusesADifferentLayout) {
  Histogram a(3), b(2), c(3, 1'000'000);
  EXPECT_FALSE(a.merge(b));
  EXPECT_FALSE(a.merge(c));
  EXPECT_TRUE(a.merge(Histogram(3)));
}

TEST(BenchHistogram, ValuesAboveTheMaximumSaturate) {
  Histogram h(3, 1'000'000);
  h.record(5);
  h.record(2'000'000);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.percentile(100), 1'000'000u);
}

TEST(BenchHistogram, PercentileNeverExceedsMax) {
  Histogram h;
  h.record(1'000'001);  // its bucket's upper bound is above the value
  EXPECT_EQ(h.percentile(50), 1'000'001u);
  EXPECT_EQ(h.percentile(99.9), 1'000'001u);
}

TEST(BenchHistogram, ResetEmptiesIt) {
  Histogram h;
  h.record(10);
  h.reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  h.record(20);
  EXPECT_EQ(h.min(), 20u);
}

}  // namespace
}  // namespace aigw::bench
