// Everything one aigw-bench run was asked to do, as parsed from the command
// line (bench/aigw_bench.cpp) and read by the workers and the report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "load/request_template.h"
#include "load/schedule.h"
#include "load/target.h"

namespace aigw::bench {

struct Config {
  std::string url;
  Target target;
  Mode mode = Mode::closed;
  unsigned threads = 1;
  unsigned connections = 16;        // over all threads
  double rate = 0;                  // open loop, requests/s over all threads
  uint64_t duration_ns = 10'000'000'000;
  uint64_t requests = 0;            // measured requests over all threads; 0 = by duration
  uint64_t warmup_ns = 0;
  uint64_t timeout_ns = 10'000'000'000;  // per request, connecting included
  uint64_t grace_ns = 5'000'000'000;     // after the duration, for requests in flight
  std::string scenario;             // empty with --body-file
  std::string body_file;
  bool expect_stream = false;       // the scenario streams (reported, not enforced)
  RequestSpec spec;                 // method, path, body template, models, keys, headers
  std::string json_path;
};

}  // namespace aigw::bench
