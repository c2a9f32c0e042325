// GET /admin/keys: one page of client keys with what each spent and what
// its limits leave, for the dashboard's Keys panel. /metrics says the same
// for Prometheus, but a page that parsed it would move every key's gauges
// (2.8 MB at 10,000 keys) on every refresh to show 100 of them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "limits/source.h"
#include "metrics/metrics.h"
#include "plugin/generation.h"

namespace aigw::control {

struct KeysQuery {
  enum class Sort : uint8_t { name, requests, tokens, refused };
  size_t offset = 0;
  size_t limit = 100;  // 1 to kMaxLimit
  std::string q;       // substring of the key name; empty: every key
  Sort sort = Sort::name;
  static constexpr size_t kMaxLimit = 1000;
};

// "offset=200&limit=100&q=team&sort=tokens" (percent-decoded; + is a
// space). False, with one sentence in `why`, on an unknown parameter, a
// value out of range or malformed percent-encoding.
bool parse_keys_query(std::string_view query, KeysQuery& out, std::string& why);

// The indices of `keys` in name order: sorted once per generation (10,000
// names take milliseconds), not on every call.
std::vector<uint32_t> keys_by_name(const std::vector<config::KeyConfig>& keys);

// The page `q` asks for, of the keys of `gen` whose name holds q.q, in the
// order q.sort asks for (by name, or the largest first), with the counts
// of every worker's snapshot (requests, errors and tokens since the start;
// refusals by limit) and, for the keys of the page only, the level of each
// limit now.
// `name_order` is keys_by_name(gen.config->keys).
void write_keys_json(std::string& out, const KeysQuery& q, const plugin::Generation& gen,
                     const std::vector<uint32_t>& name_order, const std::vector<metrics::Snapshot>& workers,
                     limits::Now now);

}  // namespace aigw::control
