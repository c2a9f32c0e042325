// aigw: the command line. Subcommands:
//   aigw [serve] [-c FILE]      run the gateway (built-in default config without -c)
//   aigw check-config -c FILE   print every problem of a config file; exit 0 valid, 1 invalid
//   aigw plugins [-c FILE]      the plugins the config would load, with ABI versions
//   aigw usage [--state PATH | -c FILE] [--from DAY] [--to DAY] [--group-by LIST]
//              [--key K] [--model M] [--provider P] [--format table|json|csv]
//                               usage from the state file (offline, read-only)
//   aigw version                version, plugin ABI range accepted, build options (also -V, --version)
//   aigw help                   the usage (also -h, --help)
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_build_config.h"
#include "aigw_plugin.h"
#include "config/config.h"
#include "control/serve.h"
#include "gateway/abi_host.h"
#include "log/log.h"
#include "plugin/generation.h"
#include "plugin/loader.h"
#include "state/report.h"
#include "state/store.h"

namespace {

constexpr const char* kUsage =
    "usage: aigw [serve] [-c FILE]      run the gateway (built-in default config without -c)\n"
    "       aigw check-config -c FILE   print every problem of a config file (exit 0 valid, 1 invalid)\n"
    "       aigw plugins [-c FILE]      list the plugins the config would load, with ABI versions\n"
    "       aigw usage [--state PATH | -c FILE] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
    "                  [--group-by day,key,model,provider] [--key K] [--model M] [--provider P]\n"
    "                  [--format table|json|csv]\n"
    "                                   usage kept in the state file (read-only; see docs/state.md)\n"
    "       aigw version                print version and build options (also -V, --version)\n"
    "       aigw help                   this text (also -h, --help)\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "aigw: %s\n%s", msg.c_str(), kUsage);
  return 2;
}

aigw::config::LoadResult load(const std::string& path) {
  if (path.empty()) return aigw::config::load_string(aigw::config::default_config_toml(), "<built-in>");
  return aigw::config::load_file(path);
}

void print_errors(const aigw::config::LoadResult& r) {
  for (const auto& e : r.errors) std::fprintf(stderr, "%s\n", e.c_str());
}

int print_version() {
  // The range is what an author needs: a plugin built against any header
  // from the oldest to the newest minor of this major loads.
  std::printf("aigw %s\nplugin ABI %d.%d - %d.%d (signature %s)\nbuild: %s\n", AIGW_VERSION,
              AIGW_ABI_MAJOR, aigw::plugin::kOldestMinor, AIGW_ABI_MAJOR, AIGW_ABI_MINOR,
              AIGW_ABI_SIGNATURE, AIGW_BUILD_OPTIONS);
  return 0;
}

// Every problem of the loaded file, the plugins' included (see
// plugin::config_problems); plugins are loaded from a private runtime
// directory that is gone again afterwards.
std::vector<std::string> every_problem(const aigw::config::LoadResult& r) {
  if (!r.config && !r.partial) return r.errors;  // a syntax error or an unreadable file
  std::string dir, why;
  if (!aigw::plugin::create_runtime_dir(dir, why)) {
    std::vector<std::string> problems = r.errors;
    problems.push_back("aigw: the providers' plugin keys are not checked: " + why);
    return problems;
  }
  std::vector<std::string> problems = aigw::plugin::config_problems(r, aigw::gateway::host_table(), dir);
  aigw::plugin::remove_runtime_dir();
  return problems;
}

const char* mode_name(const aigw_plugin_def* def) {
  if (!def->hooks) return "?";
  return def->hooks->mode == AIGW_MODE_HTTP ? "http" : def->hooks->mode == AIGW_MODE_DIRECT ? "direct" : "?";
}

// Lists what `serve` would load, loading each plugin (from a private copy)
// to read its definition; nothing is configured or started.
int list_plugins(const aigw::config::Config& cfg) {
  namespace plugin = aigw::plugin;
  std::vector<std::string> names;
  for (const auto& p : cfg.plugins) names.push_back(p.name);
  for (const auto& p : cfg.providers) {
    bool seen = false;
    for (const auto& n : names) seen |= n == p.plugin;
    if (!seen) names.push_back(p.plugin);
  }
  std::string dir, why;
  if (!plugin::create_runtime_dir(dir, why)) {
    std::fprintf(stderr, "aigw: %s\n", why.c_str());
    return 1;
  }
  std::printf("host plugin ABI %d.%d (%s)\n", AIGW_ABI_MAJOR, AIGW_ABI_MINOR, AIGW_ABI_SIGNATURE);
  int failed = 0;
  for (const std::string& name : names) {
    std::string path;
    for (const auto& p : cfg.plugins) {
      if (p.name == name) path = p.path;
    }
    std::vector<std::string> tried;
    if (path.empty()) path = plugin::find_plugin_file(name, tried);
    if (path.empty() && name == "local") {
      const aigw_plugin_def* def = plugin::builtin_local_plugin();
      std::printf("%-12s ok    ABI %u.%u  version %s  mode %s  (built in)\n", name.c_str(),
                  def->abi_major, def->abi_minor, def->version, mode_name(def));
      continue;
    }
    if (path.empty()) {
      std::printf("%-12s FAIL  %s\n", name.c_str(), plugin::missing_plugin_message(name, tried).c_str());
      ++failed;
      continue;
    }
    plugin::LoadedPlugin lp;
    if (!plugin::load(path, dir, lp, why)) {
      std::printf("%-12s FAIL  %s\n", name.c_str(), why.c_str());
      ++failed;
      continue;
    }
    std::printf("%-12s ok    ABI %u.%u  version %s  mode %s  %s\n", name.c_str(), lp.def->abi_major,
                lp.def->abi_minor, lp.def->version, mode_name(lp.def), path.c_str());
  }
  plugin::remove_runtime_dir();
  return failed == 0 ? 0 : 1;
}

