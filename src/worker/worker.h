// A worker: one thread, one io_uring, its own listening sockets, its own
// connections. Nothing here is shared with another worker; the control thread
// reaches a worker only through its Mailbox.
//
// Poll order of one loop turn (the only place it is decided):
//   1. submit what was queued and wait for at least one completion or a tick;
//   2. handle every completion in the batch (accept, receive, send, mailbox);
//   3. advance the CQ once, give receive buffers back to the kernel in one store,
//      run the completions of sends made at once in step 2 (a batch of one
//      completion: Worker::flush);
//   4. re-arm receives that stopped for lack of buffers, resume connections
//      whose exchange ended;
//   5. plugin timers and upstream deadlines;
//   6. failovers decided during this turn (Runtime::run_deferred);
//   7. one access-log write, if a batch (64 KiB) is waiting and none is in flight;
//   8. on a tick: expire timers, refresh the cached Date header, run health
//      probes (worker 0), give idle rate-limit credit back, write the
//      access-log lines still waiting.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/response.h"
#include "io/buffer_ring.h"
#include "io/fd_budget.h"
#include "io/ring.h"
#include "metrics/access_log.h"
#include "metrics/log_buffer.h"
#include "metrics/metrics.h"
#include "metrics/record.h"
#include "state/writer.h"
#include "worker/client_connection.h"
#include "worker/mailbox.h"
#include "worker/peer_ring.h"
#include "gateway/runtime.h"
#include "worker/router.h"

namespace aigw::worker {

using gateway::RequestContext;
using gateway::Runtime;

// An operator request a worker hands to the control thread (admin
// endpoints that act on the whole process, such as a plugin reload).
struct AdminRequest {
  enum class Kind : uint8_t { reload_plugins, reload_config, providers, metrics, usage, errors, config, keys, history };
  Kind kind;
  unsigned worker;
  uint32_t conn_index;
  uint32_t conn_generation;
  std::string query;  // usage, keys: the URL query, as sent
  bool csv = false;   // usage: Accept asked for text/csv
};

// The control thread's inbox. Admin requests are rare and off the request
// path, so a mutex is fine here; the eventfd wakes the control thread.
class ControlInbox {
 public:
  ControlInbox();
  ~ControlInbox();
  void post(const AdminRequest& r);
  bool pop(AdminRequest& out);
  int event_fd() const { return efd_; }

 private:
  std::mutex mu_;
  std::deque<AdminRequest> q_;
  int efd_ = -1;
};

// What workers report to the control thread. Lifecycle and control plane
// only: never read or written on the request path.
struct WorkerReports {
  std::counting_semaphore<1024> accepting{0};  // released once per worker when accepting
  std::atomic<unsigned> exited{0};
  std::atomic<uint64_t> dropped_at_stop{0};    // connections cut when the grace ran out
  std::atomic<unsigned> plugin_acks{0};        // workers that switched to the newest generation
  std::atomic<unsigned> plugin_failures{0};    // workers that could not (kept the old one)
  ControlInbox inbox;
};

class Worker;

// What a route handler gets: the request and a way to answer it.
class Exchange {
 public:
  Connection& connection() { return conn_; }
  const http::ResponseMeta& meta() const { return meta_; }
  Exchange(Worker& w, Connection& c, const http::RequestHead& head, std::string_view body,
           const http::ResponseMeta& meta, RequestContext* ctx = nullptr)
      : worker_(w), conn_(c), head_(head), body_(body), meta_(meta), ctx_(ctx) {}
  // Public listener requests: the client key and what to account. Null on
  // the admin listener.
  RequestContext* context() { return ctx_; }

  const http::RequestHead& head() const { return head_; }
  std::string_view body() const { return body_; }
  Worker& worker() { return worker_; }

  void respond(int status, std::string_view content_type, std::string_view body,
               std::initializer_list<http::ResponseHeader> extra = {});
  void error(int status, std::string_view code, std::string_view message,
             std::initializer_list<http::ResponseHeader> extra = {});

