#include "control/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <thread>
#include <vector>

#include "aigw_build_config.h"
#include "control/config_report.h"
#include "control/keys_report.h"
#include "control/notify.h"
#include "gateway/abi_host.h"
#include "io/clock.h"
#include "io/ring.h"
#include "json/write.h"
#include "log/log.h"
#include "plugin/generation.h"
#include "redis/lease_source.h"
#include "redis/usage_mirror.h"
#include "state/report.h"
#include "state/writer.h"
#include "worker/listener.h"
#include "worker/worker.h"
#include "tls/tls.h"

namespace aigw::control {

using worker::AddressUpdate;
using worker::AdminReply;
using worker::AdminRequest;
using worker::ListenerSet;
using worker::Message;
using worker::Worker;
using worker::WorkerReport;
using worker::WorkerReports;
using worker::open_listeners;

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

// Each worker's share of the open-file limit (io/fd_budget.h). The reserve
// covers what is not per connection: listeners, rings, eventfds, the access
// log, inotify, plugin files, DNS lookups on the control thread, and each
// worker's few connections that only deliver a refusal.
uint64_t fd_share(unsigned workers, size_t listeners) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return UINT64_MAX / 4;
  uint64_t reserve = 64 + static_cast<uint64_t>(workers) * (8 * (listeners + 2) + Worker::kRefusalReserve);
  uint64_t total = rl.rlim_cur > reserve ? rl.rlim_cur - reserve : 0;
  return std::max<uint64_t>(total / workers, 4);
}

