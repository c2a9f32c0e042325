// How the control thread talks to a worker: a bounded single-producer,
// single-consumer queue plus an eventfd the worker keeps a read armed on in
// its ring. Nothing else is shared between them.
//
// Messages are control-plane traffic (lifecycle, later config snapshots and
// plugin generations), never per-request data, so a queue of small structs
// with a shared_ptr payload is cheap enough.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "metrics/history.h"
#include "metrics/metrics.h"
#include "metrics/recent_errors.h"

namespace aigw::worker {

struct Message {
  enum class Kind : uint8_t {
    all_ready,  // every worker is accepting: /ready may answer 200
    unready,    // shutdown_delay: /ready answers 503, everything else goes on
    drain,      // stop accepting, finish what is in flight, then exit
    stop,       // grace is over: end what is left with an error, then exit
    plugins,    // payload: a plugin::Generation to serve new requests with
    admin_reply,  // payload: an AdminReply for a connection waiting on the control thread
    addresses,    // payload: an AddressUpdate for one provider's upstream
    report,       // payload: a WorkerReport to fill in (admin endpoints, metrics)
  };
  Kind kind;
  std::shared_ptr<const void> payload;
};

// New addresses for one provider's upstream, found by the control thread's
// periodic re-resolution.
struct AddressUpdate {
  uint64_t generation;  // plugin generation id
  size_t provider;      // index in that generation
  std::shared_ptr<const std::vector<sockaddr_storage>> addrs;
};

// The control thread's answer to an admin request that a worker forwarded.
struct AdminReply {
  uint32_t conn_index;
  uint32_t conn_generation;
  int status;
  std::string body;
  std::string_view content_type = "application/json";  // static strings only
};

// The control thread asks every worker for its view (channel health for
// /admin/providers); each worker fills its own slot on its own thread and
// counts itself done, so nobody reads a worker's state from outside.
struct WorkerReport {
  // keys: the counters alone (no channel states), for GET /admin/keys.
  enum class What : uint8_t { health, metrics, errors, keys, history };
  WorkerReport(size_t workers, What what)
      : what(what), health(workers), snapshots(workers), errors(workers), history(workers) {}
  const What what;
  std::vector<std::string> health;            // channel health: JSON object per worker
  std::vector<metrics::Snapshot> snapshots;   // metrics: per worker
  std::vector<std::vector<metrics::RecentErrors::Entry>> errors;  // recent errors: per worker, newest first
  std::vector<std::vector<metrics::History::Bucket>> history;    // the last 15 minutes: per worker
  std::atomic<unsigned> done{0};
};

class Mailbox {
 public:
  explicit Mailbox(uint32_t capacity = 64);
  ~Mailbox();
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Producer side (the control thread). Returns false when the queue is full;
  // the producer retries later rather than block a worker.
  bool post(Message m);

  // Consumer side (the owning worker).
  bool pop(Message& out);
  int event_fd() const { return efd_; }
  // Wakes the consumer without a message (another worker queued news for it).
  void notify();

 private:
  std::vector<Message> slots_;
  uint32_t mask_;
  // Producer and consumer indices on separate cache lines: no false sharing.
  alignas(64) std::atomic<uint64_t> head_{0};  // next to pop (consumer)
  alignas(64) std::atomic<uint64_t> tail_{0};  // next to push (producer)
  int efd_ = -1;
};

}  // namespace aigw::worker
