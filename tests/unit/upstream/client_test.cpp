// src/upstream/client.cpp on a real io_uring against loopback servers that
// behave like providers do: keep-alive, closing after every response (a FIN,
// a TLS close_notify, `Connection: close`, each either apart from the last
// bytes or in the same segment), a pooled connection the provider dropped,
// death after the head, silence. Also the re-entrant paths: a listener that
// cancels or starts an exchange from inside a callback.
//
// A double release of a connection slot aborts (io::SlotTable), so every
// test here also checks that the client never frees one twice.
#include "upstream/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/clock.h"
#include "support/test_pki.h"
#include "tls/tls.h"

namespace aigw::upstream {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- servers

// One accepted connection, plain or TLS, with blocking sockets.
class ServerConn {
 public:
  ServerConn(int fd, tls::ServerContext* tls_ctx) : fd_(fd) {
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tls_ctx != nullptr) {
      tls_ = std::make_unique<tls::Session>();
      std::string why;
      ok_ = tls_->init_server(*tls_ctx, why);
      while (ok_ && !tls_->handshake_done()) {
        if (!pull()) ok_ = false;
        if (tls_->handshake() == tls::Session::Status::error) ok_ = false;
        push();
      }
    }
  }
  ~ServerConn() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool ok() const { return ok_; }

  // Reads one request (head and Content-Length body); false at EOF.
  bool read_request(std::string* out = nullptr) {
    for (;;) {
      size_t end = in_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t len = 0;
        size_t cl = in_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) len = std::stoul(in_.substr(cl + 16));
        if (in_.size() >= end + 4 + len) {
          if (out) *out = in_.substr(0, end + 4 + len);
          in_.erase(0, end + 4 + len);
          return true;
        }
      }
      if (!plain_pull()) return false;
    }
  }

  void write(std::string_view bytes) {
    if (tls_) {
      tls_->write(bytes);
      push();
    } else {
      send_all(bytes);
    }
  }
  // The next writes and the close leave in one segment.
  void cork() {
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &one, sizeof one);
  }
  void close_notify() {
    if (!tls_) return;
    tls_->close_notify();
    push();
  }
  void fin() {
    ::shutdown(fd_, SHUT_WR);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  bool pull() {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    if (tls_) {
      tls_->feed({buf, static_cast<size_t>(n)});
    } else {
      in_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  bool plain_pull() {
    if (!tls_) return pull();
    for (;;) {
      auto st = tls_->read(in_);
      push();
      if (st == tls::Session::Status::ok) return true;
      if (st != tls::Session::Status::want_io) return false;
      if (!pull()) return false;
    }
  }
  void push() {
    if (tls_ && tls_->has_output()) send_all(tls_->take_output());
  }
  void send_all(std::string_view b) {
    while (!b.empty() && fd_ >= 0) {
      ssize_t n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      b.remove_prefix(static_cast<size_t>(n));
    }
  }

  int fd_;
  bool ok_ = true;
  std::unique_ptr<tls::Session> tls_;
  std::string in_;
};

// A loopback server; `script(conn, n)` runs for the n-th connection (from 1)
// on its own thread.
class Server {
 public:
  using Script = std::function<void(ServerConn&, int)>;

  Server(Script script, tls::ServerContext* tls_ctx = nullptr) : script_(std::move(script)), tls_(tls_ctx) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~Server() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    acceptor_.join();
    for (auto& t : handlers_) t.join();
    ::close(fd_);
  }

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }
  void count_request() { ++requests_; }

 private:
  void accept_loop() {
    for (;;) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0 || stop_) {
        if (c >= 0) ::close(c);
        return;
      }
      int n = ++connections_;
      handlers_.emplace_back([this, c, n] {
        ServerConn conn(c, tls_);
        if (conn.ok()) script_(conn, n);
      });
    }
  }

  Script script_;
  tls::ServerContext* tls_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread acceptor_;
  std::vector<std::thread> handlers_;
};

