#include "upstream/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "io/clock.h"
#include "log/log.h"

namespace aigw::upstream {

namespace {

int64_t ns(config::Duration d) { return static_cast<int64_t>(d.count()) * 1'000'000; }

socklen_t addr_len(const sockaddr_storage& ss) {
  return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Connections are shared only between providers that would make the same
// connection: same address and, for https, the same trust settings (a
// connection verified against one CA must not serve a provider that trusts
// another).
// Written into a buffer the caller keeps: every request looks its pool up,
// and building the key from temporaries cost allocations each time.
void write_pool_key(std::string& key, const config::UpstreamConfig& u) {
  key.clear();
  key.append(u.tls ? "https://" : "http://").append(u.host).push_back(':');
  char digits[8];
  key.append(digits, static_cast<size_t>(std::to_chars(digits, digits + sizeof digits, u.port).ptr - digits));
  if (u.tls) key.append(u.tls_verify ? " verify " : " insecure ").append(u.ca_file);
}

// A reused keep-alive connection may have been closed by the provider just
// as we sent on it; the request is then sent again, on a new connection (so
// one retry is enough; the bound only guards the rule).
constexpr uint8_t kMaxStaleRetries = 2;

}  // namespace

// Counts the entry points on the stack; the outermost one releases what was
// queued while it ran.
class Client::Depth {
 public:
  explicit Depth(Client& c) : c_(c) { ++c_.depth_; }
  ~Depth() {
    if (--c_.depth_ == 0) c_.release_deferred();
  }
  Depth(const Depth&) = delete;
  Depth& operator=(const Depth&) = delete;

