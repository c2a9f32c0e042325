#include "limits/source.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <unordered_map>

namespace aigw::limits {

namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
// Far enough from the int64 ends that adding a minute or subtracting a
// give-back cannot overflow. A bucket whose time is kFull is full.
constexpr int64_t kFull = std::numeric_limits<int64_t>::min() / 4;
constexpr int64_t kFar = std::numeric_limits<int64_t>::max() / 4;
constexpr uint64_t kCountMask = LocalLeaseSource::kMaxQuota;

// GCRA: the bucket is stored as one time, `tat`, at which it will be full
// again. Units available at `now` are the part of the last minute before
// `now + 1min` that `tat` has not consumed; taking n units moves `tat` by
// n/L minutes. Because `tat` is a time, not a count, it stays meaningful when
// a reload changes L (the share of the bucket in use is kept).
uint64_t available(int64_t tat, int64_t now, uint64_t limit) {
  int64_t base = std::max(tat, now);
  if (base >= now + kMinuteNs) return 0;
  auto room = static_cast<unsigned __int128>(now + kMinuteNs - base);
  return static_cast<uint64_t>(room * limit / kMinuteNs);
}

// Rounded up when taking and down when giving back, so rounding never adds
// units to a bucket.
int64_t cost_ns(uint64_t units, uint64_t limit, bool round_up) {
  auto num = static_cast<unsigned __int128>(units) * kMinuteNs;
  unsigned __int128 ns = num / limit + (round_up && num % limit != 0 ? 1 : 0);
  return ns > static_cast<unsigned __int128>(kFar) ? kFar : static_cast<int64_t>(ns);
}

int64_t add_clamped(int64_t t, int64_t d) { return t > kFar - d ? kFar : t + d; }

uint64_t quota_window(Resource r, int64_t wall_s) {
  int64_t w = r == Resource::daily ? day_of(wall_s) : month_of(wall_s);
  // Only compared for equality with the previous window: 16 bits are plenty.
  return static_cast<uint64_t>(w) & 0xFFFF;
}

uint64_t pack(uint64_t window, uint64_t used) { return window << 48 | std::min(used, kCountMask); }

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

}  // namespace

struct alignas(64) LocalLeaseSource::State {
  std::atomic<int64_t> tat[2] = {kFull, kFull};  // rpm, tpm
  std::atomic<uint64_t> quota[2] = {0, 0};       // daily, monthly: window << 48 | used
  std::atomic<uint64_t> in_flight{0};
};

KeyLimits KeyLimits::from(const config::KeyConfig& k) {
  KeyLimits l;
  l.rpm = k.rpm;
  l.tpm = k.tpm;
  l.daily = std::min(k.daily_tokens, LocalLeaseSource::kMaxQuota);
  l.monthly = std::min(k.monthly_tokens, LocalLeaseSource::kMaxQuota);
  l.concurrent = k.max_concurrent;
  return l;
}

uint64_t KeyLimits::of(Resource r) const {
  switch (r) {
    case Resource::rpm: return rpm;
    case Resource::tpm: return tpm;
    case Resource::daily: return daily;
    case Resource::monthly: return monthly;
    case Resource::concurrent: return concurrent;
  }
  return 0;
}

std::shared_ptr<LocalLeaseSource> LocalLeaseSource::build(const std::vector<config::KeyConfig>& keys) {
  return LocalLeaseSource{}.rebuild(keys);
}

std::shared_ptr<LocalLeaseSource> LocalLeaseSource::rebuild(
    const std::vector<config::KeyConfig>& keys) const {
  std::unordered_map<std::string_view, std::shared_ptr<State>> by_name;
  for (const Entry& e : keys_) by_name.emplace(e.name, e.state);
  auto out = std::make_shared<LocalLeaseSource>();
  out->keys_.reserve(keys.size());
  for (const config::KeyConfig& k : keys) {
    auto it = by_name.find(k.name);
    std::shared_ptr<State> st = it != by_name.end() ? it->second : std::make_shared<State>();
    out->keys_.push_back(Entry{k.name, KeyLimits::from(k), std::move(st)});
  }
  return out;
}

void LocalLeaseSource::seed_quota(std::string_view name, uint64_t daily, uint64_t monthly, int64_t wall_s) {
  for (uint32_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].name != name) continue;
    if (daily) charge(i, Resource::daily, daily, Now{0, wall_s});
    if (monthly) charge(i, Resource::monthly, monthly, Now{0, wall_s});
  }
}

