// The results of a run, for people (a table on stdout) and for programs (the
// JSON file; its schema is documented in bench/README.md, "aigw-bench JSON").
#pragma once

#include <cstdio>
#include <string>

#include "load/config.h"
#include "load/results.h"

namespace aigw::bench {

void print_table(std::FILE* out, const Config& cfg, const Results& r);

// The whole report as one JSON object, every documented field present.
std::string results_json(const Config& cfg, const Results& r);

// "1.234 ms", "56.7 us", "2.500 s": three or four significant digits in the
// unit that suits the value.
std::string format_ns(uint64_t ns);

}  // namespace aigw::bench
