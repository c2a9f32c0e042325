#include "metrics/log_buffer.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace aigw::metrics {

LogBuffer::LogBuffer(size_t cap_bytes) : cap_(cap_bytes) {}

bool LogBuffer::append(std::string_view line) {
  return append_with(line.size(), [line](char* to) {
    if (!line.empty()) std::memcpy(to, line.data(), line.size());
    return to + line.size();
  });
}

void LogBuffer::grow(std::string& s, size_t at_least) {
  s.resize(std::max(at_least, 2 * s.size()));
}

std::string_view LogBuffer::take() {
  if (in_flight_) return {};
  if (written_ == writing_len_) {
    if (filled_ == 0) return {};
    // Swapping keeps both buffers' room: no allocation once warmed up.
    writing_.swap(filling_);
    writing_len_ = filled_;
    written_ = 0;
    filled_ = 0;
  }
  in_flight_ = true;
  return in_flight_bytes();
}

std::string_view LogBuffer::in_flight_bytes() const {
  const std::string_view rest(writing_.data() + written_, writing_len_ - written_);
  // One write carries at most what its 32-bit length can say.
  return rest.substr(0, std::min<size_t>(rest.size(), UINT_MAX));
}

void LogBuffer::prep_write(io_uring_sqe* sqe, int fd) const {
  const std::string_view rest = in_flight_bytes();
  io_uring_prep_write(sqe, fd, rest.data(), static_cast<unsigned>(rest.size()), static_cast<uint64_t>(-1));
}

void LogBuffer::done(int res) {
  in_flight_ = false;
  if (res > 0) {
    written_ = std::min(writing_len_, written_ + static_cast<size_t>(res));
    return;
  }
  if (res == 0 || res == -EAGAIN || res == -EINTR) return;
  ++write_errors_;
  last_error_ = res;
  const std::string_view lost(writing_.data() + written_, writing_len_ - written_);
  // A line cut by an earlier short write counts as lost too.
  dropped_ += static_cast<uint64_t>(std::count(lost.begin(), lost.end(), '\n'));
  written_ = writing_len_;
}

}  // namespace aigw::metrics
