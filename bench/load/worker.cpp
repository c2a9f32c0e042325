#include "load/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace aigw::bench {

namespace {

// The gateway's Op enum has no connect (it never connects); the bench tags
// its connects with a value the server side does not use.
constexpr io::Op kOpConnect = static_cast<io::Op>(32);

constexpr uint32_t kRecvBufferSize = 16 * 1024;
constexpr uint16_t kBufferGroup = 0;
// How often timeouts and reconnects are looked at: a request's timeout is
// honoured to within this, which is plenty for a limit measured in seconds.
constexpr uint64_t kScanIntervalNs = 5'000'000;
// A refused connect is retried after this, not at once: a dead target must
// not turn the bench into a busy loop of failing connects.
constexpr uint64_t kRetryDelayNs = 10'000'000;

uint32_t next_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

}  // namespace

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Worker::Worker(const Config& cfg, const RequestTemplate& tmpl, unsigned index,
               unsigned connections)
    : cfg_(cfg), tmpl_(tmpl), index_(index), conns_(connections) {}

Worker::~Worker() {
  for (auto& c : conns_) {
    if (c.fd >= 0) ::close(c.fd);
  }
}

bool Worker::prepare(std::string& why) {
  // Sleeps until an intended send time should end on time, not up to the
  // default 50 us late: that lateness would be measured as latency.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  auto n = static_cast<uint32_t>(conns_.size());
  unsigned sq = next_pow2(std::clamp<uint32_t>(n * 2 + 16, 64, 4096));
  std::string dropped;
  if (!ring_.init(sq, dropped, why)) return false;
  if (!buffers_.init(ring_.raw(), kBufferGroup, next_pow2(std::clamp<uint32_t>(n, 16, 4096)),
                     kRecvBufferSize, why)) {
    return false;
  }
  // Connect now, so the run starts with its connections open (closed loop
  // measures from the send anyway; open loop would otherwise count the
  // handshakes as latency of the first requests).
  plan_ = LoadPlan(PlanParams{});
  now_ = monotonic_ns();
  for (uint32_t i = 0; i < n; ++i) connect(i);
  uint64_t until = now_ + cfg_.timeout_ns;
  while (now_ < until) {
    bool pending = std::any_of(conns_.begin(), conns_.end(),
                               [](const Conn& c) { return c.state == State::connecting; });
    if (!pending) break;
    wait_events(until);
  }
  for (auto& c : conns_) {
    if (c.state == State::idle) ++connected_after_prepare_;
  }
  return true;
}

void Worker::connect(uint32_t i) {
  Conn& c = conns_[i];
  int fd = ::socket(cfg_.target.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (first_connect_error_.empty()) {
      first_connect_error_ = std::string("socket: ") + std::strerror(errno);
    }
    if (measuring(now_)) ++results_.errors[static_cast<size_t>(ErrorKind::connect_error)];
    c.retry_at = now_ + kRetryDelayNs;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.fd = fd;
  ++c.gen;
  c.state = State::connecting;
  c.deadline = now_ + cfg_.timeout_ns;
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_connect(s, fd, reinterpret_cast<const sockaddr*>(&cfg_.target.addr),
                        cfg_.target.addr_len);
  io_uring_sqe_set_data64(s, io::pack(kOpConnect, i, c.gen));
  c.connect_op = true;
}

void Worker::arm_recv(uint32_t i) {
  Conn& c = conns_[i];
  // Only on an established connection: a receive on one still connecting
  // fails with ENOTCONN.
  if (c.recv_op || c.fd < 0 || (c.state != State::idle && c.state != State::busy)) return;
  // Multishot: armed once per connection, like an epoll registration, not
  // once per response; it ends (no F_MORE) only on EOF, an error, a cancel or
  // a moment without free buffers, and is armed again then.
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = buffers_.group_id();
  io_uring_sqe_set_data64(s, io::pack(io::Op::recv, i, c.gen));
  c.recv_op = true;
}

void Worker::submit_send(uint32_t i) {
  Conn& c = conns_[i];
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, io::pack(io::Op::send, i, c.gen));
  c.send_op = true;
}

