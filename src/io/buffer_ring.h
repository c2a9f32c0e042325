// A provided-buffer ring: receive buffers the kernel picks from when data
// arrives, so an idle connection holds no buffer at all (that is what keeps
// 10,000 idle keep-alive connections cheap).
//
// Buffers are given back in batches: recycle() only writes the ring entry;
// flush() publishes all of them with one store, once per event-loop turn.
//
// Not every buffer is handed to the kernel at first. The kernel takes
// buffers in ring order and recycled ones go to the back, so every buffer
// in the ring is written in turn and becomes resident however light the
// load: 1024 buffers meant 4 MiB per worker after the first 1024 reads,
// whatever the traffic. So the ring starts with a few (`initial`), and
// grow() hands over more, doubling, when a receive found none (ENOBUFS);
// what is never handed over is never touched. It grows at most once per
// batch of completions: a burst that starves many receives at once doubles
// the ring once, not once per receive.
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

  // `count` must be a power of two (the kernel's requirement); `initial`
  // of them go to the kernel at once (all when 0 or more than count).
  bool init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size, std::string& why,
            uint32_t initial = 0);

  // Hands over more buffers (as many again as the kernel has, up to
  // count), published at the next flush(). False when all are handed over.
  bool grow();
  // A receive found no buffer (ENOBUFS): grow once at the end of the batch.
  void note_starved() { starved_ = true; }
  // Call once per batch, before flush(): grows if a receive starved.
  void grow_if_starved() {
    if (starved_) {
      starved_ = false;
      grow();
    }
  }
  uint32_t handed_over() const { return handed_; }
  uint32_t count() const { return count_; }

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
  uint32_t handed_ = 0;  // buffers 0 .. handed_-1 belong to the kernel or are in use
  uint32_t size_ = 0;
  int mask_ = 0;
  int pending_ = 0;
  uint16_t group_id_ = 0;
  bool registered_ = false;
  bool starved_ = false;
};

}  // namespace aigw::io
