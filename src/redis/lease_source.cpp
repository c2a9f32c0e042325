#include "redis/lease_source.h"

#include <pthread.h>
#include <sys/random.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "log/log.h"
#include "redis/connection.h"
#include "redis/reply.h"
#include "redis/scripts.h"

namespace aigw::redis {

using limits::Level;
using limits::Now;
using limits::Resource;

namespace {

// rpm, tpm, daily, monthly (enum order) live in pools; concurrent in slots.
constexpr size_t kPooled = 4;
constexpr uint64_t kCountMask = (uint64_t{1} << 48) - 1;
// The background thread's pass over every key: a refill asked for by a
// worker (wake) starts one at once, this is the longest wait otherwise
// (trimming surplus, shrinking idle slot reservations). Long enough that an
// idle pass costs nothing measurable per request.
constexpr auto kPollInterval = std::chrono::milliseconds(50);
// Reconnect backoff: doubles from the first to the last.
constexpr int64_t kBackoffMinNs = 50'000'000;
constexpr int64_t kBackoffMaxNs = 2'000'000'000;
// A connection idle this long is checked with a PING.
constexpr int64_t kPingIntervalNs = 500'000'000;
// An instance refused more slots asks again no sooner than this.
constexpr int64_t kSlotRetryNs = 50'000'000;

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_quota(Resource r) { return r == Resource::daily || r == Resource::monthly; }

int64_t window_of(Resource r, int64_t wall_s) {
  if (r == Resource::daily) return limits::day_of(wall_s);
  if (r == Resource::monthly) return limits::month_of(wall_s);
  return 0;  // a bucket has no window
}

// A pool word: 16 bits of the window number (0 for rpm/tpm) over a 48-bit
// count, so a quota's credit and its window change together.
uint64_t pack(int64_t window, uint64_t count) {
  return (static_cast<uint64_t>(window) & 0xFFFF) << 48 | std::min(count, kCountMask);
}
uint64_t count_of(uint64_t word) { return word & kCountMask; }
uint64_t window_bits(uint64_t word) { return word >> 48; }
bool same_window(uint64_t word, int64_t window) {
  return window_bits(word) == (static_cast<uint64_t>(window) & 0xFFFF);
}

// Adds to a packed word of `window`. Units of another window not yet sent
// (a few milliseconds' worth, at midnight) are replaced, not mixed in.
void add_packed(std::atomic<uint64_t>& word, int64_t window, uint64_t n) {
  uint64_t cur = word.load(std::memory_order_acquire);
  for (;;) {
    uint64_t base = same_window(cur, window) ? count_of(cur) : 0;
    if (word.compare_exchange_weak(cur, pack(window, base + n), std::memory_order_acq_rel)) return;
  }
}

// Takes up to `n` units of `window` from a packed pool word (none when it
// holds another window's); `before` is the word it took them from.
uint64_t take(std::atomic<uint64_t>& word, int64_t window, uint64_t n, uint64_t& before) {
  before = word.load(std::memory_order_acquire);
  for (;;) {
    const uint64_t got = same_window(before, window) ? std::min(n, count_of(before)) : 0;
    if (got == 0 || word.compare_exchange_weak(before, before - got, std::memory_order_acq_rel)) return got;
  }
}

void raise_to(std::atomic<uint64_t>& v, uint64_t to) {
  uint64_t cur = v.load(std::memory_order_relaxed);
  while (cur < to && !v.compare_exchange_weak(cur, to, std::memory_order_acq_rel)) {
  }
}

// How long a budget that Redis could not fill waits before asking again:
// a bucket, until a quarter of a batch can have refilled (10 ms to 1 s); a
// quota, 50 ms (refunds of other requests may free some). So a flood of
// refused requests costs Redis at most tens of calls a second per budget.
int64_t retry_ns(Resource r, uint64_t missing, uint64_t batch, uint64_t limit) {
  constexpr int64_t kMin = 10'000'000, kMax = 1'000'000'000, kQuota = 50'000'000;
  if (is_quota(r)) return kQuota;
  uint64_t units = std::max<uint64_t>(1, std::min(missing, batch / 4));
  auto refill = static_cast<unsigned __int128>(units) * 60'000'000'000 / limit;
  return refill >= static_cast<unsigned __int128>(kMax) ? kMax : std::max<int64_t>(kMin, static_cast<int64_t>(refill));
}

// A slots word: reserved from Redis << 32 | requests in flight here.
uint64_t in_use_of(uint64_t w) { return w & 0xFFFF'FFFF; }
uint64_t reserved_of(uint64_t w) { return w >> 32; }
uint64_t slots(uint64_t reserved, uint64_t in_use) {
  return std::min<uint64_t>(reserved, 0xFFFF'FFFF) << 32 | std::min<uint64_t>(in_use, 0xFFFF'FFFF);
}

// Slots an instance keeps free beyond those in use, so most requests find
// one without waiting for Redis.
uint64_t slot_spare(uint64_t limit, uint32_t instances) {
  return std::max<uint64_t>(1, limit / (8 * uint64_t{instances}));
}

std::string random_id() {
  unsigned char b[8] = {};
  if (getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
    uint64_t t = static_cast<uint64_t>(mono_ns());
    for (unsigned char& c : b) c = static_cast<unsigned char>(t >>= 8);
  }
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string_view budget_name(Resource r) {
  switch (r) {
    case Resource::rpm: return "rpm";
    case Resource::tpm: return "tpm";
    case Resource::daily: return "daily";
    case Resource::monthly: return "monthly";
    case Resource::concurrent: return "conc";
  }
  return "";
}

}  // namespace

// Cache-line aligned: each key's pool is written by every worker serving it.
struct alignas(64) Pool {
  struct Budget {
    std::atomic<uint64_t> credit{0};     // leased from Redis, not handed out (packed)
    std::atomic<uint64_t> owed{0};       // charges not yet sent to Redis (packed)
    std::atomic<uint64_t> returned{0};   // quota give-backs not yet sent to Redis (packed)
    std::atomic<uint64_t> demand{0};     // the largest lease the pool could not fill
    std::atomic<uint64_t> peak{0};       // the largest lease ever asked (a worker's batch, or a big request)
    std::atomic<uint64_t> remaining{0};  // Redis's answer at the last call
    std::atomic<int64_t> full_at_ns{0};  // rpm/tpm: when the bucket is full again
    int64_t next_lease_ns = 0;           // background thread only: Redis had less than asked
  };
  Budget budget[kPooled];
  std::atomic<uint64_t> slots{0};  // reserved << 32 | in use
  // Background thread only.
  int64_t next_heartbeat_ns = 0;
  int64_t next_grow_ns = 0;
};

// P: the pool is refilled to 2P when it holds less than P, and returns
// what it holds above 2P. P = max(T, the largest lease asked), where
// T = RedisLeaseSource::pool_batch(limit, instances): so one refill always
// covers a worker's next lease (docs/state.md "Tolerance").
namespace {
uint64_t watermark(const Pool::Budget& b, uint64_t limit, uint32_t instances) {
  return std::max(RedisLeaseSource::pool_batch(limit, instances), b.peak.load(std::memory_order_relaxed));
}
}  // namespace

// The connection, the background thread and the keys it serves. Shared by
// every generation of RedisLeaseSource (a reload keeps it).
class Link {
 public:
  struct Key {
    std::string name;
    limits::KeyLimits limits;
    std::shared_ptr<Pool> pool;
  };

  explicit Link(const config::RedisConfig& cfg)
      : cfg_(cfg), conn_(cfg), id_(random_id()), instances_(static_cast<uint32_t>(cfg.instances)) {
    // The URL holds no secret (credentials there are refused by the config).
    where_ = cfg.host + ":" + std::to_string(cfg.port) + "/" + std::to_string(cfg.db);
  }

  ~Link() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  void start() {
    thread_ = std::thread([this] { loop(); });
    pthread_setname_np(thread_.native_handle(), "aigw-redis");
  }

  // The key set of the newest source (control thread, at build and reload).
  void set_keys(std::vector<Key> keys) {
    std::lock_guard<std::mutex> lock(mu_);
    keys_ = std::move(keys);
    ++keys_version_;
  }

  // One pass, on the caller's thread: build() runs the first before the
  // thread exists, so the pools are full when the workers start.
  void pass() {
    std::vector<Key> keys;
    {
      std::lock_guard<std::mutex> lock(mu_);
      keys = keys_;
    }
    serve(keys, mono_ns());
  }

  // From any thread (workers included): ask for a pass now. Never blocks:
  // the flag makes all but the first call between two passes a load.
  void wake() {
    if (!wake_.exchange(true, std::memory_order_acq_rel)) cv_.notify_one();
  }

  bool up() const { return state_.load(std::memory_order_relaxed) == State::up; }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  uint32_t instances() const { return instances_; }
  bool deny() const { return cfg_.on_unavailable == config::RedisConfig::OnUnavailable::deny; }

 private:
  enum class State : uint8_t { unknown, up, down };

  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<Key> keys;
    uint64_t version = ~uint64_t{0};
    while (!stop_) {
      cv_.wait_for(lock, kPollInterval, [this] { return stop_ || wake_.load(std::memory_order_acquire); });
      if (stop_) break;
      wake_.store(false, std::memory_order_release);
      if (version != keys_version_) {
        // A copy only after a reload; the last owner of a removed key's
        // pool frees it at the next one, on this thread.
        keys = keys_;
        version = keys_version_;
      }
      lock.unlock();
      serve(keys, mono_ns());
      lock.lock();
    }
    keys = keys_;
    lock.unlock();
    release(keys);
  }

  void went_down(const std::string& why) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    conn_.close();
    next_connect_ns_ = mono_ns() + backoff_ns_;
    backoff_ns_ = std::min(backoff_ns_ * 2, kBackoffMaxNs);
    if (state_.exchange(State::down) != State::down) {
      log::warn(deny() ? "redis unavailable: limited requests are refused until it answers"
                       : "redis unavailable: each key falls back to its local share (limit / instances)",
                {{"redis", where_}, {"error", why}, {"instances", static_cast<unsigned long long>(instances_)}});
    }
  }

