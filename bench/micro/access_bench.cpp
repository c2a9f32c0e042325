// What a request pays for client keys, limits, metrics and the access log,
// each on its own: the parts bench/features measures together end to end.
#include <benchmark/benchmark.h>

#include "micro.h"

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "auth/digest.h"
#include "auth/keys.h"
#include "limits/limiter.h"
#include "limits/source.h"
#include "metrics/access_log.h"
#include "metrics/log_buffer.h"
#include "metrics/metrics.h"

namespace {

std::vector<aigw::config::KeyConfig> keys(size_t n) {
  std::vector<aigw::config::KeyConfig> out;
  for (size_t i = 0; i < n; ++i) {
    aigw::config::KeyConfig k;
    k.name = "team-" + std::to_string(i);
    aigw::auth::sha256("sk-client-secret-" + std::to_string(i), k.sha256);
    k.rpm = 100'000'000;
    k.tpm = 100'000'000'000;
    out.push_back(k);
  }
  return out;
}

// SHA-256 of the presented key, the table probe and the constant-time compare.
void BM_AuthLookup(benchmark::State& state) {
  auto table = aigw::auth::KeyTable::build(keys(100));
  std::string presented = "sk-client-secret-42";
  for (auto _ : state) benchmark::DoNotOptimize(table->lookup(presented));
}
AIGW_MICRO(BM_AuthLookup);

// admit + settle of a limited key (rpm and tpm) on one worker.
void BM_LimiterAdmitSettle(benchmark::State& state) {
  auto src = aigw::limits::LocalLeaseSource::build(keys(4));
  aigw::limits::WorkerLimiter lim(src, 1);
  int64_t now = 1'000'000'000'000;
  int64_t wall = std::time(nullptr);
  for (auto _ : state) {
    aigw::limits::Decision d = lim.admit(1, 1200, now, wall);
    lim.settle(d.ticket, 300, now, wall);
    now += 1000;
  }
}
AIGW_MICRO(BM_LimiterAdmitSettle);

// The rate-limit headers of one response.
void BM_LimiterHeaders(benchmark::State& state) {
  auto src = aigw::limits::LocalLeaseSource::build(keys(1));
  aigw::limits::WorkerLimiter lim(src, 1);
  aigw::limits::Decision d = lim.admit(0, 1200, 1'000'000'000'000, std::time(nullptr));
  aigw::limits::HeaderList h;
  for (auto _ : state) {
    h.clear();
    aigw::limits::write_headers(d, h);
    benchmark::DoNotOptimize(h.data());
  }
}
AIGW_MICRO(BM_LimiterHeaders);

// One finished request into the worker's metrics.
void BM_MetricsRecord(benchmark::State& state) {
  aigw::metrics::WorkerMetrics m;
  for (auto _ : state) {
    aigw::metrics::RequestSeries* s = m.series("gpt-4o", "openai", "team-a");
    s->count(200);
    s->add_tokens(120, 40);
    s->observe_duration(0.420);
    s->observe_ttft(0.180);
  }
}
AIGW_MICRO(BM_MetricsRecord);

// One access-log line formatted and appended to the worker's buffer.
void BM_AccessLogLine(benchmark::State& state) {
  aigw::metrics::LogBuffer buf(1u << 30);
  std::string line;
  aigw::metrics::RequestRecord r;
  r.end_ns = 1'795'327'222'000'000'000;
  r.start_ns = r.end_ns - 420'500'000;
  r.first_byte_ns = r.start_ns + 180'250'000;
  r.request_id = "4d32720e00e4692d";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.peer.family = 4;
  r.peer.port = 44578;
  r.peer.addr[0] = 127;
  r.peer.addr[3] = 1;
  r.key = "team-a";
  r.model = "gpt-4o";
  r.provider = "openai";
  r.status = 200;
  r.prompt_tokens = 120;
  r.completion_tokens = 40;
  r.total_tokens = 160;
  r.attempts = 1;
  size_t n = 0;
  for (auto _ : state) {
    line.clear();
    aigw::metrics::format(r, 0, line);
    buf.append(line);
    if (++n % 4096 == 0) {  // drain now and then, as the ring would
      buf.take();
      buf.done(static_cast<int>(buf.pending()));
    }
  }
}
AIGW_MICRO(BM_AccessLogLine);

}  // namespace

BENCHMARK_MAIN();