std::string response(std::string_view body, bool close = false) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         (close ? "\r\nConnection: close" : "") + "\r\n\r\n" + std::string(body);
}

// ---------------------------------------------------------------- client side

struct Event {
  enum class Kind { head, body, failure } kind;
  uint64_t cookie;
  int status = 0;
  std::string bytes;
  bool end = false;
  Failure failure;
};

class Recorder : public Listener {
 public:
  std::vector<Event> events;
  std::function<void(const Event&)> hook;  // runs inside the callback

  void on_head(uint64_t cookie, const http::ResponseHead& head) override {
    add({Event::Kind::head, cookie, head.status, {}, false, {}});
  }
  void on_body(uint64_t cookie, std::string_view bytes, bool end) override {
    add({Event::Kind::body, cookie, 0, std::string(bytes), end, {}});
  }
  void on_failure(uint64_t cookie, const Failure& f) override {
    add({Event::Kind::failure, cookie, 0, {}, false, f});
  }

  // The body of `cookie` if it ended, else nullptr.
  bool ended(uint64_t cookie, std::string* body = nullptr, const Failure** failure = nullptr) const {
    std::string all;
    for (const Event& e : events) {
      if (e.cookie != cookie) continue;
      if (e.kind == Event::Kind::failure) {
        if (failure) *failure = &e.failure;
        return true;
      }
      if (e.kind == Event::Kind::body) {
        all += e.bytes;
        if (e.end) {
          if (body) *body = all;
          return true;
        }
      }
    }
    return false;
  }

 private:
  void add(Event e) {
    events.push_back(std::move(e));
    if (hook) hook(events.back());
  }
};

class Loop {
 public:
  // `buffers`, `buffer_size`: the provided receive buffers, as a worker's
  // [server.io] sets them (a few small ones starve the receives on purpose).
  explicit Loop(uint64_t fd_limit = 1000, uint32_t buffers = 64, uint32_t buffer_size = 16384)
      : fds(fd_limit) {
    std::string dropped, why;
    EXPECT_TRUE(ring.init(256, dropped, why)) << why;
    EXPECT_TRUE(this->buffers.init(ring.raw(), 0, buffers, buffer_size, why)) << why;
    client = std::make_unique<Client>(ring, this->buffers, fds, rec);
  }

  // Runs the ring until `done` or the time is up.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const int64_t until = io::mono_ns() + std::chrono::nanoseconds(limit).count();
    while (!done()) {
      if (io::mono_ns() > until) return false;
      turn();
    }
    return true;
  }
  // Lets in-flight cancels and closes finish.
  void settle() {
    const int64_t until = io::mono_ns() + 200'000'000;
    while (io::mono_ns() < until) turn();
  }

  io::Ring ring;
  io::BufferRing buffers;
  io::FdBudget fds;
  Recorder rec;
  std::unique_ptr<Client> client;

 private:
  void turn() {
    __kernel_timespec ts{0, 5'000'000};
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(ring.raw(), &cqe, 1, &ts, nullptr);
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring.raw(), head, cqe) {
      io::UserData ud = io::unpack(cqe->user_data);
      if (ud.op == io::Op::upstream_connect || ud.op == io::Op::upstream_send || ud.op == io::Op::upstream_recv) {
        client->on_cqe(ud.op, ud.index, ud.generation, cqe->res, cqe->flags);
      }
      ++seen;
    }
    io_uring_cq_advance(ring.raw(), seen);
    buffers.grow_if_starved();  // as the worker does after each batch
    buffers.flush();
    client->rearm_starved();
    client->run_timers(io::mono_ns());
  }
};

struct Target {
  config::UpstreamConfig cfg;
  std::vector<sockaddr_storage> addrs;

