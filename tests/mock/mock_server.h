// One mock worker: a thread with its own io_uring, provided-buffer ring and
// SO_REUSEPORT listener, like an aigw worker, serving HTTP/1.1 keep-alive
// and pipelined requests with canned, replayed or deliberately broken
// responses.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "http/request.h"
#include "http/response.h"
#include "io/buffer_ring.h"
#include "io/ring.h"
#include "mock_faults.h"
#include "mock_responses.h"
#include "mock_stats.h"
#include "replay.h"

namespace aigw::mock {

struct MockOptions {
  unsigned threads = 1;
  std::string listen = "127.0.0.1:0";
  bool allow_non_loopback = false;
  uint32_t completion_tokens = 16;
  uint32_t stream_tokens = 16;
  int64_t stream_interval_ms = 10;
  std::vector<std::string> replay_files;
  Fault fault;                      // server-wide, for /v1/* requests
  // Per upstream key: a request with `Authorization: Bearer KEY` gets this
  // fault (so one provider key can be broken while the others work).
  std::vector<std::pair<std::string, Fault>> key_faults;
  std::vector<std::string> models{"mock-model"};
  int64_t idle_timeout_ms = 60'000; // also bounds hang and hang-after-head
  uint32_t max_connections = 4096;  // per thread
};

// What every worker shares; all of it outlives the workers.
struct Shared {
  const MockOptions& opts;
  const ReplayTable& replay;
  Stats& stats;
  int stop_fd;  // an eventfd: readable once the process should exit
  // Set by POST /mock/fault: replaces --fault while the mock runs (a test
  // breaks an upstream and heals it again). Encoded by encode_fault.
  std::atomic<uint64_t>* runtime_fault;
};

inline uint64_t encode_fault(const Fault& f) {
  return (uint64_t{1} << 63) | (static_cast<uint64_t>(f.kind) << 32) | f.n;
}
inline bool decode_fault(uint64_t v, Fault& out) {
  if ((v >> 63) == 0) return false;
  out.kind = static_cast<FaultKind>((v >> 32) & 0xff);
  out.n = static_cast<uint32_t>(v);
  return true;
}

// How a connection goes on once a response's bytes are all queued.
enum class Ending : uint8_t { keep, close, reset, hang };

// The response in progress on a connection. Everything that takes time
// (pacing, dripping, a delay, a hang) is a Job driven by the worker's timer
// heap; an ordinary response is a Job that completes at once.
struct Job {
  bool active = false;
  bool prelude_done = false;
  bool stream_done = false;
  bool timer_armed = false;
  int64_t wake_ns = 0;          // when the armed timer fires
  int64_t start_ns = 0;         // nothing goes out before (slow-first-byte)
  std::string prelude;          // the head, or a whole non-stream response
  size_t prelude_off = 0;       // drip progress
  int64_t drip_ns = 0;          // > 0: the prelude goes out one byte at a time
  int64_t next_drip_ns = 0;
  bool streaming = false;       // SSE events follow the prelude
  bool chunked = true;          // false for HTTP/1.0: raw bytes, the close ends the body
  bool terminator = true;       // the last chunk after the events
  StreamGen gen;
  int64_t interval_ns = 0;
  int64_t events_start_ns = 0;
  uint32_t event_limit = UINT32_MAX;
  uint32_t events_sent = 0;
  Ending ending = Ending::keep;
};

struct Conn {
  int fd = -1;
  uint32_t index = 0;
  uint32_t generation = 0;
  uint8_t ops = 0;  // operations in flight; the slot is freed only at 0
  bool recv_armed = false;
  bool send_inflight = false;
  bool closing = false;            // cancel issued, waiting for ops to drain
  bool lingering = false;          // write side shut, reading until the peer closes
  bool close_after_write = false;  // close (FIN) once the output is sent
  bool reset_after_write = false;  // reset (RST) once the output is sent
  bool peer_eof = false;
  bool continue_sent = false;      // 100 Continue already sent for this request
  int64_t last_active_ms = 0;
  uint32_t served = 0;

  std::string in;             // received, not yet consumed
  bool decoding_chunked = false;
  size_t chunk_fed = 0;       // bytes after the head given to the decoder
  http::ChunkedDecoder chunked;
  std::string body;           // decoded chunked body

  // Output segments, each sent by its own send; the front one is in
  // flight while send_inflight.
  std::deque<std::string> out;
  size_t out_off = 0;
  size_t out_bytes = 0;

  Job job;
  uint64_t timer_seq = 0;  // invalidates heap entries of earlier arms
};

class MockWorker {
 public:
  MockWorker(unsigned index, int listen_fd, Shared shared);
  ~MockWorker();
  MockWorker(const MockWorker&) = delete;
  MockWorker& operator=(const MockWorker&) = delete;

  bool setup(std::string& why);
  // Serves until the stop eventfd becomes readable.
  void run();

 private:
  struct Timer {
    int64_t when_ns;
    uint32_t index;
    uint32_t generation;
    uint64_t seq;
    bool operator>(const Timer& o) const { return when_ns > o.when_ns; }
  };

  // I/O (mock_server.cpp)
  void handle(const io_uring_cqe* cqe);
  void arm_accept();
  void on_accept(const io_uring_cqe* cqe);
  void arm_recv(Conn& c);
  void on_recv(Conn& c, const io_uring_cqe* cqe);
  void on_send(Conn& c, const io_uring_cqe* cqe);
  void queue(Conn& c, std::string bytes, bool own_send);
  void flush(Conn& c);
  void settle(Conn& c);
  void start_linger(Conn& c);
  void abort_conn(Conn& c, bool reset);
  void release(Conn& c);
  Conn* slot(uint32_t index, uint32_t generation);
  void arm_timer(Conn& c, int64_t when_ns);
  void fire_timers();
  void sweep();
  void refresh_date();

  // Requests and jobs (mock_dispatch.cpp)
  void process(Conn& c);
  void dispatch(Conn& c, const http::RequestHead& head, std::string_view body);
  void start_job(Conn& c, Job job);
  void pump(Conn& c);

  unsigned index_;
  int listen_fd_;
  Shared shared_;
  WorkerStats& stats_;
  http::Limits limits_;

  // Declared before the ring: destroyed after it, so no operation the ring
  // still tears down can point at freed connection memory.
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<uint32_t> free_slots_;
  uint32_t active_ = 0;
  io::Ring ring_;
  io::BufferRing buffers_;  // destroyed first: unregisters while the ring lives

  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<std::pair<uint32_t, uint32_t>> rearm_recv_;  // (index, generation)
  http::RequestHead scratch_head_;
  FactsReader facts_;
  ReplayMatcher matcher_;
  uint64_t next_id_ = 0;
  bool accept_armed_ = false;
  bool exit_ = false;
  int64_t next_sweep_ms_ = 0;
  long date_second_ = -1;
  char date_[32] = {};
  size_t date_len_ = 0;
};

int64_t monotonic_ns();

}  // namespace aigw::mock
