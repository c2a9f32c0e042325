// A plugin generation: every configured plugin loaded and every provider
// configured, as one immutable unit that workers switch to atomically.
//
// Built and destroyed on the control thread only. Workers hold a
// shared_ptr while they have instances of it; the control thread keeps the
// retired ones and destroys each (config_destroy, then dlclose) once it
// holds the last reference, so no plugin code is unloaded while a worker
// can still run it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aigw_plugin.h"
#include "auth/keys.h"
#include "config/config.h"
#include "limits/source.h"
#include "plugin/loader.h"
#include "routing/table.h"

struct aigw_host_plugin {
  std::string name;  // for log lines
};

namespace aigw::plugin {

struct Provider {
  const config::ProviderConfig* config = nullptr;  // lives in Generation::config
  // HTTP mode: the upstream's addresses, resolved on the control thread when
  // the generation is built (never on a worker).
  std::vector<sockaddr_storage> addrs;  // as resolved at build; refreshes arrive by message
  const aigw_plugin_def* def = nullptr;
  const aigw_hooks* hooks = nullptr;
  aigw_host_plugin host_plugin;
  void* plugin_config = nullptr;  // from config_new
  uint32_t keys = 1;  // upstream keys (routing channels): the plugin's key_count, at least 1
  // ABI 1.3: the client dialects (AIGW_DIALECT_* bits) the plugin serves
  // untranslated; 0 for older plugins and direct mode.
  uint64_t native_dialects = 0;
  // Active health probe (probe_interval > 0): what the plugin's
  // health_probe hook described, asked once here on the control thread.
  bool probe = false;
  int32_t probe_expect = 200;
  std::string probe_method;
  std::string probe_path;
};

class Generation {
 public:
  Generation() = default;
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;
  ~Generation();  // config_destroy for every provider, then the objects unload

  uint64_t id = 0;
  std::shared_ptr<const config::Config> config;
  std::vector<std::unique_ptr<LoadedPlugin>> objects;  // dlopen'ed plugins
  std::vector<Provider> providers;                     // same order as config->providers
  // The routing snapshot of this config: routes, targets and channels. A
  // reload builds a new generation, so requests in flight keep the routes
  // (and the plugins) they started with.
  std::shared_ptr<const routing::Table> routes;
  // Client keys and their budgets. Set by the control thread after the
  // build (the budget source carries state by key name from the previous
  // generation); null keys = open gateway.
  std::shared_ptr<const auth::KeyTable> keys;
  std::shared_ptr<limits::LeaseSource> limits;
};

// Loads every plugin the config uses and configures every provider, handing
// each plugin `host` (the gateway's aigw_host table, gateway/abi_host.h). On
// any failure returns null and fills `errors` (one line each); nothing of
// the half-built generation survives.
std::shared_ptr<Generation> build_generation(std::shared_ptr<const config::Config> config,
                                             const aigw_host* host, uint64_t id,
                                             const std::string& runtime_dir,
                                             std::vector<std::string>& errors);

// Every problem of a loaded config file, as check-config, serve and a
// config reload report them: the host's (loaded.errors) and what each
// provider's plugin says when configured as build_generation would, also
// when the host found errors elsewhere (then from loaded.partial, leaving
// out providers whose plugin could not be named), so one run shows them
// all. In file order, each once; empty when the config is valid. Plugins are
// loaded into `runtime_dir` and unloaded again before it returns.
std::vector<std::string> config_problems(const config::LoadResult& loaded, const aigw_host* host,
                                         const std::string& runtime_dir);

// Resolves an upstream's host name (getaddrinfo: blocking, so control thread
// only). IP literals resolve to themselves.
bool resolve_upstream(const config::UpstreamConfig& u, std::vector<sockaddr_storage>& out,
                      std::string& why);

// The built-in local plugin (linked into aigw), used when [[plugin]] name
// "local" has no path and no libaigw_local.so is found.
const aigw_plugin_def* builtin_local_plugin();

}  // namespace aigw::plugin