 private:
  Client& c_;
};

Client::Client(io::Ring& ring, io::BufferRing& buffers, io::FdBudget& fds, Listener& listener)
    : ring_(ring), buffers_(buffers), fds_(fds), listener_(listener) {}

Client::~Client() {
  // The ring goes away with the worker; nothing more completes. Close what
  // is still open so no descriptor outlives the worker.
  conns_.for_each([&](Handle, Connection& c) {
    if (c.fd >= 0) {
      ::close(c.fd);
      fds_.give();
      c.fd = -1;
    }
  });
}

Exchange* Client::exchange(Handle h) { return exchanges_.get(h); }
Connection* Client::connection(Handle h) { return conns_.get(h); }

size_t Client::idle_connections() const {
  size_t n = 0;
  for (const auto& [key, pool] : pools_) n += pool->idle.size();
  return n;
}

Pool& Client::pool_for(const config::UpstreamConfig& u) {
  write_pool_key(pool_key_, u);
  auto it = pools_.find(pool_key_);
  if (it == pools_.end()) {
    auto pool = std::make_unique<Pool>();
    pool->key = pool_key_;
    it = pools_.emplace(pool_key_, std::move(pool)).first;
  }
  it->second->max_idle = u.max_idle_connections;  // a reload may change it
  return *it->second;
}

tls::ClientContext* Client::tls_context(const config::UpstreamConfig& u, std::string& why) {
  // One context per CA choice per worker: each has its own random generator
  // (shared-nothing), and loading a CA bundle is done once, not per connection.
  std::string key = (u.tls_verify ? "verify:" : "insecure:") + u.ca_file;
  auto it = tls_contexts_.find(key);
  if (it != tls_contexts_.end()) return it->second.get();
  std::unique_ptr<tls::ClientContext> ctx =
      u.tls_verify ? tls::ClientContext::create(u.ca_file, why) : tls::ClientContext::create_insecure(why);
  if (!ctx) return nullptr;
  if (!u.tls_verify) {
    log::warn("TLS certificate verification is off for an upstream (tls_verify = false)",
              {{"upstream", u.host_header}});
  }
  return tls_contexts_.emplace(key, std::move(ctx)).first->second.get();
}

// ---- starting an exchange -----------------------------------------------------

Handle Client::start(Request&& request) {
  Depth depth(*this);
  Handle eh = exchanges_.acquire();
  Exchange& e = *exchanges_.get(eh);
  e.cookie = request.cookie;
  e.config = request.config;
  e.addrs = request.addrs;
  e.pool = &pool_for(*e.config);
  e.bytes = std::move(request.bytes);
  e.head_only = request.head_only;
  e.done = false;
  e.stale_retries = 0;
  e.phase = Failure::Phase::connecting;
  e.conn = {};
  int64_t total = request.total_timeout_ns > 0 ? request.total_timeout_ns : ns(e.config->request_timeout);
  e.total_deadline = io::mono_ns() + total;
  attach(eh);
  return eh;
}

void Client::attach(Handle eh, bool reuse) {
  Exchange& e = *exchange(eh);
  Pool& pool = *e.pool;
  while (reuse && !pool.idle.empty()) {
    Handle ch = pool.idle.back();
    pool.idle.pop_back();
    Connection* c = connection(ch);
    if (c == nullptr || c->state != Connection::State::idle) continue;
    bind(*c, ch, e, eh);
    e.phase = Failure::Phase::waiting_head;
    send_request(*c);
    return;
  }
  const uint64_t cap = e.config->max_connections;
  if (cap != 0 && pool.open >= cap) {
    fail(eh, Failure::Kind::pool_full,
         "Every one of the " + std::to_string(cap) + " connections this worker may open to the provider " +
             e.config->host_header + " is busy; try again shortly.");
    return;
  }
  connect_new(eh);
}

void Client::connect_new(Handle eh) {
  Exchange& e = *exchange(eh);
  if (e.addrs == nullptr || e.addrs->empty()) {
    fail(eh, Failure::Kind::connect, "The provider " + e.config->host_header + " has no address.");
    return;
  }
  if (!fds_.take()) {
    // Idle connections give their descriptors back once their cancels
    // complete: the next request finds room, this one is told to retry.
    close_idle(8);
    fail(eh, Failure::Kind::no_fds,
         "The gateway has no file descriptor left for another connection to the provider; try again "
         "shortly.");
    return;
  }
  const sockaddr_storage& addr = (*e.addrs)[rr_++ % e.addrs->size()];
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int err = errno;
    fds_.give();
    bool exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    fail(eh, exhausted ? Failure::Kind::no_fds : Failure::Kind::connect,
         std::string("Cannot open a connection to the provider: socket: ") + std::strerror(err));
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  Handle ch = conns_.acquire();
  Connection& c = *connection(ch);
  c.self = ch;
  c.fd = fd;
  c.state = Connection::State::connecting;
  c.pool = e.pool;
  c.ops = 0;
  c.recv_armed = c.send_inflight = false;
  c.reusable = true;
  c.release_queued = false;
  c.served = 0;
  c.sending.clear();
  c.sending_off = 0;
  c.pending.clear();
  c.tls.reset();
  c.plain.clear();
  c.addr = addr;
  c.addr_len = addr_len(addr);
  ++e.pool->open;
  bind(c, ch, e, eh);
  e.phase = Failure::Phase::connecting;

  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_connect, c.self.index, c.self.generation));
  ++c.ops;
  set_deadline(e, eh, io::mono_ns() + ns(e.config->connect_timeout));
}

void Client::bind(Connection& c, Handle ch, Exchange& e, Handle eh) {
  c.exchange = eh;
  c.head_only = e.head_only;
  c.reset_response();
  if (c.state == Connection::State::idle) c.state = Connection::State::busy;
  e.conn = ch;
}

void Client::send_request(Connection& c) {
  if (!c.recv_armed) arm_recv(c);
  if (c.tls && !c.tls->handshake_done()) {
    handshake_step(c);  // the request follows the handshake
    return;
  }
  write_request(c);
}

