// What the gateway needs from the worker thread it runs on, and nothing
// more: the ring, receive buffers and descriptor share it submits and draws on, a way to
// send response bytes to a client connection, the worker's metrics and
// access log, and health news for the other workers.
//
// The worker implements it (src/worker); tests implement it with a fake.
// This is the cut that keeps src/gateway from including src/worker: the
// gateway is below the worker and knows it only through this interface.
#pragma once

#include <cstdint>
#include <string_view>

#include "io/buffer_ring.h"
#include "io/fd_budget.h"
#include "io/ring.h"
#include "metrics/metrics.h"
#include "metrics/record.h"
#include "routing/health.h"

namespace aigw::gateway {

class Host {
 public:
  virtual unsigned index() const = 0;         // this worker's index
  virtual unsigned worker_count() const = 0;
  virtual io::Ring& ring() = 0;
  // The worker's provided receive buffers: upstream connections read
  // through them as client connections do.
  virtual io::BufferRing& buffers() = 0;
  virtual io::FdBudget& fds() = 0;
  virtual std::string_view date() const = 0;  // the cached HTTP Date value
  // Response bytes for client connection (index, generation). `done`: the
  // response is complete; `close`: close the connection after it. A
  // connection that is gone ignores them.
  // The bytes may come in parts, appended in order: a stream event goes out
  // as its chunk-size line, the plugin's bytes and CRLF without being
  // joined first.
  virtual void output(uint32_t conn_index, uint32_t conn_generation, const std::string_view* parts, size_t n,
                      bool done, bool close) = 0;
  void output(uint32_t conn_index, uint32_t conn_generation, std::string_view bytes, bool done, bool close) {
    output(conn_index, conn_generation, &bytes, 1, done, close);
  }
  virtual metrics::WorkerMetrics& metrics() = 0;
  // One finished request: counters, and its access-log line when sampled.
  virtual void record(const metrics::RequestRecord& rec) = 0;
  // A channel's state changed: tell the other workers.
  virtual void publish_health(const routing::News& news) = 0;

 protected:
  ~Host() = default;
};

}  // namespace aigw::gateway
