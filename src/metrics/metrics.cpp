#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace aigw::metrics {

void Histogram::observe(double seconds) {
  if (std::isnan(seconds)) return;
  if (seconds < 0) seconds = 0;
  // First bound >= value: a bucket's le is inclusive.
  auto it = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds);
  ++counts[static_cast<size_t>(it - kBuckets.begin())];
  sum += seconds;
  ++count;
}

void Histogram::add(const Histogram& other) {
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  sum += other.sum;
  count += other.count;
}

std::string_view label(UpstreamError e) {
  switch (e) {
    case UpstreamError::connect: return "connect";
    case UpstreamError::timeout: return "timeout";
    case UpstreamError::status_5xx: return "status_5xx";
    case UpstreamError::status_429: return "status_429";
    case UpstreamError::status_401: return "status_401";
    case UpstreamError::protocol: return "protocol";
    case UpstreamError::tls: return "tls";
    case UpstreamError::interrupted: return "interrupted";
    case UpstreamError::pool_full: return "pool_full";
    case UpstreamError::count_: break;
  }
  return "unknown";
}

std::string_view label(AttemptResult r) {
  switch (r) {
    case AttemptResult::ok: return "ok";
    case AttemptResult::failover: return "failover";
    case AttemptResult::failed: return "failed";
    case AttemptResult::count_: break;
  }
  return "unknown";
}

std::string_view label(Refusal r) {
  switch (r) {
    case Refusal::connection_limit: return "connection_limit";
    case Refusal::fd_limit: return "fd_limit";
    case Refusal::count_: break;
  }
  return "unknown";
}

std::string_view label(AuthFailure a) {
  switch (a) {
    case AuthFailure::missing: return "missing";
    case AuthFailure::unknown: return "unknown";
    case AuthFailure::model_not_allowed: return "model_not_allowed";
    case AuthFailure::count_: break;
  }
  return "unknown";
}

std::string_view label(RateLimit l) {
  switch (l) {
    case RateLimit::rpm: return "rpm";
    case RateLimit::tpm: return "tpm";
    case RateLimit::concurrent: return "concurrent";
    case RateLimit::daily_tokens: return "daily_tokens";
    case RateLimit::monthly_tokens: return "monthly_tokens";
    case RateLimit::count_: break;
  }
  return "unknown";
}

void RequestSeries::count(int status) {
  const uint16_t s = (status >= 100 && status <= 599) ? static_cast<uint16_t>(status) : 0;
  for (StatusCount& c : statuses_) {
    if (c.status == s) {
      ++c.count;
      return;
    }
  }
  statuses_.push_back({s, 1});
}

RequestSeries* WorkerMetrics::series(std::string_view model, std::string_view provider,
                                     std::string_view key) {
  RequestSeries& s = requests_.get({model, provider, key});
  if (!s.route_) s.route_ = &routes_.get({model, provider});
  return &s;
}

ProviderCounts* WorkerMetrics::provider(std::string_view name) { return &providers_.get({name}); }

KeyCounts* WorkerMetrics::key(std::string_view name) { return &keys_.get({name}); }

Snapshot WorkerMetrics::snapshot() const {
  Snapshot s;
  s.requests.reserve(requests_.size());
  for (const auto& [labels, r] : requests_) {
    Snapshot::Request& out = s.requests.emplace_back();
    out.model = labels[0];
    out.provider = labels[1];
    out.key = labels[2];
    out.statuses = r.statuses_;
    std::sort(out.statuses.begin(), out.statuses.end(),
              [](const StatusCount& a, const StatusCount& b) { return a.status < b.status; });
    out.prompt_tokens = r.prompt_tokens_;
    out.completion_tokens = r.completion_tokens_;
  }
  s.routes.reserve(routes_.size());
  for (const auto& [labels, r] : routes_) s.routes.push_back({labels[0], labels[1], r});
  s.providers.reserve(providers_.size());
  for (const auto& [labels, p] : providers_) s.providers.push_back({labels[0], p});
  s.keys.reserve(keys_.size());
  for (const auto& [labels, k] : keys_) s.keys.push_back({labels[0], k});
  s.auth_failures = auth_failures_;
  s.refused = refused_;
  s.active_connections = active_connections_;
  s.active_streams = active_streams_;
  return s;
}

