// libFuzzer target for the usage store's writer path (src/state): a batch
// of finished requests as workers hand them over (names as the config and
// the request gave them, token counts as a provider reported them: any
// 64-bit number), through a UsageQueue and the Writer thread into a fresh
// SQLite file, then read back the way /admin/usage, `aigw usage` and the
// quota seeding at start read it.
//
// The input is read as records: per record a byte of flags, a day offset,
// a status, three token counts (sized by the flags: small, 32-bit or
// 64-bit, the largest a provider can claim; the cached and reasoning parts
// are derived from them), latency and time to first
// byte, then key, model and provider names, each a length byte and that
// many bytes (any bytes, cut at UsageRecord's caps as a worker cuts them).
// Besides crashes and sanitizer reports it aborts when:
//   - the writer does not commit every record (written() != records), or
//     the request rows are not one per record, or what it hands the Redis
//     copy (an AggregateSink) does not add up to the inputs;
//   - the per-(day, key, model, provider) sums read back differ from the
//     sums of the inputs (each request's token counts capped at
//     state::kMaxRequestTokens, as the store keeps them);
//   - the ungrouped total differs from the sum of all inputs, or a query
//     or the quota sums at start fail (SQLite refuses a SUM that overflows
//     64 bits, which would keep aigw from starting).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "fuzz_check.h"
#include "state/store.h"
#include "state/usage.h"
#include "state/writer.h"