// Closes the socket now; operations still in the kernel are cancelled and
// the slot is reused only once all of them have completed, so a late
// completion can never touch the next connection's buffers.
void Worker::close_conn(Conn& c, uint64_t retry_at) {
  if (c.fd < 0) return;
  auto i = static_cast<uint32_t>(&c - conns_.data());
  const std::pair<bool, io::Op> ops[] = {
      {c.connect_op, kOpConnect}, {c.send_op, io::Op::send}, {c.recv_op, io::Op::recv}};
  for (const auto& [pending, op] : ops) {
    if (!pending) continue;
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_cancel64(s, io::pack(op, i, c.gen), 0);
    io_uring_sqe_set_data64(s, io::pack(io::Op::cancel, i, c.gen));
  }
  ::shutdown(c.fd, SHUT_RDWR);
  ::close(c.fd);
  c.fd = -1;
  if (c.state == State::idle) {
    idle_.erase(std::find(idle_.begin(), idle_.end(), i));
  }
  c.state = State::closing;
  c.retry_at = retry_at;
  maybe_settled(c);
}

void Worker::maybe_settled(Conn& c) {
  if (c.state != State::closing || c.connect_op || c.send_op || c.recv_op) return;
  c.state = State::down;
  if (c.retry_at <= now_ && running_ && !plan_.issuing_over(now_)) {
    connect(static_cast<uint32_t>(&c - conns_.data()));
  }
}

void Worker::start_request(uint32_t i, const Ticket& t) {
  Conn& c = conns_[i];
  c.state = State::busy;
  ++busy_;
  c.ticket = t;
  c.sent_ns = now_;
  c.deadline = now_ + cfg_.timeout_ns;
  c.first_byte = false;
  c.reader.reset();
  c.stream_body.clear();
  uint64_t origin = cfg_.mode == Mode::open ? t.intended : now_;
  c.stream.start(origin, &json_, t.measured ? &results_.gaps : nullptr);
  const PlanParams& p = plan_.params();
  tmpl_.render(t.seq * p.stride + p.offset, c.out);
  c.out_off = 0;
  if (t.measured) {
    ++results_.started;
  } else {
    ++results_.warmup_requests;
  }
  submit_send(i);
  arm_recv(i);
}

void Worker::on_cqe(const io_uring_cqe* cqe) {
  io::UserData ud = io::unpack(cqe->user_data);
  if (ud.op == io::Op::cancel || ud.index >= conns_.size()) return;
  Conn& c = conns_[ud.index];
  // A stale completion (its connection already closed): clear the flag, give
  // the buffer back, and see whether the slot is free now.
  bool stale = ud.generation != c.gen || c.state == State::closing;
  switch (ud.op) {
    case io::Op::send: c.send_op = false; break;
    case io::Op::recv:
      if (!(cqe->flags & IORING_CQE_F_MORE)) c.recv_op = false;
      break;
    default:
      if (ud.op == kOpConnect) c.connect_op = false;
      break;
  }
  if (stale) {
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      buffers_.recycle(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
    }
    maybe_settled(c);
    return;
  }
  if (ud.op == kOpConnect) {
    on_connect(ud.index, cqe->res);
  } else if (ud.op == io::Op::send) {
    on_send(ud.index, cqe->res);
  } else if (ud.op == io::Op::recv) {
    on_recv(ud.index, cqe->res, cqe->flags);
  }
}

void Worker::on_connect(uint32_t i, int res) {
  Conn& c = conns_[i];
  if (res < 0) {
    if (first_connect_error_.empty()) {
      first_connect_error_ = std::string("connect: ") + std::strerror(-res);
    }
    if (measuring(now_)) {
      ErrorKind k = res == -ECONNREFUSED ? ErrorKind::connect_refused : ErrorKind::connect_error;
      ++results_.errors[static_cast<size_t>(k)];
    }
    close_conn(c, now_ + kRetryDelayNs);
    return;
  }
  ++results_.connects;
  c.state = State::idle;
  idle_.push_back(i);
  // A receive stays armed on every open connection: an idle one costs no
  // buffer (the kernel picks one only when data comes), and a server that
  // closes an idle connection is noticed before a request is lost on it.
  arm_recv(i);
  if (running_) dispatch_idle();
}

void Worker::on_send(uint32_t i, int res) {
  Conn& c = conns_[i];
  if (c.state != State::busy) return;
  if (res < 0) {
    fail_request(i, ErrorKind::reset);
    return;
  }
  results_.bytes_sent += static_cast<uint64_t>(res);
  c.out_off += static_cast<size_t>(res);
  if (c.out_off < c.out.size()) submit_send(i);
}