void Snapshot::set_channel_state(std::string_view channel, ChannelState state) {
  for (Channel& c : channels) {
    if (c.name == channel) {
      c.state = state;
      return;
    }
  }
  channels.push_back({std::string(channel), state});
}

namespace {

int severity(ChannelState s) {
  switch (s) {
    case ChannelState::closed: return 0;
    case ChannelState::half_open: return 1;
    case ChannelState::cooling: return 2;
    case ChannelState::open: return 3;
    case ChannelState::key_disabled: return 4;
  }
  return 0;
}

template <class A>
void add_arrays(A& into, const A& from) {
  for (size_t i = 0; i < into.size(); ++i) into[i] += from[i];
}

}  // namespace

Snapshot merge(const std::vector<Snapshot>& workers) {
  // Keys are views into `workers`, which outlive this function's maps.
  using V = std::string_view;
  std::map<std::tuple<V, V, V>, Snapshot::Request> requests;
  std::map<std::tuple<V, V>, Snapshot::Route> routes;
  std::map<V, Snapshot::Provider> providers;
  std::map<V, Snapshot::Key> keys;
  std::map<V, Snapshot::Channel> channels;
  Snapshot m;
  for (const Snapshot& w : workers) {
    for (const auto& r : w.requests) {
      auto [it, fresh] = requests.try_emplace({r.model, r.provider, r.key});
      Snapshot::Request& into = it->second;
      if (fresh) {
        into = r;
        continue;
      }
      for (const StatusCount& c : r.statuses) {
        auto at = std::find_if(into.statuses.begin(), into.statuses.end(),
                               [&](const StatusCount& x) { return x.status == c.status; });
        if (at != into.statuses.end()) {
          at->count += c.count;
        } else {
          into.statuses.push_back(c);
        }
      }
      into.prompt_tokens += r.prompt_tokens;
      into.completion_tokens += r.completion_tokens;
    }
    for (const auto& r : w.routes) {
      auto [it, fresh] = routes.try_emplace({r.model, r.provider}, r);
      if (!fresh) {
        it->second.series.duration.add(r.series.duration);
        it->second.series.ttft.add(r.series.ttft);
      }
    }
    for (const auto& p : w.providers) {
      auto [it, fresh] = providers.try_emplace(p.name, p);
      if (!fresh) {
        add_arrays(it->second.counts.errors, p.counts.errors);
        add_arrays(it->second.counts.attempts, p.counts.attempts);
        add_arrays(it->second.counts.finish_reasons, p.counts.finish_reasons);
      }
    }
    for (const auto& k : w.keys) {
      auto [it, fresh] = keys.try_emplace(k.name, k);
      if (!fresh) add_arrays(it->second.counts.rate_limited, k.counts.rate_limited);
    }
    for (const auto& c : w.channels) {
      auto [it, fresh] = channels.try_emplace(c.name, c);
      if (!fresh && severity(c.state) > severity(it->second.state)) it->second.state = c.state;
    }
    add_arrays(m.auth_failures, w.auth_failures);
    add_arrays(m.refused, w.refused);
    m.active_connections += w.active_connections;
    m.active_streams += w.active_streams;
    m.log_lines_dropped += w.log_lines_dropped;
    m.health_news_dropped += w.health_news_dropped;
  }
  for (auto& [k, r] : requests) {
    std::sort(r.statuses.begin(), r.statuses.end(),
              [](const StatusCount& a, const StatusCount& b) { return a.status < b.status; });
    m.requests.push_back(std::move(r));
  }
  for (auto& [k, r] : routes) m.routes.push_back(std::move(r));
  for (auto& [k, p] : providers) m.providers.push_back(std::move(p));
  for (auto& [k, v] : keys) m.keys.push_back(std::move(v));
  for (auto& [k, c] : channels) m.channels.push_back(std::move(c));
  return m;
}

}  // namespace aigw::metrics
