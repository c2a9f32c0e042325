// The worker's access log: records go to metrics::record (counters, and the
// line when sampled); the lines are written through the worker's ring, one
// write in flight at a time, so a slow log destination costs dropped lines
// (counted), never a blocked loop.
#include "metrics/record.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "io/clock.h"
#include "log/log.h"
#include "metrics/access_log.h"
#include "worker/worker.h"

namespace aigw::worker {

void Worker::set_access_log(int fd) {
  access_log_fd_ = fd;
  // A batch goes out at kLogBatchBytes; lines that come while it is in
  // flight fill the other buffer past that.
  if (fd >= 0) {
    access_log_.reserve(2 * kLogBatchBytes);
    // A line's time is its monotonic end plus this offset, which the tick
    // keeps current while the log is open.
    wall_minus_mono_ns_ = io::wall_minus_mono_ns();
  }
  struct stat st {};
  // Writes to a pipe or terminal are atomic only up to PIPE_BUF: other
  // workers and the process log share the destination, so each write there
  // is cut at a line end within that size.
  access_log_small_writes_ = fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
}

void Worker::record(const metrics::RequestRecord& r) {
  const plugin::Generation* gen = plugins_->generation();
  const bool log = access_log_fd_ >= 0 && gen != nullptr;
  metrics::record(r, metrics_, log ? &access_log_ : nullptr, log ? &gen->config->access_log : nullptr, sample_rng_,
                  wall_minus_mono_ns_);
  // time(): a vDSO read of the wall clock, which keys the buckets every
  // worker shares.
  history_.add(r, static_cast<int64_t>(time(nullptr)));
  if (r.status >= 400) {
    // The fine clock (a vDSO read), not the coarse one: entries from two
    // workers are merged by this time, and failures come in bursts.
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    recent_errors_.push(r, static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000, index_);
  }
  if (usage_ != nullptr) hand_over_usage(r);
}

// The usage store's copy: fixed-size, into this worker's ring (no lock, no
// allocation); the writer thread does the rest.
void Worker::hand_over_usage(const metrics::RequestRecord& r) {
  state::UsageRecord u;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  u.wall_ms = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  u.key.set(r.key);
  u.model.set(r.model);
  u.provider.set(r.provider);
  u.request_id.set(r.request_id);
  if (r.status >= 400) u.error.set(r.error);
  u.status = static_cast<uint16_t>(r.status);
  u.stream = r.stream;
  u.prompt_tokens = r.prompt_tokens;
  u.completion_tokens = r.completion_tokens;
  u.total_tokens = r.total_tokens;
  u.cached_tokens = r.cached_tokens;
  u.reasoning_tokens = r.reasoning_tokens;
  auto ms = [](int64_t ns) { return static_cast<uint32_t>(ns > 0 ? ns / 1'000'000 : 0); };
  u.latency_ms = ms(r.end_ns - r.start_ns);
  u.has_ttft = r.first_byte_ns != 0;
  u.ttft_ms = u.has_ttft ? ms(r.first_byte_ns - r.start_ns) : 0;
  usage_->push(u);
}

size_t Worker::access_log_write_len(std::string_view bytes) const {
  if (!access_log_small_writes_ || bytes.size() <= PIPE_BUF) return bytes.size();
  size_t cut = bytes.rfind('\n', PIPE_BUF - 1);
  return cut == std::string_view::npos ? PIPE_BUF : cut + 1;
}

void Worker::flush_access_log() {
  std::string_view bytes = access_log_.take();
  if (bytes.empty()) return;
  size_t len = access_log_write_len(bytes);
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_write(sqe, access_log_fd_, bytes.data(), static_cast<unsigned>(len),
                      static_cast<uint64_t>(-1));
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::log_write, 0, 0));
}

void Worker::drain_access_log() {
  // At exit, synchronously: the loop is gone, and losing the last lines of
  // a shutdown would hide what happened during it.
  if (access_log_fd_ < 0) return;
  for (int rounds = 0; rounds < 1000 && access_log_.pending() > 0; ++rounds) {
    if (access_log_.in_flight()) break;  // its completion will not come now
    std::string_view bytes = access_log_.take();
    if (bytes.empty()) break;
    ssize_t n = ::write(access_log_fd_, bytes.data(), access_log_write_len(bytes));
    access_log_.done(n < 0 ? -errno : static_cast<int>(n));
    if (n <= 0) break;
  }
}

}  // namespace aigw::worker
