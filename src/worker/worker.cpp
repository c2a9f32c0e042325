#include "worker/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "io/clock.h"
#include "log/log.h"
#include "metrics/access_log.h"
#include "worker/endpoints.h"

namespace aigw::worker {

namespace {

// The linger after a final response: long enough for a client to read it and
// close, short enough that a client that never closes cannot hold the slot.
constexpr int64_t kLingerMs = 2000;
// Receive buffers handed to the kernel at start; the ring grows to
// [server.io] buffer_count as load needs (io/buffer_ring.h).
constexpr uint32_t kInitialBuffers = 64;

}  // namespace

Worker::Worker(unsigned index, unsigned count, std::shared_ptr<const config::Config> cfg,
               std::vector<int> listen_fds, size_t public_listeners, WorkerReports& reports,
               std::shared_ptr<tls::TicketKeys> tickets)
    : index_(index),
      count_(count),
      public_listeners_(public_listeners),
      cfg_(std::move(cfg)),
      listen_fds_(std::move(listen_fds)),
      reports_(reports),
      tickets_(std::move(tickets)),
      plugins_(std::make_unique<Runtime>(*this)),
      request_id_state_(metrics::request_id_seed(index)),
      sample_rng_(0x9e3779b97f4a7c15ull * (index + 1)) {
  const auto& s = cfg_->server;
  limits_.max_header_bytes = s.limits.max_header_bytes;
  limits_.max_header_count = s.limits.max_header_count;
  limits_.max_uri_bytes = s.limits.max_uri_bytes;
  limits_.max_body_bytes = s.limits.max_body_bytes;
  accept_armed_.assign(listen_fds_.size(), false);

  auto set = [&](TimerKind k, config::Duration d) {
    timers_[static_cast<size_t>(k)].duration_ms = d.count();
  };
  set(TimerKind::header, s.timeouts.header_read);
  set(TimerKind::body, s.timeouts.body_read_gap);
  set(TimerKind::idle, s.timeouts.keepalive_idle);
  set(TimerKind::send, s.timeouts.send);
  set(TimerKind::linger, config::Duration(kLingerMs));

  // Tick often enough that the shortest timeout fires within a quarter of its
  // length, and no more often than every 10 ms.
  int64_t shortest = kLingerMs;
  for (const auto& t : timers_) {
    if (t.duration_ms > 0 && t.duration_ms < shortest) shortest = t.duration_ms;
  }
  tick_ms_ = std::clamp<int64_t>(shortest / 4, 10, 250);

  install_core_routes(router_);
  install_admin_routes(admin_router_);
}

Worker::~Worker() {
  for (auto& c : conns_) {
    if (c && c->fd >= 0) ::close(c->fd);
  }
  for (int fd : listen_fds_) {
    if (fd >= 0) ::close(fd);
  }
}

bool Worker::setup(std::string& why) {
  std::string dropped;
  if (!ring_.init(static_cast<unsigned>(cfg_->server.io.ring_entries), dropped, why)) return false;
  if (!dropped.empty()) {
    log::warn("io_uring setup flags refused by the kernel, continuing without them",
              {{"worker", index_}, {"dropped", dropped}});
  }
  // A few buffers at first, more as receives find none (io/buffer_ring.h).
  if (!buffers_.init(ring_.raw(), 0, static_cast<uint32_t>(cfg_->server.io.buffer_count),
                     static_cast<uint32_t>(cfg_->server.io.buffer_size), why, kInitialBuffers)) {
    return false;
  }
  if (cfg_->server.tls.enabled()) {
    tls_ = tls::ServerContext::create(cfg_->server.tls.cert_file, cfg_->server.tls.key_file, why,
                                      tickets_);
    if (!tls_) return false;
  }
  now_ms_ = io::mono_ns() / 1'000'000;
  next_tick_ms_ = now_ms_ + tick_ms_;
  refresh_date();
  // The first plugin generation is already waiting: install it before the
  // first connection can arrive.
  drain_mailbox();
  arm_mailbox();
  for (size_t i = 0; i < listen_fds_.size(); ++i) arm_accept(i);
  return true;
}

void Worker::run() {
  std::string why;
  if (!setup(why)) {
    log::error("worker failed to start", {{"worker", index_}, {"error", why}});
    reports_.accepting.release();
    reports_.exited.fetch_add(1);
    return;
  }
  io_uring_submit(ring_.raw());
  reports_.accepting.release();

  io_uring* ring = ring_.raw();
  // One clock read per loop turn, taken when the wait returns: the turn's
  // timers run against it, and the next wait is measured from it. A turn's
  // own work (microseconds) is the most a timer can fire late by, as in
  // nginx's cached time; three reads per turn were about a tenth of a slow
  // stream's timer costs.
  int64_t now_ns = io::mono_ns();
  while (!exit_) {
    int64_t wait_ns = std::max<int64_t>(1, next_tick_ms_ - now_ms_) * 1000000;
    if (uint64_t t = plugins_->next_timer_ns()) {
      int64_t until = static_cast<int64_t>(t) - now_ns;
      wait_ns = std::clamp<int64_t>(until, 1000, wait_ns);
    }
    __kernel_timespec ts{wait_ns / 1000000000, wait_ns % 1000000000};
    io_uring_cqe* first = nullptr;
    int rc = io_uring_submit_and_wait_timeout(ring, &first, 1, &ts, nullptr);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
      log::error("io_uring wait failed", {{"worker", index_}, {"error", std::strerror(-rc)}});
      break;
    }
    now_ns = io::mono_ns();
    now_ms_ = now_ns / 1'000'000;

    // A turn that woke for one completion (a slow stream's event, a lone
    // request) has no other send to share the next io_uring_enter with, so
    // its sends are tried at once (Worker::flush); with more, the ring
    // batches them into one system call.
    send_now_ = io_uring_cq_ready(ring) == 1;
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      handle(cqe);
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
    buffers_.grow_if_starved();
    buffers_.flush();
    plugins_->after_completions();
    complete_sends_now();
    send_now_ = false;

    if (!rearm_recv_.empty()) {
      // Swap first: arm_recv may queue a slot again.
      std::vector<uint32_t> again;
      again.swap(rearm_recv_);
      for (uint32_t i : again) {
        Connection& c = *conns_[i];
        if (c.fd >= 0 && !c.recv_armed && !c.read_paused && c.phase != Phase::closing) {
          arm_recv(c);
        }
      }
    }
    if (!resume_.empty()) {
      std::vector<uint32_t> again;
      again.swap(resume_);
      for (uint32_t i : again) {
        Connection& c = *conns_[i];
        if (c.fd >= 0 && c.phase == Phase::idle && !c.close_after_write) resume_reading(c);
      }
    }
    plugins_->run_timers(static_cast<uint64_t>(now_ns));
    if (plugins_->has_deferred()) plugins_->run_deferred();
    // Access-log lines go out in batches: each write to a file is handed to
    // a kernel worker thread (io-wq), and one per loop turn measured about
    // 3 us of CPU per request. A full batch goes now, the rest on the tick.
    if (access_log_fd_ >= 0 && !access_log_.in_flight() && access_log_.pending() >= kLogBatchBytes) {
      flush_access_log();
    }
    if (now_ms_ >= next_tick_ms_) tick();
    if (draining_ && active_ == 0) exit_ = true;
    if (stop_until_ms_ != 0 && (now_ms_ >= stop_until_ms_ || active_ == 0)) exit_ = true;
  }
  plugins_->shutdown();
  drain_access_log();
  log::debug("worker exiting", {{"worker", index_}});
  reports_.exited.fetch_add(1);
}

