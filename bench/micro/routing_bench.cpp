// Channel pick: runs once per upstream attempt on a worker, so it must stay
// well under 100 ns. The shape is the usual multi-provider deployment:
// four providers of one model with two keys each (8 channels).
#include <benchmark/benchmark.h>

#include "micro.h"

#include <memory>
#include <string>
#include <vector>

#include "routing/health.h"
#include "routing/table.h"

namespace {

using aigw::config::Strategy;
using aigw::routing::Health;
using aigw::routing::Pick;
using aigw::routing::Route;
using aigw::routing::Table;

constexpr int64_t kNow = 1'000'000'000'000;

std::shared_ptr<const Table> make_table(Strategy s) {
  aigw::config::Config cfg;
  aigw::config::RouteConfig rc;
  rc.model = "gpt-4o";
  rc.strategy = s;
  for (int i = 0; i < 4; ++i) {
    aigw::config::ProviderConfig p;
    p.name = "provider" + std::to_string(i);
    p.models = {"gpt-4o"};
    p.weight = static_cast<uint32_t>(i + 1);
    p.priority = static_cast<uint32_t>(i / 2);
    cfg.providers.push_back(p);
    aigw::config::RouteTarget t;
    t.provider = p.name;
    rc.targets.push_back(t);
  }
  cfg.routes = {rc};
  return Table::build(cfg, {2, 2, 2, 2}, 1);
}

void pick_loop(benchmark::State& state, Strategy s) {
  auto table = make_table(s);
  Health h(table, aigw::config::RoutingConfig{}, 1);
  const Route& route = *table->find("gpt-4o");
  // Give the P2C strategies something to compare.
  for (uint32_t c = 0; c < 8; ++c) {
    for (uint32_t i = 0; i < c % 3; ++i) h.begin(c);
    h.begin(c);
    h.success(c, kNow, 1'000'000 * (c + 1), nullptr);
  }
  int64_t now = kNow;
  for (auto _ : state) {
    Pick p = h.pick(route, now++, nullptr, 0);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PickWeighted(benchmark::State& state) { pick_loop(state, Strategy::weighted); }
void BM_PickPriority(benchmark::State& state) { pick_loop(state, Strategy::priority); }
void BM_PickLeastInflight(benchmark::State& state) { pick_loop(state, Strategy::least_inflight); }
void BM_PickLatency(benchmark::State& state) { pick_loop(state, Strategy::latency); }
AIGW_MICRO(BM_PickWeighted);
AIGW_MICRO(BM_PickPriority);
AIGW_MICRO(BM_PickLeastInflight);
AIGW_MICRO(BM_PickLatency);

// A retry: the first pick's channel is excluded.
void BM_PickWeightedRetry(benchmark::State& state) {
  auto table = make_table(Strategy::weighted);
  Health h(table, aigw::config::RoutingConfig{}, 1);
  const Route& route = *table->find("gpt-4o");
  const uint32_t tried[1] = {7};
  int64_t now = kNow;
  for (auto _ : state) {
    Pick p = h.pick(route, now++, tried, 1);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_PickWeightedRetry);

// The whole per-attempt bookkeeping: route lookup, pick, begin, success.
void BM_FindPickBeginSuccess(benchmark::State& state) {
  auto table = make_table(Strategy::weighted);
  Health h(table, aigw::config::RoutingConfig{}, 1);
  std::string model = "gpt-4o";
  int64_t now = kNow;
  for (auto _ : state) {
    const Route* route = table->find(model);
    Pick p = h.pick(*route, now, nullptr, 0);
    auto c = static_cast<uint32_t>(p.channel);
    h.begin(c);
    bool news = h.success(c, now, 2'000'000, nullptr);
    benchmark::DoNotOptimize(news);
    ++now;
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_FindPickBeginSuccess);

void BM_BeginSuccess(benchmark::State& state) {
  auto table = make_table(Strategy::weighted);
  Health h(table, aigw::config::RoutingConfig{}, 1);
  int64_t now = kNow;
  uint32_t c = 0;
  for (auto _ : state) {
    h.begin(c);
    bool news = h.success(c, now++, 2'000'000, nullptr);
    benchmark::DoNotOptimize(news);
    c = (c + 1) & 7;
  }
  state.SetItemsProcessed(state.iterations());
}
AIGW_MICRO(BM_BeginSuccess);

}  // namespace

BENCHMARK_MAIN();