  void went_up() {
    backoff_ns_ = kBackoffMinNs;
    State before = state_.exchange(State::up);
    if (before == State::down) {
      log::info("redis available again: limits are shared", {{"redis", where_}});
    } else if (before == State::unknown) {
      log::info("redis connected: limits are shared", {{"redis", where_}, {"instance", id_}});
    }
  }

  void serve(const std::vector<Key>& keys, int64_t now) {
    if (!conn_.connected()) {
      if (now < next_connect_ns_) return;
      Script* list[] = {&rate_, &quota_, &slots_};
      std::string why;
      if (!conn_.connect(list, why)) {
        went_down(why);
        return;
      }
    }
    std::string why;
    for (const Key& k : keys) {
      if (!serve_key(k, now, why)) {
        went_down(why);
        return;
      }
    }
    // Full pools make no calls: a PING now and then notices a lost Redis
    // (the metric and the fallback) before the pools run dry.
    if (now - last_call_ns_ > kPingIntervalNs) {
      const std::string ping[] = {"PING"};
      std::string reply;
      calls_.fetch_add(1, std::memory_order_relaxed);
      last_call_ns_ = now;
      if (!conn_.command(ping, reply, why)) {
        went_down(why);
        return;
      }
    }
    went_up();
  }

  bool call(Script& s, const std::string& key, std::vector<std::string> args, std::vector<int64_t>& out,
            std::string& why, const std::string* key2 = nullptr) {
    calls_.fetch_add(1, std::memory_order_relaxed);
    last_call_ns_ = mono_ns();
    std::string keys[2] = {key, key2 ? *key2 : std::string()};
    return conn_.eval(s, std::span<const std::string>(keys, key2 ? 2 : 1), args, out, why);
  }

