#include "redis/usage_mirror.h"

#include <pthread.h>

#include <charconv>
#include <chrono>
#include <map>
#include <tuple>

#include "io/clock.h"
#include "log/log.h"
#include "redis/scripts.h"
#include "state/report.h"

namespace aigw::redis {
namespace {

// Fields per script call: a day with more rows goes in several calls (each
// atomic), so one call never carries an unbounded argument list.
constexpr size_t kFieldsPerCall = 2000;

void append_counted(std::string& out, std::string_view s) {
  out += std::to_string(s.size());
  out += ':';
  out += s;
}

bool read_counted(std::string_view& in, std::string& out) {
  size_t colon = in.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 6) return false;
  size_t n = 0;
  for (char c : in.substr(0, colon)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  in.remove_prefix(colon + 1);
  if (n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

std::string usage_hash(std::string_view day) {
  // The hash tag keeps a day on one Redis Cluster slot.
  return "aigw:usage:{" + std::string(day) + "}";
}

std::string usage_field(std::string_view key, std::string_view model, std::string_view provider,
                        std::string_view column) {
  std::string f;
  f.reserve(key.size() + model.size() + provider.size() + column.size() + 12);
  append_counted(f, key);
  append_counted(f, model);
  append_counted(f, provider);
  f += column;
  return f;
}

bool parse_usage_count(std::string_view value, uint64_t& out) {
  if (value.empty()) return false;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  return ec == std::errc() && end == value.data() + value.size();
}

bool parse_usage_field(std::string_view field, std::string& key, std::string& model, std::string& provider,
                       size_t& column) {
  if (!read_counted(field, key) || !read_counted(field, model) || !read_counted(field, provider)) return false;
  for (size_t i = 0; i < std::size(state::kTotalColumns); ++i) {
    if (field == state::kTotalColumns[i].name) {
      column = i;
      return true;
    }
  }
  return false;
}

UsageMirror::UsageMirror(const config::RedisConfig& cfg, config::Duration flush_interval)
    : conn_(cfg), script_{scripts::kUsageAdd, {}}, flush_interval_(flush_interval) {
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "aigw-usage-rds");
}

UsageMirror::~UsageMirror() { stop(); }

void UsageMirror::add(const state::Aggregates& sums) {
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [row, totals] : sums) {
      auto it = pending_.find(row);
      if (it != pending_.end()) {
        it->second.add(totals);
      } else if (pending_.size() < kMaxPending) {
        pending_.emplace(row, totals);
      } else {
        ++dropped;
      }
    }
    pending_rows_.store(pending_.size(), std::memory_order_relaxed);
  }
  if (dropped) lost_.fetch_add(dropped, std::memory_order_relaxed);
}

void UsageMirror::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void UsageMirror::run() {
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(flush_interval_.count()), [this] { return stopping_; });
      stop = stopping_;
    }
    if (stop) retry_at_ns_ = 0;  // the last attempt is made whatever the backoff says
    send();
    if (stop) break;
  }
  conn_.close();
}

