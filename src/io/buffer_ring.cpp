#include "io/buffer_ring.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace aigw::io {

BufferRing::~BufferRing() {
  if (registered_) io_uring_unregister_buf_ring(ring_, group_id_);
  if (br_) munmap(br_, ring_bytes_);
  if (base_) munmap(base_, data_bytes_);
}

bool BufferRing::init(io_uring* ring, uint16_t group_id, uint32_t count, uint32_t size,
                      std::string& why, uint32_t initial) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    why = "buffer count must be a power of two up to 32768";
    return false;
  }
  ring_ = ring;
  group_id_ = group_id;
  count_ = count;
  size_ = size;
  mask_ = io_uring_buf_ring_mask(count);

  // liburing 2.3 has no io_uring_setup_buf_ring(): map and register by hand.
  ring_bytes_ = sizeof(io_uring_buf) * count;
  void* r = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) {
    why = std::string("mmap of buffer ring failed: ") + std::strerror(errno);
    return false;
  }
  br_ = static_cast<io_uring_buf_ring*>(r);
  io_uring_buf_ring_init(br_);

  // The data area is reserved, not touched: pages become resident only when
  // the kernel first writes into a buffer, so RSS follows actual use.
  data_bytes_ = static_cast<size_t>(count) * size;
  void* d = mmap(nullptr, data_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (d == MAP_FAILED) {
    why = std::string("mmap of receive buffers failed: ") + std::strerror(errno);
    return false;
  }
  base_ = static_cast<char*>(d);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    why = std::string("registering the buffer ring failed: ") + std::strerror(-rc);
    return false;
  }
  registered_ = true;
  handed_ = initial == 0 || initial > count ? count : initial;
  for (uint32_t i = 0; i < handed_; ++i) recycle(static_cast<uint16_t>(i));
  flush();
  return true;
}

bool BufferRing::grow() {
  if (handed_ >= count_) return false;
  const uint32_t more = std::min(handed_, count_ - handed_);
  for (uint32_t i = handed_; i < handed_ + more; ++i) recycle(static_cast<uint16_t>(i));
  handed_ += more;
  return true;
}

}  // namespace aigw::io