void Worker::handle(const io_uring_cqe* cqe) {
  io::UserData ud = io::unpack(cqe->user_data);
  switch (ud.op) {
    case io::Op::accept:
      on_accept(ud.index, cqe);
      break;
    case io::Op::recv:
      if (Connection* c = slot(ud.index, ud.generation)) on_recv(*c, cqe);
      break;
    case io::Op::send:
      if (Connection* c = slot(ud.index, ud.generation)) on_send(*c, cqe->res);
      break;
    case io::Op::mailbox:
      on_mailbox();
      break;
    case io::Op::process_read:
    case io::Op::process_write:
    case io::Op::process_exit:
      plugins_->on_process_cqe(static_cast<uint8_t>(ud.op), ud.index, ud.generation, cqe->res);
      break;
    case io::Op::upstream_connect:
    case io::Op::upstream_send:
    case io::Op::upstream_recv:
      plugins_->on_upstream_cqe(static_cast<uint8_t>(ud.op), ud.index, ud.generation, cqe->res, cqe->flags);
      break;
    case io::Op::log_write:
      access_log_.done(cqe->res);
      break;
    case io::Op::cancel:
    case io::Op::close:
    case io::Op::none:
      break;
  }
}

Connection* Worker::slot(uint32_t index, uint32_t generation) {
  if (index >= conns_.size() || !conns_[index]) return nullptr;
  Connection* c = conns_[index].get();
  // A completion for a previous tenant of this slot would be a bug (we wait
  // for every operation before reuse); refuse to apply it all the same.
  return c->generation == generation ? c : nullptr;
}

