// aigw-bench: the load generator that measures what a gateway adds to
// latency, on the gateway's own io_uring core. Command line and run; the
// engine is in bench/load/, the method in bench/README.md.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <latch>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/ring.h"
#include "load/config.h"
#include "load/report.h"
#include "load/worker.h"

namespace {

using aigw::bench::Config;
using aigw::bench::Mode;

constexpr const char* kUsage = R"(Usage: aigw-bench --url http://127.0.0.1:PORT [options]

Loads an OpenAI-compatible gateway on this machine and reports latency,
errors and, for streams, time to first byte, time to first content, gaps
between events and events/tokens per second.

Target (loopback only: 127.0.0.0/8, [::1] or localhost; http only)
  --url URL              http://HOST:PORT[/PATH]  (required)
  --path PATH            request path (default: the URL's path, else the scenario's)

What to send
  --scenario NAME        chat|stream|completions|embeddings|health (default chat)
                         chat: a ~600-byte chat completion; stream: the same with
                         "stream": true; health: GET /health
  --body-file FILE       request body template instead of a scenario (POST; default
                         path /v1/chat/completions); {{model}} and {{i}} (request
                         number) are substituted, {{model}} JSON-escaped
  --model A,B,C          models, rotated per request (default aigw-demo)
  --key K1,K2            API keys, rotated per request, sent as Authorization: Bearer
  -H, --header 'K: V'    extra header, repeatable
  --method METHOD        request method (default: the scenario's, POST with --body-file)

How much
  -c, --connections N    connections over all threads (default 16)
  -t, --threads N        threads, each with its own io_uring and connections (default 1)
  -r, --rate R           open loop: R requests/s in total at constant intended times,
                         latency counted from the intended time; without --rate the
                         load is closed loop (each connection sends its next request
                         when the previous answer is complete)
  -d, --duration D       measure for D (default 10s; with --requests: a cap, default 10m)
  -n, --requests N       measure N requests (over all threads), then stop
  --warmup D             run for D first without counting it (default 0s)
  --timeout D            per request, connecting included (default 10s)
  --grace D              after the duration, time for requests in flight (default 5s);
                         those still running then count as timeouts

Output
  --json FILE            every figure as JSON (schema: bench/README.md, "aigw-bench JSON")
  -h, --help             this text

Durations: 500ms, 10s, 2m, 1h, 250us (a bare number is seconds).
Exit status: 0 after a run (errors are reported, not fatal), 1 when the run
could not start, 2 for bad arguments.
)";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "aigw-bench: %s\nTry 'aigw-bench --help' for the options.\n", msg.c_str());
  std::exit(2);
}

bool parse_duration(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
  std::string num(s.substr(0, i));
  std::string_view unit = s.substr(i);
  if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1) return false;
  double v = std::strtod(num.c_str(), nullptr);
  double scale;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "m") {
    scale = 60e9;
  } else if (unit == "h") {
    scale = 3600e9;
  } else {
    return false;
  }
  double ns = v * scale;
  // A week bounds every duration: the run must end.
  if (!std::isfinite(ns) || ns > 7 * 24 * 3600e9) return false;
  out = static_cast<uint64_t>(std::llround(ns));
  return true;
}

