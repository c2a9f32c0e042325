// aigw-mock: an OpenAI-compatible mock upstream for tests and benchmarks.
// See README.md for the endpoints, the fault modes and the replay format.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "io/ring.h"
#include "log/log.h"
#include "mock_server.h"
#include "worker/listener.h"

namespace {

using aigw::mock::MockOptions;

constexpr const char* kUsage =
    "usage: aigw-mock [options]\n"
    "  --listen ADDR            address to listen on (default 127.0.0.1:0; port 0 picks one,\n"
    "                           logged as {\"msg\":\"listening\",\"addr\":...} on stderr)\n"
    "  --threads N              worker threads, each with its own ring and listener (default 1)\n"
    "  --completion-tokens N    words in a non-stream completion (default 16)\n"
    "  --stream-tokens N        token events in a stream (default 16)\n"
    "  --stream-interval DUR    pause between token events, e.g. 10ms, 1s, 0 (default 10ms)\n"
    "  --replay FILE            answer from recorded interactions (repeatable)\n"
    "  --fault MODE             fault for every /v1/* and /v1beta/* request (x-mock-fault overrides)\n"
    "  --key-fault KEY=MODE     fault for requests that present Bearer KEY or\n"
    "                           x-goog-api-key: KEY (repeatable)\n"
    "  --models A,B             names listed by GET /v1/models (default mock-model)\n"
    "  --idle-timeout DUR       close idle connections, hang and hang-after-head after\n"
    "                           this (default 60s)\n"
    "  --max-connections N      per thread (default 4096)\n"
    "  --allow-non-loopback     permit a listen address other than 127.0.0.0/8 or ::1\n"
    "  -h, --help               this text\n";

bool parse_uint(const std::string& s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

// Returns an empty string on success, else the message for the user.
std::string parse_args(int argc, char** argv, MockOptions& o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg == "--allow-non-loopback") {
      o.allow_non_loopback = true;
      continue;
    }
    std::string value;
    if (size_t eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return arg + " needs a value";
    }
    uint64_t n = 0;
    std::string why;
    aigw::config::Duration d{};
    if (arg == "--listen") {
      o.listen = value;
    } else if (arg == "--threads") {
      if (!parse_uint(value, 256, n) || n == 0) return "--threads: expected 1..256";
      o.threads = static_cast<unsigned>(n);
    } else if (arg == "--completion-tokens") {
      if (!parse_uint(value, 1'000'000, n)) return "--completion-tokens: expected 0..1000000";
      o.completion_tokens = static_cast<uint32_t>(n);
    } else if (arg == "--stream-tokens") {
      if (!parse_uint(value, 1'000'000, n)) return "--stream-tokens: expected 0..1000000";
      o.stream_tokens = static_cast<uint32_t>(n);
    } else if (arg == "--stream-interval") {
      if (!aigw::config::parse_duration(value, d, why)) return "--stream-interval: " + why;
      o.stream_interval_ms = d.count();
    } else if (arg == "--idle-timeout") {
      if (!aigw::config::parse_duration(value, d, why) || d.count() == 0) {
        return "--idle-timeout: " + (why.empty() ? std::string("must be above 0") : why);
      }
      o.idle_timeout_ms = d.count();
    } else if (arg == "--max-connections") {
      if (!parse_uint(value, 1'000'000, n) || n == 0) return "--max-connections: expected 1..1000000";
      o.max_connections = static_cast<uint32_t>(n);
    } else if (arg == "--replay") {
      o.replay_files.push_back(value);
    } else if (arg == "--fault") {
      if (!aigw::mock::parse_fault(value, o.fault)) return "--fault: unknown mode " + value;
    } else if (arg == "--key-fault") {
      size_t eq = value.find('=');
      aigw::mock::Fault f;
      if (eq == std::string::npos || eq == 0 || !aigw::mock::parse_fault(value.substr(eq + 1), f)) {
        return "--key-fault: expected KEY=MODE, got " + value;
      }
      o.key_faults.emplace_back(value.substr(0, eq), f);
    } else if (arg == "--models") {
      o.models.clear();
      size_t start = 0;
      while (start <= value.size()) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        if (comma > start) o.models.push_back(value.substr(start, comma - start));
        start = comma + 1;
      }
      if (o.models.empty()) return "--models: expected at least one name";
    } else {
      return "unknown option " + arg;
    }
  }
  return {};
}

bool is_loopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  namespace log = aigw::log;
  MockOptions opts;
  if (std::string err = parse_args(argc, argv, opts); !err.empty()) {
    std::fprintf(stderr, "aigw-mock: %s\n%s", err.c_str(), kUsage);
    return 2;
  }
  aigw::config::ListenAddr addr;
  std::string why;
  if (!aigw::config::parse_listen_addr(opts.listen, addr, why)) {
    std::fprintf(stderr, "aigw-mock: --listen: %s\n", why.c_str());
    return 2;
  }
  // A mock answers anyone with canned data and echoes what it was sent
  // (/mock/last): keep it off the network unless asked.
  if (!is_loopback(addr.addr) && !opts.allow_non_loopback) {
    std::fprintf(stderr, "aigw-mock: refusing non-loopback address %s (use --allow-non-loopback)\n",
                 opts.listen.c_str());
    return 2;
  }
  aigw::mock::ReplayTable replay;
  for (const auto& f : opts.replay_files) {
    if (!replay.load(f, why)) {
      std::fprintf(stderr, "aigw-mock: --replay: %s\n", why.c_str());
      return 2;
    }
  }
  if (!aigw::io::check_kernel_support(why)) {
    log::error("cannot start", {{"error", why}});
    return 1;
  }

  // Signals are taken synchronously by the main thread; blocked before any
  // worker starts so that every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  aigw::worker::ListenerSet listeners;
  if (!aigw::worker::open_listeners({addr}, 1, 0, opts.threads, listeners, why)) {
    log::error("cannot listen", {{"error", why}});
    return 1;
  }
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    log::error("eventfd failed", {{"error", std::strerror(errno)}});
    return 1;
  }

  aigw::mock::Stats stats(opts.threads);
  std::atomic<uint64_t> runtime_fault{0};
  aigw::mock::Shared shared{opts, replay, stats, stop_fd, &runtime_fault};
  std::vector<std::unique_ptr<aigw::mock::MockWorker>> workers;
  for (unsigned i = 0; i < opts.threads; ++i) {
    workers.push_back(std::make_unique<aigw::mock::MockWorker>(i, listeners.fds[i][0], shared));
  }
  std::atomic<unsigned> started{0};
  std::atomic<unsigned> failed{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < opts.threads; ++i) {
    threads.emplace_back([&, i] {
      std::string err;
      // The ring is set up on its own thread: SINGLE_ISSUER and
      // DEFER_TASKRUN tie it to the task that uses it.
      bool ok = workers[i]->setup(err);
      if (!ok) {
        log::error("worker failed to start", {{"thread", i}, {"error", err}});
        failed.fetch_add(1);
      }
      started.fetch_add(1);
      started.notify_all();
      if (ok) workers[i]->run();
    });
  }
  for (unsigned s = started.load(); s < opts.threads; s = started.load()) started.wait(s);

  int rc = 0;
  if (failed.load() != 0) {
    rc = 1;
  } else {
    log::info("listening", {{"addr", listeners.bound[0]}, {"threads", opts.threads}});
    int sig = 0;
    sigwait(&sigs, &sig);
    log::info("stopping", {{"signal", strsignal(sig)}});
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t w = write(stop_fd, &one, sizeof one);
  for (auto& t : threads) t.join();
  workers.clear();
  close(stop_fd);
  return rc;
}