// ---- accept -----------------------------------------------------------------

void Worker::arm_accept(size_t listener) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_multishot_accept(sqe, listen_fds_[listener], nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::accept, static_cast<uint32_t>(listener), 0));
  accept_armed_[listener] = true;
}

void Worker::on_accept(size_t listener, const io_uring_cqe* cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE)) accept_armed_[listener] = false;
  int res = cqe->res;
  if (res >= 0) {
    if (draining_) {
      ::close(res);
    } else if (active_ - refusals_ >= cfg_->server.limits.max_connections_per_worker ||
               active_ - refusals_ >= fds_.client_cap() || !fds_.take()) {
      refuse(res, listener >= public_listeners_);
    } else {
      Connection& c = alloc_connection(res);
      c.admin = listener >= public_listeners_;
      // The client's address is for the access log only: one getpeername
      // per connection, and none when the log is off.
      const plugin::Generation* gen = plugins_->generation();
      if (access_log_fd_ >= 0 && !c.admin && gen && gen->config->access_log.enabled) {
        c.peer = metrics::Peer::of_socket(res);
      }
      std::string why;
      if (tls_ && !c.admin) c.tls = std::make_unique<tls::Session>();
      if (c.tls && !c.tls->init_server(*tls_, why)) {
        log::warn("TLS session setup failed", {{"worker", index_}, {"error", why}});
        close_now(c);
      } else {
        timer_arm(c, TimerKind::header);
        arm_recv(c);
      }
    }
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOMEM || res == -ENOBUFS) {
    log::warn("accept failed, retrying shortly",
              {{"worker", index_}, {"error", std::strerror(-res)}});
    accept_retry_ms_ = now_ms_ + 100;
  } else if (res != -ECANCELED) {
    log::warn("accept failed", {{"worker", index_}, {"error", std::strerror(-res)}});
  }
  if (!accept_armed_[listener] && !draining_ && listen_fds_[listener] >= 0 &&
      now_ms_ >= accept_retry_ms_) {
    arm_accept(listener);
  }
}

// The connection limit or the descriptor share is reached: a short 503 the
// client can read, then close, at accept, never halfway through a stream.
// The refusal itself is a connection that lingers until the client closes
// (closing with its request unread would reset it before it reads the 503),
// drawn from a small reserve of descriptors outside the worker's share (see
// fd_share in server.cpp); past that reserve the socket is closed at once.
void Worker::refuse(int fd, bool admin) {
  const bool by_fds = active_ - refusals_ < cfg_->server.limits.max_connections_per_worker;
  metrics_.count_refused(by_fds ? metrics::Refusal::fd_limit : metrics::Refusal::connection_limit);
  if (!refusing_) {
    refusing_ = true;
    log::warn(by_fds ? "refusing connections: this worker's share of file descriptors is spent"
                     : "refusing connections: max_connections_per_worker reached",
              {{"worker", index_}, {"connections", static_cast<unsigned long long>(active_ - refusals_)},
               {"fd_limit", static_cast<unsigned long long>(fds_.limit())}});
  }
  // A TLS client cannot read a plain 503 before its handshake.
  if ((tls_ && !admin) || refusals_ >= kRefusalReserve) {
    ::close(fd);
    return;
  }
  Connection& c = alloc_connection(fd);
  c.refusal = true;
  ++refusals_;
  http::ResponseMeta meta;
  meta.keep_alive = false;
  meta.date = {date_, date_len_};
  http::write_error(c.out, 503, meta, "server_busy", "This server has reached its connection limit; retry shortly.",
                    {{"Retry-After", "1"}});
  c.close_after_write = true;  // what the client sends is read only to be discarded
  arm_recv(c);
  flush(c);
}