uint64_t LocalLeaseSource::lease(uint32_t key, Resource r, uint64_t want, Now now) {
  const Entry& e = keys_[key];
  uint64_t limit = e.limits.of(r);
  if (want == 0 || limit == 0) return want;  // unlimited
  switch (r) {
    case Resource::rpm:
    case Resource::tpm: {
      std::atomic<int64_t>& tat = e.state->tat[r == Resource::tpm];
      int64_t cur = tat.load(std::memory_order_relaxed);
      for (;;) {
        uint64_t g = std::min(want, available(cur, now.mono_ns, limit));
        if (g == 0) return 0;
        int64_t next = add_clamped(std::max(cur, now.mono_ns), cost_ns(g, limit, true));
        if (tat.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return g;
      }
    }
    case Resource::daily:
    case Resource::monthly: {
      std::atomic<uint64_t>& q = e.state->quota[r == Resource::monthly];
      uint64_t w = quota_window(r, now.wall_s);
      uint64_t cur = q.load(std::memory_order_relaxed);
      for (;;) {
        uint64_t used = (cur >> 48) == w ? cur & kCountMask : 0;
        uint64_t g = std::min(want, limit > used ? limit - used : 0);
        if (g == 0) return 0;
        if (q.compare_exchange_weak(cur, pack(w, used + g), std::memory_order_relaxed)) return g;
      }
    }
    case Resource::concurrent: {
      std::atomic<uint64_t>& n = e.state->in_flight;
      uint64_t cur = n.load(std::memory_order_relaxed);
      for (;;) {
        uint64_t g = std::min(want, limit > cur ? limit - cur : 0);
        if (g == 0) return 0;
        if (n.compare_exchange_weak(cur, cur + g, std::memory_order_relaxed)) return g;
      }
    }
  }
  return 0;
}

void LocalLeaseSource::give_back(uint32_t key, Resource r, uint64_t amount, Now leased) {
  const Entry& e = keys_[key];
  uint64_t limit = e.limits.of(r);
  if (amount == 0) return;
  switch (r) {
    case Resource::rpm:
    case Resource::tpm: {
      if (limit == 0) return;
      std::atomic<int64_t>& tat = e.state->tat[r == Resource::tpm];
      int64_t d = cost_ns(amount, limit, false);
      int64_t cur = tat.load(std::memory_order_relaxed);
      while (!tat.compare_exchange_weak(cur, std::max(cur - d, kFull), std::memory_order_relaxed)) {
      }
      return;
    }
    case Resource::daily:
    case Resource::monthly: {
      std::atomic<uint64_t>& q = e.state->quota[r == Resource::monthly];
      uint64_t w = quota_window(r, leased.wall_s);
      uint64_t cur = q.load(std::memory_order_relaxed);
      for (;;) {
        if ((cur >> 48) != w) return;  // that window is over
        uint64_t used = cur & kCountMask;
        if (q.compare_exchange_weak(cur, pack(w, used - std::min(used, amount)),
                                    std::memory_order_relaxed)) {
          return;
        }
      }
    }
    case Resource::concurrent: {
      // Saturating: a stray extra release must not wrap the count and lock
      // the key out for good.
      std::atomic<uint64_t>& n = e.state->in_flight;
      uint64_t cur = n.load(std::memory_order_relaxed);
      while (!n.compare_exchange_weak(cur, cur - std::min(cur, amount), std::memory_order_relaxed)) {
      }
      return;
    }
  }
}

void LocalLeaseSource::charge(uint32_t key, Resource r, uint64_t amount, Now at) {
  const Entry& e = keys_[key];
  uint64_t limit = e.limits.of(r);
  if (amount == 0) return;
  switch (r) {
    case Resource::rpm:
    case Resource::tpm: {
      if (limit == 0) return;
      std::atomic<int64_t>& tat = e.state->tat[r == Resource::tpm];
      int64_t d = cost_ns(amount, limit, true);
      int64_t cur = tat.load(std::memory_order_relaxed);
      while (!tat.compare_exchange_weak(cur, add_clamped(std::max(cur, at.mono_ns), d),
                                        std::memory_order_relaxed)) {
      }
      return;
    }
    case Resource::daily:
    case Resource::monthly: {
      std::atomic<uint64_t>& q = e.state->quota[r == Resource::monthly];
      uint64_t w = quota_window(r, at.wall_s);
      uint64_t cur = q.load(std::memory_order_relaxed);
      for (;;) {
        uint64_t used = (cur >> 48) == w ? cur & kCountMask : 0;
        uint64_t next = pack(w, used > kCountMask - amount ? kCountMask : used + amount);
        if (q.compare_exchange_weak(cur, next, std::memory_order_relaxed)) return;
      }
    }
    case Resource::concurrent:
      e.state->in_flight.fetch_add(amount, std::memory_order_relaxed);
      return;
  }
}

Level LocalLeaseSource::level(uint32_t key, Resource r, Now now) const {
  const Entry& e = keys_[key];
  Level l;
  l.limit = e.limits.of(r);
  if (l.limit == 0) return l;
  switch (r) {
    case Resource::rpm:
    case Resource::tpm: {
      int64_t tat = e.state->tat[r == Resource::tpm].load(std::memory_order_relaxed);
      l.remaining = available(tat, now.mono_ns, l.limit);
      l.reset_ns = std::max<int64_t>(0, tat - now.mono_ns);
      break;
    }
    case Resource::daily:
    case Resource::monthly: {
      uint64_t cur = e.state->quota[r == Resource::monthly].load(std::memory_order_relaxed);
      uint64_t used = (cur >> 48) == quota_window(r, now.wall_s) ? cur & kCountMask : 0;
      l.remaining = l.limit > used ? l.limit - used : 0;
      int64_t next = r == Resource::daily ? next_day_start(now.wall_s) : next_month_start(now.wall_s);
      l.reset_ns = (next - now.wall_s) * 1'000'000'000;
      break;
    }
    case Resource::concurrent: {
      uint64_t n = e.state->in_flight.load(std::memory_order_relaxed);
      l.remaining = l.limit > n ? l.limit - n : 0;
      break;
    }
  }
  return l;
}

int64_t day_of(int64_t wall_s) { return floor_div(wall_s, 86400); }

int64_t month_of(int64_t wall_s) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{days{day_of(wall_s)}}};
  return static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
         static_cast<int64_t>(static_cast<unsigned>(ymd.month())) - 1;
}

int64_t next_day_start(int64_t wall_s) { return (day_of(wall_s) + 1) * 86400; }

int64_t next_month_start(int64_t wall_s) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{days{day_of(wall_s)}}};
  year_month next = ymd.year() / ymd.month() + months{1};
  return static_cast<int64_t>(sys_days{next / 1}.time_since_epoch().count()) * 86400;
}

}  // namespace aigw::limits
