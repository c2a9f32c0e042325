// The event loop and connection I/O of a mock worker. What a request gets
// back is decided in mock_dispatch.cpp.
#include "mock_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "log/log.h"

namespace aigw::mock {

namespace {

constexpr unsigned kRingEntries = 256;
constexpr uint32_t kBufferCount = 256;
constexpr uint32_t kBufferSize = 16 * 1024;
// After our final response: long enough for the client to read it and
// close, short enough that one that never closes cannot hold the slot.
constexpr int64_t kLingerMs = 2000;
constexpr int64_t kSweepMs = 250;
// Input a client may pipeline while a response is still in progress.
constexpr size_t kMaxPendingInput = 4u << 20;

int64_t monotonic_ms() { return monotonic_ns() / 1'000'000; }

}  // namespace

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

MockWorker::MockWorker(unsigned index, int listen_fd, Shared shared)
    : index_(index),
      listen_fd_(listen_fd),
      shared_(shared),
      stats_(shared.stats.worker(index)),
      matcher_(shared.replay) {}

MockWorker::~MockWorker() {
  // In-flight operations are cancelled when the ring is torn down (after
  // this body); the connection memory they point at outlives the ring.
  for (auto& c : conns_) {
    if (c && c->fd >= 0) ::close(c->fd);
  }
}

bool MockWorker::setup(std::string& why) {
  std::string dropped;
  if (!ring_.init(kRingEntries, dropped, why)) return false;
  if (!buffers_.init(ring_.raw(), 0, kBufferCount, kBufferSize, why)) return false;
  refresh_date();
  next_sweep_ms_ = monotonic_ms() + kSweepMs;
  arm_accept();
  // Poll, not read: every worker polls the same eventfd and all of them
  // wake when it becomes readable.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, shared_.stop_fd, POLLIN);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::mailbox, 0, 0));
  return true;
}

void MockWorker::run() {
  io_uring* ring = ring_.raw();
  while (!exit_) {
    int64_t now = monotonic_ns();
    int64_t wait_ns = next_sweep_ms_ * 1'000'000 - now;
    if (!timers_.empty()) wait_ns = std::min(wait_ns, timers_.top().when_ns - now);
    wait_ns = std::max<int64_t>(wait_ns, 1000);
    __kernel_timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    io_uring_cqe* first = nullptr;
    int rc = io_uring_submit_and_wait_timeout(ring, &first, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      log::error("io_uring wait failed", {{"thread", index_}, {"error", std::strerror(-rc)}});
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      handle(cqe);
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
    buffers_.flush();

    if (!rearm_recv_.empty()) {
      std::vector<std::pair<uint32_t, uint32_t>> again;
      again.swap(rearm_recv_);
      for (auto [i, g] : again) {
        Conn* c = slot(i, g);
        if (c && !c->closing && !c->recv_armed && !c->peer_eof) arm_recv(*c);
      }
    }
    fire_timers();
    if (monotonic_ms() >= next_sweep_ms_) sweep();
  }
}

void MockWorker::handle(const io_uring_cqe* cqe) {
  io::UserData ud = io::unpack(cqe->user_data);
  switch (ud.op) {
    case io::Op::accept:
      on_accept(cqe);
      break;
    case io::Op::recv:
      if (Conn* c = slot(ud.index, ud.generation)) on_recv(*c, cqe);
      break;
    case io::Op::send:
      if (Conn* c = slot(ud.index, ud.generation)) on_send(*c, cqe);
      break;
    case io::Op::mailbox:
      exit_ = true;
      break;
    default:
      break;
  }
}

Conn* MockWorker::slot(uint32_t index, uint32_t generation) {
  if (index >= conns_.size()) return nullptr;
  Conn* c = conns_[index].get();
  return c->fd >= 0 && c->generation == generation ? c : nullptr;
}

// ---- accept -------------------------------------------------------------------

void MockWorker::arm_accept() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::accept, 0, 0));
  accept_armed_ = true;
}