void Client::write_request(Connection& c) {
  Handle eh = c.exchange;
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) return;
  if (c.tls) {
    if (c.tls->write(e->bytes) != tls::Session::Status::ok) {
      fail(eh, Failure::Kind::tls, "TLS with the provider failed: " + c.tls->error());
      return;
    }
    queue_send(c, c.tls->take_output());
  } else {
    queue_send(c, e->bytes);
  }
  e->phase = Failure::Phase::waiting_head;
  set_deadline(*e, eh, io::mono_ns() + ns(e->config->first_byte_timeout));
}

void Client::handshake_step(Connection& c) {
  tls::Session::Status st = c.tls->handshake();
  if (c.tls->has_output()) queue_send(c, c.tls->take_output());
  if (st == tls::Session::Status::want_io) return;
  if (st != tls::Session::Status::ok) {
    tls_failed(c);
    return;
  }
  c.tls->save(c.pool->tls_session);
  c.state = Connection::State::busy;
  write_request(c);
}

void Client::tls_failed(Connection& c) {
  if (c.exchange.set()) {
    fail(c.exchange, Failure::Kind::tls, "TLS with the provider failed: " + c.tls->error());
  } else {
    close(c);  // an idle connection: nobody to tell
  }
}

void Client::queue_send(Connection& c, std::string_view bytes) {
  if (bytes.empty() || c.state == Connection::State::closing) return;
  if (c.send_inflight) {
    c.pending.append(bytes);
    return;
  }
  c.sending.assign(bytes);
  c.sending_off = 0;
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_send(sqe, c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_send, c.self.index, c.self.generation));
  c.send_inflight = true;
  ++c.ops;
}

// One multishot receive per connection, armed at its first send and kept
// while it lives (also idle in the pool, to notice the provider closing it):
// no submission per read, and the kernel takes a buffer from the worker's
// ring only when bytes arrive. It ends on EOF, an error, a cancel, or when
// every buffer is in use (ENOBUFS: re-armed after the batch gives them back).
void Client::arm_recv(Connection& c) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_.group_id();
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_recv, c.self.index, c.self.generation));
  c.recv_armed = true;
  ++c.ops;
}

void Client::rearm_starved() {
  if (starved_.empty()) return;
  Depth depth(*this);
  std::vector<Handle> again;
  again.swap(starved_);
  for (Handle h : again) {
    Connection* c = connection(h);
    if (c != nullptr && c->state != Connection::State::closing && !c->recv_armed) arm_recv(*c);
  }
}

void Client::set_deadline(Exchange& e, Handle eh, int64_t at) {
  if (at > e.total_deadline) at = e.total_deadline;
  e.deadline = at;
  // Every read of a stream moves its idle deadline later, and moving the heap
  // entry each time cost a sift (about 50 instructions a read). A later
  // deadline is only noted: the entry stays where it was, and when it comes
  // due run_timers moves it to the noted one instead of failing. An earlier
  // one (a phase with a shorter timeout) moves the entry now, so no deadline
  // fires late and none early; a stream pays one heap move per idle timeout.
  if (!deadlines_.contains(eh.index) || at < deadlines_.at(eh.index)) deadlines_.set(eh.index, at);
}

// ---- completions ----------------------------------------------------------------

void Client::on_cqe(io::Op op, uint32_t index, uint32_t generation, int res, uint32_t flags) {
  Depth depth(*this);
  // A receive's buffer goes back to the ring whatever becomes of the
  // connection (the kernel sees it again only at the batch's flush, so the
  // bytes stay valid while they are handled here).
  const bool has_buffer = op == io::Op::upstream_recv && res > 0 && (flags & IORING_CQE_F_BUFFER);
  const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  Connection* cp = conns_.get(index, generation);
  if (cp == nullptr) {  // cannot happen: a slot is released only once its operations are done
    if (has_buffer) buffers_.recycle(bid);
    return;
  }
  Connection& c = *cp;
  switch (op) {
    case io::Op::upstream_connect:
      --c.ops;
      on_connect(c, res);
      break;
    case io::Op::upstream_send:
      --c.ops;
      on_send(c, res);
      break;
    case io::Op::upstream_recv:
      if (!(flags & IORING_CQE_F_MORE)) {  // the multishot receive ended
        --c.ops;
        c.recv_armed = false;
      }
      on_recv(c, res, has_buffer ? buffers_.data(bid, static_cast<size_t>(res)) : std::string_view());
      if (has_buffer) buffers_.recycle(bid);
      break;
    default:
      --c.ops;
      break;
  }
  if (c.state == Connection::State::closing && c.ops == 0 && !c.release_queued) {
    c.release_queued = true;
    done_conns_.push_back(c.self);
  }
}

