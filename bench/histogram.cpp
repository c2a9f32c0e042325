#include "histogram.h"

#include <algorithm>
#include <cmath>

namespace aigw::bench {

Histogram::Histogram(int significant_digits, uint64_t max_value_ns)
    : digits_(std::clamp(significant_digits, 1, 5)),
      max_value_(std::max<uint64_t>(max_value_ns, 2)) {
  uint64_t need = 1;
  for (int i = 0; i < digits_; ++i) need *= 10;
  uint64_t half = 1;
  while (half < need) {
    half <<= 1;
    ++half_magnitude_;
  }
  sub_mask_ = 2 * half - 1;
  counts_.assign(index_of(max_value_) + 1, 0);
}

uint64_t Histogram::lowest_at(size_t index) const {
  size_t half = size_t{1} << half_magnitude_;
  if (index < 2 * half) return index;
  size_t bucket = (index >> half_magnitude_) - 1;
  uint64_t sub = index - (bucket << half_magnitude_);
  return sub << bucket;
}

uint64_t Histogram::highest_at(size_t index) const {
  size_t half = size_t{1} << half_magnitude_;
  if (index < 2 * half) return index;
  size_t bucket = (index >> half_magnitude_) - 1;
  return lowest_at(index) + (uint64_t{1} << bucket) - 1;
}

bool Histogram::merge(const Histogram& other) {
  if (other.digits_ != digits_ || other.max_value_ != max_value_) return false;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  saturated_ += other.saturated_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  return true;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min();
  if (p >= 100) return max_;
  // The rank of the value asked for, 1-based: the smallest value with at
  // least p% of the values at or below it (the nearest-rank definition). The
  // epsilon keeps 99.9% of 1000 at rank 999 despite binary fractions.
  auto rank =
      static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_) - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(highest_at(i), max_);
  }
  return max_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  saturated_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

}  // namespace aigw::bench
