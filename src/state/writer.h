// The state writer: one thread, never a worker, the only one that writes
// the usage store. Each worker owns the producer end of one UsageQueue and
// pushes a UsageRecord per finished request (a copy into a ring slot: no
// lock, no allocation, no system call). The writer drains every queue each
// kDrainMs into per-(day, key, model, provider) sums and commits them, with
// the request rows when [state] requests is on, every flush_interval in one
// transaction.
//
// Failures never reach a worker: a full queue drops the record (counted in
// dropped()), a failed commit drops that batch (counted in failed()) and is
// logged at most once a minute. stop() drains and commits what is left; the
// control thread calls it after the workers have drained, so a clean stop
// loses nothing. A crash loses what was not committed yet: at most one
// flush_interval (plus the kDrainMs the records waited in the queues).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.h"
#include "io/spsc_ring.h"
#include "state/store.h"
#include "state/usage.h"

namespace aigw::state {

// One worker's hand-over ring. push() is the worker's; the rest any thread.
class UsageQueue {
 public:
  // About 2 MiB a worker; drained every kDrainMs, so it holds 200k
  // requests a second per worker before a record is dropped.
  static constexpr uint32_t kCapacity = 4096;
  UsageQueue() : ring_(kCapacity) {}

  void push(const UsageRecord& r) {
    if (!ring_.push(r)) dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  bool pop(UsageRecord& out) { return ring_.pop(out); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  io::SpscRing<UsageRecord> ring_;
  std::atomic<uint64_t> dropped_{0};  // written by the producer alone
};

// Where each commit's aggregates also go: the Redis copy that every
// instance reads (src/redis/usage_mirror.h) when [state.redis] is set.
// Called on the writer thread after each commit, whether the file took it
// or not; it must not block (it hands over and returns).
class AggregateSink {
 public:
  virtual ~AggregateSink() = default;
  virtual void add(const Aggregates& sums) = 0;
};

class Writer {
 public:
  static constexpr int64_t kDrainMs = 20;

  // Takes the open store; `queues` workers will push. Starts the thread.
  // `sink`, when given, must outlive the Writer (or its stop()).
  Writer(std::unique_ptr<Store> store, const config::StateConfig& cfg, unsigned queues,
         AggregateSink* sink = nullptr);
  ~Writer();  // stop()
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  UsageQueue& queue(unsigned i) { return *queues_[i]; }

  // Drains every queue, commits, and joins the thread. Idempotent.
  void stop();

  uint64_t written() const { return written_.load(std::memory_order_relaxed); }  // records committed
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }    // records a commit lost
  uint64_t dropped() const;                                                     // records no queue took

 private:
  void run();
  void drain();
  void commit();

  std::unique_ptr<Store> store_;
  config::StateConfig cfg_;
  AggregateSink* sink_;
  std::vector<std::unique_ptr<UsageQueue>> queues_;

  // The writer thread's own batch.
  Aggregates sums_;
  std::vector<UsageRecord> requests_;
  // The row the last record went to: consecutive records of the same day,
  // key, model and provider (the common case) skip the day's formatting
  // and the map look-up. std::map nodes stay put, so the pointer holds
  // until sums_ is cleared.
  Totals* last_ = nullptr;
  UsageRecord last_rec_;
  int64_t day_number_ = -1;
  std::string day_;
  uint64_t pending_ = 0;
  int64_t last_log_ms_ = 0;
  uint64_t unlogged_failures_ = 0;
  int64_t next_prune_ms_ = 0;

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> failed_{0};
  std::mutex mu_;  // only between the writer and stop(), never a worker
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aigw::state