void Client::on_connect(Connection& c, int res) {
  if (c.state == Connection::State::closing) return;
  Handle eh = c.exchange;
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) {
    close(c);
    return;
  }
  if (res < 0) {
    fail(eh, Failure::Kind::connect,
         "Cannot connect to the provider " + e->config->host_header + ": " + std::strerror(-res));
    return;
  }
  if (!e->config->tls) {
    c.state = Connection::State::busy;
    send_request(c);
    return;
  }
  std::string why;
  tls::ClientContext* ctx = tls_context(*e->config, why);
  c.tls = std::make_unique<tls::Session>();
  if (ctx == nullptr ||
      !c.tls->init_client(*ctx, e->config->host, c.pool->tls_session.empty() ? nullptr : &c.pool->tls_session,
                          why)) {
    fail(eh, Failure::Kind::tls, "TLS setup for the provider failed: " + why);
    return;
  }
  c.state = Connection::State::handshaking;
  send_request(c);
}

void Client::on_send(Connection& c, int res) {
  c.send_inflight = false;
  if (c.state == Connection::State::closing) return;
  if (res < 0) {
    connection_lost(c, res);
    return;
  }
  c.sending_off += static_cast<size_t>(res);
  if (c.sending_off < c.sending.size()) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, c.fd, c.sending.data() + c.sending_off, c.sending.size() - c.sending_off,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_send, c.self.index, c.self.generation));
    c.send_inflight = true;
    ++c.ops;
  } else if (!c.pending.empty()) {
    std::string next;
    next.swap(c.pending);
    queue_send(c, next);
  } else {
    std::string().swap(c.sending);
  }
}

void Client::on_recv(Connection& c, int res, std::string_view got) {
  if (c.state == Connection::State::closing) return;
  if (res == -ENOBUFS) {
    // Every provided buffer is in use within this batch: back-pressure, not
    // a fault of the provider. Read again once the batch gave them back.
    buffers_.note_starved();  // more for the kernel at the batch's end, if any are left
    if (!c.recv_armed) starved_.push_back(c.self);
    ++starved_total_;
    return;
  }
  if (res <= 0) {
    connection_lost(c, res);
    return;
  }
  if (c.state == Connection::State::idle) {
    close(c);  // bytes on an idle connection: the provider broke the protocol
    return;
  }
  if (!c.tls) {
    on_response_bytes(c, got);
    if (c.state != Connection::State::closing && !c.recv_armed) arm_recv(c);
    return;
  }
  c.tls->feed(got);
  if (!c.tls->handshake_done()) {
    handshake_step(c);
    if (c.state == Connection::State::closing) return;
    if (!c.tls->handshake_done()) {
      if (!c.recv_armed) arm_recv(c);
      return;
    }
  }
  c.plain.clear();
  tls::Session::Status st;
  while ((st = c.tls->read(c.plain)) == tls::Session::Status::ok) {
  }
  if (c.tls->has_output()) queue_send(c, c.tls->take_output());
  if (st == tls::Session::Status::error) {
    tls_failed(c);
    return;
  }
  // close_notify: the provider is done with this connection. Known before
  // the last bytes are handed on, so the response that ends here does not
  // send the connection back to the pool.
  const bool peer_closed = st == tls::Session::Status::closed;
  if (peer_closed) c.reusable = false;
  if (!c.plain.empty()) {
    std::string plain;
    plain.swap(c.plain);  // the listener may start another read on this connection
    on_response_bytes(c, plain);
    if (c.plain.empty()) c.plain.swap(plain);  // keep the capacity
  }
  if (c.state == Connection::State::closing) return;
  if (peer_closed) {
    connection_lost(c, 0);
    return;
  }
  if (!c.recv_armed) arm_recv(c);
}