void Worker::on_recv(uint32_t i, int res, unsigned flags) {
  Conn& c = conns_[i];
  if (res == -ENOBUFS) {
    // Every buffer was taken in this batch; the data waits in the socket
    // and the receive is armed again (recv_op was cleared: no F_MORE).
    arm_recv(i);
    return;
  }
  if (res < 0) {
    if (c.state == State::busy) {
      fail_request(i, ErrorKind::reset);
    } else {
      close_conn(c, now_);
    }
    return;
  }
  if (res == 0) {
    if (c.state != State::busy) {
      ++results_.server_closes;
      close_conn(c, now_);
      return;
    }
    if (c.reader.on_eof() == ResponseReader::Result::done) {
      finish_request(i, false);  // counts the close: the response had keep_alive off
      return;
    }
    ++results_.server_closes;
    const ResponseInfo& h = c.reader.info();
    bool stream = c.reader.head_complete() && h.event_stream && h.status < 300;
    fail_request(i, stream ? ErrorKind::incomplete_stream : ErrorKind::reset);
    return;
  }
  results_.bytes_received += static_cast<uint64_t>(res);
  auto id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  on_data(i, buffers_.data(id, static_cast<size_t>(res)));
  buffers_.recycle(id);
  if (c.fd >= 0) arm_recv(i);
}

void Worker::on_data(uint32_t i, std::string_view data) {
  Conn& c = conns_[i];
  if (c.state != State::busy) {
    // Bytes nobody asked for: the connection's framing can't be trusted.
    if (measuring(now_)) ++results_.errors[static_cast<size_t>(ErrorKind::bad_response)];
    close_conn(c, now_);
    return;
  }
  if (!c.first_byte) {
    c.first_byte = true;
    c.stream.on_first_byte(now_);
  }
  size_t used = 0;
  auto r = c.reader.feed(data, used, c.stream_body);
  if (!c.stream_body.empty()) {
    c.stream.feed(c.stream_body, now_);
    c.stream_body.clear();
  }
  if (r == ResponseReader::Result::error) {
    fail_request(i, ErrorKind::bad_response);
  } else if (r == ResponseReader::Result::done) {
    finish_request(i, used < data.size());
  }
}

void Worker::account_stream(Conn& c) {
  const ResponseInfo& h = c.reader.info();
  if (!c.ticket.measured || !c.reader.head_complete() || !h.event_stream || h.status >= 300) {
    return;
  }
  const StreamStats& s = c.stream.stats();
  ++results_.streams;
  if (!s.done) ++results_.streams_without_done;
  if (s.first_byte_seen) results_.ttfb.record(s.ttfb_ns);
  if (s.content_seen) results_.first_content.record(s.first_content_ns);
  results_.events += s.events;
  results_.content_events += s.content_events;
  results_.tokens += s.tokens();
  if (s.usage_seen) ++results_.usage_streams;
}

void Worker::finish_request(uint32_t i, bool extra_bytes) {
  Conn& c = conns_[i];
  --busy_;
  const ResponseInfo& h = c.reader.info();
  bool ok = false;
  ErrorKind kind = ErrorKind::bad_response;
  if (extra_bytes) {
    kind = ErrorKind::bad_response;  // we never pipeline: nothing may follow
  } else if (h.status >= 500) {
    kind = ErrorKind::http_5xx;
  } else if (h.status >= 400) {
    kind = ErrorKind::http_4xx;
  } else if (h.event_stream && !c.stream.stats().done) {
    kind = ErrorKind::incomplete_stream;
  } else {
    ok = true;
  }
  if (c.ticket.measured) {
    last_done_ = now_;
    if (h.status >= 100 && h.status < 600) ++results_.status_classes[static_cast<size_t>(h.status / 100)];
    account_stream(c);
    if (ok) {
      ++results_.ok;
      results_.latency.record(LoadPlan::latency(cfg_.mode, c.ticket.intended, c.sent_ns, now_));
      results_.service_time.record(now_ - c.sent_ns);
    } else {
      ++results_.errors[static_cast<size_t>(kind)];
    }
  }
  after_request(i, h.keep_alive && !extra_bytes);
}

