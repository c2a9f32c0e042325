// Shared by the micro-benchmarks: AIGW_MICRO(fn) registers a benchmark whose
// iteration count bench/micro/run can fix through AIGW_MICRO_ITERATIONS. Its
// callgrind mode runs each benchmark at two fixed counts and divides the
// difference in instructions by the difference in iterations, so start-up
// and calibration cancel out and the figure is instructions per operation,
// stable on a noisy machine.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>

inline void aigw_micro_apply(benchmark::internal::Benchmark* b) {
  if (const char* n = std::getenv("AIGW_MICRO_ITERATIONS")) {
    b->Iterations(static_cast<benchmark::IterationCount>(std::strtoll(n, nullptr, 10)));
  }
}

#define AIGW_MICRO(fn) BENCHMARK(fn)->Apply(aigw_micro_apply)