// ---- mailbox ----------------------------------------------------------------

void Worker::arm_mailbox() {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_read(sqe, mailbox_.event_fd(), &mailbox_value_, sizeof mailbox_value_, 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::mailbox, 0, 0));
}

void Worker::on_mailbox() {
  drain_mailbox();
  if (!exit_) arm_mailbox();
}

void Worker::connect_peers(const std::vector<Worker*>& peers) {
  peers_ = peers;
  inbound_.clear();
  for (size_t i = 0; i < peers.size(); ++i) inbound_.push_back(std::make_unique<PeerRing<routing::News>>());
}

void Worker::publish_health(const routing::News& news) {
  for (Worker* peer : peers_) {
    if (peer == this) continue;
    // A full ring means that worker is far behind; the news is advisory
    // (its own failures will teach it the same), so drop and count.
    if (peer->inbound_[index_]->push(news)) {
      peer->mailbox_.notify();
    } else {
      ++news_dropped_;
    }
  }
}

void Worker::drain_mailbox() {
  routing::News news;
  for (auto& ring : inbound_) {
    while (ring->pop(news)) plugins_->apply_health(news);
  }
  Message m;
  while (mailbox_.pop(m)) {
    switch (m.kind) {
      case Message::Kind::all_ready:
        all_ready_ = true;
        break;
      case Message::Kind::unready:
        unready_ = true;
        break;
      case Message::Kind::drain:
        start_drain();
        break;
      case Message::Kind::stop:
        stop_now();
        break;
      case Message::Kind::plugins: {
        auto gen = std::static_pointer_cast<plugin::Generation>(
            std::const_pointer_cast<void>(m.payload));
        std::string why;
        if (plugins_->install(std::move(gen), why)) {
          reports_.plugin_acks.fetch_add(1);
        } else {
          log::error("worker kept its plugins: the new generation failed",
                     {{"worker", index_}, {"error", why}});
          reports_.plugin_failures.fetch_add(1);
        }
        break;
      }
      case Message::Kind::addresses: {
        auto u = std::static_pointer_cast<const AddressUpdate>(m.payload);
        plugins_->update_addresses(u->generation, u->provider, u->addrs);
        break;
      }
      case Message::Kind::report: {
        auto report = std::static_pointer_cast<WorkerReport>(std::const_pointer_cast<void>(m.payload));
        if (report->what == WorkerReport::What::metrics) {
          metrics::Snapshot& snap = report->snapshots[index_];
          snap = metrics_.snapshot();
          snap.log_lines_dropped = access_log_.dropped();
          snap.health_news_dropped = news_dropped_;
          plugins_->channel_states(snap, io::mono_ns());
        } else if (report->what == WorkerReport::What::history) {
          history_.copy_to(report->history[index_], static_cast<int64_t>(time(nullptr)));
        } else if (report->what == WorkerReport::What::keys) {
          report->snapshots[index_] = metrics_.snapshot();
        } else if (report->what == WorkerReport::What::errors) {
          recent_errors_.copy_to(report->errors[index_]);
        } else {
          plugins_->health_json(report->health[index_], io::mono_ns());
        }
        report->done.fetch_add(1, std::memory_order_release);
        break;
      }
      case Message::Kind::admin_reply: {
        auto reply = std::static_pointer_cast<const AdminReply>(m.payload);
        Connection* c = slot(reply->conn_index, reply->conn_generation);
        if (c && c->phase == Phase::responding && c->exchange == kAdminExchange) {
          http::ResponseMeta meta;
          // The request's own decision (Connection: close, HTTP/1.0, the
          // per-connection request cap), not just the drain: a client that
          // asked to close waits for the close to know the answer ended.
          meta.keep_alive = c->admin_keep_alive && !draining_;
          meta.version_minor = c->admin_version_minor;
          meta.date = {date_, date_len_};
          std::string out;
          http::write_response(out, reply->status, meta, reply->content_type, reply->body);
          output(reply->conn_index, reply->conn_generation, out, true, !meta.keep_alive);
        }
        break;
      }
    }
  }
}

