#include "server/server.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>
#include <vector>

#include "io/ring.h"
#include "log/log.h"
#include "server/listener.h"
#include "server/worker.h"

namespace aigw::server {

namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

// Each connection is a file descriptor: take the hard limit, as nginx's
// worker_rlimit_nofile would, so the per-worker connection cap is reachable.
void raise_fd_limit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void post(Worker& w, Message::Kind kind) {
  // The queue holds 64 control messages and only the control thread posts:
  // it is full only if a worker is stuck, and then waiting is right.
  while (!w.mailbox().post(Message{kind, nullptr})) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

int serve(std::shared_ptr<const config::Config> cfg) {
  std::string why;
  if (!io::check_kernel_support(why)) {
    log::error(why);
    return 1;
  }
  raise_fd_limit();

  std::vector<int> cpus = allowed_cpus();
  unsigned n = cfg->server.workers != 0 ? static_cast<unsigned>(cfg->server.workers)
                                         : static_cast<unsigned>(cpus.size());

  ListenerSet listeners;
  if (!open_listeners(cfg->server.listen, n, listeners, why)) {
    log::error(why);
    return 1;
  }

  // Signals are taken synchronously by this thread alone: block them before
  // any worker exists so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  WorkerReports reports;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<Worker>(i, cfg, std::move(listeners.fds[i]), reports));
  }
  listeners.fds.clear();  // the workers own their sockets now
  for (unsigned i = 0; i < n; ++i) {
    threads.emplace_back([w = workers[i].get()] { w->run(); });
    std::string name = "aigw-w" + std::to_string(i);
    pthread_setname_np(threads.back().native_handle(), name.c_str());
    if (cfg->server.pin_workers) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpus[i % cpus.size()], &set);
      int rc = pthread_setaffinity_np(threads.back().native_handle(), sizeof set, &set);
      if (rc != 0) {
        log::warn("could not pin worker", {{"worker", i}, {"error", std::strerror(rc)}});
      }
    }
  }
  for (unsigned i = 0; i < n; ++i) reports.accepting.acquire();

  auto join_all = [&] {
    for (auto& t : threads) t.join();
  };

  if (reports.exited.load() != 0) {
    log::error("a worker failed to start; shutting down");
    for (auto& w : workers) post(*w, Message::Kind::stop);
    join_all();
    return 1;
  }
  for (auto& w : workers) post(*w, Message::Kind::all_ready);
  for (const auto& addr : listeners.bound) {
    log::info("listening", {{"addr", addr}, {"workers", n}});
  }
  log::info("ready", {{"workers", n}, {"config", cfg->source}});

  bool draining = false;
  int64_t deadline = 0;
  for (;;) {
    timespec wait{0, 100 * 1000 * 1000};
    siginfo_t info;
    int sig = sigtimedwait(&sigs, &info, &wait);
    if (sig == SIGINT || sig == SIGTERM) {
      if (draining) {
        log::warn("second signal: exiting now", {{"signal", strsignal(sig)}});
        std::_Exit(1);
      }
      draining = true;
      deadline = now_ms() + cfg->server.shutdown_grace.count();
      log::info("shutting down: draining connections",
                {{"signal", strsignal(sig)},
                 {"grace_ms", static_cast<long long>(cfg->server.shutdown_grace.count())}});
      for (auto& w : workers) post(*w, Message::Kind::drain);
    } else if (sig == SIGHUP) {
      log::info("SIGHUP received: this version has nothing to reload");
    }
    if (reports.exited.load() == n) break;
    if (draining && now_ms() >= deadline) {
      log::warn("shutdown grace period over: closing remaining connections");
      for (auto& w : workers) post(*w, Message::Kind::stop);
      join_all();
      log::info("stopped", {{"connections_cut", static_cast<unsigned long long>(
                                                    reports.dropped_at_stop.load())}});
      return 0;
    }
  }
  join_all();
  if (!draining) {
    log::error("all workers exited unexpectedly");
    return 1;
  }
  log::info("stopped", {{"connections_cut", 0}});
  return 0;
}

}  // namespace aigw::server