  Target(uint16_t port, const std::string* ca = nullptr) {
    cfg.tls = ca != nullptr;
    cfg.host = ca != nullptr ? "localhost" : "127.0.0.1";
    cfg.port = port;
    cfg.host_header = cfg.host + ":" + std::to_string(port);
    cfg.connect_timeout = config::Duration(1000);
    cfg.first_byte_timeout = config::Duration(2000);
    cfg.stream_idle_timeout = config::Duration(2000);
    cfg.request_timeout = config::Duration(5000);
    if (ca != nullptr) cfg.ca_file = *ca;
    sockaddr_storage ss{};
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addrs.push_back(ss);
  }

  Request request(uint64_t cookie, std::string_view prompt = "hello") const {
    Request r;
    r.config = &cfg;
    r.addrs = &addrs;
    r.cookie = cookie;
    r.bytes = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + cfg.host_header +
              "\r\nContent-Length: " + std::to_string(prompt.size()) + "\r\n\r\n" + std::string(prompt);
    return r;
  }
};

class UpstreamClient : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    pki_ = new testing_pki::Pki();
    std::string why;
    server_tls_ = tls::ServerContext::create(pki_->localhost_cert, pki_->localhost_key, why).release();
    ASSERT_NE(server_tls_, nullptr) << why;
  }
  static void TearDownTestSuite() {
    delete server_tls_;
    delete pki_;
  }
  bool tls() const { return GetParam(); }
  tls::ServerContext* server_tls() const { return tls() ? server_tls_ : nullptr; }
  Target target(const Server& s) const { return Target(s.port(), tls() ? &pki_->ca : nullptr); }

  static testing_pki::Pki* pki_;
  static tls::ServerContext* server_tls_;
};
testing_pki::Pki* UpstreamClient::pki_ = nullptr;
tls::ServerContext* UpstreamClient::server_tls_ = nullptr;

// Runs `n` exchanges one after the other; each must end with its own body.
void sequential(Loop& loop, const Target& t, int n) {
  for (int i = 1; i <= n; ++i) {
    std::string prompt = "prompt-" + std::to_string(i);
    loop.client->start(t.request(i, prompt));
    ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(i); })) << "exchange " << i << " never ended";
    std::string body;
    const Failure* f = nullptr;
    ASSERT_TRUE(loop.rec.ended(i, &body, &f));
    ASSERT_EQ(f, nullptr) << "exchange " << i << ": " << f->message;
    EXPECT_EQ(body, "answer to " + prompt);
  }
}

// Runs one exchange (cookie 1) to its end: its failure, or nullptr (and a
// test failure) if it never ended or ended with a body.
const Failure* failure_of(Loop& loop, const Target& t, std::chrono::milliseconds limit = 5s) {
  loop.client->start(t.request(1));
  EXPECT_TRUE(loop.run_until([&] { return loop.rec.ended(1); }, limit)) << "the exchange never ended";
  const Failure* f = nullptr;
  loop.rec.ended(1, nullptr, &f);
  EXPECT_NE(f, nullptr) << "the exchange ended with a body";
  return f;
}

// Answers one request with its prompt echoed back; false at EOF.
bool echo(ServerConn& c, Server& s, bool close_header) {
  std::string req;
  if (!c.read_request(&req)) return false;
  s.count_request();
  c.write(response("answer to " + req.substr(req.find("\r\n\r\n") + 4), close_header));
  return true;
}

TEST_P(UpstreamClient, KeepAliveReusesOneConnection) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    while (true) {
      std::string req;
      if (!c.read_request(&req)) return;
      sp->count_request();
      c.write(response("answer to " + req.substr(req.find("\r\n\r\n") + 4)));
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  sequential(loop, t, 5);
  EXPECT_EQ(s.connections(), 1);
  EXPECT_EQ(loop.client->idle_connections(), 1u);
  EXPECT_EQ(loop.client->exchanges(), 0u);
}

// How a provider ends a connection after a response.
enum class Close { fin, notify, header, header_notify };

