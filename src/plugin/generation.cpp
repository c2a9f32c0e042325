#include "plugin/generation.h"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "config/provider_table.h"
#include "log/log.h"
#include "plugin/config_source.h"

extern "C" const aigw_plugin_def* aigw_local_plugin_entry(void);

namespace aigw::plugin {

const aigw_plugin_def* builtin_local_plugin() { return aigw_local_plugin_entry(); }

Generation::~Generation() {
  // Instances are gone by now (workers destroy theirs before dropping the
  // generation); configs go before the code that made them is unloaded.
  for (Provider& p : providers) {
    if (p.plugin_config && p.hooks && p.hooks->config_destroy) p.hooks->config_destroy(p.plugin_config);
    p.plugin_config = nullptr;
  }
  providers.clear();
  objects.clear();
}

bool resolve_upstream(const config::UpstreamConfig& u, std::vector<sockaddr_storage>& out, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(u.port);
  int rc = getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    why = "cannot resolve " + u.host + ": " + gai_strerror(rc);
    return false;
  }
  for (addrinfo* a = res; a; a = a->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
    out.push_back(ss);
  }
  freeaddrinfo(res);
  if (out.empty()) {
    why = "no address for " + u.host;
    return false;
  }
  return true;
}

namespace {

struct Resolved {
  const aigw_plugin_def* def = nullptr;
  LoadedPlugin* object = nullptr;  // null for the built-in
};

bool resolve_plugin(Generation& gen, const std::string& name, const std::string& runtime_dir,
                    std::vector<std::pair<std::string, Resolved>>& cache,
                    std::vector<std::string>& errors, Resolved& out) {
  for (auto& [n, r] : cache) {
    if (n == name) {
      out = r;
      return out.def != nullptr;
    }
  }
  std::string path;
  for (const config::PluginConfig& p : gen.config->plugins) {
    if (p.name == name) path = p.path;
  }
  std::vector<std::string> tried;
  if (path.empty()) path = find_plugin_file(name, tried);
  Resolved r;
  if (path.empty()) {
    if (name == "local") {
      std::string why;
      if (validate(builtin_local_plugin(), why, "built-in plugin local")) {
        r.def = builtin_local_plugin();
      } else {
        errors.push_back(why);
      }
    } else {
      errors.push_back(missing_plugin_message(name, tried));
    }
  } else {
    auto obj = std::make_unique<LoadedPlugin>();
    std::string why;
    if (load(path, runtime_dir, *obj, why)) {
      if (std::string_view(obj->def->name) != name) {
        errors.push_back("plugin \"" + name + "\": " + path + " is the plugin \"" +
                         obj->def->name + "\"");
      } else {
        r.def = obj->def;
        r.object = obj.get();
        gen.objects.push_back(std::move(obj));
      }
    } else {
      errors.push_back("plugin \"" + name + "\": " + why);
    }
  }
  cache.emplace_back(name, r);
  out = r;
  return r.def != nullptr;
}

// Loads the plugins of gen.config's providers and configures each provider,
// appending every problem to `errors`. `checking`: a config the host
// rejected (LoadResult::partial), only to collect what the plugins say;
// providers whose plugin could not be named are left out.
void configure_providers(Generation& gen, const aigw_host* host, const std::string& runtime_dir, bool checking,
                         std::vector<std::string>& errors) {
  std::vector<std::pair<std::string, Resolved>> cache;
  gen.providers.reserve(gen.config->providers.size());
  for (const config::ProviderConfig& pc : gen.config->providers) {
    if (checking && pc.plugin.empty()) continue;
    Resolved r;
    if (!resolve_plugin(gen, pc.plugin, runtime_dir, cache, errors, r)) continue;
    Provider& p = gen.providers.emplace_back();
    p.config = &pc;
    p.def = r.def;
    p.hooks = r.def->hooks;
    p.host_plugin.name = r.def->name;

    if (p.hooks->mode == AIGW_MODE_HTTP) {
      if (!pc.has_upstream) {
        const toml::table& t = *pc.table->table;
        // A base_url that is there but invalid is the host's error already.
        if (!t.contains("base_url")) {
          errors.push_back(pc.table->format(t.source(), "base_url",
                                            "is required: plugin \"" + p.host_plugin.name +
                                                "\" sends requests to an upstream"));
        }
      } else {
        std::string why;
        if (!resolve_upstream(pc.upstream, p.addrs, why)) {
          const toml::table& t = *pc.table->table;
          const toml::node* n = t.get("base_url");
          errors.push_back(pc.table->format(n ? n->source() : t.source(), "base_url", why));
        }
      }
    }

    aigw_config_source src;
    src.table = pc.table.get();
    char msg[1024] = {0};
    aigw_errbuf err{msg, sizeof msg};
    aigw_status st = p.hooks->config_new(host, &p.host_plugin, &src, &p.plugin_config, &err);
    msg[sizeof msg - 1] = 0;
    src.report_unknown(p.host_plugin.name, st == AIGW_OK);
    if (st == AIGW_OK) {
      // ABI 1.1: one routing channel per upstream key.
      if (p.hooks->struct_size >= kHooksMinSize_1_1 && p.hooks->key_count != nullptr) {
        p.keys = std::max<uint32_t>(1, p.hooks->key_count(p.plugin_config));
      }
      // ABI 1.3: dialects served natively (HTTP mode only: the host
      // forwards such a plugin's answer unchanged).
      if (negotiate_minor(p.def) >= 3 && p.hooks->struct_size >= kHooksMinSize_1_3 &&
          p.hooks->mode == AIGW_MODE_HTTP) {
        p.native_dialects = p.hooks->native_dialects;
      }
      if (pc.probe_interval.count() > 0) {
        aigw_health_probe probe{sizeof probe, 200, {nullptr, 0}, {nullptr, 0}};
        // Probes go out as AIGW_ENDPOINT_HEALTH_PROBE requests, which 1.0
        // plugins do not know.
        bool able = p.hooks->mode == AIGW_MODE_HTTP && p.hooks->health_probe != nullptr &&
                    negotiate_minor(p.def) >= 1 &&
                    p.hooks->health_probe(p.plugin_config, &probe) == AIGW_OK && probe.path.ptr;
        if (!able) {
          const toml::table& t = *pc.table->table;
          const toml::node* n = t.get("probe_interval");
          errors.push_back(pc.table->format(n ? n->source() : t.source(), "probe_interval",
                                            "plugin \"" + p.host_plugin.name +
                                                "\" has no health probe (it needs an HTTP-mode plugin "
                                                "of ABI 1.1 or later with a health_probe hook)"));
        } else {
          p.probe = true;
          p.probe_expect = probe.expect_status;
          p.probe_method.assign(probe.method.ptr ? probe.method.ptr : "GET",
                                probe.method.ptr ? probe.method.len : 3);
          p.probe_path.assign(probe.path.ptr, probe.path.len);
        }
      }
    }
    for (std::string& e : src.errors) errors.push_back(std::move(e));
    if (st != AIGW_OK) {
      p.plugin_config = nullptr;
      if (src.errors.empty() || msg[0] != 0) {
        const toml::table& t = *pc.table->table;
        errors.push_back(pc.table->format(t.source(), "plugin", "plugin \"" + p.host_plugin.name +
                                                                    "\" rejected the provider: " +
                                                                    (msg[0] ? msg : "no reason given")));
      }
    }
  }
}

}  // namespace

