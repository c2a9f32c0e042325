// One worker's share of the process's file descriptors.
//
// Near the open-file limit a failed accept() or socket() is no answer at all:
// the kernel resets the client, or a stream that was admitted cannot reach
// its provider. So each worker gets a fixed share of RLIMIT_NOFILE (minus a
// reserve for listeners, rings, logs and plugin files) and admits client
// connections only while every one of them can still open one upstream
// connection: at most half the share goes to clients. What a worker opens
// besides (upstream connections, child-process pipes) draws on the same
// share, and fails cleanly (503) when it is spent instead of at the kernel.
//
// Worker-local: plain counters, no atomics.
#pragma once

#include <cstdint>

namespace aigw::io {

class FdBudget {
 public:
  explicit FdBudget(uint64_t limit = UINT64_MAX) : limit_(limit) {}

  bool take(uint64_t n = 1) {
    if (used_ + n > limit_) return false;
    used_ += n;
    return true;
  }
  void give(uint64_t n = 1) { used_ = n > used_ ? 0 : used_ - n; }

  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_; }
  // Client connections this share can admit so that each still finds a
  // descriptor for its upstream connection.
  uint64_t client_cap() const { return limit_ / 2; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
};

}  // namespace aigw::io