void close_after_each(Close how, bool together, ServerConn& c, Server& s) {
  std::string req;
  if (!c.read_request(&req)) return;
  s.count_request();
  if (together) c.cork();
  c.write(response("answer to " + req.substr(req.find("\r\n\r\n") + 4),
                   how == Close::header || how == Close::header_notify));
  if (how == Close::notify || how == Close::header_notify) c.close_notify();
  c.fin();
}

TEST_P(UpstreamClient, ProvidersThatCloseAfterEveryResponse) {
  for (Close how : {Close::fin, Close::notify, Close::header, Close::header_notify}) {
    if (!tls() && (how == Close::notify || how == Close::header_notify)) continue;
    for (bool together : {false, true}) {
      SCOPED_TRACE(std::string("close ") + std::to_string(static_cast<int>(how)) + (together ? " together" : ""));
      Server* sp = nullptr;
      Server s([&](ServerConn& c, int) { close_after_each(how, together, c, *sp); }, server_tls());
      sp = &s;
      Loop loop;
      Target t = target(s);
      sequential(loop, t, 12);
      loop.settle();
      // Nothing was sent twice, and every connection is gone again.
      EXPECT_EQ(s.requests(), 12);
      EXPECT_EQ(loop.client->open_connections(), 0u);
      EXPECT_EQ(loop.fds.used(), 0u);
    }
  }
}

// The provider drops a pooled connection just as the next request goes out
// on it: nothing was answered, so the request goes again, on a new one.
TEST_P(UpstreamClient, AStalePooledConnectionIsRetriedOnANewOne) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int n) {
    echo(c, *sp, false);
    if (n == 1) {
      std::string ignored;
      c.read_request(&ignored);  // the second request: read, never answered
      c.fin();
      return;
    }
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  sequential(loop, t, 3);
  EXPECT_EQ(s.connections(), 2);
  EXPECT_EQ(s.requests(), 3);
}

TEST_P(UpstreamClient, DeathAfterTheHeadIsAFailureInTheBody) {
  Server s([&](ServerConn& c, int) {
    std::string req;
    if (!c.read_request(&req)) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            "f\r\ndata: {\"a\":1}\n\n\r\n");
    c.fin();
  }, server_tls());
  Loop loop;
  Target t = target(s);
  const Failure* f = failure_of(loop, t);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::closed);
  EXPECT_TRUE(f->after_head());
  EXPECT_EQ(f->code(), "upstream_closed");
  ASSERT_GE(loop.rec.events.size(), 2u);
  EXPECT_EQ(loop.rec.events[0].kind, Event::Kind::head);
  EXPECT_EQ(loop.rec.events[1].bytes, "data: {\"a\":1}\n\n");
  loop.settle();
  EXPECT_EQ(loop.client->open_connections(), 0u);
}

TEST_P(UpstreamClient, SilenceIsAFirstByteTimeout) {
  Server s([&](ServerConn& c, int) {
    std::string req;
    c.read_request(&req);
    std::this_thread::sleep_for(600ms);
  }, server_tls());
  Loop loop;
  Target t = target(s);
  t.cfg.first_byte_timeout = config::Duration(150);
  const Failure* f = failure_of(loop, t);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::timeout);
  EXPECT_EQ(f->phase, Failure::Phase::waiting_head);
  EXPECT_EQ(f->status(), 504);
}

// A stream that keeps sending lives on past its idle timeout: each read moves
// the deadline (the heap entry catches up when it comes due, see
// Client::set_deadline); once the provider goes quiet, the timeout fires.
TEST_P(UpstreamClient, EveryReadMovesTheIdleDeadline) {
  constexpr int kChunks = 10;
  Server s([&](ServerConn& c, int) {
    std::string req;
    if (!c.read_request(&req)) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < kChunks; ++i) {
      std::this_thread::sleep_for(60ms);
      c.write("3\r\nab" + std::to_string(i) + "\r\n");
    }
    c.read_request();  // quiet until the client gives up and closes (5 s at most)
  }, server_tls());
  Loop loop;
  Target t = target(s);
  t.cfg.stream_idle_timeout = config::Duration(300);  // < the 600 ms the chunks take
  const Failure* f = failure_of(loop, t);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::timeout);
  EXPECT_TRUE(f->after_head());
  EXPECT_EQ(f->message, "Timed out the next bytes of the response.");
  std::string body;
  for (const Event& e : loop.rec.events) {
    if (e.kind == Event::Kind::body) body += e.bytes;
  }
  std::string want;
  for (int i = 0; i < kChunks; ++i) want += "ab" + std::to_string(i);
  EXPECT_EQ(body, want);  // every chunk came before the timeout
}