void MockWorker::on_accept(const io_uring_cqe* cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE)) accept_armed_ = false;
  const int res = cqe->res;
  if (res >= 0) {
    if (active_ >= shared_.opts.max_connections) {
      ::close(res);
    } else {
      uint32_t i;
      if (!free_slots_.empty()) {
        i = free_slots_.back();
        free_slots_.pop_back();
      } else {
        i = static_cast<uint32_t>(conns_.size());
        conns_.push_back(std::make_unique<Conn>());
        conns_[i]->index = i;
      }
      Conn& c = *conns_[i];
      c.fd = res;
      c.last_active_ms = monotonic_ms();
      ++active_;
      stats_.connection_accepted();
      arm_recv(c);
    }
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
    return;  // out of descriptors or memory: the sweep re-arms shortly
  }
  if (!accept_armed_ && !exit_) arm_accept();
}

// ---- receive ------------------------------------------------------------------

void MockWorker::arm_recv(Conn& c) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_.group_id();
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::recv, c.index, c.generation));
  c.recv_armed = true;
  ++c.ops;
}

void MockWorker::on_recv(Conn& c, const io_uring_cqe* cqe) {
  const bool more = cqe->flags & IORING_CQE_F_MORE;
  if (!more) {
    c.recv_armed = false;
    --c.ops;
  }
  const int res = cqe->res;
  if (res > 0) {
    auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    // After a final response input is read only to be discarded.
    if (!c.closing && !c.lingering && !c.close_after_write && !c.reset_after_write) {
      c.in.append(buffers_.data(bid, static_cast<size_t>(res)));
    }
    buffers_.recycle(bid);
    c.last_active_ms = monotonic_ms();
  } else if (res == 0) {
    c.peer_eof = true;
  } else if (res == -ENOBUFS) {
    if (!c.closing) rearm_recv_.emplace_back(c.index, c.generation);
  } else if (res != -ECANCELED && !c.closing) {
    abort_conn(c, false);  // reset by the peer and the like
  }
  if (c.fd < 0) return;  // released just now

  if (c.closing) {
    if (c.ops == 0) release(c);
    return;
  }
  if (c.peer_eof) {
    // A client that half-closes after a complete request still gets its
    // answer; one that gives up on a hang or a linger is done.
    if (c.lingering || (c.job.active && c.job.ending == Ending::hang)) {
      abort_conn(c, false);
      return;
    }
  } else if (c.job.active && c.in.size() > kMaxPendingInput) {
    abort_conn(c, false);
    return;
  }
  settle(c);
  if (c.fd < 0 || c.closing) return;
  // A multishot receive can end on its own (the kernel ran out of room for
  // completions): keep reading.
  if (!more && !c.recv_armed && res > 0) arm_recv(c);
}

// ---- send ---------------------------------------------------------------------

void MockWorker::queue(Conn& c, std::string bytes, bool own_send) {
  if (bytes.empty() || c.closing) return;
  c.out_bytes += bytes.size();
  // The back segment can grow unless it is the one in flight; stream events
  // and dripped bytes always get a send of their own.
  const bool back_free = !c.out.empty() && (c.out.size() >= 2 || !c.send_inflight);
  if (!own_send && back_free) {
    c.out.back().append(bytes);
  } else {
    c.out.push_back(std::move(bytes));
  }
  flush(c);
}

void MockWorker::flush(Conn& c) {
  if (c.send_inflight || c.out.empty() || c.closing) return;
  const std::string& s = c.out.front();
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_send(sqe, c.fd, s.data() + c.out_off, s.size() - c.out_off, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::send, c.index, c.generation));
  c.send_inflight = true;
  ++c.ops;
}

