// A provided-buffer ring: receive buffers the kernel picks from when data
// arrives, so an idle connection holds no buffer at all (that is what keeps
// 10,000 idle keep-alive connections cheap).
//
// Buffers are given back in batches: recycle() only writes the ring entry;
// flush() publishes all of them with one store, once per event-loop turn.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::io {

class BufferRing {
 public:
  BufferRing() = default;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;
  ~BufferRing();

  // `count` must be a power of two (the kernel's requirement).
  bool init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size, std::string& why);

  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return size_; }

  // The data of buffer `id` as reported by a receive completion.
  std::string_view data(uint16_t id, size_t len) const {
    return {base_ + static_cast<size_t>(id) * size_, len};
  }

  void recycle(uint16_t id) {
    io_uring_buf_ring_add(br_, base_ + static_cast<size_t>(id) * size_, size_, id, mask_,
                          pending_++);
  }

  void flush() {
    if (pending_ != 0) {
      io_uring_buf_ring_advance(br_, pending_);
      pending_ = 0;
    }
  }

 private:
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  char* base_ = nullptr;
  size_t ring_bytes_ = 0;
  size_t data_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t size_ = 0;
  int mask_ = 0;
  int pending_ = 0;
  uint16_t group_id_ = 0;
  bool registered_ = false;
};

}  // namespace aigw::io