  std::string redis_key(const Key& k, Resource r, int64_t window) const {
    // Named by the key's NAME (never its secret), with a hash tag so every
    // key of one client key lands on one Redis Cluster slot.
    std::string s = "aigw:{" + k.name + "}:" + std::string(budget_name(r));
    if (is_quota(r)) s += ":" + std::to_string(window);
    return s;
  }

  // Seconds a quota counter is kept: to the end of its window and a day.
  static int64_t quota_ttl(Resource r, int64_t wall) {
    int64_t end = r == Resource::daily ? limits::next_day_start(wall) : limits::next_month_start(wall);
    return end - wall + 86400;
  }

  bool budget_call(const Key& k, Resource r, int64_t window, int64_t wall, const char* op, uint64_t n,
                   std::vector<int64_t>& out, std::string& why) {
    std::vector<std::string> args = {op, std::to_string(k.limits.of(r)), std::to_string(n)};
    if (is_quota(r)) args.push_back(std::to_string(quota_ttl(r, wall)));
    return call(is_quota(r) ? quota_ : rate_, redis_key(k, r, window), std::move(args), out, why);
  }

  // Keeps what a budget script answered (for level()) and returns the
  // units granted, never more than `asked` (reply.h).
  uint64_t note(Pool::Budget& b, Resource r, const std::vector<int64_t>& out, uint64_t asked, int64_t now) {
    const BudgetAnswer a = read_budget_answer(out, asked);
    if (a.has_remaining) b.remaining.store(a.remaining, std::memory_order_relaxed);
    if (!is_quota(r) && a.has_until_full) b.full_at_ns.store(now + a.until_full_ns, std::memory_order_relaxed);
    return a.granted;
  }