void post(Worker& w, Message::Kind kind, std::shared_ptr<const void> payload = nullptr) {
  // The queue holds 64 control messages and only the control thread posts:
  // it is full only if a worker is stuck, and then waiting is right.
  while (!w.mailbox().post(Message{kind, payload})) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// The control thread's plugin state: the generation being served, the
// retired ones still held by some worker, and the file watch for hot swap.
class PluginControl {
 public:
  PluginControl(std::shared_ptr<const config::Config> cfg, std::string runtime_dir)
      : cfg_(std::move(cfg)), runtime_dir_(std::move(runtime_dir)) {}

  bool build_initial(std::vector<std::string>& errors) {
    current_ = plugin::build_generation(cfg_, gateway::host_table(), ++next_id_, runtime_dir_, errors);
    if (current_) {
      attach_keys(*current_);
      watch_files();
    }
    return current_ != nullptr;
  }
  std::shared_ptr<plugin::Generation> current() const { return current_; }
  // Quota use read from the usage store, added to the budgets before any
  // worker has them (a reload carries the counts over by name anyway).
  void seed_quota(const std::map<std::string, state::Store::QuotaUse>& used, int64_t wall_s) {
    if (!budgets_) return;
    for (const auto& [name, use] : used) budgets_->seed_quota(name, use.daily, use.monthly, wall_s);
  }

  // Loads every plugin again (a changed file gets a new content-hash copy),
  // with `cfg` when given (a config reload) or the current config, publishes
  // the new generation to every worker and waits for them to switch. On
  // failure the old generation (plugins, routes, keys) keeps serving.
  bool reload(std::vector<std::unique_ptr<Worker>>& workers, WorkerReports& reports,
              std::string& result, std::shared_ptr<const config::Config> cfg = nullptr,
              std::vector<std::string>* build_errors = nullptr) {
    std::vector<std::string> errors;
    auto gen = plugin::build_generation(cfg ? cfg : cfg_, gateway::host_table(), next_id_ + 1, runtime_dir_, errors);
    if (build_errors) *build_errors = errors;
    if (!gen) {
      result = "plugin reload failed, the previous plugins keep serving:";
      for (const auto& e : errors) result += " " + e + ";";
      log::error("plugin reload failed; previous plugins keep serving",
                 {{"errors", static_cast<unsigned long long>(errors.size())},
                  {"first", errors.empty() ? "" : errors[0]}});
      return false;
    }
    ++next_id_;
    if (cfg) cfg_ = std::move(cfg);
    attach_keys(*gen);
    reports.plugin_acks.store(0);
    reports.plugin_failures.store(0);
    for (auto& w : workers) post(*w, Message::Kind::plugins, gen);
    unsigned n = static_cast<unsigned>(workers.size());
    int64_t deadline = io::coarse_ms() + 10000;
    while (reports.plugin_acks.load() + reports.plugin_failures.load() < n && io::coarse_ms() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (current_) retired_.push_back(std::move(current_));
    current_ = std::move(gen);
    unsigned failed = reports.plugin_failures.load();
    result = "plugins reloaded: generation " + std::to_string(current_->id);
    if (failed != 0) result += " (" + std::to_string(failed) + " workers kept the previous one)";
    log::info("plugins reloaded", {{"generation", static_cast<unsigned long long>(current_->id)},
                                   {"workers_failed", failed}});
    watch_files();
    return failed == 0;
  }

  // Destroys retired generations no worker holds any more: configs are
  // destroyed and shared objects unloaded here, on the control thread.
  void collect() {
    for (size_t i = 0; i < retired_.size();) {
      if (retired_[i].use_count() == 1) {
        log::debug("plugin generation unloaded",
                   {{"generation", static_cast<unsigned long long>(retired_[i]->id)}});
        retired_.erase(retired_.begin() + static_cast<long>(i));
      } else {
        ++i;
      }
    }
  }

  int inotify_fd() const { return inotify_fd_; }
  uint64_t generation_id() const { return current_ ? current_->id : 0; }
  const redis::RedisLeaseSource* shared_budgets() const { return shared_budgets_.get(); }
  const config::Config& config() const { return *cfg_; }

  // Watches the config file's directory too (editors and deploys replace
  // the file by rename).
  void watch_config(const std::string& path) {
    if (inotify_fd_ < 0) inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) return;
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    config_name_ = slash == std::string::npos ? path : path.substr(slash + 1);
    config_wd_ = inotify_add_watch(inotify_fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
  }

  // Re-resolves upstream host names now and then, on this thread (the
  // resolver blocks), and sends changed address sets to every worker.
  void refresh_addresses(std::vector<std::unique_ptr<Worker>>& workers) {
    int64_t now = io::coarse_ms();
    if (now < next_refresh_ms_ || !current_) return;
    next_refresh_ms_ = now + kRefreshMs;
    for (size_t i = 0; i < current_->providers.size(); ++i) {
      const plugin::Provider& p = current_->providers[i];
      if (!p.config->has_upstream || p.addrs.empty()) continue;
      std::vector<sockaddr_storage> fresh;
      std::string why;
      if (!plugin::resolve_upstream(p.config->upstream, fresh, why)) {
        log::warn("upstream re-resolution failed; keeping the previous addresses",
                  {{"provider", p.config->name}, {"error", why}});
        continue;
      }
      auto key = std::make_pair(current_->id, i);
      const std::vector<sockaddr_storage>& last =
          published_.count(key) ? *published_[key] : p.addrs;
      bool same = last.size() == fresh.size();
      for (size_t a = 0; same && a < fresh.size(); ++a) {
        same = std::memcmp(&last[a], &fresh[a], sizeof(sockaddr_storage)) == 0;
      }
      if (same) continue;
      auto addrs = std::make_shared<const std::vector<sockaddr_storage>>(std::move(fresh));
      published_[key] = addrs;
      log::info("upstream addresses changed", {{"provider", p.config->name},
                                               {"addresses", static_cast<unsigned long long>(addrs->size())}});
      auto update = std::make_shared<AddressUpdate>(AddressUpdate{current_->id, i, addrs});
      for (auto& w : workers) post(*w, Message::Kind::addresses, update);
    }
  }

  // Reads pending inotify events: did a loaded plugin file change, did the
  // config file change?
  void files_changed(bool& plugin_hit, bool& config_hit) {
    alignas(inotify_event) char buf[4096];
    plugin_hit = config_hit = false;
    for (;;) {
      ssize_t n = read(inotify_fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        if (ev->len > 0) {
          for (const auto& [wd, name] : watched_) {
            if (wd == ev->wd && name == ev->name) plugin_hit = true;
          }
          // A Kubernetes ConfigMap volume never touches the file's own name:
          // the kubelet renames a new "..data" symlink over the old one, and
          // the file is a symlink through it.
          if (ev->wd == config_wd_ && (config_name_ == ev->name || std::strcmp(ev->name, "..data") == 0)) {
            config_hit = true;
          }
        }
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }

  void release_all() {
    current_.reset();
    retired_.clear();
    if (inotify_fd_ >= 0) close(inotify_fd_);
    inotify_fd_ = -1;
  }

 private:
  // Client keys and their budgets for a new generation. The budget source
  // is rebuilt from the previous one, so minute windows and quotas carry
  // over a reload by key name instead of starting again.
  // With [state.redis] the budgets are shared with the other instances
  // through Redis; whether they are is fixed at start ([state.redis] needs
  // a restart), so a reload rebuilds the same kind of source.
  void attach_keys(plugin::Generation& gen) {
    gen.keys = auth::KeyTable::build(gen.config->keys);
    if (shared_budgets_ || (!budgets_ && gen.config->redis.enabled)) {
      shared_budgets_ = shared_budgets_ ? shared_budgets_->rebuild(gen.config->keys)
                                        : redis::RedisLeaseSource::build(gen.config->redis, gen.config->keys);
      gen.limits = shared_budgets_;
      return;
    }
    budgets_ = budgets_ ? budgets_->rebuild(gen.config->keys)
                        : limits::LocalLeaseSource::build(gen.config->keys);
    gen.limits = budgets_;
  }

  // Watches the directories of the loaded plugin files: an editor or a
  // deploy replaces a file by rename, which a watch on the file itself
  // would miss.
  void watch_files() {
    if (inotify_fd_ < 0) inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) return;
    for (const auto& obj : current_->objects) {
      const std::string& path = obj->source_path;
      size_t slash = path.rfind('/');
      std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
      std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
      int wd = inotify_add_watch(inotify_fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
      if (wd < 0) continue;
      bool seen = false;
      for (const auto& [w, n] : watched_) seen |= (w == wd && n == base);
      if (!seen) watched_.emplace_back(wd, base);
    }
  }

  std::shared_ptr<const config::Config> cfg_;
  std::string runtime_dir_;
  uint64_t next_id_ = 0;
  std::shared_ptr<plugin::Generation> current_;
  std::vector<std::shared_ptr<plugin::Generation>> retired_;
  std::shared_ptr<limits::LocalLeaseSource> budgets_;
  std::shared_ptr<redis::RedisLeaseSource> shared_budgets_;  // [state.redis]
  int inotify_fd_ = -1;
  std::vector<std::pair<int, std::string>> watched_;
  int config_wd_ = -1;
  std::string config_name_;
  static constexpr int64_t kRefreshMs = 30'000;
  int64_t next_refresh_ms_ = io::coarse_ms() + kRefreshMs;
  std::map<std::pair<uint64_t, size_t>, std::shared_ptr<const std::vector<sockaddr_storage>>> published_;
};

bool same_listen(const std::vector<config::ListenAddr>& a, const std::vector<config::ListenAddr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].text != b[i].text) return false;
  }
  return true;
}

// Settings a running process cannot take over: they shape sockets, threads
// or per-connection state that already exists. A reload reports them and
// keeps the running values; everything else (providers, routes, routing,
// keys, limits, access log, plugins) takes effect.
std::vector<std::string> needs_restart(const config::Config& now, const config::Config& next) {
  std::vector<std::string> out;
  const config::ServerConfig& a = now.server;
  const config::ServerConfig& b = next.server;
  if (!same_listen(a.listen, b.listen)) out.push_back("server.listen");
  if (a.workers != b.workers || a.pin_workers != b.pin_workers) out.push_back("server.workers");
  if (a.tls.cert_file != b.tls.cert_file || a.tls.key_file != b.tls.key_file) out.push_back("server.tls");
  if (a.shutdown_grace != b.shutdown_grace) out.push_back("server.shutdown_grace");
  const auto& la = a.limits;
  const auto& lb = b.limits;
  if (la.max_header_bytes != lb.max_header_bytes || la.max_header_count != lb.max_header_count ||
      la.max_uri_bytes != lb.max_uri_bytes || la.max_body_bytes != lb.max_body_bytes ||
      la.max_requests_per_connection != lb.max_requests_per_connection ||
      la.max_connections_per_worker != lb.max_connections_per_worker) {
    out.push_back("server.limits");
  }
  const auto& ta = a.timeouts;
  const auto& tb = b.timeouts;
  if (ta.header_read != tb.header_read || ta.body_read_gap != tb.body_read_gap ||
      ta.keepalive_idle != tb.keepalive_idle || ta.send != tb.send) {
    out.push_back("server.timeouts");
  }
  if (a.io.ring_entries != b.io.ring_entries || a.io.buffer_size != b.io.buffer_size ||
      a.io.buffer_count != b.io.buffer_count || a.io.send_buffer != b.io.send_buffer) {
    out.push_back("server.io");
  }
  if (!same_listen(now.admin.listen, next.admin.listen)) out.push_back("admin.listen");
  if (now.admin.api_key != next.admin.api_key) out.push_back("admin.api_key");
  if (now.log.level != next.log.level) out.push_back("log.level");
  if (now.access_log.path != next.access_log.path) out.push_back("access_log.path");
  const config::RedisConfig& ra = now.redis;
  const config::RedisConfig& rb = next.redis;
  if (ra.enabled != rb.enabled || ra.url != rb.url || ra.username != rb.username ||
      ra.password != rb.password || ra.on_unavailable != rb.on_unavailable || ra.instances != rb.instances ||
      ra.connect_timeout != rb.connect_timeout || ra.command_timeout != rb.command_timeout ||
      ra.slot_ttl != rb.slot_ttl) {
    out.push_back("state.redis");
  }
  const config::StateConfig& sa = now.state;
  const config::StateConfig& sb = next.state;
  if (sa.enabled != sb.enabled || sa.path != sb.path || sa.flush_interval != sb.flush_interval ||
      sa.requests != sb.requests || sa.keep != sb.keep) {
    out.push_back("state");
  }
  return out;
}

// A JSON array of strings, as the reload answers list config errors and the
// settings that need a restart.
std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, items[i]);
  }
  out += ']';
  return out;
}

