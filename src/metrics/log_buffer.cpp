#include "metrics/log_buffer.h"

#include <algorithm>
#include <cerrno>
#include <climits>

namespace aigw::metrics {

LogBuffer::LogBuffer(size_t cap_bytes) : cap_(cap_bytes) {}

bool LogBuffer::append(std::string_view line) {
  return append_with([line](std::string& out) { out.append(line); });
}

std::string_view LogBuffer::take() {
  if (in_flight_) return {};
  if (written_ == writing_.size()) {
    if (filling_.empty()) return {};
    // Swapping keeps both buffers' capacity: no allocation once warmed up.
    writing_.clear();
    written_ = 0;
    writing_.swap(filling_);
  }
  in_flight_ = true;
  std::string_view rest(writing_);
  rest.remove_prefix(written_);
  // One write carries at most what its 32-bit length can say.
  return rest.substr(0, std::min<size_t>(rest.size(), UINT_MAX));
}

void LogBuffer::prep_write(io_uring_sqe* sqe, int fd) const {
  std::string_view rest(writing_);
  rest.remove_prefix(written_);
  const auto n = static_cast<unsigned>(std::min<size_t>(rest.size(), UINT_MAX));
  io_uring_prep_write(sqe, fd, rest.data(), n, static_cast<uint64_t>(-1));
}

void LogBuffer::done(int res) {
  in_flight_ = false;
  if (res > 0) {
    written_ = std::min(writing_.size(), written_ + static_cast<size_t>(res));
    return;
  }
  if (res == 0 || res == -EAGAIN || res == -EINTR) return;
  ++write_errors_;
  last_error_ = res;
  std::string_view lost(writing_);
  lost.remove_prefix(written_);
  // A line cut by an earlier short write counts as lost too.
  dropped_ += static_cast<uint64_t>(std::count(lost.begin(), lost.end(), '\n'));
  written_ = writing_.size();
}

}  // namespace aigw::metrics
