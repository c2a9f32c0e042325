// Global per-key budgets for rate limits and quotas, shared by all workers.
//
// Two levels, so that no lock is shared and no atomic is touched per request
// for rate budgets:
//   LeaseSource     one per process (or a cluster via Redis): the key's whole
//                   budget. Thread-safe. Workers take units from it in
//                   batches ("leases") and return what they did not use.
//   WorkerLimiter   one per worker thread (limiter.h): spends leased units
//                   locally, single-threaded, without atomics.
//
// Budget model, which every LeaseSource implements the same way:
//   rpm, tpm        token buckets of capacity L refilled continuously at L per
//                   minute (GCRA). A full bucket allows a burst of L.
//   daily, monthly  L tokens per UTC day / UTC calendar month; the count
//                   starts at 0 when a new window starts.
//   concurrent      L requests in flight; leased one per request (see README).
// A limit of 0 means unlimited: WorkerLimiter never asks the source about it.
//
// Key indexes are those of the vector the source was built from, the same
// vector KeyTable::build() gets (auth/keys.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace aigw::limits {

enum class Resource : uint8_t {
  rpm,         // requests per minute
  tpm,         // tokens per minute
  daily,       // tokens per UTC day
  monthly,     // tokens per UTC calendar month
  concurrent,  // requests in flight
};
inline constexpr size_t kResources = 5;

// Both clocks, read once per request by the caller: the monotonic clock (ns)
// drives per-minute buckets, the wall clock (UTC seconds since the epoch)
// picks the day and month windows. Tests inject both.
struct Now {
  int64_t mono_ns = 0;
  int64_t wall_s = 0;
};

// The limits of one key, from config::KeyConfig; 0 = unlimited.
struct KeyLimits {
  uint64_t rpm = 0, tpm = 0, daily = 0, monthly = 0, concurrent = 0;

  static KeyLimits from(const config::KeyConfig& k);
  uint64_t of(Resource r) const;
};

// What a budget has left, for response headers and retry hints.
struct Level {
  uint64_t limit = 0;      // the configured limit (0 = unlimited)
  uint64_t remaining = 0;  // units the source could grant now
  int64_t reset_ns = 0;    // rpm/tpm: until the bucket is full again;
                           // daily/monthly: until the next window starts;
                           // concurrent: 0
};

class LeaseSource {
 public:
  virtual ~LeaseSource() = default;

  virtual size_t size() const = 0;
  virtual const KeyLimits& limits(uint32_t key) const = 0;
  // How many gateway processes share this budget (a Redis-backed source:
  // [state.redis] instances). Workers divide their batch by it too, so
  // credit held in all of them stays a small share of the limit.
  virtual uint32_t instances() const { return 1; }

  // Takes up to `want` units of `key`'s budget `r`; returns how many were
  // granted (0 .. want). Never blocks, never grants more than is left.
  // Called by workers concurrently.
  virtual uint64_t lease(uint32_t key, Resource r, uint64_t want, Now now) = 0;

  // Returns units leased earlier and not used. `leased` is when they were
  // leased: for daily/monthly, units of a window that has ended are dropped
  // (that window's count no longer matters).
  virtual void give_back(uint32_t key, Resource r, uint64_t amount, Now leased) = 0;

  // Takes `amount` unconditionally, overdrawing if need be: usage found after
  // the fact (a response longer than its estimate). An overdrawn rpm/tpm
  // bucket grants nothing until it has refilled past zero.
  // daily/monthly: charged to the window of `at`.
  virtual void charge(uint32_t key, Resource r, uint64_t amount, Now at) = 0;

  // A read-only look (no read-modify-write).
  virtual Level level(uint32_t key, Resource r, Now now) const = 0;
};

// The in-process source: one cache-line-aligned block of atomics per key.
// Every operation is one compare-and-swap loop on one word (uncontended: one
// atomic read-modify-write).
//
// State is kept by key NAME across reloads: rebuild() makes a new source
// whose keys share the state of the same-named keys of this one, so minute
// buckets, quota counts and requests in flight carry over; a key whose
// limits changed keeps its state (a bucket keeps the share of its capacity
// in use). Removed keys' state goes when the last source holding it does.
class LocalLeaseSource final : public LeaseSource {
 public:
  static std::shared_ptr<LocalLeaseSource> build(const std::vector<config::KeyConfig>& keys);
  // Called on the control thread while workers still use this source.
  std::shared_ptr<LocalLeaseSource> rebuild(const std::vector<config::KeyConfig>& keys) const;

  // Quota use found elsewhere (the usage store, src/state, at start-up):
  // adds `daily` and `monthly` tokens to the windows of `wall_s` of the key
  // named `name`, so a restart does not hand a key a fresh budget. Call
  // after build(), before any worker uses the source. Unknown names: no-op.
  void seed_quota(std::string_view name, uint64_t daily, uint64_t monthly, int64_t wall_s);

  size_t size() const override { return keys_.size(); }
  const KeyLimits& limits(uint32_t key) const override { return keys_[key].limits; }
  uint64_t lease(uint32_t key, Resource r, uint64_t want, Now now) override;
  void give_back(uint32_t key, Resource r, uint64_t amount, Now leased) override;
  void charge(uint32_t key, Resource r, uint64_t amount, Now at) override;
  Level level(uint32_t key, Resource r, Now now) const override;

  // Quota counts are 48 bits wide (beside a 16-bit window number in one
  // word); larger quotas are treated as this.
  static constexpr uint64_t kMaxQuota = (uint64_t{1} << 48) - 1;

 private:
  struct State;  // the atomics, in source.cpp
  struct Entry {
    std::string name;
    KeyLimits limits;
    std::shared_ptr<State> state;
  };
  std::vector<Entry> keys_;
};

// UTC window helpers (also used by tests): the window number of `wall_s`
// and the first second of the next window.
int64_t day_of(int64_t wall_s);
int64_t month_of(int64_t wall_s);  // year * 12 + month - 1
int64_t next_day_start(int64_t wall_s);
int64_t next_month_start(int64_t wall_s);

}  // namespace aigw::limits
