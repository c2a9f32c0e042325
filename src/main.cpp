// aigw: the command line. Subcommands:
//   aigw [serve] [-c FILE]      run the gateway (built-in default config without -c)
//   aigw check-config -c FILE   validate a config file and exit
//   aigw version                version, plugin ABI version, build options
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "aigw_build_config.h"
#include "config/config.h"
#include "log/log.h"
#include "server/server.h"

namespace {

constexpr const char* kUsage =
    "usage: aigw [serve] [-c FILE]      run the gateway (built-in default config without -c)\n"
    "       aigw check-config -c FILE   validate a config file and exit (0 valid, 1 invalid)\n"
    "       aigw version                print version and build options\n"
    "       aigw help                   this text\n";

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

}  // namespace

int main(int argc, char** argv) {
  std::string_view cmd = "serve";
  std::string config_path;
  int i = 1;
  if (i < argc && argv[i][0] != '-') cmd = argv[i++];
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
    } else {
      return usage_error("unknown argument: " + std::string(a));
    }
  }

  if (cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "version") {
    std::printf("aigw %s\nbuild: %s\n", AIGW_VERSION, AIGW_BUILD_OPTIONS);
    return 0;
  }
  if (cmd == "check-config") {
    if (config_path.empty()) return usage_error("check-config needs -c FILE");
    auto r = load(config_path);
    if (!r.config) {
      print_errors(r);
      std::fprintf(stderr, "%s: %zu error%s\n", config_path.c_str(), r.errors.size(),
                   r.errors.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: OK\n", config_path.c_str());
    return 0;
  }
  if (cmd == "serve") {
    auto r = load(config_path);
    if (!r.config) {
      print_errors(r);
      return 1;
    }
    aigw::log::set_level(r.config->log.level);
    return aigw::server::serve(r.config);
  }
  return usage_error("unknown command: " + std::string(cmd));
}