std::shared_ptr<Generation> build_generation(std::shared_ptr<const config::Config> config,
                                             const aigw_host* host, uint64_t id,
                                             const std::string& runtime_dir,
                                             std::vector<std::string>& errors) {
  auto gen = std::make_shared<Generation>();
  gen->id = id;
  gen->config = std::move(config);
  const size_t errors_before = errors.size();
  configure_providers(*gen, host, runtime_dir, false, errors);
  if (errors.size() != errors_before) return nullptr;  // the destructor undoes what was built
  // Which file and which contract, once per generation that serves: the
  // first thing to check when a plugin misbehaves after an upgrade.
  for (const auto& obj : gen->objects) {
    std::string abi = std::to_string(obj->def->abi_major) + "." + std::to_string(obj->negotiated_minor);
    log::info("plugin loaded", {{"plugin", obj->def->name}, {"path", obj->source_path}, {"abi", abi},
                                {"generation", static_cast<unsigned long long>(id)},
                                {"sha256", std::string_view(obj->sha256_hex).substr(0, 16)}});
  }
  std::vector<uint32_t> keys;
  for (const Provider& p : gen->providers) keys.push_back(p.keys);
  gen->routes = routing::Table::build(*gen->config, keys, id);
  return gen;
}

std::vector<std::string> config_problems(const config::LoadResult& loaded, const aigw_host* host,
                                         const std::string& runtime_dir) {
  std::vector<std::string> problems = loaded.errors;
  std::shared_ptr<const config::Config> cfg = loaded.config ? loaded.config : loaded.partial;
  if (!cfg) return problems;  // nothing could be read: a syntax error, an unreadable file
  {
    Generation check;
    check.config = cfg;
    configure_providers(check, host, runtime_dir, !loaded.config, problems);
  }  // configs destroyed, then the plugins unloaded
  config::in_file_order(problems, cfg->source);
  return problems;
}

}  // namespace aigw::plugin
