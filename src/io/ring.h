// One io_uring per worker thread, and the 64-bit user_data encoding shared by
// every operation submitted on it.
//
// Setup flags, each asked for on purpose (the kernel may refuse some; the
// refused ones are dropped one at a time and logged, see Ring::init):
// - SINGLE_ISSUER: only the owning worker thread submits, which lets the
//   kernel skip locking on the submission side.
// - DEFER_TASKRUN: completion work runs when we call io_uring_enter to wait,
//   not as an interrupt in the middle of our request handling; batches
//   completions and keeps caches warm.
// - COOP_TASKRUN: no inter-processor interrupt to signal task work; we reap
//   in our loop anyway.
// - CQSIZE: a completion queue four times the submission queue, because
//   multishot accept/receive produce many completions per submission and an
//   overflowing CQ costs a slow path in the kernel.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

namespace aigw::io {

// What a completion belongs to. Packed into user_data with a slot index and
// the slot's generation, so a late completion for a reused slot is detected
// instead of being applied to the wrong connection.
enum class Op : uint8_t {
  none = 0,
  accept = 1,
  recv = 2,
  send = 3,
  mailbox = 4,
  cancel = 5,
  close = 6,
  process_read = 7,   // a plugin child's stdout
  process_write = 8,  // a plugin child's stdin
  process_exit = 9,   // poll on a plugin child's pidfd
  upstream_connect = 10,
  upstream_send = 11,
  upstream_recv = 12,
  log_write = 13,     // the worker's access-log buffer
};

struct UserData {
  Op op;
  uint32_t index;       // 24 bits used
  uint32_t generation;  // 32 bits
};

constexpr uint64_t pack(Op op, uint32_t index, uint32_t generation) {
  return (static_cast<uint64_t>(op) << 56) | (static_cast<uint64_t>(index & 0xFFFFFFu) << 32) |
         generation;
}

constexpr UserData unpack(uint64_t v) {
  return UserData{static_cast<Op>(v >> 56), static_cast<uint32_t>((v >> 32) & 0xFFFFFFu),
                  static_cast<uint32_t>(v)};
}

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  // Sets up the ring with the flags above, dropping any the kernel refuses.
  // `dropped` receives a comma-separated list of dropped flag names.
  bool init(unsigned sq_entries, std::string& dropped, std::string& why);

  // A free submission entry; when the SQ is full it submits first, so callers
  // never see null.
  io_uring_sqe* sqe();

  io_uring* raw() { return &ring_; }
  unsigned flags() const { return ring_.flags; }
  bool ready() const { return initialised_; }

 private:
  io_uring ring_{};
  bool initialised_ = false;
};

// Checked once at start-up, before any worker starts: io_uring is usable (a
// container's seccomp profile may forbid it) and supports what we rely on.
// On failure `why` is one sentence for the operator.
bool check_kernel_support(std::string& why);

}  // namespace aigw::io
