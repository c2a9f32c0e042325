#include "routing/health.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <functional>
#include <limits>

#include "json/write.h"

namespace aigw::routing {

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Targets per route whose usability pick() keeps in a 64-bit mask; larger
// routes recompute it for the rest instead of allocating.
constexpr size_t kFast = 64;
constexpr double kAlpha = 0.2;

int64_t to_ns(config::Duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

bool contains(const uint32_t* tried, size_t n, uint32_t c) {
  for (size_t i = 0; i < n; ++i) {
    if (tried[i] == c) return true;
  }
  return false;
}

void ewma(double& avg, bool first, double sample) { avg = first ? sample : avg + kAlpha * (sample - avg); }

// Remaining time in whole milliseconds, rounded up so that "0" means over.
int64_t remaining_ms(int64_t until, int64_t now) { return until > now ? (until - now + 999'999) / 1'000'000 : 0; }

}  // namespace

Health::Health(std::shared_ptr<const Table> table, const config::RoutingConfig& cfg, uint64_t seed)
    : table_(std::move(table)),
      failure_threshold_(static_cast<int64_t>(cfg.failure_threshold)),
      min_requests_(std::max<int64_t>(static_cast<int64_t>(cfg.min_requests), 1)),
      window_ns_(to_ns(cfg.window)),
      cooldown_ns_(to_ns(cfg.cooldown)),
      max_cooldown_ns_(to_ns(cfg.max_cooldown)),
      rate_limit_ns_(to_ns(cfg.rate_limit_cooldown)),
      error_ratio_(cfg.error_ratio),
      rng_(seed),
      ready_at_(table_->channels().size(), 0),
      state_(table_->channels().size()),
      cursor_(table_->target_count(), 0),
      provider_flight_(table_->provider_count(), 0),
      provider_ttfb_(table_->provider_count(), 0.0) {
  // splitmix64 of the seed: xorshift needs a non-zero state, and nearby
  // seeds (worker indexes) should not give correlated streams.
  uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  rng_ = (z ^ (z >> 31)) | 1;
}

uint64_t Health::next_random() {
  uint64_t x = rng_;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_ = x;
  return x * 0x2545f4914f6cdd1dull;
}

uint64_t Health::below(uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(next_random()) * bound) >> 64);
}

void Health::refresh(uint32_t c) {
  const State& s = state_[c];
  ready_at_[c] = (s.disabled || s.trial) ? kNever : std::max(s.cool_until, s.open ? s.open_until : 0);
}

// usable() and target_usable() are the whole cost of pick() with the usual
// handful of channels: keep them inline and free of bounds checks (pick()
// checks once that the route belongs to this table).
inline bool Health::usable(uint32_t c, int64_t now, const uint32_t* tried, size_t n) const {
  return ready_at_[c] <= now && (n == 0 || !contains(tried, n, c));
}

inline bool Health::target_usable(const Target& t, int64_t now, const uint32_t* tried, size_t n) const {
  if (t.weight == 0) return false;
  const uint32_t end = t.first_channel + t.channel_count;
  for (uint32_t c = t.first_channel; c < end; ++c) {
    if (usable(c, now, tried, n)) return true;
  }
  return false;
}

int32_t Health::choose_target(const Route& route, int64_t now, const uint32_t* tried, size_t n) {
  const Target* ts = route.targets.data();
  const size_t count = route.targets.size();
  const config::Strategy strategy = route.strategy;
  const bool tiers = strategy == config::Strategy::priority;
  uint64_t mask = 0;  // usable targets among the first kFast; later ones are recomputed
  size_t m = 0;
  uint64_t total = 0;
  uint32_t tier = std::numeric_limits<uint32_t>::max();
  for (size_t i = 0; i < count; ++i) {
    if (!target_usable(ts[i], now, tried, n)) continue;
    if (i < kFast) mask |= uint64_t{1} << i;
    ++m;
    if (tiers && ts[i].priority < tier) {
      tier = ts[i].priority;
      total = 0;
    }
    if (!tiers || ts[i].priority == tier) total += ts[i].weight;
  }
  if (m == 0) return -1;
  auto ok_at = [&](size_t i) { return i < kFast ? ((mask >> i) & 1) != 0 : target_usable(ts[i], now, tried, n); };

  if (strategy == config::Strategy::weighted || tiers) {
    uint64_t r = below(total);
    for (size_t i = 0; i < count; ++i) {
      if (!ok_at(i) || (tiers && ts[i].priority != tier)) continue;
      if (r < ts[i].weight) return static_cast<int32_t>(i);
      r -= ts[i].weight;
    }
    return -1;  // unreachable: r < total
  }

  // Power of two choices between two distinct usable targets.
  const auto fast = static_cast<uint64_t>(std::popcount(mask));
  auto nth = [&](uint64_t k) -> size_t {
    if (k < fast) {
      uint64_t bits = mask;
      for (; k > 0; --k) bits &= bits - 1;
      return static_cast<size_t>(std::countr_zero(bits));
    }
    k -= fast;
    for (size_t i = kFast; i < count; ++i) {
      if (ok_at(i) && k-- == 0) return i;
    }
    return 0;  // unreachable: k < m
  };
  if (m == 1) return static_cast<int32_t>(nth(0));
  uint64_t a = below(m), b = below(m - 1);
  if (b >= a) ++b;
  size_t ia = nth(a), ib = nth(b);
  uint32_t pa = ts[ia].provider, pb = ts[ib].provider;
  bool second = strategy == config::Strategy::least_inflight ? provider_flight_[pb] < provider_flight_[pa]
                                                             : provider_ttfb_[pb] < provider_ttfb_[pa];
  return static_cast<int32_t>(second ? ib : ia);
}

Pick Health::pick(const Route& route, int64_t now_ns, const uint32_t* tried, size_t n) {
  const std::vector<Route>& routes = table_->routes();
  // A route of another table would index our state out of range.
  if (std::less<const Route*>{}(&route, routes.data()) ||
      !std::less<const Route*>{}(&route, routes.data() + routes.size())) {
    Pick p;
    p.why = Pick::None::all_disabled;
    return p;
  }
  int32_t ti = choose_target(route, now_ns, tried, n);
  if (ti < 0) return explain(route, now_ns, tried, n);
  const Target& t = route.targets[static_cast<size_t>(ti)];
  uint32_t& cursor = cursor_[t.slot];
  for (uint32_t k = 0; k < t.channel_count; ++k) {
    uint32_t key = cursor + k;
    if (key >= t.channel_count) key -= t.channel_count;
    uint32_t c = t.first_channel + key;
    if (!usable(c, now_ns, tried, n)) continue;
    cursor = key + 1 == t.channel_count ? 0 : key + 1;
    if (state_[c].open) {  // usable, so its cooldown is over: this is the half-open trial
      state_[c].trial = true;
      refresh(c);
    }
    Pick p;
    p.target = ti;
    p.channel = static_cast<int32_t>(c);
    return p;
  }
  return explain(route, now_ns, tried, n);  // unreachable: the target had a usable channel
}

Pick Health::explain(const Route& route, int64_t now, const uint32_t* tried, size_t n) const {
  bool any = false, untried = false, open = false, cooling = false;
  int64_t open_min = kNever, cool_min = kNever;
  for (const Target& t : route.targets) {
    if (t.weight == 0) continue;
    for (uint32_t c = t.first_channel; c < t.first_channel + t.channel_count; ++c) {
      any = true;
      if (contains(tried, n, c)) continue;
      untried = true;
      const State& s = state_[c];
      if (s.disabled) continue;
      if (s.open && (s.trial || now < s.open_until)) {
        open = true;
        if (!s.trial) open_min = std::min(open_min, s.open_until);
      } else if (s.cool_until > now) {
        cooling = true;
        cool_min = std::min(cool_min, s.cool_until);
      }
    }
  }
  Pick p;
  if (!any || (untried && !open && !cooling)) {
    p.why = Pick::None::all_disabled;
  } else if (!untried) {
    p.why = Pick::None::all_tried;
  } else if (open) {
    p.why = Pick::None::all_open;
    p.retry_at_ns = open_min == kNever ? 0 : open_min;
  } else {
    p.why = Pick::None::all_cooling;
    p.retry_at_ns = cool_min;
  }
  return p;
}

void Health::begin(uint32_t channel) {
  if (channel >= state_.size()) return;
  ++state_[channel].in_flight;
  ++provider_flight_[table_->channels()[channel].provider];
}

void Health::done(uint32_t c) {
  // A verdict without begin() (a caller's slip) must not wrap the counters.
  State& s = state_[c];
  if (s.in_flight == 0) return;
  --s.in_flight;
  --provider_flight_[table_->channels()[c].provider];
}

bool Health::tell(News* news, uint32_t c, News::Kind k, int64_t until) const {
  if (news) *news = News{table_->id(), c, k, until};
  return true;
}

void Health::count_in_window(State& s, int64_t now, bool failed) {
  if (now - s.window_start >= window_ns_) {
    s.window_start = now;
    s.window_attempts = s.window_failures = 0;
  }
  ++s.window_attempts;
  s.window_failures += failed;
}

void Health::open(uint32_t c, int64_t now, News* news) {
  State& s = state_[c];
  if (!s.open && now - s.closed_since >= max_cooldown_ns_) s.opens = 0;
  ++s.opens;
  int64_t cd = cooldown_ns_;
  for (uint32_t i = 1; i < s.opens && cd < max_cooldown_ns_; ++i) cd *= 2;
  cd = std::min(cd, max_cooldown_ns_);
  s.open = true;
  s.trial = false;
  s.open_until = now + cd;
  s.consecutive = 0;
  s.window_start = now;
  s.window_attempts = s.window_failures = 0;
  refresh(c);
  tell(news, c, News::Kind::opened, s.open_until);
}

void Health::close(uint32_t c, int64_t now) {
  State& s = state_[c];
  if (s.open) s.closed_since = now;
  s.open = s.trial = false;
  s.open_until = 0;
  s.consecutive = 0;
  s.window_start = now;
  s.window_attempts = s.window_failures = 0;
  refresh(c);
}

bool Health::first_byte(uint32_t channel, int64_t now_ns, int64_t ttfb_ns, News* news) {
  if (channel >= state_.size()) return false;
  done(channel);
  State& s = state_[channel];
  if (ttfb_ns >= 0) {
    double& pt = provider_ttfb_[table_->channels()[channel].provider];
    ewma(pt, pt == 0, static_cast<double>(ttfb_ns));
    ewma(s.ewma_ttfb_ns, !s.has_ttfb, static_cast<double>(ttfb_ns));
    s.has_ttfb = true;
  }
  if (s.disabled) {
    s.disabled = false;
    close(channel, now_ns);
    return tell(news, channel, News::Kind::key_enabled, now_ns);
  }
  if (s.open && s.trial) {
    // Only the half-open trial's verdict closes; an attempt that started
    // before the breaker opened says little about now.
    close(channel, now_ns);
    return tell(news, channel, News::Kind::closed, now_ns);
  }
  return false;
}

bool Health::completed(uint32_t channel, bool ok, int64_t now_ns, News* news) {
  if (channel >= state_.size()) return false;
  State& s = state_[channel];
  ++s.requests;
  if (ok) {
    if (!s.open) {
      s.consecutive = 0;
      count_in_window(s, now_ns, false);
    }
    return false;
  }
  ++s.failures;
  s.last_error = LastError::cut;
  s.last_error_at = now_ns;
  return breaker_failure(channel, now_ns, news);
}

bool Health::success(uint32_t channel, int64_t now_ns, int64_t ttfb_ns, News* news) {
  if (channel >= state_.size()) return false;
  bool told = first_byte(channel, now_ns, ttfb_ns, news);
  State& s = state_[channel];
  ++s.requests;
  // A success that closed the breaker or re-enabled the key starts the
  // window afresh; one that arrives while the breaker is open says nothing.
  if (!told && !s.open) {
    s.consecutive = 0;
    count_in_window(s, now_ns, false);
  }
  return told;
}

bool Health::failure(uint32_t channel, Failure f, int64_t now_ns, int64_t retry_after_ns, News* news) {
  if (channel >= state_.size()) return false;
  done(channel);
  State& s = state_[channel];
  ++s.requests;
  ++s.failures;
  s.last_error_at = now_ns;
  switch (f) {
    case Failure::connect: s.last_error = LastError::connect; break;
    case Failure::timeout: s.last_error = LastError::timeout; break;
    case Failure::server_error: s.last_error = LastError::server_error; break;
    case Failure::rate_limited: s.last_error = LastError::rate_limited; break;
    case Failure::key_invalid: s.last_error = LastError::key_invalid; break;
  }
  if (f == Failure::key_invalid || f == Failure::rate_limited) {
    // Says nothing about the upstream's health: a trial ends without a verdict.
    s.trial = false;
    refresh(channel);
  }
  switch (f) {
    case Failure::key_invalid:
      if (s.disabled) return false;
      s.disabled = true;
      refresh(channel);
      return tell(news, channel, News::Kind::key_disabled, now_ns);
    case Failure::rate_limited: {
      int64_t until = now_ns + (retry_after_ns > 0 ? retry_after_ns : rate_limit_ns_);
      if (until <= s.cool_until) return false;
      s.cool_until = until;
      refresh(channel);
      return tell(news, channel, News::Kind::rate_limited, until);
    }
    case Failure::connect:
    case Failure::timeout:
    case Failure::server_error:
      break;
  }
  if (s.open && s.trial) {
    open(channel, now_ns, news);
    return true;
  }
  return breaker_failure(channel, now_ns, news);
}

bool Health::breaker_failure(uint32_t channel, int64_t now_ns, News* news) {
  State& s = state_[channel];
  if (s.open) return false;
  ++s.consecutive;
  count_in_window(s, now_ns, true);
  bool by_count = failure_threshold_ > 0 && s.consecutive >= failure_threshold_;
  bool by_ratio = s.window_attempts >= min_requests_ &&
                  static_cast<double>(s.window_failures) >= error_ratio_ * static_cast<double>(s.window_attempts);
  if (!by_count && !by_ratio) return false;
  open(channel, now_ns, news);
  return true;
}

void Health::abandon(uint32_t channel) {
  if (channel >= state_.size()) return;
  done(channel);
  if (state_[channel].trial) {
    state_[channel].trial = false;
    refresh(channel);
  }
}

void Health::apply(const News& n) {
  if (n.table_id != table_->id() || n.channel >= state_.size()) return;
  State& s = state_[n.channel];
  switch (n.kind) {
    case News::Kind::opened:
      s.open_until = s.open ? std::max(s.open_until, n.until_ns) : n.until_ns;
      s.open = true;
      s.trial = false;  // our trial's verdict, when it comes, no longer decides
      s.consecutive = 0;
      s.window_attempts = s.window_failures = 0;
      break;
    case News::Kind::closed:
      close(n.channel, n.until_ns);
      break;
    case News::Kind::key_disabled:
      s.disabled = true;
      s.trial = false;
      break;
    case News::Kind::key_enabled:
      s.disabled = false;
      close(n.channel, n.until_ns);
      break;
    case News::Kind::rate_limited:
      s.cool_until = std::max(s.cool_until, n.until_ns);
      break;
  }
  refresh(n.channel);
}

bool Health::probe_result(uint32_t channel, bool ok, int64_t now_ns, News* news) {
  if (channel >= state_.size()) return false;
  State& s = state_[channel];
  s.probe_at = now_ns;
  s.probe_ok = ok;
  if (ok) {
    if (s.disabled) {
      s.disabled = false;
      close(channel, now_ns);
      return tell(news, channel, News::Kind::key_enabled, now_ns);
    }
    if (!s.open) return false;
    close(channel, now_ns);
    return tell(news, channel, News::Kind::closed, now_ns);
  }
  if (s.disabled || (s.open && !s.trial && now_ns < s.open_until)) return false;
  open(channel, now_ns, news);
  return true;
}

Health::View Health::view(uint32_t channel, int64_t now_ns) const {
  const State& s = state_[channel];
  if (s.disabled) return View::key_disabled;
  if (s.open) return now_ns >= s.open_until ? View::half_open : View::open;
  return now_ns < s.cool_until ? View::cooling : View::closed;
}

void Health::write_json(std::string& out, unsigned worker_index, int64_t now_ns) const {
  const std::vector<Channel>& chans = table_->channels();
  auto num = [&out](auto v) { out += std::to_string(v); };
  out += "{\"worker\":";
  num(worker_index);
  out += ",\"channels\":[";
  for (size_t c = 0; c < chans.size(); ++c) {
    const State& s = state_[c];
    std::string_view name = chans[c].name;
    if (c) out += ',';
    out += "{\"channel\":";
    json::append_string(out, name);
    out += ",\"provider\":";
    json::append_string(out, name.substr(0, name.rfind('#')));
    out += ",\"key\":";
    num(chans[c].key);
    out += ",\"state\":\"";
    out += s.disabled ? "key_disabled" : !s.open ? "closed" : now_ns >= s.open_until ? "half_open" : "open";
    out += "\",\"cooling_ms\":";
    num(remaining_ms(s.cool_until, now_ns));
    out += ",\"open_ms\":";
    num(s.open ? remaining_ms(s.open_until, now_ns) : 0);
    out += ",\"in_flight\":";
    num(s.in_flight);
    out += ",\"requests\":";
    num(s.requests);
    out += ",\"failures\":";
    num(s.failures);
    out += ",\"consecutive_failures\":";
    num(s.consecutive);
    out += ",\"ewma_ttfb_ms\":";
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, s.ewma_ttfb_ns / 1e6, std::chars_format::fixed, 3);
    out.append(buf, r.ec == std::errc() ? r.ptr : buf);
    if (r.ec != std::errc()) out += '0';
    static constexpr const char* kLastError[] = {"", "connect", "timeout", "server_error", "rate_limited",
                                                 "key_invalid", "cut"};
    auto ago = [&](int64_t at) { num(now_ns > at ? (now_ns - at) / 1'000'000 : 0); };
    out += ",\"last_error\":";
    if (s.last_error_at != 0 && s.last_error != LastError::none) {
      out += '"';
      out += kLastError[static_cast<size_t>(s.last_error)];
      out += "\",\"last_error_ago_ms\":";
      ago(s.last_error_at);
    } else {
      out += "null,\"last_error_ago_ms\":null";
    }
    out += ",\"probe\":";
    if (s.probe_at != 0) {
      out += s.probe_ok ? "\"ok\"" : "\"failed\"";
      out += ",\"probe_ago_ms\":";
      ago(s.probe_at);
    } else {
      out += "null,\"probe_ago_ms\":null";
    }
    out += '}';
  }
  out += "]}";
}

}  // namespace aigw::routing