void MockWorker::on_send(Conn& c, const io_uring_cqe* cqe) {
  c.send_inflight = false;
  --c.ops;
  if (c.closing) {
    if (c.ops == 0) release(c);
    return;
  }
  if (cqe->res < 0) {
    abort_conn(c, false);  // EPIPE, ECONNRESET: the client is gone
    return;
  }
  c.last_active_ms = monotonic_ms();
  c.out_off += static_cast<size_t>(cqe->res);
  if (c.out_off >= c.out.front().size()) {
    c.out_bytes -= c.out.front().size();
    c.out.pop_front();
    c.out_off = 0;
  }
  flush(c);
  if (c.job.active) pump(c);  // it may have been waiting for the backlog to drain
  settle(c);
}

// ---- connection life ------------------------------------------------------------

void MockWorker::settle(Conn& c) {
  if (c.fd < 0 || c.closing) return;
  if (!c.job.active && !c.lingering && !c.close_after_write && !c.reset_after_write &&
      !c.in.empty()) {
    process(c);
    if (c.fd < 0 || c.closing) return;
  }
  if (c.job.active || c.lingering || c.send_inflight || !c.out.empty()) return;
  if (c.reset_after_write) {
    abort_conn(c, true);
  } else if (c.close_after_write) {
    if (c.peer_eof) {
      abort_conn(c, false);
    } else {
      start_linger(c);
    }
  } else if (c.peer_eof) {
    abort_conn(c, false);
  }
}

void MockWorker::start_linger(Conn& c) {
  // Half-close and read until the client closes: closing with unread input
  // would send a reset that can destroy the response just sent.
  ::shutdown(c.fd, SHUT_WR);
  c.lingering = true;
  std::string().swap(c.in);
  c.last_active_ms = monotonic_ms();
  if (!c.recv_armed) arm_recv(c);
}

void MockWorker::abort_conn(Conn& c, bool reset) {
  if (c.closing || c.fd < 0) return;
  c.closing = true;
  c.job.active = false;
  if (reset) {
    // Linger 0: close() sends RST instead of FIN.
    linger l{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  if (c.ops == 0) {
    release(c);
    return;
  }
  // The socket is closed only when no operation references it any more:
  // cancel them all; release() runs on the last completion.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, c.index, c.generation));
}

void MockWorker::release(Conn& c) {
  ::close(c.fd);
  uint32_t index = c.index;
  uint32_t generation = c.generation + 1;
  c = Conn{};
  c.index = index;
  c.generation = generation;
  free_slots_.push_back(index);
  --active_;
}

// ---- time -----------------------------------------------------------------------

void MockWorker::arm_timer(Conn& c, int64_t when_ns) {
  ++c.timer_seq;
  c.job.timer_armed = true;
  c.job.wake_ns = when_ns;
  timers_.push(Timer{when_ns, c.index, c.generation, c.timer_seq});
}

void MockWorker::fire_timers() {
  const int64_t now = monotonic_ns();
  while (!timers_.empty() && timers_.top().when_ns <= now) {
    Timer t = timers_.top();
    timers_.pop();
    Conn* c = slot(t.index, t.generation);
    // Entries of closed connections and of superseded arms are skipped here
    // rather than searched for and removed.
    if (c == nullptr || c->closing || c->timer_seq != t.seq || !c->job.timer_armed) continue;
    c->job.timer_armed = false;
    c->last_active_ms = now / 1'000'000;
    pump(*c);
    settle(*c);
  }
}

void MockWorker::sweep() {
  const int64_t now = monotonic_ms();
  next_sweep_ms_ = now + kSweepMs;
  refresh_date();
  for (auto& p : conns_) {
    Conn& c = *p;
    // A job waiting on its own timer is not idle (a long slow-first-byte).
    if (c.fd < 0 || c.closing || (c.job.active && c.job.timer_armed)) continue;
    const int64_t limit = c.lingering ? kLingerMs : shared_.opts.idle_timeout_ms;
    if (now - c.last_active_ms > limit) abort_conn(c, false);
  }
  if (!accept_armed_ && !exit_) arm_accept();
}

void MockWorker::refresh_date() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec == date_second_) return;
  date_second_ = ts.tv_sec;
  date_len_ = http::format_http_date(ts.tv_sec, date_);
}

}  // namespace aigw::mock
