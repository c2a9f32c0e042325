// Worker-to-worker messages: one bounded single-producer, single-consumer
// ring per ordered pair of workers, so no two threads ever write the same
// index and no lock is taken. Used for health news (a channel opened,
// closed, a key disabled): small, rare, and advisory, so a full ring drops
// the message (counted) instead of blocking the sender's event loop. The
// receiver is woken through its Mailbox eventfd and drains every inbound
// ring when it wakes.
#pragma once

#include <atomic>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace aigw::worker {

template <typename T>
class PeerRing {
  static_assert(std::is_trivially_copyable_v<T>, "messages are copied, never shared");

 public:
  explicit PeerRing(uint32_t capacity = 256) {
    uint32_t cap = 1;
    while (cap < capacity) cap <<= 1;
    slots_.resize(cap);
    mask_ = cap - 1;
  }

  // Producer: the sending worker only.
  bool push(const T& v) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) > mask_) return false;
    slots_[tail & mask_] = v;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer: the receiving worker only.
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

}  // namespace aigw::worker