// The answer to a successful reload. `restart` (config reloads only) lists
// the changed settings that were not applied.
std::string reloaded_body(std::string_view message, const std::vector<std::string>* restart = nullptr) {
  std::string body = R"({"status":"reloaded","message":)";
  json::append_string(body, message);
  if (restart) {
    body += R"(,"restart_required":)";
    body += json_array(*restart);
  }
  body += '}';
  return body;
}

// The quota gauges: every key with a daily or monthly quota, by name.
void quota_gauges(const plugin::Generation* gen, metrics::Info& info) {
  if (gen == nullptr || !gen->limits) return;
  const limits::Now now{io::mono_ns(), static_cast<int64_t>(time(nullptr))};
  const auto& keys = gen->config->keys;
  for (uint32_t i = 0; i < keys.size() && i < gen->limits->size(); ++i) {
    for (limits::Resource r : {limits::Resource::daily, limits::Resource::monthly}) {
      limits::Level l = gen->limits->level(i, r, now);
      if (l.limit == 0) continue;
      info.quotas.push_back({keys[i].name, r == limits::Resource::daily ? "daily" : "monthly",
                             l.limit > l.remaining ? l.limit - l.remaining : 0, l.remaining});
    }
  }
}

// GET /admin/usage, answered on the control thread from its own read-only
// connection to the store (WAL: the writer thread is never waited for, and
// no worker is involved), or, with [state.redis] (`shared` set) and unless
// the question says source=local, from the aggregates every instance adds
// to Redis (its own connection too).
int usage_report(const std::string& path, std::unique_ptr<state::Store>& reader, redis::UsageReader* shared,
                 const std::string& query, bool csv, std::string& body, std::string_view& content_type) {
  state::UsageQuery q;
  std::string why;
  if (!state::parse_url_query(query, state::day_of_s(time(nullptr)), q, why)) {
    body = http::error_body(400, "invalid_usage_query", why);
    return 400;
  }
  std::vector<state::UsageRow> rows;
  if (shared != nullptr && q.source != "local") {
    std::vector<std::string> days;
    if (!state::days_of(q, redis::UsageReader::kMaxDays, days, why)) {
      body = http::error_body(400, "invalid_usage_query", why);
      return 400;
    }
    q.source = "all";
    if (!shared->usage(q, days, rows, why)) {
      log::error("usage report from redis failed", {{"error", why}});
      body = http::error_body(503, "redis_unavailable",
                              "Redis, which holds the usage of every instance, did not answer; "
                              "source=local answers with this instance's own usage.");
      return 503;
    }
  } else {
    // Without Redis this instance's file is all there is to say: the answer
    // says so rather than claim every instance.
    q.source = "local";
    if (!reader) reader = state::Store::open(path, true, why);
    if (!reader || !reader->usage(q, rows, why)) {
      reader.reset();  // opened again on the next question
      log::error("usage report failed", {{"error", why}});
      body = http::error_body(500, "state_unavailable", "The usage store could not be read; see the log.");
      return 500;
    }
  }
  if (csv) {
    state::format_csv(q, rows, body);
    content_type = "text/csv; charset=utf-8";
  } else {
    state::format_json(q, rows, body);
  }
  return 200;
}

}  // namespace

