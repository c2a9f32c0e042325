// Per-worker access-log output that never blocks the worker.
//
// Double buffered: lines are appended to the filling buffer while at most
// one write, of the other buffer, is in flight on the worker's io_uring.
// Pending bytes (filling + not yet written) are capped; a line that would
// pass the cap is dropped and counted, so a slow or stuck log destination
// costs lines, never latency or unbounded memory.
//
// The worker's loop, all on the worker thread:
//   buf.append_with(max_line_size(rec), [&](char* to) { return format_to(rec, to); });
//   once per loop turn: if (!buf.take().empty()) {
//     buf.prep_write(ring.sqe(), fd);  // then set user_data and submit
//   }
//   on that write's completion: buf.done(cqe->res);
//
// After a short write or -EAGAIN the unwritten rest is kept and the next
// take() returns it first. The caller decides when to retry: a pipe that
// said -EAGAIN needs a later turn, not an immediate resubmit. On shutdown,
// loop take/write/done until pending() is 0 or the grace period ends.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::metrics {

class LogBuffer {
 public:
  static constexpr size_t kDefaultCap = 4u << 20;

  explicit LogBuffer(size_t cap_bytes = kDefaultCap);
  LogBuffer(const LogBuffer&) = delete;
  LogBuffer& operator=(const LogBuffer&) = delete;

  // Appends one whole line (with its '\n'). False, and dropped() counts it,
  // when it would take pending() past the cap (append_with's rule).
  bool append(std::string_view line);

  // Room for `bytes` in each of the two buffers up front (allocated and
  // zero-filled now), so the first batches do not grow them on the request
  // path.
  void reserve(size_t bytes) {
    if (filling_.size() < bytes) filling_.resize(bytes);
    if (writing_.size() < bytes) writing_.resize(bytes);
  }

  // One line written straight into the filling buffer, without a copy:
  // `write(char* to)` writes the whole line ('\n' included), at most `max`
  // bytes, and returns its end. A line that takes pending() past the cap is
  // not kept, and is counted, as append() does.
  //
  // The buffer's string is only ever grown (doubling), never cut: its size
  // is room already zero-filled, and filled_ says how much of it holds
  // lines. So a line costs no resize (and no memset) once the buffers have
  // grown to a batch.
  template <class Write>
  bool append_with(size_t max, Write&& write) {
    if (filling_.size() - filled_ < max) [[unlikely]] grow(filling_, filled_ + max);
    char* at = filling_.data() + filled_;
    const size_t n = static_cast<size_t>(write(at) - at);
    if (pending() + n > cap_) {
      ++dropped_;
      return false;
    }
    filled_ += n;
    return true;
  }

  // The bytes to write next, now marked in flight; empty when a write is
  // already in flight or nothing is pending. The view stays valid, and its
  // bytes unchanged, until done().
  std::string_view take();

  // io_uring_prep_write of the view take() returned, at offset -1 (the
  // file's own position: right for O_APPEND files, pipes and ttys). Sets
  // neither user_data nor flags: the caller owns those.
  void prep_write(io_uring_sqe* sqe, int fd) const;

  // The completion of that write. res > 0: that many bytes went out (a short
  // write keeps the rest). -EAGAIN, -EINTR, 0: nothing went out, all is kept.
  // Any other error: the in-flight bytes are discarded and their lines added
  // to dropped(), since a broken destination will not recover by retrying.
  void done(int res);

  bool in_flight() const { return in_flight_; }
  size_t pending() const { return filled_ + (writing_len_ - written_); }
  uint64_t dropped() const { return dropped_; }
  uint64_t write_errors() const { return write_errors_; }
  int last_error() const { return last_error_; }  // the last discarding -errno, 0 if none

 private:
  static void grow(std::string& s, size_t at_least);
  std::string_view in_flight_bytes() const;

  size_t cap_;
  std::string filling_;  // lines in [0, filled_); the rest is room
  size_t filled_ = 0;
  std::string writing_;  // what take() handed out: [written_, writing_len_)
  size_t writing_len_ = 0;
  size_t written_ = 0;
  bool in_flight_ = false;
  uint64_t dropped_ = 0;
  uint64_t write_errors_ = 0;
  int last_error_ = 0;
};

}  // namespace aigw::metrics