// `aigw usage`: reads the state file offline, read-only, so it works beside
// a running gateway (WAL) and after one has stopped.
int usage_command(int argc, char** argv, int i) {
  std::string state_path, config_path, format = "table";
  aigw::state::UsageQuery q;
  bool grouped = false;
  std::string why;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string_view value;
    size_t eq = a.find('=');
    if (a.starts_with("--") && eq != std::string_view::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      if (i + 1 >= argc) return usage_error(std::string(a) + " needs a value");
      value = argv[++i];
    }
    if (a == "--state") {
      state_path = value;
    } else if (a == "-c" || a == "--config") {
      config_path = value;
    } else if (a == "--format") {
      if (value != "table" && value != "json" && value != "csv") return usage_error("--format takes table, json or csv");
      format = value;
    } else if (a == "--from" || a == "--to" || a == "--group-by" || a == "--key" || a == "--model" ||
               a == "--provider") {
      std::string name(a.substr(2));
      if (name == "group-by") name = "group_by";
      grouped |= name == "group_by";
      if (!aigw::state::set_param(q, name, value, why)) return usage_error(why);
    } else {
      return usage_error("unknown argument: " + std::string(a));
    }
  }
  if (!grouped) q.group_by = {"key", "model"};
  if (!aigw::state::finish(q, aigw::state::day_of_s(time(nullptr)), why)) return usage_error(why);
  if (state_path.empty()) {
    auto r = load(config_path);
    if (!r.config) {
      print_errors(r);
      return 1;
    }
    if (!r.config->state.enabled) {
      std::fprintf(stderr, "aigw: the usage store is off in %s ([state] enabled = false)\n", r.config->source.c_str());
      return 1;
    }
    state_path = aigw::state::path_of(*r.config);
  }
  auto store = aigw::state::Store::open(state_path, true, why);
  std::vector<aigw::state::UsageRow> rows;
  if (!store || !store->usage(q, rows, why)) {
    std::fprintf(stderr, "aigw: %s\n", why.c_str());
    return 1;
  }
  std::string out;
  if (format == "json") {
    aigw::state::format_json(q, rows, out);
  } else if (format == "csv") {
    aigw::state::format_csv(q, rows, out);
  } else {
    aigw::state::format_table(q, rows, out);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string_view cmd = "serve";
  std::string config_path;
  int i = 1;
  if (i < argc && argv[i][0] != '-') cmd = argv[i++];
  if (cmd == "usage") return usage_command(argc, argv, i);
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= argc) return usage_error(std::string(a) + " needs a file name");
      config_path = argv[++i];
    } else if (a.starts_with("--config=")) {
      config_path = std::string(a.substr(9));
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "-V" || a == "--version") {
      return print_version();
    } else {
      return usage_error("unknown argument: " + std::string(a));
    }
  }

  if (cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version") return print_version();
  if (cmd == "plugins") {
    auto r = load(config_path);
    if (!r.config) {
      print_errors(r);
      return 1;
    }
    return list_plugins(*r.config);
  }
  if (cmd == "check-config") {
    if (config_path.empty()) return usage_error("check-config needs -c FILE");
    // Host-level errors do not hide the plugins' own: providers are handed
    // to their plugins either way, so one run shows every problem.
    const std::vector<std::string> problems = every_problem(load(config_path));
    if (!problems.empty()) {
      for (const auto& e : problems) std::fprintf(stderr, "%s\n", e.c_str());
      std::fprintf(stderr, "%s: %zu error%s\n", config_path.c_str(), problems.size(),
                   problems.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: OK\n", config_path.c_str());
    return 0;
  }
  if (cmd == "serve") {
    auto r = load(config_path);
    if (!r.config) {
      // The same report as check-config. A valid file's plugin problems are
      // reported by serve itself, which configures the plugins anyway.
      for (const auto& e : every_problem(r)) std::fprintf(stderr, "%s\n", e.c_str());
      return 1;
    }
    aigw::log::set_level(r.config->log.level);
    return aigw::control::serve(r.config);
  }
  return usage_error("unknown command: " + std::string(cmd));
}