void Client::on_response_bytes(Connection& c, std::string_view bytes) {
  Handle eh = c.exchange;
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) return;
  // Any byte ends the first-byte wait; from then on the longest allowed
  // pause between bytes is the stream-idle timeout.
  set_deadline(*e, eh, io::mono_ns() + ns(e->config->stream_idle_timeout));
  if (c.head_done) {
    on_body_bytes(c, bytes);
    return;
  }
  // The head is parsed where it lies: in the bytes just read (they stay
  // valid until this batch of completions is done), and in `acc` only when
  // it came in pieces. A head that arrives whole, as almost all do, is never
  // copied and leaves the connection no buffer to keep.
  const bool held = !c.acc.empty();
  if (held) c.acc.append(bytes);
  std::string_view src = held ? std::string_view(c.acc) : bytes;
  for (;;) {
    http::ParseError err;
    http::ResponseLimits limits;
    auto st = http::parse_response_head(src, c.head_only, limits, c.head, err);
    if (st == http::ParseStatus::incomplete) {
      if (held) {
        c.acc.erase(0, static_cast<size_t>(src.data() - c.acc.data()));  // informational heads passed
      } else {
        c.acc.assign(src);
      }
      return;
    }
    if (st == http::ParseStatus::error) {
      fail(eh, std::string_view(err.code) == "upstream_response_too_large" ? Failure::Kind::too_large : Failure::Kind::protocol,
           std::string("The provider's response is malformed: ") + err.message);
      return;
    }
    if (!c.head.informational()) break;
    src.remove_prefix(c.head.head_bytes);
  }
  c.head_done = true;
  c.body_left = c.head.content_length;
  if (!c.head.keep_alive) c.reusable = false;
  e->phase = Failure::Phase::reading_body;
  std::string().swap(e->bytes);  // past the point where it could be sent again
  // The head's views point into `src`: keep it as it is until the listener
  // has seen the head. The rest of the bytes are the body's; from acc they
  // are taken out first (delivering them may park the connection, which
  // clears acc), and acc gives back its memory (a stream holds the
  // connection for minutes).
  listener_.on_head(e->cookie, c.head);
  e = exchange(eh);
  if (e == nullptr || e->done || c.exchange != eh) return;  // cancelled by the listener
  std::string held_rest;
  std::string_view rest = src.substr(c.head.head_bytes);
  if (held) {
    held_rest.assign(rest);
    rest = held_rest;
    std::string().swap(c.acc);
  }
  if (c.head.body_kind == http::ResponseBodyKind::none ||
      (c.head.body_kind == http::ResponseBodyKind::length && c.body_left == 0)) {
    if (!rest.empty()) c.reusable = false;  // bytes nobody asked for
    deliver(c, {}, true);
    return;
  }
  if (!rest.empty()) on_body_bytes(c, rest);
  // A response that goes on past this read (a stream) does not keep the
  // head's storage for its whole life; its views are stale by now anyway.
  e = exchange(eh);
  if (e != nullptr && !e->done && c.exchange == eh) {
    c.head.reason = {};
    std::vector<http::Header>().swap(c.head.headers);
  }
}

