// One load-generating thread: its own io_uring, its own connections, its own
// results. Nothing is shared with the other workers while the run lasts (the
// same thread-per-core rule as the gateway), so adding threads adds capacity
// instead of contention; the results are merged after all have joined.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/buffer_ring.h"
#include "io/ring.h"
#include "load/config.h"
#include "load/response_reader.h"
#include "load/results.h"
#include "load/schedule.h"
#include "load/stream_timing.h"

namespace aigw::bench {

uint64_t monotonic_ns();

class Worker {
 public:
  // `connections` and `plan` are this thread's share of the run.
  Worker(const Config& cfg, const RequestTemplate& tmpl, unsigned index, unsigned connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // On the worker's own thread (the ring is single-issuer): sets up the ring
  // and the receive buffers, and opens the connections, waiting at most the
  // request timeout for them. False only when the ring cannot be made.
  bool prepare(std::string& why);

  // On the worker's thread: runs until the plan is over and nothing is in
  // flight, or until its hard end (stop + grace), whichever comes first.
  void run(const PlanParams& plan);

  Results& results() { return results_; }
  // Connections that were up when prepare() returned (for the start-up note).
  unsigned connected_after_prepare() const { return connected_after_prepare_; }
  // The first connect error, for the report when nothing could connect.
  const std::string& first_connect_error() const { return first_connect_error_; }

 private:
  enum class State : uint8_t {
    down,        // no socket; reconnects at retry_at
    connecting,
    idle,        // connected, no request
    busy,        // a request is out, its answer not complete
    closing,     // socket closed, kernel operations still to complete
  };

  struct Conn {
    int fd = -1;
    uint32_t gen = 0;
    State state = State::down;
    bool connect_op = false, send_op = false, recv_op = false;
    uint64_t deadline = 0;   // connecting or busy: when it times out
    uint64_t retry_at = 0;   // down: when to connect again
    Ticket ticket;
    uint64_t sent_ns = 0;
    bool first_byte = false;
    std::string out;         // the request being sent
    size_t out_off = 0;
    ResponseReader reader;
    std::string stream_body;
    StreamTiming stream;
  };

  void connect(uint32_t i);
  void close_conn(Conn& c, uint64_t retry_at);
  void maybe_settled(Conn& c);
  void arm_recv(uint32_t i);
  void submit_send(uint32_t i);
  void start_request(uint32_t i, const Ticket& t);
  void on_cqe(const io_uring_cqe* cqe);
  void on_connect(uint32_t i, int res);
  void on_send(uint32_t i, int res);
  void on_recv(uint32_t i, int res, unsigned flags);
  void on_data(uint32_t i, std::string_view data);
  void finish_request(uint32_t i, bool extra_bytes);
  void fail_request(uint32_t i, ErrorKind kind);
  void account_stream(Conn& c);
  void after_request(uint32_t i, bool keep);
  void scan(uint64_t now);
  void dispatch_idle();
  void abandon_in_flight();
  void wait_events(uint64_t wake_at);
  void drain_and_close();
  bool measuring(uint64_t t) const {
    return t >= plan_.params().warmup_end_ns && t < plan_.params().stop_ns;
  }

  const Config& cfg_;
  const RequestTemplate& tmpl_;
  unsigned index_;
  io::Ring ring_;
  io::BufferRing buffers_;
  EventJson json_;
  std::vector<Conn> conns_;
  std::vector<uint32_t> idle_;
  unsigned busy_ = 0;
  uint64_t now_ = 0;
  uint64_t next_scan_ = 0;
  uint64_t last_done_ = 0;
  LoadPlan plan_{PlanParams{}};
  bool running_ = false;       // inside run(): requests may start
  Results results_;
  unsigned connected_after_prepare_ = 0;
  std::string first_connect_error_;
};

}  // namespace aigw::bench