void Worker::start_drain() {
  if (draining_) return;
  draining_ = true;
  for (size_t i = 0; i < listen_fds_.size(); ++i) {
    if (accept_armed_[i]) {
      io_uring_sqe* sqe = ring_.sqe();
      io_uring_prep_cancel64(sqe, io::pack(io::Op::accept, static_cast<uint32_t>(i), 0), 0);
      io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, 0, 0));
    }
    // Closing our SO_REUSEPORT socket makes the kernel send new connections
    // to workers that still listen (none, during a whole-process drain).
    ::close(listen_fds_[i]);
    listen_fds_[i] = -1;
  }
  // Idle keep-alive connections have nothing in flight: close them now.
  // Busy ones close after their current response (dispatch sees draining_).
  for (auto& p : conns_) {
    if (!p || p->fd < 0) continue;
    Connection& c = *p;
    if (c.phase == Phase::idle && !c.send_inflight && c.out.empty()) close_now(c);
  }
}

void Worker::stop_now() {
  if (stop_until_ms_ != 0) return;
  uint64_t cut = 0;
  for (auto& p : conns_) {
    if (!p || p->fd < 0 || p->phase == Phase::closing || p->phase == Phase::lingering) continue;
    Connection& c = *p;
    ++cut;
    // A response still in progress ends with an error the client can read
    // (an error event on a stream that already started), not a bare close.
    if (c.exchange != kNoSlot && c.exchange != kAdminExchange) {
      plugins_->abort(c.exchange, 503, "shutting_down",
                      "The gateway is shutting down and could not finish this response.");
    }
    if (c.fd >= 0 && c.phase != Phase::closing) {
      c.close_after_write = true;
      if (!c.send_inflight && c.out.empty()) close_now(c);
    }
  }
  reports_.dropped_at_stop.fetch_add(cut);
  // The loop runs on until those last bytes are sent, for half a second at
  // most. Operations still in flight then are cancelled when the ring is
  // torn down; connection memory outlives the ring (conns_ is destroyed
  // after it).
  stop_until_ms_ = now_ms_ + 500;
}

// ---- connections ------------------------------------------------------------

Connection& Worker::alloc_connection(int fd) {
  uint32_t i;
  if (!free_slots_.empty()) {
    i = free_slots_.back();
    free_slots_.pop_back();
  } else {
    i = static_cast<uint32_t>(conns_.size());
    conns_.push_back(std::make_unique<Connection>());
    conns_[i]->index = i;
  }
  Connection& c = *conns_[i];
  c.fd = fd;
  c.phase = Phase::idle;
  ++active_;
  if (refusing_ && (active_ - refusals_) * 10 < fds_.client_cap() * 9 &&
      (active_ - refusals_) * 10 < cfg_->server.limits.max_connections_per_worker * 9) {
    refusing_ = false;  // well below both limits again: the next refusal is news
    log::info("accepting connections again", {{"worker", index_}});
  }
  metrics_.connection_opened();
  return c;
}

void Worker::release(Connection& c) {
  timer_disarm(c);
  ::close(c.fd);
  if (c.refusal) {
    --refusals_;
  } else {
    fds_.give();
  }
  // Reset everything but the identity; give string memory back so a slot
  // that served a large request does not keep it.
  uint32_t index = c.index;
  uint32_t generation = c.generation + 1;
  c = Connection{};
  c.index = index;
  c.generation = generation;
  free_slots_.push_back(index);
  --active_;
  metrics_.connection_closed();
}

