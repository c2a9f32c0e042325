#include "limits/limiter.h"

#include <algorithm>
#include <limits>

namespace aigw::limits {

namespace {

constexpr int64_t kMinuteNs = 60'000'000'000;
// A refused concurrency slot frees up when some response ends, which we
// cannot predict; one second is the shortest Retry-After clients honour.
constexpr uint64_t kConcurrentRetryMs = 1000;
// Resources spent from local credit: rpm, tpm, daily, monthly (enum order).
constexpr size_t kLocal = 4;

uint64_t ms_ceil(int64_t ns) { return ns <= 0 ? 0 : static_cast<uint64_t>((ns + 999'999) / 1'000'000); }

uint64_t sat_add(uint64_t a, uint64_t b) {
  return a > std::numeric_limits<uint64_t>::max() - b ? std::numeric_limits<uint64_t>::max() : a + b;
}

bool is_quota(Resource r) { return r == Resource::daily || r == Resource::monthly; }

int64_t window_of(Resource r, int64_t wall_s) {
  return r == Resource::daily ? day_of(wall_s) : month_of(wall_s);
}

}  // namespace

struct WorkerLimiter::KeySlot {
  struct Local {
    uint64_t credit = 0;  // leased from the source, not yet spent
    Now leased{};         // last lease: for idleness, and the quota window of `credit`
  };
  KeyLimits limits;
  uint64_t batch[kLocal] = {};
  Local local[kLocal];
};

struct WorkerLimiter::Generation {
  uint32_t id = 0;
  std::shared_ptr<LeaseSource> source;
  std::vector<KeySlot> keys;
  uint64_t in_flight = 0;  // tickets not yet settled
};

uint64_t WorkerLimiter::batch(uint64_t limit, uint32_t workers) {
  return std::max<uint64_t>(1, limit / (8 * uint64_t{std::max<uint32_t>(1, workers)}));
}

WorkerLimiter::WorkerLimiter(std::shared_ptr<LeaseSource> source, uint32_t workers)
    : workers_(std::max<uint32_t>(1, workers)) {
  reload(std::move(source));
}

WorkerLimiter::~WorkerLimiter() {
  if (current_) {
    for (uint32_t k = 0; k < current_->keys.size(); ++k) release_all(*current_, k);
  }
}

void WorkerLimiter::reload(std::shared_ptr<LeaseSource> source) {
  auto g = std::make_unique<Generation>();
  g->source = std::move(source);
  g->keys.resize(g->source->size());
  const uint32_t sharers = workers_ * std::max<uint32_t>(1, g->source->instances());
  for (uint32_t k = 0; k < g->keys.size(); ++k) {
    KeySlot& s = g->keys[k];
    s.limits = g->source->limits(k);
    for (size_t r = 0; r < kLocal; ++r) s.batch[r] = batch(s.limits.of(static_cast<Resource>(r)), sharers);
  }
  if (current_) {
    g->id = current_->id + 1;
    for (uint32_t k = 0; k < current_->keys.size(); ++k) release_all(*current_, k);
    if (current_->in_flight > 0) retired_.push_back(std::move(current_));
  }
  current_ = std::move(g);
}

void WorkerLimiter::release_all(Generation& g, uint32_t key) {
  KeySlot& s = g.keys[key];
  for (size_t r = 0; r < kLocal; ++r) {
    KeySlot::Local& l = s.local[r];
    if (l.credit > 0) g.source->give_back(key, static_cast<Resource>(r), l.credit, l.leased);
    l.credit = 0;
  }
}

bool WorkerLimiter::ensure(Generation& g, uint32_t key, Resource r, uint64_t need, uint64_t cover,
                           Now now) {
  KeySlot& s = g.keys[key];
  KeySlot::Local& l = s.local[static_cast<size_t>(r)];
  cover = std::max(cover, need);
  // Credit of an ended quota window is not given back: that window's count
  // no longer matters.
  if (is_quota(r) && l.credit > 0 && window_of(r, l.leased.wall_s) != window_of(r, now.wall_s)) {
    l.credit = 0;
  }
  if (l.credit >= cover) return true;
  uint64_t want = std::max(s.batch[static_cast<size_t>(r)], cover - l.credit);
  uint64_t got = g.source->lease(key, r, want, now);
  if (got > 0) {
    l.credit += got;
    l.leased = now;
  }
  return l.credit >= need;
}

void WorkerLimiter::spend(Generation& g, uint32_t key, Resource r, uint64_t amount, Now now) {
  KeySlot::Local& l = g.keys[key].local[static_cast<size_t>(r)];
  if (l.credit >= amount) {
    l.credit -= amount;
    return;
  }
  // Debt is charged at once rather than carried, so the source never counts
  // less than was spent.
  g.source->charge(key, r, amount - l.credit, now);
  l.credit = 0;
}

void WorkerLimiter::correct(Generation& g, uint32_t key, Resource r, uint64_t est, uint64_t actual,
                            Now now) {
  KeySlot& s = g.keys[key];
  KeySlot::Local& l = s.local[static_cast<size_t>(r)];
  if (actual > est) {
    spend(g, key, r, actual - est, now);
    return;
  }
  if (is_quota(r)) {
    // A quota admits while it is not exhausted (need 1), so local credit
    // would keep admitting after the source ran out: a quota's refund goes
    // back to the source whole (one atomic per settle, only for keys with a
    // token quota).
    g.source->give_back(key, r, est - actual, now);
    return;
  }
  if (l.credit == 0) l.leased = now;
  l.credit = sat_add(l.credit, est - actual);
  // Hysteresis: refunds collect up to 2b before one give-back down to b,
  // so refunds cost one atomic per several responses, not one each.
  uint64_t b = s.batch[static_cast<size_t>(r)];
  if (l.credit > 2 * b) {
    g.source->give_back(key, r, l.credit - b, l.leased);
    l.credit = b;
  }
}

Decision WorkerLimiter::refuse(Generation& g, uint32_t key, Resource r, uint64_t need, Now now) {
  KeySlot& s = g.keys[key];
  // A refused worker keeps no more than a batch, so a large request that
  // gathered part of a bucket does not strand it here.
  for (size_t i = 0; i < kLocal; ++i) {
    KeySlot::Local& l = s.local[i];
    if (l.credit > s.batch[i]) {
      g.source->give_back(key, static_cast<Resource>(i), l.credit - s.batch[i], l.leased);
      l.credit = s.batch[i];
    }
  }
  Decision d;
  d.ok = false;
  d.failed = r;
  if (r == Resource::concurrent) {
    d.retry_after_ms = kConcurrentRetryMs;
  } else if (is_quota(r)) {
    d.retry_after_ms = ms_ceil(g.source->level(key, r, now).reset_ns);
  } else {
    // Token bucket: `n` more units are there once the bucket's fill time is
    // within (L - n)/L minutes of now.
    Level lv = g.source->level(key, r, now);
    uint64_t held = s.local[static_cast<size_t>(r)].credit;
    uint64_t n = need > held ? need - held : 0;
    n = std::min(n, lv.limit);
    auto room = static_cast<int64_t>(static_cast<unsigned __int128>(lv.limit - n) * kMinuteNs / lv.limit);
    d.retry_after_ms = ms_ceil(lv.reset_ns - room);
  }
  d.retry_after_ms = std::max<uint64_t>(d.retry_after_ms, 1);
  fill_headers(g, key, now, d);
  return d;
}

void WorkerLimiter::fill_headers(Generation& g, uint32_t key, Now now, Decision& d) {
  KeySlot& s = g.keys[key];
  auto fill = [&](Resource r, bool& has, uint64_t& limit, uint64_t& remaining, uint64_t& reset) {
    if (s.limits.of(r) == 0) return;
    Level lv = g.source->level(key, r, now);
    uint64_t held = s.local[static_cast<size_t>(r)].credit;
    has = true;
    limit = lv.limit;
    remaining = std::min(lv.limit, sat_add(lv.remaining, held));
    // What this worker holds is not used yet: the bucket, as the client
    // sees it, is full that much sooner.
    auto held_ns = static_cast<unsigned __int128>(held) * kMinuteNs / lv.limit;
    reset = held_ns >= static_cast<unsigned __int128>(std::max<int64_t>(lv.reset_ns, 0))
                ? 0
                : ms_ceil(lv.reset_ns - static_cast<int64_t>(held_ns));
  };
  fill(Resource::rpm, d.has_requests, d.limit_requests, d.remaining_requests, d.reset_requests_ms);
  fill(Resource::tpm, d.has_tokens, d.limit_tokens, d.remaining_tokens, d.reset_tokens_ms);
}

Decision WorkerLimiter::admit(uint32_t key, uint64_t estimated_tokens, int64_t now_ns,
                              int64_t wall_s) {
  Generation& g = *current_;
  Decision d;
  if (key >= g.keys.size()) return d;  // not a limited key: ok, nothing to settle
  KeySlot& s = g.keys[key];
  const KeyLimits& lim = s.limits;
  const Now now{now_ns, wall_s};
  const uint64_t est = estimated_tokens;

  // Nothing is spent until every limit has agreed; credit leased on the way
  // stays with this worker for the next request.
  for (Resource r : {Resource::monthly, Resource::daily}) {
    if (lim.of(r) != 0 && !ensure(g, key, r, 1, est, now)) return refuse(g, key, r, 1, now);
  }
  if (lim.rpm != 0 && !ensure(g, key, Resource::rpm, 1, 1, now)) {
    return refuse(g, key, Resource::rpm, 1, now);
  }
  uint64_t tpm_need = std::min(est, lim.tpm);
  if (lim.tpm != 0 && !ensure(g, key, Resource::tpm, tpm_need, tpm_need, now)) {
    return refuse(g, key, Resource::tpm, tpm_need, now);
  }
  // The one per-request atomic, and only for keys with max_concurrent: see
  // README ("Concurrency").
  bool slot = false;
  if (lim.concurrent != 0) {
    if (g.source->lease(key, Resource::concurrent, 1, now) == 0) {
      return refuse(g, key, Resource::concurrent, 1, now);
    }
    slot = true;
  }

  if (lim.rpm != 0) spend(g, key, Resource::rpm, 1, now);
  if (lim.tpm != 0) spend(g, key, Resource::tpm, est, now);
  if (lim.daily != 0) spend(g, key, Resource::daily, est, now);
  if (lim.monthly != 0) spend(g, key, Resource::monthly, est, now);

  fill_headers(g, key, now, d);
  d.ticket = Ticket{key, g.id, est, wall_s, slot, true};
  ++g.in_flight;
  return d;
}

WorkerLimiter::Generation* WorkerLimiter::find(uint32_t id) {
  if (current_->id == id) return current_.get();
  for (auto& g : retired_) {
    if (g->id == id) return g.get();
  }
  return nullptr;
}

void WorkerLimiter::settle(Ticket& ticket, uint64_t actual_tokens, int64_t now_ns, int64_t wall_s) {
  if (!ticket.valid) return;
  ticket.valid = false;  // a second settle would release someone else's slot
  const Ticket& t = ticket;
  Generation* g = find(t.generation);
  if (g == nullptr || t.key >= g->keys.size()) return;
  const KeyLimits& lim = g->keys[t.key].limits;
  const Now now{now_ns, wall_s};

  if (t.slot) g->source->give_back(t.key, Resource::concurrent, 1, now);
  if (lim.tpm != 0) correct(*g, t.key, Resource::tpm, t.estimate, actual_tokens, now);
  for (Resource r : {Resource::daily, Resource::monthly}) {
    if (lim.of(r) == 0 || window_of(r, t.wall_s) != window_of(r, wall_s)) continue;
    KeySlot::Local& l = g->keys[t.key].local[static_cast<size_t>(r)];
    if (window_of(r, l.leased.wall_s) != window_of(r, wall_s)) l.credit = 0;
    correct(*g, t.key, r, t.estimate, actual_tokens, now);
  }

  if (g != current_.get()) {
    // A retired generation holds nothing between settles.
    release_all(*g, t.key);
    if (--g->in_flight == 0) {
      std::erase_if(retired_, [g](const std::unique_ptr<Generation>& p) { return p.get() == g; });
    }
  } else if (g->in_flight > 0) {
    --g->in_flight;
  }
}

void WorkerLimiter::tick(int64_t now_ns, int64_t wall_s) {
  Generation& g = *current_;
  for (uint32_t k = 0; k < g.keys.size(); ++k) {
    for (size_t r = 0; r < kLocal; ++r) {
      KeySlot::Local& l = g.keys[k].local[r];
      if (l.credit == 0) continue;
      Resource res = static_cast<Resource>(r);
      if (is_quota(res) && window_of(res, l.leased.wall_s) != window_of(res, wall_s)) {
        l.credit = 0;
      } else if (now_ns - l.leased.mono_ns > kIdleNs) {
        g.source->give_back(k, res, l.credit, l.leased);
        l.credit = 0;
      }
    }
  }
}

uint64_t WorkerLimiter::held(uint32_t key, Resource r) const {
  if (key >= current_->keys.size() || static_cast<size_t>(r) >= kLocal) return 0;
  return current_->keys[key].local[static_cast<size_t>(r)].credit;
}

}  // namespace aigw::limits
