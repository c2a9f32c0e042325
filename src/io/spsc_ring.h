// A bounded single-producer, single-consumer ring: one thread pushes, one
// other thread pops, and no lock is taken (the producer alone writes tail_,
// the consumer alone head_). A full ring refuses the push; the caller
// decides what a refusal costs (health news and usage records are dropped
// and counted, so a slow consumer never blocks a worker's loop). Used for
// health news between workers (worker/peer_ring.h) and for the usage
// records workers hand to the state writer (src/state).
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace aigw::io {

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "messages are copied, never shared");

 public:
  explicit SpscRing(uint32_t capacity = 256) {
    uint32_t cap = 1;
    while (cap < capacity) cap <<= 1;
    slots_.resize(cap);
    mask_ = cap - 1;
  }

  // Producer thread only.
  bool push(const T& v) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) > mask_) return false;
    slots_[tail & mask_] = v;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only.
  bool pop(T& out) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return false;
    out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  std::vector<T> slots_;
  uint64_t mask_ = 0;
  alignas(64) std::atomic<uint64_t> head_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace aigw::io