  bool serve_key(const Key& k, int64_t now, std::string& why) {
    const int64_t wall = std::time(nullptr);
    std::vector<int64_t> out;
    for (size_t i = 0; i < kPooled; ++i) {
      const Resource r = static_cast<Resource>(i);
      const uint64_t limit = k.limits.of(r);
      if (limit == 0) continue;
      Pool::Budget& b = k.pool->budget[i];
      const int64_t window = window_of(r, wall);

      // Charges found after the fact. A quota's go to their own window
      // (the current one or, just after midnight, the one before).
      uint64_t owed = b.owed.exchange(0, std::memory_order_acq_rel);
      if (count_of(owed) > 0) {
        int64_t back = static_cast<int64_t>((pack(window, 0) >> 48) - window_bits(owed)) & 0xFFFF;
        if (back <= 1) {
          if (!budget_call(k, r, window - back, wall, "charge", count_of(owed), out, why)) return false;
          note(b, r, out, count_of(owed), now);
        }
      }

      // Quota give-backs go to Redis, never into the pool: a quota admits
      // while it is not exhausted (needs 1 unit), so refunds circulating
      // here would keep admitting after Redis ran out.
      uint64_t ret = b.returned.exchange(0, std::memory_order_acq_rel);
      if (count_of(ret) > 0 && same_window(ret, window)) {
        if (!budget_call(k, r, window, wall, "give", count_of(ret), out, why)) return false;
        note(b, r, out, count_of(ret), now);
      }

      // A new quota window: the credit of the old one is dropped (Redis
      // counted it as used in a window that no longer matters).
      uint64_t cur = b.credit.load(std::memory_order_acquire);
      while (!same_window(cur, window) &&
             !b.credit.compare_exchange_weak(cur, pack(window, 0), std::memory_order_acq_rel)) {
      }
      if (!same_window(cur, window)) cur = pack(window, 0);
      const uint64_t have = count_of(cur);
      const uint64_t target = watermark(b, limit, instances_);
      const uint64_t demand = b.demand.exchange(0, std::memory_order_acq_rel);
      if ((have < target || demand > have) && now >= b.next_lease_ns) {
        uint64_t want = 2 * target - std::min(have, 2 * target);
        if (!budget_call(k, r, window, wall, "lease", want, out, why)) return false;
        const uint64_t got = note(b, r, out, want, now);
        if (got > 0) b.credit.fetch_add(got, std::memory_order_acq_rel);
        // Redis ran short: a refused request must not become a Redis call,
        // so ask again only when the missing units can have refilled (a
        // quota: when another instance may have given some back).
        if (got < want) b.next_lease_ns = now + retry_ns(r, want - got, target, limit);
      } else if (have > 2 * target) {
        // Give-backs piled up (idle workers, refunds): return all but P.
        uint64_t excess = 0;
        cur = b.credit.load(std::memory_order_acquire);
        do {
          excess = count_of(cur) > target ? count_of(cur) - target : 0;
        } while (excess > 0 &&
                 !b.credit.compare_exchange_weak(cur, cur - excess, std::memory_order_acq_rel));
        if (excess > 0) {
          if (!budget_call(k, r, window, wall, "give", excess, out, why)) return false;
          note(b, r, out, excess, now);
        }
      }
    }
    if (k.limits.concurrent != 0) return serve_slots(k, now, why);
    return true;
  }