void Client::on_body_bytes(Connection& c, std::string_view bytes) {
  switch (c.head.body_kind) {
    case http::ResponseBodyKind::length: {
      size_t take = static_cast<size_t>(std::min<uint64_t>(c.body_left, bytes.size()));
      c.body_left -= take;
      if (take < bytes.size()) c.reusable = false;  // more than the Content-Length: never reuse
      deliver(c, bytes.substr(0, take), c.body_left == 0);
      return;
    }
    case http::ResponseBodyKind::chunked: {
      size_t consumed = 0;
      http::ParseError err;
      http::ResponseLimits limits;
      c.decoded.clear();
      http::DecodedBytes out(c.decoded);  // a view into `bytes` unless the read held several chunks
      auto res = c.chunked.feed(bytes, consumed, out, limits.chunked_limits(), err);
      if (res == http::ChunkedDecoder::Result::error) {
        http::ParseError e = http::to_upstream_error(err);
        fail(c.exchange,
             std::string_view(e.code) == "upstream_response_too_large" ? Failure::Kind::too_large : Failure::Kind::protocol,
             std::string("The provider's response body is malformed: ") + e.message);
        return;
      }
      bool end = res == http::ChunkedDecoder::Result::done;
      if (end && consumed < bytes.size()) c.reusable = false;
      if (!out.spilled()) {
        if (!out.data().empty() || end) deliver(c, out.data(), end);
        return;
      }
      std::string decoded;
      decoded.swap(c.decoded);  // deliver may park c, which clears its buffers
      deliver(c, decoded, end);
      if (c.decoded.empty()) c.decoded.swap(decoded);
      return;
    }
    case http::ResponseBodyKind::until_close:
      deliver(c, bytes, false);
      return;
    case http::ResponseBodyKind::none:
      return;
  }
}

void Client::deliver(Connection& c, std::string_view bytes, bool end) {
  Handle eh = c.exchange;
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) return;
  if (!end) {
    listener_.on_body(e->cookie, bytes, false);
    return;
  }
  uint64_t cookie = e->cookie;
  finish_exchange(*e, eh);
  ++c.served;
  // The connection stays busy (out of the pool) while the listener hears of
  // the end: `bytes` may point into it, and nothing can take it meanwhile.
  listener_.on_body(cookie, bytes, true);
  park(c);
}

void Client::connection_lost(Connection& c, int res) {
  Handle eh = c.exchange;
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) {
    close(c);  // an idle keep-alive connection the provider closed
    return;
  }
  if (res == 0 && c.head_done && c.head.body_kind == http::ResponseBodyKind::until_close) {
    c.reusable = false;
    deliver(c, {}, true);
    return;
  }
  // A reused connection that the provider had already closed when the
  // request went out: nothing was answered, so the request goes again.
  const bool stale = c.served > 0 && !c.head_done && c.acc.empty() && e->stale_retries < kMaxStaleRetries;
  if (stale) {
    e->conn = {};
    c.exchange = {};
    close(c);
    ++e->stale_retries;
    // On a new connection: the other idle ones were parked about when this
    // one was and may be just as stale.
    attach(eh, false);
    return;
  }
  const Failure::Phase phase = e->phase;
  if (res == 0) {
    fail(eh, Failure::Kind::closed,
         phase == Failure::Phase::reading_body
             ? "The provider closed the connection in the middle of the response."
             : "The provider closed the connection without answering.");
  } else {
    fail(eh, Failure::Kind::io, std::string("The connection to the provider failed: ") + std::strerror(-res));
  }
}

// ---- ending ------------------------------------------------------------------------

void Client::fail(Handle eh, Failure::Kind kind, std::string message) {
  Exchange* e = exchange(eh);
  if (e == nullptr || e->done) return;
  Failure f;
  f.kind = kind;
  f.phase = e->phase;
  f.message = std::move(message);
  uint64_t cookie = e->cookie;
  Connection* c = connection(e->conn);
  finish_exchange(*e, eh);
  if (c != nullptr) close(*c);  // whatever it was in the middle of, it cannot be reused
  listener_.on_failure(cookie, f);
}

void Client::cancel(Handle h) {
  Depth depth(*this);
  Exchange* e = exchange(h);
  if (e == nullptr || e->done) return;
  Connection* c = connection(e->conn);
  finish_exchange(*e, h);
  if (c != nullptr) close(*c);  // unread bytes: it cannot serve another request
}

void Client::finish_exchange(Exchange& e, Handle eh) {
  e.done = true;
  deadlines_.remove(eh.index);
  if (Connection* c = connection(e.conn)) {
    if (c->exchange == eh) c->exchange = {};
  }
  e.conn = {};
  done_exchanges_.push_back(eh);
}

