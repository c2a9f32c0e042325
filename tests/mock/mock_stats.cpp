#include "mock_stats.h"

#include <algorithm>

#include "json/write.h"
#include "mock_responses.h"

namespace aigw::mock {

namespace {

constexpr size_t kAuthKept = 16;
// Distinct paths counted per worker; more (a scanner, a fuzzer) share one key.
constexpr size_t kMaxPaths = 256;
constexpr size_t kMaxBodyKept = 64 * 1024;

void count(std::map<std::string, uint64_t, std::less<>>& m, std::string_view key) {
  auto it = m.find(key);
  if (it != m.end()) {
    ++it->second;
  } else if (m.size() < kMaxPaths) {
    m.emplace(std::string(key), 1);
  } else {
    ++m["(other)"];
  }
}

void append_map(std::string& out, const std::map<std::string, uint64_t, std::less<>>& m) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out.push_back(',');
    first = false;
    json::append_string(out, k);
    out.push_back(':');
    out.append(std::to_string(v));
  }
  out.push_back('}');
}

}  // namespace

void WorkerStats::connection_accepted() {
  std::lock_guard lock(mu_);
  ++connections_;
}

void WorkerStats::request(const http::RequestHead& head, std::string_view path,
                          std::string_view body) {
  const uint64_t seq = owner_.seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  std::lock_guard lock(mu_);
  ++requests_;
  count(by_path_, path);
  std::string_view auth = head.header("authorization");
  if (!auth.empty()) {
    if (auth_.size() == kAuthKept) auth_.erase(auth_.begin());
    auth_.emplace_back(seq, std::string(auth));
  }
  last_.seq = seq;
  last_.method.assign(head.method_text);
  last_.path.assign(head.target);
  last_.headers.clear();
  for (const auto& h : head.headers) {
    std::string name(h.name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
    last_.headers.emplace_back(std::move(name), std::string(h.value));
  }
  last_.body.assign(body.substr(0, kMaxBodyKept));
  last_.body_truncated = body.size() > kMaxBodyKept;
}

void WorkerStats::fault_served(std::string_view name) {
  std::lock_guard lock(mu_);
  ++faults_;
  count(by_fault_, name);
}

void WorkerStats::replay(bool hit) {
  std::lock_guard lock(mu_);
  ++(hit ? replay_hits_ : replay_misses_);
}

Stats::Stats(unsigned workers) {
  for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>(*this));
}

std::string Stats::stats_json() {
  uint64_t requests = 0, connections = 0, faults = 0, hits = 0, misses = 0;
  std::map<std::string, uint64_t, std::less<>> by_path, by_fault;
  std::vector<std::pair<uint64_t, std::string>> auth;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mu_);
    requests += w->requests_;
    connections += w->connections_;
    faults += w->faults_;
    hits += w->replay_hits_;
    misses += w->replay_misses_;
    for (const auto& [k, v] : w->by_path_) by_path[k] += v;
    for (const auto& [k, v] : w->by_fault_) by_fault[k] += v;
    auth.insert(auth.end(), w->auth_.begin(), w->auth_.end());
  }
  std::sort(auth.begin(), auth.end());
  if (auth.size() > kAuthKept) auth.erase(auth.begin(), auth.end() - kAuthKept);

  std::string out = "{\"requests\":" + std::to_string(requests) + ",\"by_path\":";
  append_map(out, by_path);
  out.append(",\"faults_served\":" + std::to_string(faults) + ",\"by_fault\":");
  append_map(out, by_fault);
  out.append(",\"connections_accepted\":" + std::to_string(connections));
  out.append(",\"replay_hits\":" + std::to_string(hits));
  out.append(",\"replay_misses\":" + std::to_string(misses));
  out.append(",\"auth_headers_seen\":[");
  for (size_t i = 0; i < auth.size(); ++i) {
    if (i != 0) out.push_back(',');
    json::append_string(out, auth[i].second);
  }
  out.append("]}");
  return out;
}

std::string Stats::last_json() {
  WorkerStats* newest = nullptr;
  uint64_t best = 0;
  for (auto& w : workers_) {
    std::lock_guard lock(w->mu_);
    if (w->last_.seq > best) {
      best = w->last_.seq;
      newest = w.get();
    }
  }
  if (newest == nullptr) return {};
  std::lock_guard lock(newest->mu_);
  const WorkerStats::Last& l = newest->last_;
  std::string out = "{\"method\":";
  json::append_string(out, l.method);
  out.append(",\"path\":");
  json::append_string(out, l.path);
  out.append(",\"headers\":{");
  // Repeated headers are joined with ", " (RFC 9110 5.3), in arrival order.
  std::vector<std::pair<std::string, std::string>> merged;
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  for (const auto& header : l.headers) {
    const std::string& k = header.first;
    auto it = std::find_if(merged.begin(), merged.end(), [&k](const auto& m) { return m.first == k; });
    if (it == merged.end()) {
      merged.emplace_back(k, header.second);
    } else {
      it->second.append(", ").append(header.second);
    }
  }
  for (size_t i = 0; i < merged.size(); ++i) {
    if (i != 0) out.push_back(',');
    json::append_string(out, merged[i].first);
    out.push_back(':');
    json::append_string(out, merged[i].second);
  }
  out.append("},\"body\":");
  json::append_string(out, l.body);
  out.append(",\"body_truncated\":");
  out.append(l.body_truncated ? "true" : "false");
  out.push_back('}');
  return out;
}

void Stats::reset() {
  for (auto& w : workers_) {
    std::lock_guard lock(w->mu_);
    w->requests_ = w->connections_ = w->faults_ = w->replay_hits_ = w->replay_misses_ = 0;
    w->by_path_.clear();
    w->by_fault_.clear();
    w->auth_.clear();
    w->last_ = WorkerStats::Last{};
  }
}

}  // namespace aigw::mock