  // Keeps this instance's reservation at in-use + spare: grows it when no
  // slot is free, shrinks it when more than twice the spare idles, and
  // heartbeats it every slot_ttl / 3 so that Redis keeps it.
  bool serve_slots(const Key& k, int64_t now, std::string& why) {
    Pool& p = *k.pool;
    const uint64_t limit = k.limits.concurrent;
    const uint64_t spare = slot_spare(limit, instances_);
    uint64_t cur = p.slots.load(std::memory_order_acquire);
    uint64_t in_use = in_use_of(cur), reserved = reserved_of(cur);
    uint64_t desired = std::min(limit, in_use + spare);
    uint64_t want = reserved;
    if (reserved > desired + spare || reserved > limit) {
      // Shrink here first, so no worker takes a slot Redis no longer counts.
      do {
        want = std::max(desired, in_use_of(cur));
      } while (!p.slots.compare_exchange_weak(cur, slots(want, in_use_of(cur)), std::memory_order_acq_rel));
    } else if (reserved <= in_use && reserved < desired && now >= p.next_grow_ns) {
      want = desired;
    } else if (now < p.next_heartbeat_ns) {
      return true;
    }
    const std::string key = redis_key(k, Resource::concurrent, 0);
    const std::string seen = key + ":seen";
    const int64_t ttl_s = std::max<int64_t>(1, cfg_.slot_ttl.count() / 1000);
    std::vector<int64_t> out;
    if (!call(slots_, key, {id_, std::to_string(want), std::to_string(limit), std::to_string(ttl_s)}, out, why,
              &seen)) {
      return false;
    }
    const uint64_t granted = read_budget_answer(out, want).granted;
    if (granted < want) p.next_grow_ns = now + kSlotRetryNs;
    cur = p.slots.load(std::memory_order_acquire);
    while (!p.slots.compare_exchange_weak(cur, slots(granted, in_use_of(cur)), std::memory_order_acq_rel)) {
    }
    p.next_heartbeat_ns = now + cfg_.slot_ttl.count() * 1'000'000 / 3;
    return true;
  }

  // At shutdown: what this instance holds goes back to Redis at once
  // rather than waiting for buckets to refill and slots to time out.
  void release(const std::vector<Key>& keys) {
    if (!conn_.connected()) return;
    const int64_t wall = std::time(nullptr);
    std::string why;
    std::vector<int64_t> out;
    for (const Key& k : keys) {
      for (size_t i = 0; i < kPooled; ++i) {
        const Resource r = static_cast<Resource>(i);
        if (k.limits.of(r) == 0) continue;
        uint64_t cur = k.pool->budget[i].credit.exchange(0, std::memory_order_acq_rel);
        int64_t window = window_of(r, wall);
        if (count_of(cur) == 0 || !same_window(cur, window)) continue;
        if (!budget_call(k, r, window, wall, "give", count_of(cur), out, why)) return;
      }
      if (k.limits.concurrent != 0) {
        const std::string key = redis_key(k, Resource::concurrent, 0);
        const std::string seen = key + ":seen";
        if (!call(slots_, key, {id_, "0", std::to_string(k.limits.concurrent), "1"}, out, why, &seen)) return;
      }
    }
  }

