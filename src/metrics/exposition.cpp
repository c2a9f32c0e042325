// render(): the Prometheus text format 0.0.4 for merged snapshots.
#include <charconv>
#include <cmath>
#include <initializer_list>

#include "json/utf8.h"
#include "metrics/metrics.h"

namespace aigw::metrics {

void append_label_value(std::string_view value, std::string& out) {
  size_t i = 0;
  while (i < value.size()) {
    size_t n = json::utf8_sequence_length(value, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    char c = value[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.append(value.substr(i, n));
    }
    i += n;
  }
}

namespace {

void append_number(uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(int64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    // Shortest text that reads back as the same double.
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

struct Label {
  std::string_view name;
  std::string_view value;
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our own text: no backslash or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  template <class T>
  void sample(std::string_view name, std::initializer_list<Label> labels, T value) {
    out_ += name;
    if (labels.size() > 0) {
      char sep = '{';
      for (const Label& l : labels) {
        out_ += sep;
        out_ += l.name;
        out_ += "=\"";
        append_label_value(l.value, out_);
        out_ += '"';
        sep = ',';
      }
      out_ += '}';
    }
    out_ += ' ';
    append_number(value, out_);
    out_ += '\n';
  }

  void histogram(std::string_view name, std::string_view model, std::string_view provider,
                 const Histogram& h) {
    std::string& n = scratch_;
    uint64_t cumulative = 0;
    char le[32];
    for (size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      std::string_view bound = "+Inf";
      if (i < kBuckets.size()) {
        auto r = std::to_chars(le, le + sizeof le, kBuckets[i]);
        bound = std::string_view(le, static_cast<size_t>(r.ptr - le));
      }
      n.assign(name).append("_bucket");
      sample(n, {{"model", model}, {"provider", provider}, {"le", bound}}, cumulative);
    }
    n.assign(name).append("_sum");
    sample(n, {{"model", model}, {"provider", provider}}, h.sum);
    n.assign(name).append("_count");
    sample(n, {{"model", model}, {"provider", provider}}, h.count);
  }

 private:
  std::string& out_;
  std::string scratch_;
};

template <class E, class Array, class F>
void each_enum(const Array& values, F&& f) {
  for (size_t i = 0; i < values.size(); ++i) f(label(static_cast<E>(i)), values[i]);
}

}  // namespace

void render(const std::vector<Snapshot>& workers, const Info& info, std::string& out) {
  const Snapshot m = merge(workers);
  Writer w(out);
  char status[8];

  w.family("aigw_build_info", "gauge", "Build of this aigw process; always 1.");
  w.sample("aigw_build_info", {{"version", info.version}}, uint64_t{1});

  w.family("aigw_requests_total", "counter",
           "Requests answered, by route, provider, client key and HTTP status.");
  for (const auto& r : m.requests) {
    for (const StatusCount& c : r.statuses) {
      auto e = std::to_chars(status, status + sizeof status, c.status);
      w.sample("aigw_requests_total",
               {{"model", r.model},
                {"provider", r.provider},
                {"key", r.key},
                {"status", std::string_view(status, static_cast<size_t>(e.ptr - status))}},
               c.count);
    }
  }

  w.family("aigw_request_duration_seconds", "histogram",
           "Time from the request head to the last byte of the response.");
  for (const auto& r : m.routes) {
    w.histogram("aigw_request_duration_seconds", r.model, r.provider, r.series.duration);
  }

  w.family("aigw_time_to_first_token_seconds", "histogram",
           "Time from the request head to the first token sent to the client.");
  for (const auto& r : m.routes) {
    w.histogram("aigw_time_to_first_token_seconds", r.model, r.provider, r.series.ttft);
  }

  w.family("aigw_tokens_total", "counter", "Tokens reported by providers, by type.");
  for (const auto& r : m.requests) {
    w.sample("aigw_tokens_total",
             {{"model", r.model}, {"provider", r.provider}, {"key", r.key}, {"type", "prompt"}},
             r.prompt_tokens);
    w.sample("aigw_tokens_total",
             {{"model", r.model}, {"provider", r.provider}, {"key", r.key}, {"type", "completion"}},
             r.completion_tokens);
  }

  w.family("aigw_attempts_total", "counter", "Upstream attempts, by provider and outcome.");
  for (const auto& p : m.providers) {
    each_enum<AttemptResult>(p.counts.attempts, [&](std::string_view result, uint64_t v) {
      w.sample("aigw_attempts_total", {{"provider", p.name}, {"result", result}}, v);
    });
  }

  w.family("aigw_upstream_errors_total", "counter", "Failed upstream attempts, by provider and kind.");
  for (const auto& p : m.providers) {
    each_enum<UpstreamError>(p.counts.errors, [&](std::string_view kind, uint64_t v) {
      w.sample("aigw_upstream_errors_total", {{"provider", p.name}, {"kind", kind}}, v);
    });
  }

  w.family("aigw_finish_reasons_total", "counter",
           "Responses by why the model stopped, as the provider's plugin reported it.");
  for (const auto& p : m.providers) {
    each_enum<FinishReason>(p.counts.finish_reasons, [&](std::string_view reason, uint64_t v) {
      w.sample("aigw_finish_reasons_total", {{"provider", p.name}, {"reason", reason}}, v);
    });
  }

  w.family("aigw_rate_limited_total", "counter", "Requests refused by a client key's limit.");
  for (const auto& k : m.keys) {
    each_enum<RateLimit>(k.counts.rate_limited, [&](std::string_view limit, uint64_t v) {
      w.sample("aigw_rate_limited_total", {{"key", k.name}, {"limit", limit}}, v);
    });
  }

  w.family("aigw_auth_failures_total", "counter", "Requests refused by authentication, by reason.");
  each_enum<AuthFailure>(m.auth_failures, [&](std::string_view reason, uint64_t v) {
    w.sample("aigw_auth_failures_total", {{"reason", reason}}, v);
  });

  w.family("aigw_channel_state", "gauge",
           "Channel health: 0 closed, 1 open, 2 half_open, 3 key_disabled, 4 cooling.");
  for (const auto& c : m.channels) {
    w.sample("aigw_channel_state", {{"channel", c.name}}, static_cast<uint64_t>(c.state));
  }

  w.family("aigw_connections_refused_total", "counter",
           "Client connections answered 503 and closed at accept, by the limit that was reached.");
  each_enum<Refusal>(m.refused, [&](std::string_view reason, uint64_t v) {
    w.sample("aigw_connections_refused_total", {{"reason", reason}}, v);
  });

  w.family("aigw_active_connections", "gauge", "Client connections open.");
  w.sample("aigw_active_connections", {}, m.active_connections);

  w.family("aigw_active_streams", "gauge", "Streaming responses in progress.");
  w.sample("aigw_active_streams", {}, m.active_streams);

  w.family("aigw_access_log_dropped_lines_total", "counter",
           "Access-log lines dropped because the log destination fell behind.");
  w.sample("aigw_access_log_dropped_lines_total", {}, m.log_lines_dropped);

  w.family("aigw_health_news_dropped_total", "counter",
           "Channel health messages to another worker dropped because its queue was full.");
  w.sample("aigw_health_news_dropped_total", {}, m.health_news_dropped);

  w.family("aigw_plugin_generation", "gauge", "Generation of the loaded plugin set.");
  w.sample("aigw_plugin_generation", {}, info.plugin_generation);

  w.family("aigw_config_reloads_total", "counter", "Configuration reloads, by result.");
  w.sample("aigw_config_reloads_total", {{"result", "ok"}}, info.config_reloads_ok);
  w.sample("aigw_config_reloads_total", {{"result", "error"}}, info.config_reloads_error);

  if (info.redis_configured) {
    w.family("aigw_redis_up", "gauge", "1 while Redis answers and limits are shared; 0 while on the fallback.");
    w.sample("aigw_redis_up", {}, uint64_t{info.redis_up ? 1u : 0u});
    w.family("aigw_redis_errors_total", "counter", "Failed Redis connects and commands (each puts limits on the fallback).");
    w.sample("aigw_redis_errors_total", {}, info.redis_errors);
    w.family("aigw_redis_calls_total", "counter", "Lua script calls this instance made to Redis (leases, give-backs, charges, slots).");
    w.sample("aigw_redis_calls_total", {}, info.redis_calls);
  }
  if (!info.quotas.empty()) {
    w.family("aigw_key_quota_used_tokens", "gauge",
             "Tokens a key has used of its daily or monthly quota in the current UTC window.");
    for (const Info::KeyQuota& q : info.quotas) {
      w.sample("aigw_key_quota_used_tokens", {{"key", q.key}, {"window", q.window}}, q.used);
    }
    w.family("aigw_key_quota_remaining_tokens", "gauge",
             "Tokens left of a key's daily or monthly quota in the current UTC window.");
    for (const Info::KeyQuota& q : info.quotas) {
      w.sample("aigw_key_quota_remaining_tokens", {{"key", q.key}, {"window", q.window}}, q.remaining);
    }
  }
  if (info.state_enabled) {
    w.family("aigw_state_records_total", "counter",
             "Finished requests handed to the usage store, by outcome (written, failed: a commit failed, "
             "dropped: a worker's queue was full).");
    w.sample("aigw_state_records_total", {{"result", "written"}}, info.state_written);
    w.sample("aigw_state_records_total", {{"result", "failed"}}, info.state_failed);
    w.sample("aigw_state_records_total", {{"result", "dropped"}}, info.state_dropped);
  }
  if (info.usage_copy_configured) {
    w.family("aigw_redis_usage_rows_total", "counter",
             "Usage aggregate rows (day, key, model, provider) added to Redis for every instance to read, by result "
             "(sent; lost: a call failed after it was sent, or too many waited while Redis was away).");
    w.sample("aigw_redis_usage_rows_total", {{"result", "sent"}}, info.usage_copy_sent);
    w.sample("aigw_redis_usage_rows_total", {{"result", "lost"}}, info.usage_copy_lost);
    w.family("aigw_redis_usage_pending_rows", "gauge", "Usage aggregate rows waiting for Redis to answer.");
    w.sample("aigw_redis_usage_pending_rows", {}, info.usage_copy_pending);
  }
}

}  // namespace aigw::metrics