bool parse_uint(std::string_view s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Config parse_args(int argc, char** argv) {
  Config cfg;
  bool have_duration = false, have_method = false, have_path = false, have_models = false;
  std::string scenario_arg;
  std::string path_arg;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg, value;
    bool inline_value = false;
    if (arg.substr(0, 2) == "--") {
      size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
    } else if (arg.size() > 2 && arg[0] == '-' && arg.substr(0, 2) != "-h") {
      // wrk's spelling: -t2 -c64 -d10s
      name = arg.substr(0, 2);
      value = arg.substr(2);
      inline_value = true;
    }
    if (name == "-h" || name == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    static const char* const kWithValue[] = {
        "--url", "--path", "--scenario", "--body-file", "--model", "--key", "-H", "--header",
        "--method", "-c", "--connections", "-t", "--threads", "-r", "--rate", "-d",
        "--duration", "-n", "--requests", "--warmup", "--timeout", "--grace", "--json"};
    bool known = false;
    for (const char* k : kWithValue) known = known || name == k;
    if (!known) {
      if (!arg.empty() && arg[0] == '-') usage_error("unknown option '" + std::string(arg) + "'");
      usage_error("unexpected argument '" + std::string(arg) + "'");
    }
    if (!inline_value) {
      if (i + 1 >= argc) usage_error(std::string(name) + " needs a value");
      value = argv[++i];
    }
    std::string v(value);
    auto bad = [&](const char* what) {
      usage_error(std::string(name) + " " + what + ", got '" + v + "'");
    };
    uint64_t n = 0;
    if (name == "--url") {
      cfg.url = v;
    } else if (name == "--path") {
      path_arg = v;
      have_path = true;
    } else if (name == "--scenario") {
      scenario_arg = v;
    } else if (name == "--body-file") {
      cfg.body_file = v;
    } else if (name == "--model") {
      cfg.spec.models = split_list(v);
      have_models = true;
      for (const auto& m : cfg.spec.models) {
        if (m.empty()) bad("needs non-empty comma-separated names");
      }
    } else if (name == "--key") {
      cfg.spec.keys = split_list(v);
      for (const auto& k : cfg.spec.keys) {
        if (k.empty()) bad("needs non-empty comma-separated keys");
      }
    } else if (name == "-H" || name == "--header") {
      cfg.spec.headers.push_back(v);
    } else if (name == "--method") {
      cfg.spec.method = v;
      have_method = true;
    } else if (name == "-c" || name == "--connections") {
      if (!parse_uint(v, 1'000'000, n) || n == 0) bad("must be a number from 1 to 1000000");
      cfg.connections = static_cast<unsigned>(n);
    } else if (name == "-t" || name == "--threads") {
      if (!parse_uint(v, 256, n) || n == 0) bad("must be a number from 1 to 256");
      cfg.threads = static_cast<unsigned>(n);
    } else if (name == "-r" || name == "--rate") {
      char* end = nullptr;
      errno = 0;
      double r = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(r) || r <= 0 || r > 1e8) {
        bad("must be a number of requests per second above 0 (at most 1e8)");
      }
      cfg.rate = r;
      cfg.mode = Mode::open;
    } else if (name == "-d" || name == "--duration") {
      if (!parse_duration(v, cfg.duration_ns) || cfg.duration_ns == 0) {
        bad("must be a duration above 0 such as 10s or 2m");
      }
      have_duration = true;
    } else if (name == "-n" || name == "--requests") {
      if (!parse_uint(v, 1'000'000'000'000ull, n) || n == 0) bad("must be a positive number");
      cfg.requests = n;
    } else if (name == "--warmup") {
      if (!parse_duration(v, cfg.warmup_ns)) bad("must be a duration such as 2s (or 0)");
    } else if (name == "--timeout") {
      if (!parse_duration(v, cfg.timeout_ns) || cfg.timeout_ns < 1'000'000) {
        bad("must be a duration of at least 1ms");
      }
    } else if (name == "--grace") {
      if (!parse_duration(v, cfg.grace_ns)) bad("must be a duration such as 5s (or 0)");
    } else if (name == "--json") {
      if (v.empty()) bad("needs a file name");
      cfg.json_path = v;
    }
  }

  if (cfg.url.empty()) usage_error("--url is required (for example --url http://127.0.0.1:8080)");
  std::string why;
  if (!aigw::bench::parse_target(cfg.url, cfg.target, why)) usage_error(why);
  // The report prints url + path: keep the URL without its path.
  if (!cfg.target.path.empty()) cfg.url.resize(cfg.url.size() - cfg.target.path.size());
  while (!cfg.url.empty() && cfg.url.back() == '/') cfg.url.pop_back();
  if (cfg.connections < cfg.threads) {
    usage_error("--connections (" + std::to_string(cfg.connections) +
                ") must be at least --threads (" + std::to_string(cfg.threads) +
                "): every thread needs a connection");
  }
  if (cfg.requests > 0 && !have_duration) cfg.duration_ns = 600'000'000'000ull;
  if (cfg.requests > 0 && cfg.requests < cfg.threads) {
    usage_error("--requests must be at least --threads");
  }

  if (!cfg.body_file.empty() && !scenario_arg.empty()) {
    usage_error("--scenario and --body-file exclude each other");
  }
  if (!cfg.body_file.empty()) {
    std::ifstream f(cfg.body_file, std::ios::binary);
    if (!f) usage_error("cannot read --body-file " + cfg.body_file + ": " + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    cfg.spec.body_template = ss.str();
    if (cfg.spec.body_template.size() > (16u << 20)) usage_error("--body-file is over 16 MiB");
    if (cfg.spec.body_template.empty()) usage_error("--body-file " + cfg.body_file + " is empty");
    if (!have_method) cfg.spec.method = "POST";
    cfg.spec.path = "/v1/chat/completions";
  } else {
    if (scenario_arg.empty()) scenario_arg = "chat";
    const aigw::bench::Scenario* s = aigw::bench::find_scenario(scenario_arg);
    if (s == nullptr) {
      usage_error("unknown --scenario '" + scenario_arg + "' (one of " +
                  aigw::bench::scenario_names() + ")");
    }
    cfg.scenario = s->name;
    cfg.expect_stream = s->stream;
    cfg.spec.body_template = s->body;
    cfg.spec.path = s->path;
    if (!have_method) cfg.spec.method = s->method;
  }
  if (!cfg.target.path.empty()) cfg.spec.path = cfg.target.path;
  if (have_path) cfg.spec.path = path_arg;
  if (!have_models) cfg.spec.models = {"aigw-demo"};
  cfg.spec.host_header = cfg.target.host_header;
  return cfg;
}

// Enough descriptors for every connection (plus the ring's and stdio).
void raise_fd_limit(unsigned connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = static_cast<rlim_t>(connections) + 64;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace aigw::bench;
  Config cfg = parse_args(argc, argv);
  RequestTemplate tmpl;
  std::string why;
  if (!tmpl.init(cfg.spec, why)) usage_error(why);
  if (!aigw::io::check_kernel_support(why)) {
    std::fprintf(stderr, "aigw-bench: %s\n", why.c_str());
    return 1;
  }
  raise_fd_limit(cfg.connections);

  unsigned t_count = cfg.threads;
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < t_count; ++t) {
    unsigned share = cfg.connections / t_count + (t < cfg.connections % t_count ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(cfg, tmpl, t, share));
  }

  // Every thread sets up its ring and connects, then all start at the same
  // instant, so the open-loop schedules of the threads interleave exactly.
  std::latch ready(static_cast<std::ptrdiff_t>(t_count));
  std::latch go(1);
  std::atomic<uint64_t> start_ns{0};
  std::vector<std::string> errors(t_count);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < t_count; ++t) {
    threads.emplace_back([&, t] {
      bool ok = workers[t]->prepare(errors[t]);
      ready.count_down();
      go.wait();
      uint64_t t0 = start_ns.load();
      if (!ok || t0 == 0) return;
      PlanParams p;
      p.mode = cfg.mode;
      p.start_ns = t0;
      p.warmup_end_ns = t0 + cfg.warmup_ns;
      p.stop_ns = p.warmup_end_ns + cfg.duration_ns;
      p.grace_ns = cfg.grace_ns;
      p.rate = cfg.rate;
      p.stride = t_count;
      p.offset = t;
      if (cfg.requests > 0) {
        p.max_measured = cfg.requests / t_count + (t < cfg.requests % t_count ? 1 : 0);
      }
      workers[t]->run(p);
    });
  }
  ready.wait();
  bool setup_ok = true;
  for (unsigned t = 0; t < t_count; ++t) {
    if (!errors[t].empty()) {
      std::fprintf(stderr, "aigw-bench: thread %u: %s\n", t, errors[t].c_str());
      setup_ok = false;
    }
  }
  unsigned connected = 0;
  std::string connect_error;
  for (auto& w : workers) {
    connected += w->connected_after_prepare();
    if (connect_error.empty()) connect_error = w->first_connect_error();
  }
  if (setup_ok && connected < cfg.connections) {
    std::fprintf(stderr, "aigw-bench: %u of %u connections open at the start%s%s\n", connected,
                 cfg.connections, connect_error.empty() ? "" : " (first error: ",
                 connect_error.empty() ? "" : (connect_error + ")").c_str());
  }
  if (setup_ok) start_ns.store(monotonic_ns());
  go.count_down();
  for (auto& th : threads) th.join();
  if (!setup_ok) return 1;

  Results total;
  for (auto& w : workers) total.merge(w->results());
  print_table(stdout, cfg, total);
  std::fflush(stdout);
  if (!cfg.json_path.empty()) {
    std::string json = results_json(cfg, total);
    std::FILE* f = std::fopen(cfg.json_path.c_str(), "w");
    if (f == nullptr || std::fwrite(json.data(), 1, json.size(), f) != json.size() ||
        std::fclose(f) != 0) {
      std::fprintf(stderr, "aigw-bench: cannot write --json %s: %s\n", cfg.json_path.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  return 0;
}
