// Per-request accounting on the worker: metrics and the access log. The log
// is written through the worker's ring, one write in flight at a time, so a
// slow log destination costs dropped lines (counted), never a blocked loop.
#include "server/accounting.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.h"
#include "metrics/access_log.h"
#include "server/worker.h"

namespace aigw::server {

Peer Peer::of_socket(int fd) {
  Peer p;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return p;
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    p.family = 4;
    p.port = ntohs(a.sin_port);
    std::memcpy(p.addr, &a.sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    p.family = 6;
    p.port = ntohs(a.sin6_port);
    std::memcpy(p.addr, &a.sin6_addr, 16);
  }
  return p;
}

void Peer::format(std::string& out) const {
  if (family == 0) return;
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, sizeof buf);
  if (family == 6) out += '[';
  out += buf;
  if (family == 6) out += ']';
  out += ':';
  out += std::to_string(port);
}

void Worker::set_access_log(int fd) {
  access_log_fd_ = fd;
  struct stat st {};
  // Writes to a pipe or terminal are atomic only up to PIPE_BUF: other
  // workers and the process log share the destination, so each write there
  // is cut at a line end within that size.
  access_log_small_writes_ = fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
}

void Worker::record(const RequestRecord& r) {
  auto none = [](std::string_view s) { return s.empty() ? std::string_view("none") : s; };
  metrics::RequestSeries* s = metrics_.series(none(r.model), none(r.provider), none(r.key));
  s->count(r.status);
  s->add_tokens(r.prompt_tokens, r.completion_tokens);
  s->observe_duration(static_cast<double>(r.end_ns - r.start_ns) / 1e9);
  if (r.first_byte_ns != 0) s->observe_ttft(static_cast<double>(r.first_byte_ns - r.start_ns) / 1e9);

  const plugin::Generation* gen = plugins_->generation();
  if (access_log_fd_ < 0 || gen == nullptr) return;
  const config::AccessLogConfig& cfg = gen->config->access_log;
  if (!cfg.enabled || !metrics::should_log(r.status, cfg.sample, sample_rng_)) return;
  std::string client;
  r.peer.format(client);
  metrics::AccessRecord a;
  a.unix_ms = metrics::wall_clock_ms();
  a.request_id = r.request_id;
  a.method = r.method;
  a.path = r.path;
  a.client = client;
  a.key = r.key;
  a.model = r.model;
  a.provider = r.provider;
  a.status = r.status;
  a.prompt_tokens = r.prompt_tokens;
  a.completion_tokens = r.completion_tokens;
  a.total_tokens = r.total_tokens;
  a.ttfb_ms = r.first_byte_ns != 0 ? static_cast<double>(r.first_byte_ns - r.start_ns) / 1e6 : -1;
  a.duration_ms = static_cast<double>(r.end_ns - r.start_ns) / 1e6;
  a.attempts = r.attempts;
  a.stream = r.stream;
  a.error = r.status >= 400 ? r.error : std::string_view();
  log_line_.clear();
  metrics::format(a, log_line_);
  access_log_.append(log_line_);
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

}  // namespace aigw::server