// A deadline that moves earlier moves at once: the idle timeout (150 ms)
// after the head, not the connect or first-byte one (10 s) the exchange
// waited under.
TEST_P(UpstreamClient, AShorterIdleTimeoutAfterTheHeadIsNotLate) {
  Server s([&](ServerConn& c, int) {
    std::string req;
    if (!c.read_request(&req)) return;
    c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.read_request();  // quiet until the client gives up and closes (5 s at most)
  }, server_tls());
  Loop loop;
  Target t = target(s);
  t.cfg.connect_timeout = config::Duration(10000);
  t.cfg.first_byte_timeout = config::Duration(10000);
  t.cfg.request_timeout = config::Duration(20000);
  t.cfg.stream_idle_timeout = config::Duration(150);
  // A deadline left at 10 s would not have fired by then.
  const Failure* f = failure_of(loop, t, 2s);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::timeout);
  EXPECT_TRUE(f->after_head());
}

// A listener that cancels from inside on_head hears nothing more of that
// exchange, and its connection (with unread bytes) is not reused.
TEST_P(UpstreamClient, CancelInsideOnHead) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  Handle h = loop.client->start(t.request(1));
  loop.rec.hook = [&](const Event& e) {
    if (e.cookie == 1 && e.kind == Event::Kind::head) loop.client->cancel(h);
  };
  ASSERT_TRUE(loop.run_until([&] { return !loop.rec.events.empty(); }));
  loop.settle();
  ASSERT_EQ(loop.rec.events.size(), 1u);
  EXPECT_EQ(loop.client->open_connections(), 0u);
  loop.rec.hook = nullptr;
  loop.client->start(t.request(2, "again"));
  ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(2); }));
  std::string body;
  ASSERT_TRUE(loop.rec.ended(2, &body));
  EXPECT_EQ(body, "answer to again");
  EXPECT_EQ(s.connections(), 2);
}

// A listener that starts the next exchange from inside the end of the last
// one: the connection is back in the pool only after the callback, so the
// new exchange takes a fresh connection or a safely parked one, never the
// connection still being handled.
TEST_P(UpstreamClient, StartInsideTheEndOfTheLast) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  int next = 2;
  loop.rec.hook = [&](const Event& e) {
    if (e.kind == Event::Kind::body && e.end && next <= 5) {
      uint64_t c = static_cast<uint64_t>(next++);
      loop.client->start(t.request(c, "chained-" + std::to_string(c)));
    }
  };
  loop.client->start(t.request(1, "chained-1"));
  ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(5); }));
  for (uint64_t c = 1; c <= 5; ++c) {
    std::string body;
    ASSERT_TRUE(loop.rec.ended(c, &body)) << c;
    EXPECT_EQ(body, "answer to chained-" + std::to_string(c));
  }
  EXPECT_EQ(s.requests(), 5);
}

