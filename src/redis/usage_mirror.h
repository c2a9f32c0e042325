// Usage of every instance in one place: with [state.redis] set, the usage
// store's daily aggregates are also added up in Redis, so /admin/usage on
// any instance answers for all of them (docs/state.md, "Usage of every
// instance").
//
// UsageMirror is the state writer's AggregateSink. add() runs on the writer
// thread and only merges a commit's sums into a pending map (a mutex shared
// with the mirror's own thread, never with a worker). The mirror's thread
// (aigw-usage-redis) sends them every flush_interval, one atomic script
// call per day (scripts::kUsageAdd). While Redis is away the sums wait,
// merged, and go when it answers again (reconnects back off from 100 ms to
// 5 s). A call that fails after it was sent may or may not have been
// applied: it is never repeated (usage is never counted twice) and its
// rows are counted as lost. stop() makes one last attempt.
//
// UsageReader answers a usage question from Redis, on the control thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "redis/connection.h"
#include "state/store.h"
#include "state/writer.h"

namespace aigw::redis {

// The Redis hash that holds one UTC day's aggregates ("YYYY-MM-DD").
std::string usage_hash(std::string_view day);

// A field of that hash: "<len>:<key><len>:<model><len>:<provider><column>",
// lengths in decimal, so that names may hold any byte. parse_field gives the
// column's index in state::kTotalColumns; false for a field it did not write.
std::string usage_field(std::string_view key, std::string_view model, std::string_view provider,
                        std::string_view column);
bool parse_usage_field(std::string_view field, std::string& key, std::string& model, std::string& provider,
                       size_t& column);

// A field's value: the decimal count HINCRBY keeps. False for anything
// else (a negative number, text, a number past 64 bits): another writer's
// value, which the answer leaves out rather than wrapping it into a huge
// count.
bool parse_usage_count(std::string_view value, uint64_t& out);

class UsageMirror final : public state::AggregateSink {
 public:
  // Rows waiting for Redis beyond this are dropped (counted as lost): a
  // bound on memory through a long outage.
  static constexpr size_t kMaxPending = 100'000;

  UsageMirror(const config::RedisConfig& cfg, config::Duration flush_interval);
  ~UsageMirror() override;  // stop()
  UsageMirror(const UsageMirror&) = delete;
  UsageMirror& operator=(const UsageMirror&) = delete;

  void add(const state::Aggregates& sums) override;  // the writer thread
  void stop();                                       // a last send, then join; idempotent

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }  // aggregate rows Redis took
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }  // rows that may not have arrived
  uint64_t pending() const { return pending_rows_.load(std::memory_order_relaxed); }

 private:
  void run();
  void send();  // the mirror's thread only

  Connection conn_;
  Script script_;
  config::Duration flush_interval_;

  std::mutex mu_;  // guards pending_ and stopping_ (writer thread, mirror thread, stop())
  std::condition_variable cv_;
  state::Aggregates pending_;
  bool stopping_ = false;

  // The mirror thread's own.
  bool up_ = true;  // as last logged
  int64_t retry_at_ns_ = 0;
  int64_t backoff_ms_ = 100;

  std::atomic<uint64_t> sent_{0}, lost_{0}, pending_rows_{0};
  std::thread thread_;
};

class UsageReader {
 public:
  // More days than this in one question are refused (one call per day).
  static constexpr size_t kMaxDays = 400;

  explicit UsageReader(const config::RedisConfig& cfg) : conn_(cfg) {}

  // The same answer Store::usage gives, over every instance's usage, for
  // `days` (state::days_of(q, kMaxDays, ...): the caller refuses a longer
  // range with 400). False with `why` (no secret in it) when Redis cannot
  // answer.
  bool usage(const state::UsageQuery& q, const std::vector<std::string>& days, std::vector<state::UsageRow>& out,
             std::string& why);

 private:
  Connection conn_;
};

}  // namespace aigw::redis