void Worker::fail_request(uint32_t i, ErrorKind kind) {
  Conn& c = conns_[i];
  if (c.state == State::busy) {
    --busy_;
    if (c.ticket.measured) {
      last_done_ = now_;
      ++results_.errors[static_cast<size_t>(kind)];
      int status = c.reader.head_complete() ? c.reader.info().status : 0;
      if (status >= 100 && status < 600) ++results_.status_classes[static_cast<size_t>(status / 100)];
      account_stream(c);
    }
  }
  close_conn(c, now_);
}

void Worker::after_request(uint32_t i, bool keep) {
  Conn& c = conns_[i];
  if (!keep) {
    ++results_.server_closes;
    close_conn(c, now_);
    return;
  }
  c.state = State::idle;
  Ticket t;
  if (running_ && plan_.next(now_, t)) {
    start_request(i, t);
  } else {
    idle_.push_back(i);
  }
}

void Worker::dispatch_idle() {
  Ticket t;
  while (!idle_.empty() && plan_.next(now_, t)) {
    uint32_t i = idle_.back();
    idle_.pop_back();
    start_request(i, t);
  }
}

void Worker::scan(uint64_t now) {
  if (now < next_scan_) return;
  next_scan_ = now + kScanIntervalNs;
  bool reconnect = running_ && !plan_.issuing_over(now);
  for (auto& c : conns_) {
    switch (c.state) {
      case State::connecting:
        if (c.deadline <= now) {
          if (measuring(now)) ++results_.errors[static_cast<size_t>(ErrorKind::timeout)];
          close_conn(c, now);
        }
        break;
      case State::busy:
        if (c.deadline <= now) fail_request(static_cast<uint32_t>(&c - conns_.data()), ErrorKind::timeout);
        break;
      case State::down:
        if (reconnect && c.retry_at <= now) connect(static_cast<uint32_t>(&c - conns_.data()));
        break;
      default:
        break;
    }
  }
}

void Worker::wait_events(uint64_t wake_at) {
  buffers_.flush();
  uint64_t now = monotonic_ns();
  uint64_t wait = wake_at > now ? wake_at - now : 0;
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(wait / 1'000'000'000ull);
  ts.tv_nsec = static_cast<long long>(wait % 1'000'000'000ull);
  io_uring_cqe* cqe = nullptr;
  io_uring_submit_and_wait_timeout(ring_.raw(), &cqe, 1, &ts, nullptr);
  // One timestamp per batch of completions: they were all reaped at this
  // moment, and a clock read per completion would cost more than it tells.
  now_ = monotonic_ns();
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(ring_.raw(), head, cqe) {
    on_cqe(cqe);
    ++seen;
  }
  io_uring_cq_advance(ring_.raw(), seen);
}

void Worker::abandon_in_flight() {
  for (uint32_t i = 0; i < conns_.size(); ++i) {
    if (conns_[i].state == State::busy) fail_request(i, ErrorKind::timeout);
  }
}

void Worker::run(const PlanParams& params) {
  plan_ = LoadPlan(params);
  results_.measure_start_ns = params.warmup_end_ns;
  running_ = true;
  now_ = monotonic_ns();
  next_scan_ = 0;
  for (;;) {
    if (now_ >= plan_.hard_end()) {
      abandon_in_flight();
      break;
    }
    scan(now_);
    dispatch_idle();
    if (plan_.issuing_over(now_) && busy_ == 0) break;
    uint64_t wake = std::min(next_scan_, plan_.hard_end());
    if (!idle_.empty()) wake = std::min(wake, plan_.wake_at());
    wait_events(wake);
  }
  running_ = false;
  results_.not_sent = plan_.not_sent(now_);
  // Time-bound runs report over the window they measured; --requests runs
  // over the time their requests actually took.
  if (params.max_measured != 0) {
    results_.measure_end_ns = std::max(last_done_, params.warmup_end_ns);
  } else {
    results_.measure_end_ns = params.stop_ns;
  }
  drain_and_close();
}

void Worker::drain_and_close() {
  for (auto& c : conns_) {
    if (c.fd >= 0) close_conn(c, UINT64_MAX);
  }
  // Cancelled operations complete promptly; bounded all the same.
  uint64_t until = monotonic_ns() + uint64_t{1'000'000'000};
  while (monotonic_ns() < until) {
    bool pending = std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) {
      return c.connect_op || c.send_op || c.recv_op;
    });
    if (!pending) break;
    wait_events(std::min<uint64_t>(until, monotonic_ns() + 10'000'000));
  }
}

}  // namespace aigw::bench