// Responses read through two 64-byte provided buffers: the receives run out
// of buffers within a batch again and again (ENOBUFS ends a multishot
// receive) and must start again once the batch gave them back, with every
// body whole and in order, on concurrent connections.
TEST_P(UpstreamClient, ReceivesThatRunOutOfBuffersGoOn) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop(1000, 2, 64);
  Target t = target(s);
  std::vector<std::string> prompts;
  for (int i = 1; i <= 6; ++i) {
    std::string p = "prompt-" + std::to_string(i) + "-";
    while (p.size() < 3000) p += static_cast<char>('a' + (p.size() * 7 + i) % 26);
    prompts.push_back(p);
    loop.client->start(t.request(i, p));
  }
  ASSERT_TRUE(loop.run_until([&] {
    for (int i = 1; i <= 6; ++i) {
      if (!loop.rec.ended(i)) return false;
    }
    return true;
  }, 10s));
  for (int i = 1; i <= 6; ++i) {
    std::string body;
    const Failure* f = nullptr;
    ASSERT_TRUE(loop.rec.ended(i, &body, &f));
    ASSERT_EQ(f, nullptr) << "exchange " << i << ": " << f->message;
    EXPECT_EQ(body, "answer to " + prompts[i - 1]);
  }
  EXPECT_GT(loop.client->starved_receives(), 0u);
  // The pooled connections still notice a provider closing them: their
  // receives are armed again too.
  EXPECT_EQ(loop.client->exchanges(), 0u);
}

// A head that arrives in pieces behind an informational one, and a read
// that holds several chunks: the head is collected, the chunks joined, and
// the connection serves the next request with nothing left over.
TEST_P(UpstreamClient, HeadsInPiecesAndChunksTogether) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    std::string req;
    if (!c.read_request(&req)) return;
    sp->count_request();
    c.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
    std::this_thread::sleep_for(30ms);
    c.write("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n");
    std::this_thread::sleep_for(30ms);
    c.write("1\r\n!\r\n0\r\n\r\n");
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  loop.client->start(t.request(1));
  ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(1); }));
  std::string body;
  const Failure* f = nullptr;
  ASSERT_TRUE(loop.rec.ended(1, &body, &f));
  ASSERT_EQ(f, nullptr) << f->message;
  EXPECT_EQ(body, "hello world!");
  loop.client->start(t.request(2, "next"));
  ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(2); }));
  ASSERT_TRUE(loop.rec.ended(2, &body, &f));
  ASSERT_EQ(f, nullptr) << f->message;
  EXPECT_EQ(body, "answer to next");
  EXPECT_EQ(s.connections(), 1);
}

TEST_P(UpstreamClient, TheProvidersCapAnswersAtOnce) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) {
    while (echo(c, *sp, false)) {
    }
  }, server_tls());
  sp = &s;
  Loop loop;
  Target t = target(s);
  t.cfg.max_connections = 1;
  loop.client->start(t.request(1));
  loop.client->start(t.request(2));
  // No wait: the second failed inside start.
  const Failure* f = nullptr;
  ASSERT_TRUE(loop.rec.ended(2, nullptr, &f));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::pool_full);
  EXPECT_EQ(f->status(), 503);
  ASSERT_TRUE(loop.run_until([&] { return loop.rec.ended(1); }));
}

TEST_P(UpstreamClient, NoDescriptorLeftIsAFailureNotACrash) {
  Server* sp = nullptr;
  Server s([&](ServerConn& c, int) { echo(c, *sp, false); }, server_tls());
  sp = &s;
  Loop loop(0);
  Target t = target(s);
  loop.client->start(t.request(1));
  const Failure* f = nullptr;
  ASSERT_TRUE(loop.rec.ended(1, nullptr, &f));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::no_fds);
  EXPECT_EQ(s.connections(), 0);
}

TEST_P(UpstreamClient, ARefusedConnectionIsAConnectFailure) {
  int port;
  {
    Server s([](ServerConn&, int) {});
    port = s.port();
  }  // nothing listens there any more
  Loop loop;
  Target t(static_cast<uint16_t>(port), tls() ? &pki_->ca : nullptr);
  const Failure* f = failure_of(loop, t);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->kind, Failure::Kind::connect);
  EXPECT_EQ(f->code(), "upstream_unreachable");
  loop.settle();
  EXPECT_EQ(loop.fds.used(), 0u);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, UpstreamClient, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "tls" : "plain"; });

}  // namespace
}  // namespace aigw::upstream
