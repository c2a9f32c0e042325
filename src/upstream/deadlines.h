// An indexed min-heap of deadlines, one entry per slot index at most: moving
// a deadline (every body byte moves a stream's idle deadline) is an update in
// place, and removal is O(log n), so the heap never holds more entries than
// exchanges in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace aigw::upstream {

class DeadlineHeap {
 public:
  struct Entry {
    int64_t at;      // CLOCK_MONOTONIC ns
    uint32_t index;  // the owner's slot
  };

  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Entry& top() const { return heap_.front(); }
  bool contains(uint32_t index) const { return index < pos_.size() && pos_[index] != kAbsent; }
  // The deadline of `index`, which must be in the heap.
  int64_t at(uint32_t index) const { return heap_[pos_[index]].at; }

  // Sets (or moves) the deadline of `index`.
  void set(uint32_t index, int64_t at) {
    if (index >= pos_.size()) pos_.resize(index + 1, kAbsent);
    size_t i = pos_[index];
    if (i == kAbsent) {
      i = heap_.size();
      heap_.push_back({at, index});
      pos_[index] = i;
      up(i);
      return;
    }
    int64_t old = heap_[i].at;
    heap_[i].at = at;
    if (at < old) {
      up(i);
    } else {
      down(i);
    }
  }

  void remove(uint32_t index) {
    if (!contains(index)) return;
    size_t i = pos_[index];
    size_t last = heap_.size() - 1;
    pos_[index] = kAbsent;
    if (i != last) {
      heap_[i] = heap_[last];
      pos_[heap_[i].index] = i;
      heap_.pop_back();
      down(i);
      up(i);
    } else {
      heap_.pop_back();
    }
  }

 private:
  static constexpr size_t kAbsent = SIZE_MAX;

  void swap(size_t a, size_t b) {
    std::swap(heap_[a], heap_[b]);
    pos_[heap_[a].index] = a;
    pos_[heap_[b].index] = b;
  }
  void up(size_t i) {
    while (i > 0) {
      size_t parent = (i - 1) / 2;
      if (heap_[parent].at <= heap_[i].at) break;
      swap(i, parent);
      i = parent;
    }
  }
  void down(size_t i) {
    const size_t n = heap_.size();
    for (;;) {
      size_t l = 2 * i + 1, m = i;
      if (l < n && heap_[l].at < heap_[m].at) m = l;
      if (l + 1 < n && heap_[l + 1].at < heap_[m].at) m = l + 1;
      if (m == i) return;
      swap(i, m);
      i = m;
    }
  }

  std::vector<Entry> heap_;
  std::vector<size_t> pos_;  // by slot index: position in heap_, or kAbsent
};

}  // namespace aigw::upstream
