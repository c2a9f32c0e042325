#include "control/keys_report.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>
#include <utility>

#include "http/query.h"
#include "json/write.h"

namespace aigw::control {

namespace {

bool parse_size(const std::string& v, size_t& out) {
  if (v.empty()) return false;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

// What every worker counted for one key name.
struct Counts {
  uint64_t requests = 0, errors = 0, tokens = 0, refused = 0;
  std::array<uint64_t, metrics::count_of<metrics::RateLimit>()> by_limit{};
};

void append_level(std::string& out, std::string_view name, const limits::Level& l, bool quota) {
  out += ",\"";
  out += name;
  out += "\":";
  if (l.limit == 0) {
    out += "null";  // unlimited
    return;
  }
  out += "{\"limit\":" + std::to_string(l.limit) + ",\"remaining\":" + std::to_string(l.remaining);
  if (quota) out += ",\"used\":" + std::to_string(l.limit > l.remaining ? l.limit - l.remaining : 0);
  out += ",\"reset_s\":" + std::to_string((l.reset_ns + 999'999'999) / 1'000'000'000) + '}';
}

void append_counts(std::string& out, const Counts& c) {
  out += "\"requests\":" + std::to_string(c.requests) + ",\"errors\":" + std::to_string(c.errors) +
         ",\"tokens\":" + std::to_string(c.tokens) + ",\"refused\":" + std::to_string(c.refused);
}

}  // namespace

bool parse_keys_query(std::string_view query, KeysQuery& out, std::string& why) {
  return http::for_each_query_param(query, [&](const std::string& name, const std::string& value) {
    if (name == "offset") {
      if (!parse_size(value, out.offset)) {
        why = "offset must be a whole number";
        return false;
      }
    } else if (name == "limit") {
      if (!parse_size(value, out.limit) || out.limit == 0 || out.limit > KeysQuery::kMaxLimit) {
        why = "limit must be a whole number from 1 to " + std::to_string(KeysQuery::kMaxLimit);
        return false;
      }
    } else if (name == "q") {
      out.q = value;
    } else if (name == "sort") {
      if (value == "name") {
        out.sort = KeysQuery::Sort::name;
      } else if (value == "requests") {
        out.sort = KeysQuery::Sort::requests;
      } else if (value == "tokens") {
        out.sort = KeysQuery::Sort::tokens;
      } else if (value == "refused") {
        out.sort = KeysQuery::Sort::refused;
      } else {
        why = "sort must be name, requests, tokens or refused";
        return false;
      }
    } else {
      why = "unknown parameter \"" + name + "\" (offset, limit, q, sort)";
      return false;
    }
    return true;
  }, why);
}

std::vector<uint32_t> keys_by_name(const std::vector<config::KeyConfig>& keys) {
  std::vector<uint32_t> order(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return keys[a].name < keys[b].name; });
  return order;
}

void write_keys_json(std::string& out, const KeysQuery& q, const plugin::Generation& gen,
                     const std::vector<uint32_t>& name_order, const std::vector<metrics::Snapshot>& workers,
                     limits::Now now) {
  // The snapshots' strings outlive the map: views are enough.
  std::unordered_map<std::string_view, Counts> by_name;
  for (const metrics::Snapshot& w : workers) {
    for (const metrics::Snapshot::Request& r : w.requests) {
      Counts& c = by_name[r.key];
      for (const metrics::StatusCount& s : r.statuses) {
        c.requests += s.count;
        if (s.status >= 400) c.errors += s.count;
      }
      c.tokens += r.prompt_tokens + r.completion_tokens;
    }
    for (const metrics::Snapshot::Key& k : w.keys) {
      Counts& c = by_name[k.name];
      for (size_t i = 0; i < c.by_limit.size(); ++i) {
        c.by_limit[i] += k.counts.rate_limited[i];
        c.refused += k.counts.rate_limited[i];
      }
    }
  }
  const Counts none;
  auto counts_of = [&](std::string_view name) -> const Counts& {
    auto it = by_name.find(name);
    return it == by_name.end() ? none : it->second;
  };

  const auto& keys = gen.config->keys;
  // Filtered in name order; the numeric orders keep it among equals.
  std::vector<uint32_t> rows;
  rows.reserve(name_order.size());
  for (uint32_t i : name_order) {
    if (i < keys.size() && (q.q.empty() || keys[i].name.find(q.q) != std::string::npos)) rows.push_back(i);
  }
  // The page's rows are [first, end): both within rows (no overflow
  // whatever offset was asked for).
  const size_t first = std::min(q.offset, rows.size());
  const size_t end = first + std::min(q.limit, rows.size() - first);
  auto largest_first = [&](uint64_t Counts::*field) {
    // Each key's figure looked up once, then sorted as integers; only the
    // rows up to the end of the page need to be in order.
    std::vector<std::pair<uint64_t, uint32_t>> by;  // {figure, position in name order}
    by.reserve(rows.size());
    for (uint32_t n = 0; n < rows.size(); ++n) by.emplace_back(counts_of(keys[rows[n]].name).*field, n);
    std::partial_sort(by.begin(), by.begin() + static_cast<std::ptrdiff_t>(end), by.end(),
                      [](const auto& a, const auto& b) {
                        return a.first != b.first ? a.first > b.first : a.second < b.second;
                      });
    std::vector<uint32_t> sorted(end);
    for (size_t n = 0; n < end; ++n) sorted[n] = rows[by[n].second];
    const size_t total = rows.size();
    rows = std::move(sorted);
    return total;
  };
  size_t total = rows.size();
  switch (q.sort) {
    case KeysQuery::Sort::name:
      break;
    case KeysQuery::Sort::requests:
      total = largest_first(&Counts::requests);
      break;
    case KeysQuery::Sort::tokens:
      total = largest_first(&Counts::tokens);
      break;
    case KeysQuery::Sort::refused:
      total = largest_first(&Counts::refused);
      break;
  }

  out += "{\"generation\":" + std::to_string(gen.id) + ",\"total\":" + std::to_string(total) +
         ",\"offset\":" + std::to_string(q.offset) + ",\"limit\":" + std::to_string(q.limit) + ",\"keys\":[";
  const bool levels = gen.limits != nullptr;
  for (size_t n = first; n < end; ++n) {
    const uint32_t i = rows[n];
    const Counts& c = counts_of(keys[i].name);
    if (n != first) out += ',';
    out += "{\"name\":";
    json::append_string(out, keys[i].name);
    out += ',';
    append_counts(out, c);
    out += ",\"refused_by\":{";
    for (size_t l = 0; l < c.by_limit.size(); ++l) {
      if (l) out += ',';
      out += '"';
      out += metrics::label(static_cast<metrics::RateLimit>(l));
      out += "\":" + std::to_string(c.by_limit[l]);
    }
    out += '}';
    const bool have = levels && i < gen.limits->size();
    auto level = [&](limits::Resource r) { return have ? gen.limits->level(i, r, now) : limits::Level{}; };
    append_level(out, "rpm", level(limits::Resource::rpm), false);
    append_level(out, "tpm", level(limits::Resource::tpm), false);
    append_level(out, "concurrent", level(limits::Resource::concurrent), false);
    append_level(out, "daily_tokens", level(limits::Resource::daily), true);
    append_level(out, "monthly_tokens", level(limits::Resource::monthly), true);
    out += '}';
  }
  // Requests no key was found for (an unknown key, an open gateway) count
  // under the name "none" in the metrics.
  out += "],\"no_key\":{";
  append_counts(out, counts_of("none"));
  out += "}}";
}

}  // namespace aigw::control
