// Latency histogram with bounded relative error (the HdrHistogram layout,
// written here from its description).
//
// Values are nanoseconds. Buckets are log-linear: bucket b covers
// [half * 2^b, 2 * half * 2^b) (bucket 0 also covers [0, half)) split into
// `half` sub-buckets of width 2^b, where `half` is the smallest power of two
// with half >= 10^digits. A value's sub-bucket is therefore at most
// value / 10^digits wide: reporting its upper bound errs by less than
// 10^-digits relative, at any magnitude, with a fixed count array and an O(1)
// record (a count-leading-zeros, a shift, an increment).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aigw::bench {

class Histogram {
 public:
  explicit Histogram(int significant_digits = 3, uint64_t max_value_ns = 3'600'000'000'000);

  // Values above max_value are recorded as max_value and counted in
  // saturated(): an hour-long latency is a failure, not a distribution.
  void record(uint64_t ns) {
    if (ns > max_value_) {
      ns = max_value_;
      ++saturated_;
    }
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += static_cast<double>(ns);
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }

  // Both histograms must have the same digits and max_value (the bench
  // creates all of them with the same arguments); returns false otherwise.
  bool merge(const Histogram& other);

  // The value at or below which p percent (0..100) of the recorded values
  // lie, reported as the upper bound of its sub-bucket (clamped to max()), so
  // it is never below the exact percentile and above it by less than
  // 10^-digits relative. 0 when empty; p <= 0 gives min(), p >= 100 max().
  uint64_t percentile(double p) const;

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
  uint64_t saturated() const { return saturated_; }
  int significant_digits() const { return digits_; }
  uint64_t max_value() const { return max_value_; }
  void reset();

  // Exposed for the tests: the sub-bucket of a value and its bounds.
  size_t index_of(uint64_t v) const {
    // Bucket = how far v's highest bit lies above the sub-bucket range; the
    // OR keeps small values (all in bucket 0) out of the undefined clz(0).
    unsigned bucket =
        static_cast<unsigned>(63 - __builtin_clzll(v | sub_mask_)) - half_magnitude_;
    uint64_t sub = v >> bucket;  // in [half, 2*half) for bucket > 0
    return (static_cast<size_t>(bucket) << half_magnitude_) + static_cast<size_t>(sub);
  }
  uint64_t lowest_at(size_t index) const;
  uint64_t highest_at(size_t index) const;  // inclusive

 private:
  int digits_;
  uint64_t max_value_;
  unsigned half_magnitude_ = 0;  // log2(half)
  uint64_t sub_mask_ = 0;        // 2*half - 1
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t saturated_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
};

}  // namespace aigw::bench
