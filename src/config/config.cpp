// Loading a config: parse the TOML, read every section of the schema
// (sections.h, one file each) and hand back the Config or every problem.
//
// The loader never stops at the first problem: a user fixing a config file
// wants every mistake in one run. Each table of the schema is read through
// a TableReader (schema_reader.h); adding a section means adding one read_*
// function and calling it from build().
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/schema_reader.h"
#include "config/sections.h"

namespace aigw::config {
namespace {

constexpr std::string_view kDefaultConfig =
    "# aigw built-in configuration, used when aigw runs without -c.\n"
    "[server]\n"
    "listen = \"127.0.0.1:8080\"\n"
    "\n"
    "# The demo model of the built-in local plugin: a fresh install answers\n"
    "# requests without any provider account.\n"
    "[[provider]]\n"
    "name = \"demo\"\n"
    "plugin = \"local\"\n"
    "models = [\"aigw-demo\"]\n";

LoadResult build(const std::shared_ptr<const toml::table>& root_ptr, std::string_view source_name) {
  const toml::table& root = *root_ptr;
  Problems problems(source_name);
  auto config = std::make_shared<Config>();
  config->source = std::string(source_name);

  TableReader top = TableReader::root(root, problems);
  read_server(top.table("server"), config->server);
  read_log(top.table("log"), config->log);
  read_admin(top.table("admin"), config->admin);
  read_plugins(top, config->plugins);
  read_providers(top, root_ptr, source_name, *config);
  read_routes(top, *config);
  read_routing(top.table("routing"), config->routing);
  read_keys(top, *config);
  read_request_limits(top.table("limits"), config->limits);
  read_access_log(top.table("access_log"), config->access_log);
  {
    // [state] is shared by two features: its own keys (path, flush_interval,
    // requests, keep, enabled) are the usage store's, read with its unknown
    // keys reported by read_state; [state.redis] is the shared limits'.
    TableReader state = top.table("state");
    read_state_redis(state, config->redis);
    read_state(state, config->state);
  }
  top.report_unknown_keys();

  LoadResult result;
  if (problems.empty()) {
    result.config = std::move(config);
  } else {
    result.errors = problems.take_sorted();
    result.partial = std::move(config);
  }
  return result;
}

LoadResult single_error(std::string message) {
  LoadResult result;
  result.errors.push_back(std::move(message));
  return result;
}

// Reads the whole file; on failure returns false with errno set.
bool read_file(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return n == 0;
  }
}

}  // namespace

LoadResult load_string(std::string_view toml_text, std::string_view source_name) {
  try {
    auto root = std::make_shared<toml::table>(toml::parse(toml_text, std::string(source_name)));
    return build(root, source_name);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    return single_error(std::string(source_name) + ":" + std::to_string(at.line) + ":" +
                        std::to_string(at.column) + ": syntax error: " +
                        printable(e.description()));
  } catch (const std::exception& e) {
    // Out of memory and the like: still an answer, not an exception.
    return single_error(std::string(source_name) + ": cannot load config: " + printable(e.what()));
  }
}

LoadResult load_file(const std::string& path) {
  std::string text;
  if (!read_file(path, text)) {
    return single_error(path + ": cannot read config file: " + std::strerror(errno));
  }
  return load_string(text, path);
}

std::string_view default_config_toml() { return kDefaultConfig; }

const ProviderConfig* Config::provider_for_model(std::string_view model) const {
  for (const ProviderConfig& p : providers) {
    for (const std::string& m : p.models) {
      if (m == model) return &p;
    }
  }
  return nullptr;
}

int Config::provider_index(std::string_view name) const {
  for (size_t i = 0; i < providers.size(); ++i) {
    if (providers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace aigw::config