  config::RedisConfig cfg_;
  Connection conn_;  // background thread only (and build()'s first pass)
  std::string id_;
  std::string where_;
  uint32_t instances_;
  Script rate_{scripts::kRate, {}};
  Script quota_{scripts::kQuota, {}};
  Script slots_{scripts::kSlots, {}};
  int64_t next_connect_ns_ = 0;
  int64_t last_call_ns_ = 0;
  int64_t backoff_ns_ = kBackoffMinNs;

  std::atomic<State> state_{State::unknown};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> calls_{0};
  std::atomic<bool> wake_{false};

  std::mutex mu_;  // keys_ and stop_; never taken by a worker
  std::condition_variable cv_;
  std::vector<Key> keys_;
  uint64_t keys_version_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

uint64_t RedisLeaseSource::pool_batch(uint64_t limit, uint32_t instances) {
  return std::max<uint64_t>(2, limit / (16 * uint64_t{std::max<uint32_t>(1, instances)}));
}

namespace {

// The keys with each limit divided by the instance count, for the local
// fallback: together the instances stay near the limit while apart.
std::vector<config::KeyConfig> local_shares(const std::vector<config::KeyConfig>& keys, uint64_t n) {
  std::vector<config::KeyConfig> out = keys;
  auto share = [n](uint64_t& v) {
    if (v != 0) v = std::max<uint64_t>(1, v / n);
  };
  for (config::KeyConfig& k : out) {
    share(k.rpm);
    share(k.tpm);
    share(k.daily_tokens);
    share(k.monthly_tokens);
    share(k.max_concurrent);
  }
  return out;
}

// A pooled rpm/tpm unit is a share of the bucket's minute (1/L of it), as
// the bucket in Redis is a time: when L changes at a reload, the pool keeps
// its share of the minute, in units of the new L (rounded down, so a
// smaller limit is not exceeded through credit leased under the old one).
void rescale(Pool& p, const limits::KeyLimits& before, const limits::KeyLimits& after) {
  for (Resource r : {Resource::rpm, Resource::tpm}) {
    uint64_t from = before.of(r), to = after.of(r);
    if (from == to || from == 0) continue;
    std::atomic<uint64_t>& credit = p.budget[static_cast<size_t>(r)].credit;
    uint64_t cur = credit.load(std::memory_order_acquire);
    for (;;) {
      auto scaled = static_cast<uint64_t>(static_cast<unsigned __int128>(count_of(cur)) * to / from);
      if (credit.compare_exchange_weak(cur, pack(0, scaled), std::memory_order_acq_rel)) break;
    }
  }
}

}  // namespace

std::shared_ptr<RedisLeaseSource> RedisLeaseSource::build(const config::RedisConfig& cfg,
                                                          const std::vector<config::KeyConfig>& keys) {
  auto out = std::make_shared<RedisLeaseSource>();
  out->link_ = std::make_shared<Link>(cfg);
  out->instances_ = static_cast<uint32_t>(std::max<uint64_t>(1, cfg.instances));
  out->deny_ = cfg.on_unavailable == config::RedisConfig::OnUnavailable::deny;
  out->local_ = limits::LocalLeaseSource::build(local_shares(keys, out->instances_));
  std::vector<Link::Key> linked;
  for (const config::KeyConfig& k : keys) {
    out->keys_.push_back(Entry{k.name, limits::KeyLimits::from(k), std::make_shared<Pool>()});
    linked.push_back(Link::Key{k.name, out->keys_.back().limits, out->keys_.back().pool});
  }
  out->link_->set_keys(std::move(linked));
  out->link_->pass();
  out->link_->start();
  return out;
}

std::shared_ptr<RedisLeaseSource> RedisLeaseSource::rebuild(const std::vector<config::KeyConfig>& keys) const {
  std::unordered_map<std::string_view, std::shared_ptr<Pool>> by_name;
  for (const Entry& e : keys_) by_name.emplace(e.name, e.pool);
  auto out = std::make_shared<RedisLeaseSource>();
  out->link_ = link_;
  out->instances_ = instances_;
  out->deny_ = deny_;
  out->local_ = local_->rebuild(local_shares(keys, instances_));
  std::vector<Link::Key> linked;
  std::unordered_map<std::string_view, limits::KeyLimits> old_limits;
  for (const Entry& e : keys_) old_limits.emplace(e.name, e.limits);
  for (const config::KeyConfig& k : keys) {
    auto it = by_name.find(k.name);
    auto pool = it != by_name.end() ? it->second : std::make_shared<Pool>();
    limits::KeyLimits now_limits = limits::KeyLimits::from(k);
    if (it != by_name.end()) rescale(*pool, old_limits[k.name], now_limits);
    out->keys_.push_back(Entry{k.name, now_limits, std::move(pool)});
    linked.push_back(Link::Key{k.name, out->keys_.back().limits, out->keys_.back().pool});
  }
  link_->set_keys(std::move(linked));
  link_->wake();
  return out;
}

RedisLeaseSource::~RedisLeaseSource() = default;

bool RedisLeaseSource::fallback() const { return !link_->up(); }
bool RedisLeaseSource::redis_up() const { return link_->up(); }
uint64_t RedisLeaseSource::redis_errors() const { return link_->errors(); }
uint64_t RedisLeaseSource::redis_calls() const { return link_->calls(); }

uint64_t RedisLeaseSource::lease(uint32_t key, Resource r, uint64_t want, Now now) {
  const Entry& e = keys_[key];
  const uint64_t limit = e.limits.of(r);
  if (want == 0 || limit == 0) return want;  // unlimited
  const bool away = fallback();
  if (away && deny_) return 0;
  Pool& p = *e.pool;
  if (r == Resource::concurrent) {
    const uint64_t share = std::max<uint64_t>(1, limit / instances_);
    uint64_t cur = p.slots.load(std::memory_order_acquire);
    for (;;) {
      uint64_t cap = away ? share : reserved_of(cur);
      uint64_t g = std::min(want, cap > in_use_of(cur) ? cap - in_use_of(cur) : 0);
      if (g == 0) {
        if (!away) link_->wake();
        return 0;
      }
      if (p.slots.compare_exchange_weak(cur, cur + g, std::memory_order_acq_rel)) {
        if (!away && in_use_of(cur) + g >= reserved_of(cur)) link_->wake();  // the last free slot
        return g;
      }
    }
  }
  if (away) return local_->lease(key, r, want, now);
  Pool::Budget& b = p.budget[static_cast<size_t>(r)];
  const int64_t window = window_of(r, now.wall_s);
  uint64_t cur = 0;
  const uint64_t g = take(b.credit, window, want, cur);
  // Remember how much was asked, so that refills bring enough for the
  // largest lease (a worker's batch, a request bigger than a batch).
  raise_to(b.peak, std::min(want, limit));
  if (g < want) {
    raise_to(b.demand, want);
    link_->wake();
  } else if (count_of(cur) - g < watermark(b, limit, instances_)) {
    link_->wake();  // below the watermark: prefetch
  }
  return g;
}

void RedisLeaseSource::give_back(uint32_t key, Resource r, uint64_t amount, Now leased) {
  const Entry& e = keys_[key];
  if (amount == 0 || e.limits.of(r) == 0) return;
  Pool& p = *e.pool;
  if (r == Resource::concurrent) {
    // Saturating, as in LocalLeaseSource: a stray release must not wrap.
    uint64_t cur = p.slots.load(std::memory_order_acquire);
    while (!p.slots.compare_exchange_weak(cur, cur - std::min(in_use_of(cur), amount),
                                          std::memory_order_acq_rel)) {
    }
    return;
  }
  if (fallback() && !deny_) {
    local_->give_back(key, r, amount, leased);
    return;
  }
  Pool::Budget& b = p.budget[static_cast<size_t>(r)];
  const int64_t window = window_of(r, leased.wall_s);
  if (is_quota(r)) {
    // To Redis (by the background thread), not into the pool: see serve_key.
    add_packed(b.returned, window, amount);
    link_->wake();
    return;
  }
  // Back into the pool; the background thread returns a surplus to Redis.
  uint64_t cur = b.credit.load(std::memory_order_acquire);
  while (same_window(cur, window) &&
         !b.credit.compare_exchange_weak(cur, pack(window, count_of(cur) + amount), std::memory_order_acq_rel)) {
  }
}

void RedisLeaseSource::charge(uint32_t key, Resource r, uint64_t amount, Now at) {
  const Entry& e = keys_[key];
  if (amount == 0 || e.limits.of(r) == 0) return;
  Pool& p = *e.pool;
  if (r == Resource::concurrent) {
    p.slots.fetch_add(std::min<uint64_t>(amount, 0xFFFF), std::memory_order_acq_rel);
    return;
  }
  if (fallback() && !deny_) {
    local_->charge(key, r, amount, at);
    return;
  }
  // From the pool first; what it lacks is sent to Redis by the background
  // thread (a charge is never refused, the bucket goes into debt).
  Pool::Budget& b = p.budget[static_cast<size_t>(r)];
  const int64_t window = window_of(r, at.wall_s);
  uint64_t cur = 0;
  const uint64_t took = take(b.credit, window, amount, cur);
  if (took == amount) return;
  const uint64_t rest = amount - took;
  add_packed(b.owed, window, rest);
  link_->wake();
}

Level RedisLeaseSource::level(uint32_t key, Resource r, Now now) const {
  const Entry& e = keys_[key];
  Level l;
  l.limit = e.limits.of(r);
  if (l.limit == 0) return l;
  if (fallback()) {
    if (!deny_) return local_->level(key, r, now);
    l.reset_ns = 1'000'000'000;  // nothing left until Redis answers: try again in a second
    return l;
  }
  const Pool& p = *e.pool;
  if (r == Resource::concurrent) {
    uint64_t cur = p.slots.load(std::memory_order_acquire);
    l.remaining = reserved_of(cur) > in_use_of(cur) ? reserved_of(cur) - in_use_of(cur) : 0;
    return l;
  }
  // Redis's answer at the last call plus the pool: advisory, as headers are.
  const Pool::Budget& b = p.budget[static_cast<size_t>(r)];
  uint64_t cur = b.credit.load(std::memory_order_acquire);
  uint64_t pooled = same_window(cur, window_of(r, now.wall_s)) ? count_of(cur) : 0;
  l.remaining = std::min(l.limit, b.remaining.load(std::memory_order_relaxed) + pooled);
  if (is_quota(r)) {
    int64_t next = r == Resource::daily ? limits::next_day_start(now.wall_s) : limits::next_month_start(now.wall_s);
    l.reset_ns = (next - now.wall_s) * 1'000'000'000;
  } else {
    l.reset_ns = std::max<int64_t>(0, b.full_at_ns.load(std::memory_order_relaxed) - now.mono_ns);
  }
  return l;
}

uint64_t RedisLeaseSource::pooled(uint32_t key, Resource r) const {
  const Pool& p = *keys_[key].pool;
  if (r == Resource::concurrent) return reserved_of(p.slots.load(std::memory_order_acquire));
  return count_of(p.budget[static_cast<size_t>(r)].credit.load(std::memory_order_acquire));
}

}  // namespace aigw::redis
