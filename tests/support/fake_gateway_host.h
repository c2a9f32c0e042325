// A gateway::Host for driving gateway::Runtime in a unit test without a
// worker: it records everything the gateway hands the worker (response
// bytes per client connection, finished-request records, health news) and
// offers a client's reading of those bytes, so a test can say "the client
// saw one complete 200 stream from provider b" instead of comparing bytes.
//
// Its io::Ring is never initialised: the gateway submits to the ring only
// for HTTP-mode upstream exchanges and child processes, which tests driving
// direct-mode plugins do not start. Timers stay the Runtime's own (the test
// calls run_timers), so nothing here sleeps or polls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/host.h"
#include "io/fd_budget.h"
#include "io/ring.h"
#include "metrics/metrics.h"
#include "metrics/record.h"
#include "routing/health.h"

namespace aigw::test {

class FakeGatewayHost final : public gateway::Host {
 public:
  // One call of output(), as the worker would have received it.
  struct Output {
    uint32_t conn_index;
    uint32_t conn_generation;
    std::string bytes;
    bool done;
    bool close;
  };

  // A metrics::RequestRecord with its views copied (they point into the
  // request, which is gone once record() returns).
  struct Record {
    std::string request_id, model, provider, key, error;
    int status = 0;
    uint32_t attempts = 0;
    bool stream = false;
    int64_t first_byte_ns = 0;
  };

  // The client's reading of every byte sent to one connection.
  struct Answer {
    bool parsed = false;      // a complete response head was there
    bool complete = false;    // ... and its body ended (length reached, last chunk seen)
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;         // de-chunked
    std::string rest;         // bytes after the response: must be empty for one clean answer
    std::string header(std::string_view name) const;  // first match, case-insensitive; "" if none
  };

  unsigned index() const override { return 0; }
  unsigned worker_count() const override { return 1; }
  io::Ring& ring() override { return ring_; }
  io::BufferRing& buffers() override { return buffers_; }
  io::FdBudget& fds() override { return fds_; }
  std::string_view date() const override { return "Sat, 05 Dec 2026 00:00:00 GMT"; }
  void output(uint32_t conn_index, uint32_t conn_generation, const std::string_view* parts, size_t n, bool done,
              bool close) override;
  using gateway::Host::output;
  metrics::WorkerMetrics& metrics() override { return metrics_; }
  void record(const metrics::RequestRecord& rec) override;
  void publish_health(const routing::News& n) override { news.push_back(n); }

  // The outputs for one connection, in order.
  std::vector<const Output*> outputs_for(uint32_t conn_index) const;
  // Every byte sent to that connection, joined.
  std::string bytes_for(uint32_t conn_index) const;
  Answer answer(uint32_t conn_index) const;

  std::vector<Output> outputs;
  std::vector<Record> records;
  std::vector<routing::News> news;

 private:
  io::Ring ring_;  // see the file comment: never initialised
  io::BufferRing buffers_;  // likewise
  io::FdBudget fds_;
  metrics::WorkerMetrics metrics_;
};

}  // namespace aigw::test