void Client::park(Connection& c) {
  if (c.state == Connection::State::closing) return;
  c.exchange = {};
  c.reset_response();
  Pool& pool = *c.pool;
  if (!c.reusable || c.fd < 0 || c.state != Connection::State::busy || pool.idle.size() >= pool.max_idle) {
    close(c);
    return;
  }
  c.state = Connection::State::idle;
  pool.idle.push_back(c.self);
  if (!c.recv_armed) arm_recv(c);  // notices a provider closing an idle connection
}

void Client::close(Connection& c) {
  if (c.state == Connection::State::closing) return;
  c.state = Connection::State::closing;
  c.reusable = false;
  if (c.ops == 0) {
    if (!c.release_queued) {
      c.release_queued = true;
      done_conns_.push_back(c.self);
    }
    return;
  }
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, 0, 0));
}

size_t Client::close_idle(size_t n) {
  Depth depth(*this);
  size_t closed = 0;
  for (auto& [key, pool] : pools_) {
    // Oldest first: the front of the list has waited longest.
    size_t i = 0;
    for (; i < pool->idle.size() && closed < n; ++i) {
      if (Connection* c = connection(pool->idle[i])) {
        if (c->state == Connection::State::idle) {
          close(*c);
          ++closed;
        }
      }
    }
    pool->idle.erase(pool->idle.begin(), pool->idle.begin() + static_cast<long>(i));
    if (closed >= n) break;
  }
  return closed;
}

void Client::run_timers(int64_t now_ns) {
  Depth depth(*this);
  while (!deadlines_.empty() && deadlines_.top().at <= now_ns) {
    uint32_t index = deadlines_.top().index;
    Handle eh = exchanges_.current(index);
    Exchange* e = exchange(eh);
    if (e != nullptr && !e->done && e->deadline > now_ns) {
      deadlines_.set(index, e->deadline);  // moved later since the entry was placed
      continue;
    }
    deadlines_.remove(index);
    if (e == nullptr || e->done) continue;
    const char* what = e->phase == Failure::Phase::connecting     ? "connecting to the provider"
                       : e->phase == Failure::Phase::waiting_head ? "waiting for the provider's answer"
                       : now_ns >= e->total_deadline              ? "the whole request"
                                                                  : "the next bytes of the response";
    fail(eh, Failure::Kind::timeout, std::string("Timed out ") + what + ".");
  }
}

void Client::release_deferred() {
  // Exchanges first: a failure may have queued both.
  while (!done_exchanges_.empty() || !done_conns_.empty()) {
    std::vector<Handle> ex;
    ex.swap(done_exchanges_);
    for (Handle h : ex) {
      if (Exchange* e = exchange(h)) {
        e->addrs = nullptr;
        std::string().swap(e->bytes);
        exchanges_.release(h);
      }
    }
    std::vector<Handle> cs;
    cs.swap(done_conns_);
    for (Handle h : cs) {
      if (Connection* c = connection(h)) release(*c);
    }
  }
}

void Client::release(Connection& c) {
  if (c.fd >= 0) {
    ::close(c.fd);
    fds_.give();
  }
  c.fd = -1;
  if (c.pool != nullptr) {
    Pool& pool = *c.pool;
    if (pool.open > 0) --pool.open;
    for (size_t i = 0; i < pool.idle.size(); ++i) {
      if (pool.idle[i] == c.self) {
        pool.idle.erase(pool.idle.begin() + static_cast<long>(i));
        break;
      }
    }
  }
  c.pool = nullptr;
  c.exchange = {};
  c.tls.reset();
  std::string().swap(c.sending);
  std::string().swap(c.pending);
  std::string().swap(c.plain);
  std::string().swap(c.acc);
  std::string().swap(c.decoded);
  c.reset_response();
  Handle self = c.self;
  c.self = {};
  conns_.release(self);
}

}  // namespace aigw::upstream
