// Recording a latency in aigw-bench's histogram: on the load generator's hot
// path, so it must stay a few nanoseconds.
#include <benchmark/benchmark.h>

#include "micro.h"

#include <cstdint>

#include "histogram.h"

namespace {

void BM_HistogramRecord(benchmark::State& state) {
  aigw::bench::Histogram h;
  uint64_t v = 123456;
  for (auto _ : state) {
    h.record(v);
    v = v * 6364136223846793005ull + 1442695040888963407ull;  // spread over magnitudes
    v >>= 40;
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_HistogramRecord);

}  // namespace

BENCHMARK_MAIN();
