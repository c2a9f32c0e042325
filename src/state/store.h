// The usage store: one SQLite file (WAL mode) with per-day aggregates per
// (key, model, provider), optional per-request rows, and a schema version
// (PRAGMA user_version) moved forward by the migrations in store.cpp.
//
// Threads: a Store is one SQLite connection and is used by one thread at a
// time. The gateway opens two: the writer's (src/state/writer.h, its own
// thread) and a read-only one on the control thread for /admin/usage, which
// WAL lets read while the writer writes. Workers never touch a Store.
#pragma once

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <tuple>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "state/usage.h"

struct sqlite3;

namespace aigw::state {

// The schema version this build writes. Older files are migrated at open.
inline constexpr int kSchemaVersion = 4;

// Where the store lives when [state] path is not set: $STATE_DIRECTORY (the
// first of its entries, as systemd sets it) / aigw-state.db; else beside the
// config file; else (the built-in config) ./aigw-state.db.
std::string default_path(const config::Config& cfg);
std::string path_of(const config::Config& cfg);  // the configured path or the default

// The sums of one aggregate row (or of several, grouped).
struct Totals {
  uint64_t requests = 0;
  uint64_t errors_4xx = 0;     // 4xx except 429
  uint64_t errors_429 = 0;     // refused by a limit (ours or the provider's)
  uint64_t errors_5xx = 0;
  uint64_t client_closed = 0;  // 499: the client left before the end
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;     // part of prompt_tokens, from ABI 1.4 plugins
  uint64_t completion_tokens = 0;
  uint64_t reasoning_tokens = 0;  // part of completion_tokens, from ABI 1.4 plugins
  uint64_t total_tokens = 0;
  uint64_t latency_ms_sum = 0;
  uint64_t ttft_ms_sum = 0;
  uint64_t ttft_count = 0;        // requests with a first byte (ttft_ms_sum / ttft_count)
  // Cumulative buckets, as a Prometheus histogram's: requests whose latency
  // (or time to first byte) was at most the bound. Summed across rows they
  // stay right, so a day's or a key's percentile can be estimated from them.
  uint64_t latency_le_100ms = 0, latency_le_500ms = 0, latency_le_1s = 0, latency_le_5s = 0, latency_le_30s = 0;
  uint64_t ttft_le_100ms = 0, ttft_le_500ms = 0, ttft_le_1s = 0, ttft_le_5s = 0;

  void add(const UsageRecord& r);
  void add(const Totals& t);
};

// Every column a Totals has, with its field: the one list that SQL, the
// report formats and the Redis copy of the aggregates share (in this order).
struct TotalColumn {
  const char* name;
  uint64_t Totals::*field;
};
inline constexpr TotalColumn kTotalColumns[] = {
    {"requests", &Totals::requests},
    {"errors_4xx", &Totals::errors_4xx},
    {"errors_429", &Totals::errors_429},
    {"errors_5xx", &Totals::errors_5xx},
    {"client_closed", &Totals::client_closed},
    {"prompt_tokens", &Totals::prompt_tokens},
    {"cached_tokens", &Totals::cached_tokens},
    {"completion_tokens", &Totals::completion_tokens},
    {"reasoning_tokens", &Totals::reasoning_tokens},
    {"total_tokens", &Totals::total_tokens},
    {"latency_ms_sum", &Totals::latency_ms_sum},
    {"ttft_ms_sum", &Totals::ttft_ms_sum},
    {"ttft_count", &Totals::ttft_count},
    {"latency_le_100ms", &Totals::latency_le_100ms},
    {"latency_le_500ms", &Totals::latency_le_500ms},
    {"latency_le_1s", &Totals::latency_le_1s},
    {"latency_le_5s", &Totals::latency_le_5s},
    {"latency_le_30s", &Totals::latency_le_30s},
    {"ttft_le_100ms", &Totals::ttft_le_100ms},
    {"ttft_le_500ms", &Totals::ttft_le_500ms},
    {"ttft_le_1s", &Totals::ttft_le_1s},
    {"ttft_le_5s", &Totals::ttft_le_5s},
};
static_assert(sizeof(Totals) == std::size(kTotalColumns) * sizeof(uint64_t), "every field of Totals has its column");

// Aggregate sums by (day "YYYY-MM-DD", key, model, provider).
using Aggregates = std::map<std::tuple<std::string, std::string, std::string, std::string>, Totals>;

// One row of a usage report: the grouped columns that were asked for are
// set, the others empty.
struct UsageRow {
  std::string day, key, model, provider;
  Totals totals;
};

// A usage question: days are "YYYY-MM-DD" (UTC), both ends included.
struct UsageQuery {
  std::string from, to;
  std::vector<std::string> group_by;  // each of day, key, model, provider
  std::string key, model, provider;   // filters; empty: all
  // Whose usage: "all" (every instance: the Redis copy, when [state.redis]
  // is set) or "local" (this instance's file). Empty: all when it can be.
  std::string source;
};

class Store {
 public:
  // Opens (and creates, unless `read_only`) the file, sets WAL mode, checks
  // it is a sound SQLite database and migrates the schema. Null with `why`
  // set to one sentence naming the file and the problem.
  static std::unique_ptr<Store> open(const std::string& path, bool read_only, std::string& why);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();

  // One transaction: the aggregates added to their rows, and the request
  // rows when given. False (nothing written) with `why` on failure.
  bool write(const Aggregates& aggregates,
             const std::vector<UsageRecord>& requests, std::string& why);

  // Deletes request rows that ended before `before_ms` (UTC).
  bool prune(int64_t before_ms, std::string& why);

  bool usage(const UsageQuery& q, std::vector<UsageRow>& out, std::string& why);

  // Tokens (total) of every key name on the UTC day of `wall_s` and in its
  // month, for seeding the quota counts at start.
  struct QuotaUse {
    uint64_t daily = 0, monthly = 0;
  };
  bool quota_use(int64_t wall_s, std::map<std::string, QuotaUse>& out, std::string& why);

  // Request rows kept (tests, docs).
  int64_t request_rows();

 private:
  explicit Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  bool exec(const char* sql, std::string& why);
  std::string problem(int rc) const;
  sqlite3* db_;
  std::string path_;
};

// "YYYY-MM-DD" of a UTC time.
std::string day_of_ms(int64_t wall_ms);
std::string day_of_s(int64_t wall_s);

}  // namespace aigw::state