 private:
  Worker& worker_;
  Connection& conn_;
  const http::RequestHead& head_;
  std::string_view body_;
  const http::ResponseMeta& meta_;
  RequestContext* ctx_;
};

// A worker is the gateway's Host (gateway/host.h): the gateway reaches the
// ring, the connections, the metrics and the other workers only through it.
class Worker final : public gateway::Host {
 public:
  Worker(unsigned index, unsigned count, std::shared_ptr<const config::Config> cfg,
         std::vector<int> listen_fds, size_t public_listeners, WorkerReports& reports,
         std::shared_ptr<tls::TicketKeys> tickets = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Thread body. Returns when drained or stopped.
  void run();

  Mailbox& mailbox() { return mailbox_; }
  unsigned index() const override { return index_; }
  bool ready() const { return all_ready_ && !unready_ && !draining_; }
  bool draining() const { return draining_; }
  unsigned worker_count() const override { return count_; }
  std::string_view date() const override { return {date_, date_len_}; }
  io::Ring& ring() override { return ring_; }
  // This worker's share of the open-file limit (io/fd_budget.h); set before run().
  io::BufferRing& buffers() override { return buffers_; }
  io::FdBudget& fds() override { return fds_; }
  void set_fd_limit(uint64_t limit) { fds_ = io::FdBudget(limit); }
  Runtime& plugins() { return *plugins_; }
  const config::Config& config() const { return *cfg_; }

  // A plugin request or admin request writes its response bytes here.
  // `done`: the response is complete; `close`: close the connection after it.
  // The bytes may come in parts (Host::output).
  void output(uint32_t conn_index, uint32_t conn_generation, const std::string_view* parts, size_t n, bool done,
              bool close) override;
  using gateway::Host::output;
  // The connection's output buffer, given spare capacity from the worker's
  // send buffers when it has none (see send_buffers_).
  std::string& out_buffer(Connection& c);
  // A send buffer that is done with: to the spares, or freed.
  void give_back(std::string& buf);
  // Hands the rest of the exchange to a plugin (POST /v1/...).
  void start_plugin_request(Exchange& ex, aigw_endpoint endpoint);
  // Forwards an admin request to the control thread; the reply arrives by mailbox.
  void forward_admin(Exchange& ex, AdminRequest::Kind kind);

  // Worker-to-worker health news. connect_peers is called once, before any
  // worker runs; publish_health tells every other worker.
  void connect_peers(const std::vector<Worker*>& peers);
  void publish_health(const routing::News& news) override;
  uint64_t news_dropped() const { return news_dropped_; }

  // Accounting (accounting.cpp): metrics and the access log of one
  // finished request. set_access_log is called before run(); fd -1: off.
  void set_access_log(int fd);
  // The usage store's hand-over ring for this worker (src/state/writer.h);
  // set before run(); null: the store is off.
  void set_usage_queue(state::UsageQueue* q) { usage_ = q; }
  void record(const metrics::RequestRecord& rec) override;
  metrics::WorkerMetrics& metrics() override { return metrics_; }
  // A request id: the client's x-request-id when it is safe to echo, else a new one.
  std::string_view request_id(const http::RequestHead& head, metrics::GeneratedId& storage);
 private:
  friend class Exchange;

  // worker.cpp: the loop, accept, mailbox, timers, closing.
  bool setup(std::string& why);
  void handle(const io_uring_cqe* cqe);
  void arm_accept(size_t listener);
  void on_accept(size_t listener, const io_uring_cqe* cqe);
  void refuse(int fd, bool admin);
  void arm_mailbox();
  void on_mailbox();
  void drain_mailbox();
  void start_drain();
  void stop_now();
  void tick();
  void refresh_date();
  void flush_access_log();
  void drain_access_log();
  void hand_over_usage(const metrics::RequestRecord& r);
  size_t access_log_write_len(std::string_view bytes) const;

  Connection* slot(uint32_t index, uint32_t generation);
  Connection& alloc_connection(int fd);
  void release(Connection& c);
  void close_now(Connection& c);
  void start_linger(Connection& c);

  void timer_arm(Connection& c, TimerKind kind);
  void timer_disarm(Connection& c);
  void on_timeout(Connection& c, TimerKind kind);

  // connection.cpp: bytes in, requests out.
  void arm_recv(Connection& c);
  void on_recv(Connection& c, const io_uring_cqe* cqe);
  void on_data(Connection& c, std::string_view data);
  void on_tls_data(Connection& c, std::string_view ciphertext);
  size_t process(Connection& c, std::string_view buf);
  bool parse_head_ready(Connection& c, std::string_view view) const;
  void dispatch(Connection& c, const http::RequestHead& head, std::string_view body);
  bool authenticate(Connection& c, const http::RequestHead& head, const http::ResponseMeta& meta,
                    std::string_view path, RequestContext& rc);
  void route(Connection& c, const http::RequestHead& head, std::string_view body,
             const http::ResponseMeta& meta, std::string_view path, RequestContext* rc);
  void fail(Connection& c, int status, std::string_view code, std::string_view message,
            int version_minor = 1);
  // `now`: a part of a response that does not end it, which may be sent
  // at once (see the definition).
  void flush(Connection& c, bool now = false);
  // A part of a response sent at once from the caller's bytes: how many
  // bytes the socket took, with `total` the parts' size and `tried` set
  // when it tried (see the definition).
  size_t send_parts_now(Connection& c, const std::string_view* parts, size_t n, size_t& total, bool& tried);
  void in_flight_until_turn_end(Connection& c, int bytes);
  void ring_send(Connection& c);
  void on_send(Connection& c, int res);
  void complete_sends_now();
  void after_output_drained(Connection& c);
  void settle_timer(Connection& c, bool progress);
  void pause_reading(Connection& c);
  void resume_reading(Connection& c);

  unsigned index_;
  unsigned count_;
  size_t public_listeners_;  // listen_fds_[0..public_listeners_) are public, the rest admin
  std::shared_ptr<const config::Config> cfg_;
  http::Limits limits_;
  std::vector<int> listen_fds_;
  std::vector<bool> accept_armed_;
  WorkerReports& reports_;
  Mailbox mailbox_;
  uint64_t mailbox_value_ = 0;  // target of the eventfd read; owned by that operation

  io::Ring ring_;
  io::FdBudget fds_;
  bool refusing_ = false;  // logged that connections are being refused; quiet until it stops
  size_t refusals_ = 0;    // connections open only to deliver a 503 (Connection::refusal)
 public:
  static constexpr size_t kRefusalReserve = 32;  // at most this many at once, beyond the fd share
 private:
  io::BufferRing buffers_;
  Router router_;
  Router admin_router_;
  std::shared_ptr<tls::TicketKeys> tickets_;
  std::unique_ptr<tls::ServerContext> tls_;  // per worker: its own random generator
  std::string tls_plain_;                    // decrypted bytes, reused
  std::unique_ptr<Runtime> plugins_;
  std::vector<uint32_t> resume_;  // connections whose exchange ended: continue their input
  metrics::WorkerMetrics metrics_;
  metrics::RecentErrors recent_errors_;  // GET /admin/errors: this worker's last failed requests
  metrics::History history_;             // GET /admin/history: this worker's last 15 minutes
  metrics::LogBuffer access_log_;
  static constexpr size_t kLogBatchBytes = 64 * 1024;
  int access_log_fd_ = -1;
  state::UsageQueue* usage_ = nullptr;
  bool access_log_small_writes_ = false;
  uint64_t request_id_state_ = 0;
  uint64_t sample_rng_ = 0;
  // CLOCK_REALTIME - CLOCK_MONOTONIC, read when the access log opens and on
  // each tick while it is open: stamps its lines from a request's monotonic
  // end (io/clock.h).
  int64_t wall_minus_mono_ns_ = 0;
  std::vector<Worker*> peers_;
  std::vector<std::unique_ptr<PeerRing<routing::News>>> inbound_;  // by sending worker
  uint64_t news_dropped_ = 0;

  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> rearm_recv_;
  // Sends made at once (flush, while send_now_): their completions, run at
  // the end of the turn as a ring completion would have been on the next.
  struct SentNow {
    uint32_t index;
    uint32_t generation;
    int bytes;
  };
  std::vector<SentNow> sent_now_;
  bool send_now_ = false;  // this turn woke for one completion
  // Send buffers between uses. A connection holds output memory only while
  // it has bytes queued or a send in flight: the buffer of a finished send
  // comes back here and the next response takes one (out_buffer). So a slow
  // stream between two events, or an idle keep-alive connection, holds
  // none, and a busy worker still does not allocate per response.
  std::vector<std::string> send_buffers_;
  size_t active_ = 0;

  struct TimerList {
    uint32_t head = kNoSlot;
    uint32_t tail = kNoSlot;
    int64_t duration_ms = 0;
  };
  TimerList timers_[static_cast<size_t>(TimerKind::count_)];

  http::RequestHead scratch_head_;  // reused by every parse on this worker
  int64_t now_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  int64_t tick_ms_ = 100;
  int64_t accept_retry_ms_ = 0;  // after EMFILE: re-arm accept no sooner than this
  long date_second_ = 0;
  char date_[32] = {0};
  size_t date_len_ = 0;

  bool all_ready_ = false;
  bool unready_ = false;   // shutting down soon: tell load balancers, keep serving
  bool draining_ = false;
  int64_t stop_until_ms_ = 0;  // stopping: the last sends get until then
  bool exit_ = false;
};

}  // namespace aigw::worker