void UsageMirror::send() {
  state::Aggregates batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.empty()) return;
    batch.swap(pending_);
    pending_rows_.store(0, std::memory_order_relaxed);  // what fails to go is added back
  }
  std::string why;
  bool reached = false;
  if (conn_.connected()) {
    // A PING first: a connection Redis closed meanwhile (a restart, an idle
    // timeout) fails here, before anything is sent, and is opened again,
    // instead of failing the script call, which could not be repeated.
    const std::string ping[] = {"PING"};
    std::string pong;
    reached = conn_.command(ping, pong, why);
    if (!reached) conn_.close();
  }
  if (!reached && io::mono_ns() >= retry_at_ns_) {
    Script* list[] = {&script_};
    reached = conn_.connect(list, why);
  }
  if (!reached) {
    // Nothing was sent: the sums wait for the next attempt, merged with
    // what comes meanwhile.
    if (!why.empty()) {
      retry_at_ns_ = io::mono_ns() + backoff_ms_ * 1'000'000;
      backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 5000);
      if (up_) {
        log::warn("redis unavailable for the usage copy; usage waits and is sent when it answers",
                  {{"error", why}});
        up_ = false;
      }
    }
    add(batch);
    return;
  }
  // One call per day (more when a day has many fields), each atomic.
  std::map<std::string_view, std::vector<std::string>> args;
  std::map<std::string_view, uint64_t> rows;
  for (const auto& [row, totals] : batch) {
    const auto& [day, key, model, provider] = row;
    std::vector<std::string>& a = args[day];
    ++rows[day];
    for (const state::TotalColumn& c : state::kTotalColumns) {
      uint64_t v = totals.*c.field;
      if (v == 0) continue;
      a.push_back(usage_field(key, model, provider, c.name));
      a.push_back(std::to_string(v));
    }
  }
  uint64_t sent = 0, lost = 0;
  std::string_view failed_day;  // empty: none failed
  for (const auto& [day, a] : args) {
    const std::string keys[] = {usage_hash(day)};
    bool ok = true;
    for (size_t at = 0; ok && at < a.size(); at += 2 * kFieldsPerCall) {
      size_t n = std::min(a.size() - at, 2 * kFieldsPerCall);
      std::vector<int64_t> out;
      ok = conn_.eval(script_, keys, std::span<const std::string>(a.data() + at, n), out, why);
    }
    if (!ok) {
      // The failed call may have been applied: that day's rows are not sent
      // again. The days after it were not tried and wait.
      lost += rows[day];
      failed_day = day;
      break;
    }
    sent += rows[day];
  }
  const bool failed = !failed_day.empty();
  if (failed) {
    state::Aggregates rest;
    for (const auto& [row, totals] : batch) {
      if (std::get<0>(row) > failed_day) rest.emplace(row, totals);
    }
    add(rest);
  }
  sent_.fetch_add(sent, std::memory_order_relaxed);
  lost_.fetch_add(lost, std::memory_order_relaxed);
  if (failed) {
    retry_at_ns_ = io::mono_ns() + backoff_ms_ * 1'000'000;
    backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, 5000);
    if (up_) {
      log::warn("redis failed while the usage copy was sent; those rows may be missing from the shared usage",
                {{"error", why}, {"rows", static_cast<unsigned long long>(lost)}});
      up_ = false;
    }
  } else {
    backoff_ms_ = 100;
    if (!up_) {
      log::info("redis available again for the usage copy");
      up_ = true;
    }
  }
}

bool UsageReader::usage(const state::UsageQuery& q, const std::vector<std::string>& days,
                        std::vector<state::UsageRow>& out, std::string& why) {
  if (!conn_.connected() && !conn_.connect({}, why)) return false;
  std::map<std::tuple<std::string, std::string, std::string>, state::Totals> day_rows;
  std::vector<state::UsageRow> detail;
  std::vector<std::string> pairs;
  for (const std::string& day : days) {
    const std::string argv[] = {"HGETALL", usage_hash(day)};
    if (!conn_.strings(argv, pairs, why)) {
      conn_.close();  // opened again on the next question
      return false;
    }
    day_rows.clear();
    std::string key, model, provider;
    size_t column = 0;
    for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
      // A field or value this build did not write (a newer column, another
      // tool's) is left out rather than failing the whole answer.
      uint64_t n = 0;
      if (!parse_usage_field(pairs[i], key, model, provider, column) || !parse_usage_count(pairs[i + 1], n)) continue;
      day_rows[{key, model, provider}].*state::kTotalColumns[column].field += n;
    }
    for (auto& [id, totals] : day_rows) {
      state::UsageRow r;
      r.day = day;
      std::tie(r.key, r.model, r.provider) = id;
      r.totals = totals;
      detail.push_back(std::move(r));
    }
  }
  state::group_rows(q, detail, out);
  return true;
}

}  // namespace aigw::redis
