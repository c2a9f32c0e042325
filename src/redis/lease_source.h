// The LeaseSource that shares every key's budgets between aigw instances
// through one Redis (see README.md and docs/state.md).
//
// Three levels: Redis holds each key's whole budget; each instance holds an
// in-process pool per key, leased from Redis in batches by a background
// thread; workers lease from the pool as they lease from a
// LocalLeaseSource. lease() only ever touches the pool (atomics), so no
// request waits on Redis: an empty pool refuses, and wakes the thread.
//
// While Redis cannot be reached, on_unavailable decides: "local" serves
// each key from an in-process LocalLeaseSource whose limits are
// limit / instances (at least 1), "deny" refuses every limited request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "limits/source.h"

namespace aigw::redis {

class Link;  // the connection and the background thread, in lease_source.cpp
struct Pool;  // one key's in-process pool, in lease_source.cpp

class RedisLeaseSource final : public limits::LeaseSource {
 public:
  // Connects and fills the pools once before it returns (bounded by the
  // connect and command timeouts), then starts the background thread.
  // Redis being down is not an error: the source starts in the fallback.
  static std::shared_ptr<RedisLeaseSource> build(const config::RedisConfig& cfg,
                                                 const std::vector<config::KeyConfig>& keys);
  // Called on the control thread at a config reload while workers still use
  // this source: same Redis link and thread, pools kept by key name (the
  // state in Redis is by name anyway). [state.redis] itself needs a restart.
  std::shared_ptr<RedisLeaseSource> rebuild(const std::vector<config::KeyConfig>& keys) const;

  ~RedisLeaseSource() override;

  size_t size() const override { return keys_.size(); }
  const limits::KeyLimits& limits(uint32_t key) const override { return keys_[key].limits; }
  uint32_t instances() const override { return instances_; }
  uint64_t lease(uint32_t key, limits::Resource r, uint64_t want, limits::Now now) override;
  void give_back(uint32_t key, limits::Resource r, uint64_t amount, limits::Now leased) override;
  void charge(uint32_t key, limits::Resource r, uint64_t amount, limits::Now at) override;
  limits::Level level(uint32_t key, limits::Resource r, limits::Now now) const override;

  // For /metrics: whether Redis answers now, failed commands and connects
  // so far, script calls so far (all instances' calls are what Redis sees).
  bool redis_up() const;
  uint64_t redis_errors() const;
  uint64_t redis_calls() const;

  // The pool of one key's budget `r` (tests): units this instance holds
  // from Redis and has not handed to a worker; concurrent: slots reserved.
  uint64_t pooled(uint32_t key, limits::Resource r) const;
  // T = max(2, limit / (16 * instances)), the pool's base batch: a pool is
  // refilled to 2P when below P, P = max(T, the largest lease asked). What
  // an instance holds unspent follows from it: docs/state.md "Tolerance".
  static uint64_t pool_batch(uint64_t limit, uint32_t instances);

  RedisLeaseSource() = default;  // use build()

 private:
  struct Entry {
    std::string name;
    limits::KeyLimits limits;
    std::shared_ptr<Pool> pool;
  };
  bool fallback() const;  // Redis away: serve from local_ (or deny)

  std::shared_ptr<Link> link_;
  std::shared_ptr<limits::LocalLeaseSource> local_;  // limit / instances, for on_unavailable = "local"
  std::vector<Entry> keys_;
  uint32_t instances_ = 1;
  bool deny_ = false;
};

}  // namespace aigw::redis
