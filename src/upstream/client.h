// The upstream HTTP/1.1 client of one worker: connections to providers,
// pooled per (scheme, host, port, trust settings) and kept alive between
// requests, TLS through src/tls, every byte through the worker's ring, and
// the connect / first-byte / idle / total deadlines of each exchange.
//
// It knows nothing of plugins or routing. The caller starts an exchange with
// the serialised request and hears back through a Listener: the response
// head, the body as it arrives (chunked framing removed), or one typed
// Failure. Whether to fail over, what to tell the client and what to count
// are the caller's decisions.
//
// Ownership, the rule that makes a double release impossible: connection and
// exchange slots are released only when no frame of the client is on the
// stack. Every entry point (start, cancel, on_cqe, run_timers, close_idle)
// counts its depth; a connection that is done is marked closing and queued,
// and the queue is emptied when the outermost entry returns. So a handler
// that called back into the listener (which may cancel, or start another
// exchange) still holds valid memory, and a closing connection is never
// handed to another exchange. Slots are addressed by generation-checked
// handles (io::SlotTable), and a second release of one tenant aborts.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "http/response_parser.h"
#include "io/buffer_ring.h"
#include "io/fd_budget.h"
#include "io/ring.h"
#include "io/slot_table.h"
#include "tls/tls.h"
#include "upstream/connection.h"
#include "upstream/deadlines.h"
#include "upstream/failure.h"

namespace aigw::upstream {

// What the client tells its caller. `cookie` is the caller's own value from
// Request. After on_failure, or on_body with end set, the exchange is over
// and nothing more arrives for it; cancel() stops it at any time.
class Listener {
 public:
  // The response head (1xx skipped). Reading goes on unless cancel()ed here.
  virtual void on_head(uint64_t cookie, const http::ResponseHead& head) = 0;
  // Body bytes as they arrive. `end`: the body is complete.
  virtual void on_body(uint64_t cookie, std::string_view bytes, bool end) = 0;
  virtual void on_failure(uint64_t cookie, const Failure& failure) = 0;

 protected:
  ~Listener() = default;
};

struct Request {
  // Both must outlive the exchange: the caller holds what they live in
  // (its plugin generation, a refreshed address set) until the exchange is
  // over or cancelled. No reference count: it would be one more atomic per
  // request on a line that every worker shares.
  const config::UpstreamConfig* config = nullptr;
  const std::vector<sockaddr_storage>* addrs = nullptr;
  std::string bytes;           // head and body, as request_writer made them
  bool head_only = false;      // a HEAD request: the response has no body
  int64_t total_timeout_ns = 0;  // 0: the config's request_timeout
  uint64_t cookie = 0;
};

class Client {
 public:
  // `buffers`: the worker's provided receive buffers. Connections read
  // through them with one multishot receive each, so a connection holds no
  // receive buffer of its own (an idle or slow one costs its struct only).
  Client(io::Ring& ring, io::BufferRing& buffers, io::FdBudget& fds, Listener& listener);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts an exchange on an idle pooled connection or a new one. A failure
  // found at once (no address, pool full, no descriptor) reaches on_failure
  // before this returns; the handle returned is then already stale.
  Handle start(Request&& request);
  // Ends an exchange early; no callback follows. Its connection, if any, is
  // closed (it has unread bytes). A stale handle is ignored.
  void cancel(Handle h);

  // Ring completions of io::Op::upstream_*, with the completion's flags (a
  // receive's buffer id and whether more completions follow).
  void on_cqe(io::Op op, uint32_t index, uint32_t generation, int res, uint32_t flags);
  // Re-arms the receives that ended because every provided buffer was in
  // use. Call after the batch's buffers went back (BufferRing::flush).
  void rearm_starved();

  // The earliest exchange deadline (CLOCK_MONOTONIC ns), 0 if none.
  int64_t next_deadline_ns() const { return deadlines_.empty() ? 0 : deadlines_.top().at; }
  void run_timers(int64_t now_ns);

  // Closes idle pooled connections: all of them (shutdown), or up to `n`.
  size_t close_idle(size_t n = SIZE_MAX);

  size_t open_connections() const { return conns_.live(); }
  size_t idle_connections() const;
  size_t exchanges() const { return exchanges_.live(); }
  // Receives that ended because every provided buffer was in use (each was
  // armed again after its batch): a sign [server.io] buffer_count is small.
  uint64_t starved_receives() const { return starved_total_; }

 private:
  class Depth;

  Exchange* exchange(Handle h);
  Connection* connection(Handle h);
  Pool& pool_for(const config::UpstreamConfig& u);
  tls::ClientContext* tls_context(const config::UpstreamConfig& u, std::string& why);

  // A connection for the exchange (an idle one if `reuse`), or its failure.
  void attach(Handle eh, bool reuse = true);
  void connect_new(Handle eh);
  void bind(Connection& c, Handle ch, Exchange& e, Handle eh);
  void send_request(Connection& c);
  void write_request(Connection& c);
  void handshake_step(Connection& c);
  void tls_failed(Connection& c);  // the engine reported an error: fail the exchange, close
  void queue_send(Connection& c, std::string_view bytes);
  void arm_recv(Connection& c);

  void on_connect(Connection& c, int res);
  void on_send(Connection& c, int res);
  void on_recv(Connection& c, int res, std::string_view got);
  void on_response_bytes(Connection& c, std::string_view bytes);
  void on_body_bytes(Connection& c, std::string_view bytes);
  void deliver(Connection& c, std::string_view bytes, bool end);
  void connection_lost(Connection& c, int res);

  void fail(Handle eh, Failure::Kind kind, std::string message);
  void finish_exchange(Exchange& e, Handle eh);  // over: no deadline, no connection, slot queued
  void park(Connection& c);   // the response ended: back to the pool, or closed
  void close(Connection& c);  // no more use: cancel what is in flight, release at ops == 0
  void release_deferred();
  void release(Connection& c);
  void set_deadline(Exchange& e, Handle eh, int64_t at);

  io::Ring& ring_;
  io::BufferRing& buffers_;
  io::FdBudget& fds_;
  Listener& listener_;
  int depth_ = 0;
  io::SlotTable<Exchange> exchanges_{"upstream exchange"};
  io::SlotTable<Connection> conns_{"upstream connection"};
  std::vector<Handle> done_exchanges_;  // released when the outermost entry returns
  std::vector<Handle> done_conns_;
  std::vector<Handle> starved_;  // receives that ended on ENOBUFS, re-armed by rearm_starved
  uint64_t starved_total_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Pool>> pools_;
  std::string pool_key_;  // pool_for's buffer for the key it looks up
  std::unordered_map<std::string, std::unique_ptr<tls::ClientContext>> tls_contexts_;
  DeadlineHeap deadlines_;  // by exchange slot index
  size_t rr_ = 0;           // spreads new connections over the resolved addresses
};

}  // namespace aigw::upstream