void Worker::close_now(Connection& c) {
  if (c.phase == Phase::closing) return;
  if (c.exchange != kNoSlot) {
    uint32_t ex = c.exchange;
    c.exchange = kNoSlot;
    if (ex != kAdminExchange) plugins_->client_gone(ex);
  }
  c.phase = Phase::closing;
  timer_disarm(c);
  if (c.ops == 0) {
    release(c);
    return;
  }
  // Cancel whatever is in flight on this fd (the armed receive, a send to a
  // client that stopped reading). The buffers stay owned by those operations
  // until their completions arrive; release() runs on the last one.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, c.index, c.generation));
}

void Worker::start_linger(Connection& c) {
  // Half-close and read until the client closes: closing with unread input
  // would send a reset that can destroy the response we just sent.
  ::shutdown(c.fd, SHUT_WR);
  c.phase = Phase::lingering;
  c.in.clear();
  std::string().swap(c.in);
  c.read_paused = false;
  if (!c.recv_armed) arm_recv(c);
  timer_arm(c, TimerKind::linger);
}

// ---- timers -----------------------------------------------------------------
// One list per timeout kind. Every entry of a list has the same duration, so
// appending at the tail keeps each list sorted by deadline: arming, disarming
// and expiring are O(1) per connection, with no heap.

void Worker::timer_arm(Connection& c, TimerKind kind) {
  timer_disarm(c);
  TimerList& l = timers_[static_cast<size_t>(kind)];
  c.timer = kind;
  c.deadline_ms = now_ms_ + l.duration_ms;
  c.timer_prev = l.tail;
  c.timer_next = kNoSlot;
  if (l.tail != kNoSlot) {
    conns_[l.tail]->timer_next = c.index;
  } else {
    l.head = c.index;
  }
  l.tail = c.index;
}

void Worker::timer_disarm(Connection& c) {
  if (c.timer == TimerKind::none) return;
  TimerList& l = timers_[static_cast<size_t>(c.timer)];
  if (c.timer_prev != kNoSlot) {
    conns_[c.timer_prev]->timer_next = c.timer_next;
  } else {
    l.head = c.timer_next;
  }
  if (c.timer_next != kNoSlot) {
    conns_[c.timer_next]->timer_prev = c.timer_prev;
  } else {
    l.tail = c.timer_prev;
  }
  c.timer = TimerKind::none;
  c.timer_prev = c.timer_next = kNoSlot;
}

void Worker::tick() {
  next_tick_ms_ = now_ms_ + tick_ms_;
  refresh_date();
  // Only the access log's lines read it (two vDSO calls).
  if (access_log_fd_ >= 0) wall_minus_mono_ns_ = io::wall_minus_mono_ns();
  if (all_ready_ && !draining_) plugins_->on_tick(io::mono_ns());
  if (access_log_fd_ >= 0 && !access_log_.in_flight() && access_log_.pending() > 0) flush_access_log();
  for (auto& l : timers_) {
    while (l.head != kNoSlot && conns_[l.head]->deadline_ms <= now_ms_) {
      Connection& c = *conns_[l.head];
      TimerKind kind = c.timer;
      timer_disarm(c);
      on_timeout(c, kind);
    }
  }
  if (!draining_ && now_ms_ >= accept_retry_ms_) {
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      if (!accept_armed_[i] && listen_fds_[i] >= 0) arm_accept(i);
    }
  }
}

void Worker::on_timeout(Connection& c, TimerKind kind) {
  switch (kind) {
    case TimerKind::header:
      if (c.phase == Phase::head) {
        fail(c, 408, "request_timeout", "The request head was not received in time.");
        return;
      }
      break;  // connected but never sent a byte: nothing to answer
    case TimerKind::body:
      fail(c, 408, "request_timeout", "The request body stalled for too long.");
      return;
    default:
      break;
  }
  // Idle keep-alive, a client that never sent a byte, a client that does not
  // read what we send, or one that never closes after our final response.
  close_now(c);
}

void Worker::refresh_date() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  if (ts.tv_sec == date_second_ && date_len_ != 0) return;
  date_second_ = ts.tv_sec;
  date_len_ = http::format_http_date(ts.tv_sec, date_);
}

}  // namespace aigw::worker
