// What the mock has seen, for tests to check what a gateway sent upstream:
// GET /mock/stats, GET /mock/last, POST /mock/reset.
//
// Each worker thread records into its own WorkerStats under its own mutex,
// so recording never contends between threads; only the rare /mock/* read
// takes every worker's lock in turn and merges.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

namespace aigw::mock {

class Stats;

class WorkerStats {
 public:
  explicit WorkerStats(Stats& owner) : owner_(owner) {}

  void connection_accepted();
  // Every request except /mock/* ones. Copies headers and body (bounded).
  void request(const http::RequestHead& head, std::string_view path, std::string_view body);
  void fault_served(std::string_view name);
  void replay(bool hit);

 private:
  friend class Stats;
  struct Last {
    uint64_t seq = 0;  // 0: nothing recorded
    std::string method;
    std::string path;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    bool body_truncated = false;
  };

  Stats& owner_;
  std::mutex mu_;
  uint64_t requests_ = 0;
  uint64_t connections_ = 0;
  uint64_t faults_ = 0;
  uint64_t replay_hits_ = 0;
  uint64_t replay_misses_ = 0;
  std::map<std::string, uint64_t, std::less<>> by_path_;
  std::map<std::string, uint64_t, std::less<>> by_fault_;
  std::vector<std::pair<uint64_t, std::string>> auth_;  // (seq, value), the last 16
  Last last_;
};

class Stats {
 public:
  explicit Stats(unsigned workers);
  WorkerStats& worker(unsigned i) { return *workers_[i]; }

  std::string stats_json();
  // Empty when no request has been recorded yet.
  std::string last_json();
  void reset();

 private:
  friend class WorkerStats;
  std::atomic<uint64_t> seq_{0};  // orders records across workers
  std::vector<std::unique_ptr<WorkerStats>> workers_;
};

}  // namespace aigw::mock