namespace {

using aigw::state::Store;
using aigw::state::Totals;
using aigw::state::UsageRecord;
using aigw::state::UsageRow;

// The first moment of 2026-12-06, UTC: records fall within 40 days of it,
// so batches cross days and a month's edge.
constexpr int64_t kBaseMs = 1796515200000;

struct Input {
  std::string_view rest;
  uint8_t byte() {
    if (rest.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest[0]);
    rest.remove_prefix(1);
    return b;
  }
  uint64_t bytes(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | byte();
    return v;
  }
  std::string_view name() {
    const size_t n = std::min<size_t>(byte(), rest.size());
    std::string_view s = rest.substr(0, n);
    rest.remove_prefix(n);
    return s;
  }
};

uint64_t tokens(Input& in, unsigned size_class) {
  switch (size_class & 3) {
    case 0: return in.byte();
    case 1: return in.bytes(4);
    case 2: return in.bytes(8);  // a provider can claim any uint64
    default: return ~uint64_t{0} - in.byte();
  }
}

using RowKey = std::tuple<std::string, std::string, std::string, std::string>;

// The sums the store must give back, added up here independently of
// Totals::add.
void expect(Totals& t, const UsageRecord& r) {
  const auto cap = [](uint64_t v) { return v < aigw::state::kMaxRequestTokens ? v : aigw::state::kMaxRequestTokens; };
  t.requests += 1;
  t.errors_429 += r.status == 429;
  t.client_closed += r.status == 499;
  t.errors_5xx += r.status >= 500;
  t.errors_4xx += r.status >= 400 && r.status < 500 && r.status != 429 && r.status != 499;
  t.prompt_tokens += cap(r.prompt_tokens);
  t.completion_tokens += cap(r.completion_tokens);
  t.total_tokens += cap(r.total_tokens);
  t.cached_tokens += cap(r.cached_tokens);
  t.reasoning_tokens += cap(r.reasoning_tokens);
  t.latency_ms_sum += r.latency_ms;
  // Cumulative buckets: requests at most that slow.
  t.latency_le_100ms += r.latency_ms <= 100;
  t.latency_le_500ms += r.latency_ms <= 500;
  t.latency_le_1s += r.latency_ms <= 1000;
  t.latency_le_5s += r.latency_ms <= 5000;
  t.latency_le_30s += r.latency_ms <= 30000;
  if (r.has_ttft) {
    t.ttft_ms_sum += r.ttft_ms;
    t.ttft_count += 1;
    t.ttft_le_100ms += r.ttft_ms <= 100;
    t.ttft_le_500ms += r.ttft_ms <= 500;
    t.ttft_le_1s += r.ttft_ms <= 1000;
    t.ttft_le_5s += r.ttft_ms <= 5000;
  }
}

bool same(const Totals& a, const Totals& b) {
  for (const auto& c : aigw::state::kTotalColumns) {
    if (a.*c.field != b.*c.field) return false;
  }
  return true;
}

// What the writer hands the Redis copy of the aggregates ([state.redis]).
struct Collect final : aigw::state::AggregateSink {
  Totals all;
  void add(const aigw::state::Aggregates& sums) override {
    for (const auto& [row, t] : sums) all.add(t);
  }
};

// A fresh directory per process (tmpfs when there is one: a file per
// input), removed at exit (each input removes its files).
std::string scratch_dir;
void remove_scratch() { rmdir(scratch_dir.c_str()); }
const std::string& scratch() {
  if (scratch_dir.empty()) {
    std::string tmpl = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/aigw-usage-fuzz-XXXXXX");
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
    scratch_dir = tmpl;
    std::atexit(remove_scratch);
  }
  return scratch_dir;
}

void remove_store(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) unlink((path + suffix).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{std::string_view(reinterpret_cast<const char*>(data), size)};
  std::vector<UsageRecord> records;
  while (!in.rest.empty() && records.size() < 64) {
    UsageRecord r;
    const uint8_t flags = in.byte();
    r.wall_ms = kBaseMs + (static_cast<int64_t>(in.byte()) - 128) * 86'400'000 * 40 / 128 +
                static_cast<int64_t>(in.bytes(3) % 86'400'000);
    r.status = static_cast<uint16_t>(in.bytes(2) % 700);
    r.stream = flags & 1;
    r.prompt_tokens = tokens(in, flags >> 1);
    r.completion_tokens = tokens(in, flags >> 3);
    r.total_tokens = tokens(in, flags >> 5);
    // The parts of prompt and completion a provider reports (ABI 1.4): taken
    // from them, shifted by the status's bits, so the seeds keep their form.
    r.cached_tokens = r.prompt_tokens >> (r.status & 7);
    r.reasoning_tokens = r.completion_tokens >> ((r.status >> 3) & 7);
    r.latency_ms = static_cast<uint32_t>(in.bytes(4));
    r.has_ttft = flags & 0x80;
    r.ttft_ms = r.has_ttft ? static_cast<uint32_t>(in.bytes(4)) : 0;
    r.key.set(in.name());
    r.model.set(in.name());
    r.provider.set(in.name());
    r.request_id.set("req-" + std::to_string(records.size()));
    if (r.status >= 400) r.error.set("upstream_error");
    records.push_back(r);
  }
  if (records.empty()) return 0;

  std::map<RowKey, Totals> want;
  Totals all;
  for (const UsageRecord& r : records) {
    expect(want[{aigw::state::day_of_ms(r.wall_ms), std::string(r.key.view()), std::string(r.model.view()),
                 std::string(r.provider.view())}],
           r);
    expect(all, r);
  }

  const std::string path = scratch() + "/usage.db";
  remove_store(path);
  std::string why;
  {
    auto store = Store::open(path, false, why);
    FUZZ_CHECK(store != nullptr);
    aigw::config::StateConfig cfg;
    cfg.requests = true;
    cfg.flush_interval = aigw::config::Duration(3'600'000);  // one commit, at stop()
    cfg.keep = aigw::config::Duration(int64_t{100} * 366 * 86'400'000);
    Collect copy;
    aigw::state::Writer writer(std::move(store), cfg, 1, &copy);
    for (const UsageRecord& r : records) writer.queue(0).push(r);
    writer.stop();
    FUZZ_CHECK(writer.written() == records.size() && writer.failed() == 0 && writer.dropped() == 0);
    FUZZ_CHECK(same(copy.all, all));
  }

  auto reader = Store::open(path, true, why);
  FUZZ_CHECK(reader != nullptr);
  FUZZ_CHECK(reader->request_rows() == static_cast<int64_t>(records.size()));

  aigw::state::UsageQuery q;
  q.from = "0000-00-00";
  q.to = "9999-99-99";
  q.group_by = {"day", "key", "model", "provider"};
  std::vector<UsageRow> rows;
  FUZZ_CHECK(reader->usage(q, rows, why));
  FUZZ_CHECK(rows.size() == want.size());
  for (const UsageRow& row : rows) {
    auto it = want.find({row.day, row.key, row.model, row.provider});
    FUZZ_CHECK(it != want.end());
    FUZZ_CHECK(same(row.totals, it->second));
  }

  // Everything in one row: a SUM over every day and name must not fail.
  q.group_by.clear();
  rows.clear();
  FUZZ_CHECK(reader->usage(q, rows, why));
  FUZZ_CHECK(rows.size() == 1 && same(rows[0].totals, all));

  // The quota seeding at start: its SUMs over a day and a month.
  std::map<std::string, Store::QuotaUse> used;
  FUZZ_CHECK(reader->quota_use(kBaseMs / 1000, used, why));
  reader.reset();
  remove_store(path);
  return 0;
}