int serve(std::shared_ptr<const config::Config> cfg) {
  // First, while this is the only thread: it takes NOTIFY_SOCKET out of the
  // environment, which plugin threads and processes then never see.
  Notifier notifier = Notifier::from_environment();
  std::string why;
  if (!io::check_kernel_support(why)) {
    log::error(why);
    return 1;
  }
  raise_fd_limit();

  // Signals are taken synchronously by this thread alone: block them before
  // any other thread exists so every thread inherits the mask. That includes
  // threads a plugin starts in config_new (the gemini plugin's Vertex token
  // refresher): with the signals open there, a SIGTERM could land on such a
  // thread and kill the process instead of draining it. A signal that comes
  // during start-up waits in the mask for the signalfd below.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string runtime_dir;
  if (!plugin::create_runtime_dir(runtime_dir, why)) {
    log::error("cannot create the plugin runtime directory", {{"error", why}});
    return 1;
  }
  struct RuntimeDirGuard {
    ~RuntimeDirGuard() { plugin::remove_runtime_dir(); }
  } runtime_dir_guard;
  PluginControl plugins(cfg, runtime_dir);
  {
    std::vector<std::string> errors;
    if (!plugins.build_initial(errors)) {
      // Config problems, printed as `aigw check-config` prints them.
      config::in_file_order(errors, cfg->source);
      for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
      return 1;
    }
  }

  // TLS on the listener: check the certificate and key once, here, so a bad
  // file is one clear error before anything listens. The ticket keys are
  // shared so a client resumes its session on whichever worker it reaches.
  std::shared_ptr<tls::TicketKeys> tickets;
  if (cfg->server.tls.enabled()) {
    tickets = tls::TicketKeys::create(why);
    if (!tickets || !tls::ServerContext::create(cfg->server.tls.cert_file,
                                                cfg->server.tls.key_file, why, tickets)) {
      log::error("server.tls: " + why);
      plugins.release_all();
      return 1;
    }
  }

  std::vector<int> cpus = allowed_cpus();
  unsigned n = cfg->server.workers != 0 ? static_cast<unsigned>(cfg->server.workers)
                                         : static_cast<unsigned>(cpus.size());

  // Public addresses first, then the admin ones: a worker tells them apart
  // by index.
  std::vector<config::ListenAddr> addrs = cfg->server.listen;
  addrs.insert(addrs.end(), cfg->admin.listen.begin(), cfg->admin.listen.end());
  ListenerSet listeners;
  if (!open_listeners(addrs, cfg->server.listen.size(), cfg->server.io.send_buffer, n, listeners, why)) {
    log::error(why);
    plugins.release_all();
    return 1;
  }

  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

  // The access log: stderr, or a file opened once here (O_APPEND, so every
  // worker's writes land whole at the end). Its path needs a restart to change.
  int access_fd = 2;
  if (!cfg->access_log.path.empty()) {
    access_fd = ::open(cfg->access_log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (access_fd < 0) {
      log::error("cannot open the access log", {{"path", cfg->access_log.path}, {"error", std::strerror(errno)}});
      plugins.release_all();
      return 1;
    }
  }
  struct AccessFdGuard {
    int fd;
    ~AccessFdGuard() {
      if (fd > 2) ::close(fd);
    }
  } access_fd_guard{access_fd};
  if (cfg->keys.empty()) {
    for (const config::ListenAddr& a : cfg->server.listen) {
      bool loopback = a.text.rfind("127.", 0) == 0 || a.text.rfind("[::1]", 0) == 0;
      if (!loopback) {
        log::warn("no [[key]] is configured: anyone who can reach this address may use the gateway",
                  {{"addr", a.text}});
      }
    }
  }

  // The usage store: a problem with its file stops the start, in one
  // sentence, before any worker starts. Its quota counts seed the budgets of the
  // first generation, which no worker has yet.
  const std::string state_path = cfg->state.enabled ? state::path_of(*cfg) : std::string();
  std::unique_ptr<state::Store> store;
  if (cfg->state.enabled) {
    store = state::Store::open(state_path, false, why);
    std::map<std::string, state::Store::QuotaUse> used;
    const int64_t now_s = static_cast<int64_t>(time(nullptr));
    if (store && !store->quota_use(now_s, used, why)) store.reset();
    if (!store) {
      std::fprintf(stderr, "aigw: %s\n", why.c_str());
      plugins.release_all();
      return 1;
    }
    plugins.seed_quota(used, now_s);
    log::info("usage store open", {{"path", state_path}});
  }
  // Declared before the workers: it outlives them (they hold its queues),
  // and stop() commits after they have drained.
  // With [state.redis] the aggregates are also added up in Redis, so that
  // any instance answers /admin/usage for all (declared first: it
  // outlives the writer, which hands it each commit).
  std::unique_ptr<redis::UsageMirror> mirror;
  if (store && cfg->redis.enabled) mirror = std::make_unique<redis::UsageMirror>(cfg->redis, cfg->state.flush_interval);
  std::unique_ptr<state::Writer> writer;
  if (store) writer = std::make_unique<state::Writer>(std::move(store), cfg->state, n, mirror.get());
  std::unique_ptr<state::Store> usage_reader;
  std::unique_ptr<redis::UsageReader> shared_usage;
  if (mirror) shared_usage = std::make_unique<redis::UsageReader>(cfg->redis);
  WorkerReports reports;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<Worker>(i, n, cfg, std::move(listeners.fds[i]),
                                               cfg->server.listen.size(), reports, tickets));
    // Installed by the worker itself before it accepts anything.
    post(*workers.back(), Message::Kind::plugins, plugins.current());
  }
  listeners.fds.clear();  // the workers own their sockets now
  const uint64_t fds_per_worker = fd_share(n, addrs.size());
  for (auto& w : workers) w->set_fd_limit(fds_per_worker);
  log::debug("file descriptors per worker", {{"limit", static_cast<unsigned long long>(fds_per_worker)}});
  {
    std::vector<Worker*> peers;
    for (auto& w : workers) peers.push_back(w.get());
    for (auto& w : workers) {
      w->connect_peers(peers);
      w->set_access_log(access_fd);
      if (writer) w->set_usage_queue(&writer->queue(w->index()));
    }
  }
  const bool config_file = cfg->source != "<built-in>";
  if (config_file) plugins.watch_config(cfg->source);
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

  const char* start_failure = reports.exited.load() != 0 ? "a worker failed to start; shutting down"
                              : reports.plugin_failures.load() != 0
                                  ? "a worker could not start its plugin instances; shutting down"
                                  : nullptr;
  if (start_failure != nullptr) {
    log::error(start_failure);
    for (auto& w : workers) post(*w, Message::Kind::stop);
    join_all();
    workers.clear();
    plugins.release_all();
    close(sfd);
    return 1;
  }
  for (auto& w : workers) post(*w, Message::Kind::all_ready);
  for (size_t a = 0; a < listeners.bound.size(); ++a) {
    bool admin = a >= cfg->server.listen.size();
    log::info(admin ? "admin listening" : "listening", {{"addr", listeners.bound[a]}, {"workers", n}});
  }
  log::info("ready", {{"workers", n}, {"config", cfg->source}});
  // systemd (Type=notify) learns it only now, when every worker accepts.
  std::string serving = "serving";
  for (size_t a = 0; a < cfg->server.listen.size() && a < listeners.bound.size(); ++a) {
    serving += (a == 0 ? " on " : ", ") + listeners.bound[a];
  }
  serving += " with " + std::to_string(n) + (n == 1 ? " worker" : " workers");
  notifier.ready(serving);

  bool delaying = false;  // shutdown_delay: unready, still serving
  int64_t drain_at = 0;
  bool draining = false;
  int64_t deadline = 0;
  auto start_drain = [&](const char* why) {
    delaying = false;
    draining = true;
    deadline = io::coarse_ms() + cfg->server.shutdown_grace.count();
    log::info("shutting down: draining connections",
              {{"reason", why}, {"grace_ms", static_cast<long long>(cfg->server.shutdown_grace.count())}});
    for (auto& w : workers) post(*w, Message::Kind::drain);
  };
  auto reload = [&](std::string& result) { return plugins.reload(workers, reports, result); };
  // Every reload, whatever asked for it, is RELOADING=1 ... READY=1 to
  // systemd; a failed one keeps the old config serving, so it ends in
  // READY=1 too, with the failure in the status line.
  auto notify_reload_done = [&](bool ok) {
    notifier.ready(ok ? serving : serving + "; the last reload failed (see the log)");
  };
  auto reload_plugins = [&](std::string& result) {
    notifier.reloading();
    bool ok = reload(result);
    notify_reload_done(ok);
    return ok;
  };
  // Parses and validates the config file again; on any error the running
  // config keeps serving. Returns the HTTP status for the admin endpoint.
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  // What the last successful config reload could not apply (each compares
  // with the config the process started with, so the last list is all of
  // it); GET /admin/config shows it.
  std::vector<std::string> pending_restart;
  auto reload_config_now = [&](std::string& body) -> int {
    if (!config_file) {
      std::string result;
      bool ok = reload(result);
      body = ok ? reloaded_body(result + " (built-in config: plugins only)")
                : http::error_body(500, "reload_failed", result);
      return ok ? 200 : 500;
    }
    config::LoadResult loaded = config::load_file(cfg->source);
    std::string result;
    std::vector<std::string> plugin_errors;
    // Plugins read their own keys of each [[provider]] when the generation
    // is built: their complaints are config errors too (400), only a
    // failure to switch the workers over is the server's (500).
    bool switched = false;
    std::shared_ptr<const config::Config> next = loaded.config;
    if (next) {
      switched = plugins.reload(workers, reports, result, next, &plugin_errors);
      if (!switched && !plugin_errors.empty()) {
        loaded.errors = plugin_errors;
        config::in_file_order(loaded.errors, next->source);
        loaded.config.reset();
      }
    } else {
      // The plugins' problems too, as check-config reports them.
      loaded.errors = plugin::config_problems(loaded, gateway::host_table(), runtime_dir);
    }
    if (!loaded.config) {
      ++reloads_failed;
      log::error("config reload failed; the running config keeps serving",
                 {{"errors", static_cast<unsigned long long>(loaded.errors.size())},
                  {"first", loaded.errors.empty() ? "" : loaded.errors[0]}});
      for (const std::string& e : loaded.errors) log::error("config error", {{"error", e}});
      std::string msg = "The config has errors; the running config keeps serving.";
      // The OpenAI error shape, with every problem in an "errors" array.
      body = http::error_body(400, "invalid_config", msg);
      body.insert(body.size() - 2, ",\"errors\":" + json_array(loaded.errors));
      return 400;
    }
    // Against the running process: restart-only settings are never applied.
    if (!switched) {
      ++reloads_failed;
      body = http::error_body(500, "reload_failed", result);
      return 500;
    }
    std::vector<std::string> restart = needs_restart(*cfg, *loaded.config);
    pending_restart = restart;
    ++reloads_ok;
    if (!restart.empty()) {
      log::warn("config reloaded; some changes need a restart and were not applied",
                {{"settings", json_array(restart)}});
    } else {
      log::info("config reloaded", {{"config", cfg->source}});
    }
    body = reloaded_body(result, &restart);
    return 200;
  };
  auto reload_config = [&](std::string& body) -> int {
    notifier.reloading();
    const int status = reload_config_now(body);
    notify_reload_done(status == 200);
    return status;
  };
  // Asks every worker for its part of a report, each produced on its own
  // thread (no worker stops, nothing is read from outside). Null when a
  // worker did not answer within 2 s.
  auto ask_workers = [&](WorkerReport::What what) -> std::shared_ptr<WorkerReport> {
    auto report = std::make_shared<WorkerReport>(workers.size(), what);
    for (auto& w : workers) post(*w, Message::Kind::report, report);
    int64_t until = io::coarse_ms() + 2000;
    while (report->done.load(std::memory_order_acquire) < workers.size() && io::coarse_ms() < until) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (report->done.load(std::memory_order_acquire) < workers.size()) return nullptr;
    return report;
  };
  const std::string worker_timeout = http::error_body(503, "worker_timeout", "A worker did not answer in time.");
  // Prometheus text: every worker's counters, merged.
  auto metrics_report = [&](std::string& body) -> int {
    auto report = ask_workers(WorkerReport::What::metrics);
    if (!report) {
      body = worker_timeout;
      return 503;
    }
    metrics::Info info;
    info.version = AIGW_VERSION;
    info.plugin_generation = plugins.generation_id();
    info.config_reloads_ok = reloads_ok;
    info.config_reloads_error = reloads_failed;
    if (const redis::RedisLeaseSource* shared = plugins.shared_budgets()) {
      info.redis_configured = true;
      info.redis_up = shared->redis_up();
      info.redis_errors = shared->redis_errors();
      info.redis_calls = shared->redis_calls();
    }
    if (mirror) {
      info.usage_copy_configured = true;
      info.usage_copy_sent = mirror->sent();
      info.usage_copy_lost = mirror->lost();
      info.usage_copy_pending = mirror->pending();
    }
    if (writer) {
      info.state_enabled = true;
      info.state_written = writer->written();
      info.state_failed = writer->failed();
      info.state_dropped = writer->dropped();
    }
    quota_gauges(plugins.current().get(), info);
    metrics::render(report->snapshots, info, body);
    return 200;
  };
  // Every worker's view of channel health, each produced on its own thread.
  auto providers_report = [&](std::string& body) -> int {
    auto report = ask_workers(WorkerReport::What::health);
    if (!report) {
      body = worker_timeout;
      return 503;
    }
    body = "{\"generation\":" + std::to_string(plugins.current() ? plugins.current()->id : 0) + ",\"workers\":[";
    for (size_t i = 0; i < report->health.size(); ++i) {
      if (i) body += ',';
      body += report->health[i];
    }
    body += "]}";
    return 200;
  };
  // Every worker's last failed requests, newest first across workers.
  auto errors_report = [&](std::string& body) -> int {
    auto report = ask_workers(WorkerReport::What::errors);
    if (!report) {
      body = worker_timeout;
      return 503;
    }
    std::vector<metrics::RecentErrors::Entry> all;
    for (const auto& part : report->errors) all.insert(all.end(), part.begin(), part.end());
    // Each worker's part is newest first; stable, so equal times keep it.
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.wall_us > b.wall_us; });
    body.clear();
    metrics::RecentErrors::write_json(body, all);
    return 200;
  };
  // The last 15 minutes in 10-second buckets, every worker's merged.
  auto history_report = [&](std::string& body) -> int {
    auto report = ask_workers(WorkerReport::What::history);
    if (!report) {
      body = worker_timeout;
      return 503;
    }
    body.clear();
    metrics::History::write_json(body, report->history, static_cast<int64_t>(time(nullptr)));
    return 200;
  };
  // One page of client keys: counts from every worker, levels from the
  // budgets (read here, as the quota gauges are).
  uint64_t keys_order_generation = 0;
  std::vector<uint32_t> keys_order;  // keys_by_name of that generation
  auto keys_report = [&](const std::string& query, std::string& body) -> int {
    KeysQuery q;
    std::string why;
    if (!parse_keys_query(query, q, why)) {
      body = http::error_body(400, "invalid_keys_query", why);
      return 400;
    }
    auto report = ask_workers(WorkerReport::What::keys);
    if (!report) {
      body = worker_timeout;
      return 503;
    }
    const std::shared_ptr<plugin::Generation> gen = plugins.current();
    if (!gen) {
      body = R"({"generation":0,"total":0,"keys":[]})";
      return 200;
    }
    if (keys_order_generation != gen->id) {
      keys_order = keys_by_name(gen->config->keys);
      keys_order_generation = gen->id;
    }
    write_keys_json(body, q, *gen, keys_order, report->snapshots,
                    limits::Now{io::mono_ns(), static_cast<int64_t>(time(nullptr))});
    return 200;
  };
  // The plugins and the configuration in effect, every secret left out.
  auto config_report = [&](std::string& body) -> int {
    const std::shared_ptr<plugin::Generation> gen = plugins.current();
    body = "{\"generation\":" + std::to_string(gen ? gen->id : 0);
    body += ",\"abi\":\"" + std::to_string(AIGW_ABI_MAJOR) + "." + std::to_string(AIGW_ABI_MINOR) + "\"";
    body += ",\"plugins\":";
    if (gen) {
      write_plugins_json(body, *gen);
    } else {
      body += "[]";
    }
    body += ",\"restart_required\":" + json_array(pending_restart) + ",\"config\":";
    write_config_json(body, *cfg, gen ? *gen->config : *cfg);
    body += '}';
    return 200;
  };
  for (;;) {
    pollfd fds[3] = {{sfd, POLLIN, 0}, {reports.inbox.event_fd(), POLLIN, 0},
                     {plugins.inotify_fd(), POLLIN, 0}};
    poll(fds, plugins.inotify_fd() >= 0 ? 3 : 2, 100);

    signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGINT || sig == SIGTERM) {
        if (draining || delaying) {
          log::warn("second signal: exiting now", {{"signal", strsignal(sig)}});
          std::_Exit(1);
        }
        notifier.stopping(std::string("draining: ") + strsignal(sig));
        // SIGTERM is how orchestrators stop a server: first /ready turns
        // 503 while everything else goes on, so load balancers see it and
        // move traffic away before anything closes. SIGINT (Ctrl-C at a
        // terminal) has nobody to warn and drains at once.
        // The delay is the latest config's: a reload may change it.
        const int64_t delay = sig == SIGTERM ? plugins.config().server.shutdown_delay.count() : 0;
        if (delay > 0) {
          delaying = true;
          drain_at = io::coarse_ms() + delay;
          log::info("shutting down: /ready now answers 503; draining after the delay",
                    {{"signal", strsignal(sig)}, {"delay_ms", static_cast<long long>(delay)},
                     {"grace_ms", static_cast<long long>(cfg->server.shutdown_grace.count())}});
          for (auto& w : workers) post(*w, Message::Kind::unready);
        } else {
          start_drain(strsignal(sig));
        }
      } else if (sig == SIGHUP && !draining && !delaying) {
        log::info("SIGHUP: reloading the config and plugins");
        std::string body;
        reload_config(body);
      }
    }
    uint64_t ev;
    while (read(reports.inbox.event_fd(), &ev, sizeof ev) == static_cast<ssize_t>(sizeof ev)) {
    }
    AdminRequest req;
    while (reports.inbox.pop(req)) {
      auto reply = std::make_shared<AdminReply>();
      reply->conn_index = req.conn_index;
      reply->conn_generation = req.conn_generation;
      if (req.kind == AdminRequest::Kind::providers) {
        reply->status = providers_report(reply->body);
      } else if (req.kind == AdminRequest::Kind::usage) {
        if (!writer) {
          reply->status = 404;
          reply->body = http::error_body(404, "state_disabled", "The usage store is off ([state] enabled = false).");
        } else {
          reply->status = usage_report(state_path, usage_reader, shared_usage.get(), req.query, req.csv, reply->body,
                                       reply->content_type);
        }
      } else if (req.kind == AdminRequest::Kind::errors) {
        reply->status = errors_report(reply->body);
      } else if (req.kind == AdminRequest::Kind::history) {
        reply->status = history_report(reply->body);
      } else if (req.kind == AdminRequest::Kind::keys) {
        reply->status = keys_report(req.query, reply->body);
      } else if (req.kind == AdminRequest::Kind::config) {
        reply->status = config_report(reply->body);
      } else if (req.kind == AdminRequest::Kind::metrics) {
        reply->status = metrics_report(reply->body);
        if (reply->status == 200) reply->content_type = metrics::kContentType;
      } else if (draining) {
        reply->status = 503;
        reply->body = http::error_body(503, "draining", "shutting down");
      } else if (req.kind == AdminRequest::Kind::reload_config) {
        reply->status = reload_config(reply->body);
      } else {
        std::string result;
        bool ok = reload_plugins(result);
        reply->status = ok ? 200 : 500;
        reply->body = ok ? reloaded_body(result) : http::error_body(500, "reload_failed", result);
      }
      post(*workers[req.worker], Message::Kind::admin_reply, reply);
    }
    bool plugin_hit = false, config_hit = false;
    if (plugins.inotify_fd() >= 0) plugins.files_changed(plugin_hit, config_hit);
    if (config_hit && !draining) {
      log::info("config file changed: reloading");
      std::string body;
      reload_config(body);
    } else if (plugin_hit && !draining) {
      log::info("plugin file changed: reloading plugins");
      std::string result;
      reload_plugins(result);
    }
    plugins.collect();
    if (!draining) plugins.refresh_addresses(workers);

    if (delaying && io::coarse_ms() >= drain_at) start_drain("shutdown_delay over");
    if (reports.exited.load() == n) break;
    if (draining && io::coarse_ms() >= deadline) {
      log::warn("shutdown grace period over: closing remaining connections");
      for (auto& w : workers) post(*w, Message::Kind::stop);
      join_all();
      workers.clear();
      if (writer) writer->stop();
      if (mirror) mirror->stop();
      plugins.release_all();
      close(sfd);
      log::info("stopped", {{"connections_cut", static_cast<unsigned long long>(
                                                    reports.dropped_at_stop.load())}});
      return 0;
    }
  }
  join_all();
  workers.clear();
  // After the drain: every finished request is in the queues now.
  if (writer) writer->stop();
  if (mirror) mirror->stop();  // after the writer's last commit
  plugins.release_all();
  close(sfd);
  if (!draining) {
    log::error("all workers exited unexpectedly");
    return 1;
  }
  log::info("stopped", {{"connections_cut", 0}});
  return 0;
}

}  // namespace aigw::control
