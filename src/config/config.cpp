// TOML loading and validation.
//
// The loader never stops at the first problem: a user fixing a config file
// wants every mistake in one run. Each table of the schema is read through a
// TableReader, which records the keys the schema asked for, reports type and
// range problems at the value's position, and finally reports whatever keys
// nobody asked for. Adding a section means adding one read_* function.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <mbedtls/sha256.h>
#include <toml++/toml.h>

#include "config/config.h"
#include "config/provider_table.h"
#include "config/suggest.h"

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

constexpr std::string_view kDefaultListen = "127.0.0.1:8080";

std::string_view with_article(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string type_error(std::string_view expected, const toml::node& got) {
  return "expected " + std::string(expected) + ", got " + std::string(with_article(got.type()));
}

// Built by appending: `"literal" + std::string` trips a GCC 12 -Wrestrict
// false positive at -O3, and release builds use -Werror.
std::string quoted(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q += '"';
  q += s;
  q += '"';
  return q;
}

// All problems of one load, kept in file order so the output reads top to bottom.
class Problems {
 public:
  explicit Problems(std::string_view source) : source_(source) {}

  void add(const toml::source_region& where, std::string_view key, std::string_view message) {
    std::string text = source_ + ":" + std::to_string(where.begin.line) + ":" +
                       std::to_string(where.begin.column) + ": ";
    if (!key.empty()) {
      text += key;
      text += ": ";
    }
    text += message;
    list_.push_back({where.begin.line, where.begin.column, std::move(text)});
  }

  bool empty() const { return list_.empty(); }

  std::vector<std::string> take_sorted() {
    std::stable_sort(list_.begin(), list_.end(), [](const Problem& a, const Problem& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> out;
    out.reserve(list_.size());
    for (Problem& p : list_) out.push_back(std::move(p.text));
    return out;
  }

 private:
  struct Problem {
    toml::source_index line;
    toml::source_index column;
    std::string text;
  };
  std::string source_;
  std::vector<Problem> list_;
};

struct IntRange {
  uint64_t min;
  uint64_t max;
};

struct DurationRange {
  Duration min;
  Duration max;
};

// Reads one TOML table of the schema. Every getter marks its key as known
// (present or not), so report_unknown_keys() can name the rest. Getters store
// into `out` and return the node only when the value is present and valid;
// otherwise `out` keeps its default and a problem has been recorded if the
// value was present but wrong.
class TableReader {
 public:
  // `table` may be null: a section that is absent reads as empty, and
  // `where` is then the enclosing table's position.
  TableReader(const toml::table* table, std::string path, toml::source_region where,
              Problems& problems)
      : table_(table), path_(std::move(path)), where_(std::move(where)), problems_(problems) {}

  static TableReader root(const toml::table& table, Problems& problems) {
    return TableReader(&table, "", table.source(), problems);
  }

  // The dotted name of `key` in this table, as used in messages.
  std::string path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  Problems& problems() { return problems_; }

  void error(const toml::node& node, std::string_view dotted_key, std::string_view message) {
    problems_.add(node.source(), dotted_key, message);
  }

  // A problem about a value that is absent: reported at the table.
  void error_here(std::string_view dotted_key, std::string_view message) {
    problems_.add(where_, dotted_key, message);
  }

  // The node under `key`, for values with a shape of their own (see read_listen).
  const toml::node* get_node(std::string_view key) {
    known_.emplace_back(key);
    return table_ ? table_->get(key) : nullptr;
  }

  TableReader table(std::string_view key) {
    const toml::node* node = get_node(key);
    if (node != nullptr && !node->is_table()) {
      error(*node, path_of(key), type_error("a table", *node));
      node = nullptr;
    }
    const toml::table* sub = node ? node->as_table() : nullptr;
    return TableReader(sub, path_of(key), sub ? sub->source() : where_, problems_);
  }

  const toml::node* get_bool(std::string_view key, bool& out) {
    const toml::node* node = get_node(key);
    if (node == nullptr) return nullptr;
    if (!node->is_boolean()) return wrong_type(key, "a boolean", *node);
    out = node->as_boolean()->get();
    return node;
  }

  const toml::node* get_string(std::string_view key, std::string& out) {
    const toml::node* node = get_node(key);
    if (node == nullptr) return nullptr;
    if (!node->is_string()) return wrong_type(key, "a string", *node);
    out = node->as_string()->get();
    return node;
  }

  const toml::node* get_integer(std::string_view key, IntRange range, uint64_t& out) {
    const toml::node* node = get_node(key);
    if (node == nullptr) return nullptr;
    if (!node->is_integer()) return wrong_type(key, "an integer", *node);
    const int64_t value = node->as_integer()->get();
    if (value < 0 || static_cast<uint64_t>(value) < range.min ||
        static_cast<uint64_t>(value) > range.max) {
      return out_of_range(key, *node, std::to_string(range.min), std::to_string(range.max),
                          std::to_string(value));
    }
    out = static_cast<uint64_t>(value);
    return node;
  }

  // A byte size: an integer (bytes) or a size string such as "32KiB".
  const toml::node* get_size(std::string_view key, IntRange range, uint64_t& out) {
    const toml::node* node = get_node(key);
    if (node == nullptr) return nullptr;
    uint64_t value = 0;
    std::string as_written;
    if (node->is_integer()) {
      const int64_t n = node->as_integer()->get();
      as_written = std::to_string(n);
      if (n < 0) {
        return out_of_range(key, *node, format_size(range.min), format_size(range.max),
                            as_written);
      }
      value = static_cast<uint64_t>(n);
    } else if (node->is_string()) {
      as_written = node->as_string()->get();
      std::string why;
      if (!parse_size(as_written, value, why)) {
        error(*node, path_of(key), "invalid size " + quoted(as_written) + ": " + why);
        return nullptr;
      }
    } else {
      return wrong_type(key, "an integer or a size string such as \"32KiB\"", *node);
    }
    if (value < range.min || value > range.max) {
      return out_of_range(key, *node, format_size(range.min), format_size(range.max),
                          as_written);
    }
    out = value;
    return node;
  }

  const toml::node* get_duration(std::string_view key, DurationRange range, Duration& out) {
    const toml::node* node = get_node(key);
    if (node == nullptr) return nullptr;
    if (node->is_integer()) {
      // A bare number has no unit; name both likely meanings instead of guessing.
      const std::string n = std::to_string(node->as_integer()->get());
      error(*node, path_of(key),
            type_error("a duration string", *node) + " (write \"" + n + "s\" or \"" + n + "ms\")");
      return nullptr;
    }
    if (!node->is_string()) return wrong_type(key, "a duration string such as \"10s\"", *node);
    const std::string& text = node->as_string()->get();
    Duration value{};
    std::string why;
    if (!parse_duration(text, value, why)) {
      error(*node, path_of(key), "invalid duration " + quoted(text) + ": " + why);
      return nullptr;
    }
    if (value < range.min || value > range.max) {
      return out_of_range(key, *node, format_duration(range.min), format_duration(range.max),
                          text);
    }
    out = value;
    return node;
  }

  // Call last: every key present that no getter asked for is a mistake.
  void report_unknown_keys() {
    if (table_ == nullptr) return;
    for (auto&& [key, node] : *table_) {
      if (is_known(key.str())) continue;
      std::string message = "unknown key " + quoted(path_of(key.str()));
      const std::string_view near = closest_key(key.str(), known_);
      if (!near.empty()) message += " (did you mean " + quoted(path_of(near)) + "?)";
      // The key's own position is where the typo is; a table's node would
      // point at its header instead.
      const toml::source_region& where = key.source().begin.line ? key.source() : node.source();
      problems_.add(where, path_of(key.str()), message);
    }
  }

 private:
  const toml::node* wrong_type(std::string_view key, std::string_view expected,
                               const toml::node& node) {
    error(node, path_of(key), type_error(expected, node));
    return nullptr;
  }

  const toml::node* out_of_range(std::string_view key, const toml::node& node,
                                 const std::string& min, const std::string& max,
                                 const std::string& got) {
    error(node, path_of(key), "must be between " + min + " and " + max + ", got " + got);
    return nullptr;
  }

  bool is_known(std::string_view key) const {
    return std::find(known_.begin(), known_.end(), key) != known_.end();
  }

  const toml::table* table_;
  std::string path_;
  toml::source_region where_;
  Problems& problems_;
  std::vector<std::string> known_;
};

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

void require_power_of_two(TableReader& r, std::string_view key, const toml::node* node,
                          uint64_t value) {
  if (node != nullptr && !is_power_of_two(value)) {
    r.error(*node, r.path_of(key), "must be a power of two, got " + std::to_string(value));
  }
}

// One element of server.listen; `dotted` names it in messages.
void read_listen_entry(TableReader& r, const toml::node& node, const std::string& dotted,
                       std::vector<ListenAddr>& out) {
  if (!node.is_string()) {
    r.error(node, dotted, type_error("a string", node));
    return;
  }
  const std::string& text = node.as_string()->get();
  ListenAddr addr;
  std::string why;
  if (!parse_listen_addr(text, addr, why)) {
    r.error(node, dotted, "invalid address " + quoted(text) + ": " + why);
    return;
  }
  for (const ListenAddr& seen : out) {
    if (seen.text == addr.text) {
      r.error(node, dotted, "duplicate address " + quoted(addr.text));
      return;
    }
  }
  out.push_back(std::move(addr));
}

void read_listen(TableReader& r, std::vector<ListenAddr>& out) {
  const std::string key = r.path_of("listen");
  const toml::node* node = r.get_node("listen");
  if (node == nullptr) {
    std::string why;
    ListenAddr addr;
    parse_listen_addr(kDefaultListen, addr, why);
    out.push_back(std::move(addr));
    return;
  }
  if (node->is_string()) {
    read_listen_entry(r, *node, key, out);
    return;
  }
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.error(*node, key, type_error("a string or an array of strings", *node));
    return;
  }
  if (list->empty()) {
    r.error(*node, key, "must list at least one address");
    return;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    read_listen_entry(r, *list->get(i), key + "[" + std::to_string(i) + "]", out);
  }
}

void read_limits(TableReader r, ServerLimits& out) {
  constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
  const toml::node* header = r.get_size("max_header_bytes", {1 * KiB, 1 * MiB}, out.max_header_bytes);
  r.get_integer("max_header_count", {1, 10'000}, out.max_header_count);
  const toml::node* uri = r.get_size("max_uri_bytes", {256, 1 * MiB}, out.max_uri_bytes);
  r.get_size("max_body_bytes", {0, 4 * GiB}, out.max_body_bytes);
  r.get_integer("max_requests_per_connection", {1, 1'000'000'000}, out.max_requests_per_connection);
  r.get_integer("max_connections_per_worker", {1, 1'048'576}, out.max_connections_per_worker);

  // The request line is part of the head, so a URI limit above the head limit
  // could never be reached. Blame whichever of the two the user wrote.
  if (out.max_uri_bytes > out.max_header_bytes) {
    if (uri != nullptr) {
      r.error(*uri, r.path_of("max_uri_bytes"),
              "must not exceed " + r.path_of("max_header_bytes") + " (" +
                  format_size(out.max_header_bytes) + "), got " + format_size(out.max_uri_bytes));
    } else if (header != nullptr) {
      r.error(*header, r.path_of("max_header_bytes"),
              "must be at least " + r.path_of("max_uri_bytes") + " (" +
                  format_size(out.max_uri_bytes) + "), got " + format_size(out.max_header_bytes));
    }
  }
  r.report_unknown_keys();
}

void read_timeouts(TableReader r, ServerTimeouts& out) {
  using std::chrono::hours;
  const DurationRange positive{Duration{100}, hours{1}};
  r.get_duration("header_read", positive, out.header_read);
  r.get_duration("body_read_gap", positive, out.body_read_gap);
  r.get_duration("keepalive_idle", {Duration{0}, hours{1}}, out.keepalive_idle);
  r.get_duration("send", positive, out.send);
  r.report_unknown_keys();
}

void read_io(TableReader r, ServerIo& out) {
  const toml::node* ring = r.get_integer("ring_entries", {64, 32768}, out.ring_entries);
  require_power_of_two(r, "ring_entries", ring, out.ring_entries);
  r.get_size("buffer_size", {4 * 1024, 1024 * 1024}, out.buffer_size);
  const toml::node* count = r.get_integer("buffer_count", {16, 32768}, out.buffer_count);
  require_power_of_two(r, "buffer_count", count, out.buffer_count);
  r.report_unknown_keys();
}

void read_server(TableReader r, ServerConfig& out) {
  read_listen(r, out.listen);
  r.get_integer("workers", {0, 1024}, out.workers);
  r.get_bool("pin_workers", out.pin_workers);
  r.get_duration("shutdown_delay", {Duration{0}, std::chrono::minutes{10}}, out.shutdown_delay);
  r.get_duration("shutdown_grace", {Duration{0}, std::chrono::hours{1}}, out.shutdown_grace);
  read_limits(r.table("limits"), out.limits);
  read_timeouts(r.table("timeouts"), out.timeouts);
  read_io(r.table("io"), out.io);
  {
    TableReader t = r.table("tls");
    const toml::node* cert = t.get_string("cert_file", out.tls.cert_file);
    const toml::node* key = t.get_string("key_file", out.tls.key_file);
    if ((cert != nullptr) != (key != nullptr)) {
      t.error_here(t.path_of(cert ? "key_file" : "cert_file"),
                   "is required when the other of cert_file and key_file is given");
    }
    t.report_unknown_keys();
  }
  r.report_unknown_keys();
}

void read_log(TableReader r, LogConfig& out) {
  std::string text;
  if (const toml::node* node = r.get_string("level", text)) {
    std::string why;
    if (!parse_log_level(text, out.level, why)) r.error(*node, r.path_of("level"), why);
  }
  r.report_unknown_keys();
}

void read_admin(TableReader r, AdminConfig& out) {
  if (const toml::node* node = r.get_node("listen")) {
    auto one = [&](const toml::node& n, const std::string& dotted) {
      read_listen_entry(r, n, dotted, out.listen);
    };
    if (const toml::array* list = node->as_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        one(*list->get(i), r.path_of("listen") + "[" + std::to_string(i) + "]");
      }
    } else {
      one(*node, r.path_of("listen"));
    }
  }
  std::string key;
  if (const toml::node* node = r.get_string("api_key", key)) {
    std::string why;
    if (!resolve_secret(key, out.api_key, why)) r.error(*node, r.path_of("api_key"), why);
  }
  r.report_unknown_keys();
}

// A model name or pattern: printable ASCII without spaces or quotes, so it
// is safe in a JSON string, a log line and a metric label as written.
bool valid_model_name(std::string_view m) {
  if (m.empty() || m.size() > 256) return false;
  for (char c : m) {
    if (c <= ' ' || c >= 127 || c == '"' || c == '\\') return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

// Arrays of tables ([[plugin]], [[provider]]): each entry read by `each`.
template <typename Fn>
void read_table_array(TableReader& top, std::string_view key, Fn each) {
  const toml::node* node = top.get_node(key);
  if (node == nullptr) return;
  const toml::array* list = node->as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    top.error(*node, key, type_error("an array of tables ([[" + std::string(key) + "]])", *node));
    return;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table* t = list->get(i)->as_table();
    each(TableReader(t, std::string(key) + "[" + std::to_string(i) + "]", t->source(),
                     top.problems()),
         *t, i);
  }
}

void require_name(TableReader& r, const toml::table& t, std::string& out) {
  if (const toml::node* node = r.get_string("name", out)) {
    if (!valid_name(out)) {
      r.error(*node, r.path_of("name"),
              "must be 1 to 64 characters of a-z, 0-9, '-' and '_', got " + quoted(out));
    }
  } else if (!t.contains("name")) {
    r.error_here(r.path_of("name"), "is required");
  }
}

void read_plugins(TableReader& top, std::vector<PluginConfig>& out) {
  read_table_array(top, "plugin", [&](TableReader r, const toml::table& t, size_t) {
    PluginConfig p;
    require_name(r, t, p.name);
    r.get_string("path", p.path);
    for (const PluginConfig& seen : out) {
      if (!p.name.empty() && seen.name == p.name) {
        r.error(*t.get("name"), r.path_of("name"), "plugin " + quoted(p.name) + " is declared twice");
      }
    }
    r.report_unknown_keys();
    out.push_back(std::move(p));
  });
}

void read_providers(TableReader& top, const std::shared_ptr<const toml::table>& root,
                    std::string_view source, Config& config) {
  read_table_array(top, "provider", [&](TableReader r, const toml::table& t, size_t i) {
    ProviderConfig p;
    require_name(r, t, p.name);
    if (!r.get_string("plugin", p.plugin)) {
      if (!t.contains("plugin")) {
        r.error_here(r.path_of("plugin"), "is required (the plugin that serves this provider)");
      }
    } else if (p.plugin != "local") {
      bool declared = false;
      for (const PluginConfig& pl : config.plugins) declared |= pl.name == p.plugin;
      if (!declared) {
        r.error(*t.get("plugin"), r.path_of("plugin"),
                "no [[plugin]] named " + quoted(p.plugin) + " is declared");
      }
      // Already an error (here or at the [[plugin]]): a partial config must
      // not hand this table to a plugin that was never properly declared.
      if (!declared || !valid_name(p.plugin)) p.plugin.clear();
    }
    if (const toml::node* node = r.get_node("models")) {
      const toml::array* list = node->as_array();
      if (list == nullptr || list->empty()) {
        r.error(*node, r.path_of("models"), "expected a non-empty array of model names");
      } else {
        for (size_t m = 0; m < list->size(); ++m) {
          const toml::node& item = *list->get(m);
          std::string dotted = r.path_of("models") + "[" + std::to_string(m) + "]";
          if (!item.is_string() || !valid_model_name(item.as_string()->get())) {
            r.error(item, dotted, "expected a model name or pattern: 1 to 256 printable characters without spaces or quotes");
            continue;
          }
          const std::string& model = item.as_string()->get();
          if (std::find(p.models.begin(), p.models.end(), model) != p.models.end()) {
            r.error(item, dotted, "model " + quoted(model) + " is listed twice");
            continue;
          }
          // Several providers may list one model: they form its implicit
          // route, weighted by their weights (see [[route]] for more).
          p.models.push_back(model);
        }
      }
    } else {
      r.error_here(r.path_of("models"), "is required (the model names this provider serves)");
    }
    if (const toml::node* node = r.get_node("model_map")) {
      const toml::table* map = node->as_table();
      if (map == nullptr) {
        r.error(*node, r.path_of("model_map"), type_error("a table of names", *node));
      } else {
        for (auto&& [k, v] : *map) {
          std::string dotted = r.path_of("model_map") + "." + std::string(k.str());
          if (!v.is_string() || v.as_string()->get().empty()) {
            r.error(v, dotted, "expected a non-empty upstream model name");
          } else if (std::find(p.models.begin(), p.models.end(), k.str()) == p.models.end()) {
            r.error(v, dotted, "maps " + quoted(k.str()) + ", which is not in models");
          } else {
            p.model_map.emplace_back(std::string(k.str()), v.as_string()->get());
          }
        }
      }
    }
    for (const ProviderConfig& seen : config.providers) {
      if (!p.name.empty() && seen.name == p.name) {
        r.error(*t.get("name"), r.path_of("name"), "provider " + quoted(p.name) + " is declared twice");
      }
    }
    std::string base_url;
    if (const toml::node* node = r.get_string("base_url", base_url)) {
      std::string why;
      if (!parse_base_url(base_url, p.upstream, why)) {
        r.error(*node, r.path_of("base_url"), "invalid URL " + quoted(base_url) + ": " + why);
      } else {
        p.has_upstream = true;
      }
    }
    {
      using std::chrono::hours;
      const DurationRange any{Duration{100}, hours{24}};
      UpstreamConfig& u = p.upstream;
      r.get_duration("connect_timeout", any, u.connect_timeout);
      r.get_duration("first_byte_timeout", any, u.first_byte_timeout);
      r.get_duration("stream_idle_timeout", any, u.stream_idle_timeout);
      r.get_duration("request_timeout", any, u.request_timeout);
      r.get_integer("max_connections", {0, 1'000'000}, u.max_connections);
      r.get_integer("max_idle_connections", {0, 100'000}, u.max_idle_connections);
      r.get_string("ca_file", u.ca_file);
      r.get_bool("tls_verify", u.tls_verify);
    }
    {
      uint64_t v = p.weight;
      if (r.get_integer("weight", {0, 1'000'000}, v)) p.weight = static_cast<uint32_t>(v);
      v = p.priority;
      if (r.get_integer("priority", {0, 1000}, v)) p.priority = static_cast<uint32_t>(v);
      r.get_duration("probe_interval", {Duration{0}, std::chrono::hours{24}}, p.probe_interval);
      r.get_duration("probe_timeout", {Duration{100}, std::chrono::minutes{5}}, p.probe_timeout);
      if (p.probe_interval.count() != 0 && p.probe_interval < Duration{1000}) {
        r.error_here(r.path_of("probe_interval"), "must be 0s (off) or at least 1s");
      }
    }
    // The other keys are the plugin's: it reads and validates them when it
    // is configured (src/plugin), which also reports the ones nobody read.
    auto table = std::make_shared<ProviderTable>();
    table->root = root;
    table->table = &t;
    table->source = std::string(source);
    table->path = "provider[" + std::to_string(i) + "]";
    table->host_keys = {"name",           "plugin",          "models",
                        "model_map",      "base_url",        "connect_timeout",
                        "first_byte_timeout", "stream_idle_timeout", "request_timeout",
                        "max_connections", "max_idle_connections", "ca_file", "tls_verify",
                        "weight",         "priority",        "probe_interval",
                        "probe_timeout"};
    p.table = std::move(table);
    config.providers.push_back(std::move(p));
  });
}

bool parse_strategy(std::string_view text, Strategy& out) {
  static constexpr std::pair<std::string_view, Strategy> kNames[] = {
      {"weighted", Strategy::weighted},
      {"priority", Strategy::priority},
      {"least_inflight", Strategy::least_inflight},
      {"latency", Strategy::latency}};
  for (const auto& [name, s] : kNames) {
    if (text == name) {
      out = s;
      return true;
    }
  }
  return false;
}

void read_route_target(TableReader& r, const toml::node& node, const std::string& dotted,
                       const Config& config, RouteTarget& out, bool& ok) {
  ok = false;
  if (const auto* name = node.as_string()) {
    out.provider = name->get();
  } else if (const toml::table* t = node.as_table()) {
    TableReader tr(t, dotted, t->source(), r.problems());
    if (!tr.get_string("provider", out.provider)) {
      if (!t->contains("provider")) tr.error_here(tr.path_of("provider"), "is required");
      tr.report_unknown_keys();
      return;
    }
    if (const toml::node* m = tr.get_string("model", out.model)) {
      if (!valid_model_name(out.model)) {
        tr.error(*m, tr.path_of("model"), "expected a model name without spaces or quotes");
      }
    }
    uint64_t v = 0;
    if (tr.get_integer("weight", {0, 1'000'000}, v)) {
      out.weight = static_cast<uint32_t>(v);
      out.weight_set = true;
    }
    if (tr.get_integer("priority", {0, 1000}, v)) {
      out.priority = static_cast<uint32_t>(v);
      out.priority_set = true;
    }
    tr.report_unknown_keys();
  } else {
    r.error(node, dotted, type_error("a provider name or a table {provider, model, weight, priority}", node));
    return;
  }
  if (config.provider_index(out.provider) < 0) {
    r.error(node, dotted, "no [[provider]] named " + quoted(out.provider));
    return;
  }
  ok = true;
}

void read_routes(TableReader& top, Config& config) {
  read_table_array(top, "route", [&](TableReader r, const toml::table& t, size_t) {
    RouteConfig route;
    if (const toml::node* node = r.get_string("model", route.model)) {
      if (!valid_model_name(route.model)) {
        r.error(*node, r.path_of("model"),
                "expected 1 to 256 printable characters without spaces or quotes");
      }
      for (const RouteConfig& seen : config.routes) {
        if (seen.model == route.model) {
          r.error(*node, r.path_of("model"), "a route for " + quoted(route.model) + " is declared twice");
        }
      }
    } else if (!t.contains("model")) {
      r.error_here(r.path_of("model"), "is required (the public model name or pattern)");
    }
    std::string strategy;
    if (const toml::node* node = r.get_string("strategy", strategy)) {
      if (!parse_strategy(strategy, route.strategy)) {
        r.error(*node, r.path_of("strategy"),
                "expected \"weighted\", \"priority\", \"least_inflight\" or \"latency\", got " +
                    quoted(strategy));
      }
    }
    if (const toml::node* node = r.get_node("providers")) {
      const toml::array* list = node->as_array();
      if (list == nullptr || list->empty()) {
        r.error(*node, r.path_of("providers"), "expected a non-empty array of providers");
      } else {
        for (size_t i = 0; i < list->size(); ++i) {
          RouteTarget target;
          bool ok = false;
          read_route_target(r, *list->get(i), r.path_of("providers") + "[" + std::to_string(i) + "]",
                            config, target, ok);
          if (ok) route.targets.push_back(std::move(target));
        }
      }
    } else {
      r.error_here(r.path_of("providers"), "is required (the providers that serve this model)");
    }
    r.report_unknown_keys();
    config.routes.push_back(std::move(route));
  });
}

void read_routing(TableReader r, RoutingConfig& out) {
  using std::chrono::hours;
  r.get_integer("max_attempts", {1, 10}, out.max_attempts);
  r.get_duration("attempt_deadline", {Duration{100}, hours{1}}, out.attempt_deadline);
  r.get_integer("failure_threshold", {1, 1000}, out.failure_threshold);
  if (const toml::node* node = r.get_node("error_ratio")) {
    double v = -1;
    if (node->is_floating_point()) v = node->as_floating_point()->get();
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    if (!(v > 0.0 && v <= 1.0)) {
      r.error(*node, r.path_of("error_ratio"), "expected a number above 0 and at most 1");
    } else {
      out.error_ratio = v;
    }
  }
  r.get_integer("min_requests", {1, 1'000'000}, out.min_requests);
  r.get_duration("window", {Duration{1000}, hours{1}}, out.window);
  r.get_duration("cooldown", {Duration{100}, hours{1}}, out.cooldown);
  const toml::node* max = r.get_duration("max_cooldown", {Duration{100}, hours{24}}, out.max_cooldown);
  r.get_duration("rate_limit_cooldown", {Duration{100}, hours{1}}, out.rate_limit_cooldown);
  if (out.max_cooldown < out.cooldown) {
    if (max) {
      r.error(*max, r.path_of("max_cooldown"), "must be at least routing.cooldown (" + format_duration(out.cooldown) + ")");
    } else {
      r.error_here(r.path_of("max_cooldown"), "must be at least routing.cooldown (" + format_duration(out.cooldown) + ")");
    }
  }
  r.report_unknown_keys();
}

bool hex_digest(std::string_view hex, uint8_t out[32]) {
  if (hex.size() != 64) return false;
  for (size_t i = 0; i < 32; ++i) {
    int v = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = hex[i * 2 + j];
      int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

void read_keys(TableReader& top, Config& config) {
  read_table_array(top, "key", [&](TableReader r, const toml::table& t, size_t) {
    KeyConfig key;
    require_name(r, t, key.name);
    for (const KeyConfig& seen : config.keys) {
      if (!key.name.empty() && seen.name == key.name) {
        r.error(*t.get("name"), r.path_of("name"), "key " + quoted(key.name) + " is declared twice");
      }
    }
    std::string secret, digest;
    const toml::node* secret_node = r.get_string("secret", secret);
    const toml::node* digest_node = r.get_string("sha256", digest);
    bool have = false;
    if (secret_node && digest_node) {
      r.error(*digest_node, r.path_of("sha256"), "give either secret or sha256, not both");
    } else if (secret_node) {
      std::string resolved, why;
      if (!resolve_secret(secret, resolved, why)) {
        r.error(*secret_node, r.path_of("secret"), why);
      } else if (resolved.size() < 8 || resolved.size() > 4096) {
        // Never echo the value: only its length is safe to report.
        r.error(*secret_node, r.path_of("secret"),
                "must be 8 to 4096 bytes long, got " + std::to_string(resolved.size()));
      } else {
        mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(resolved.data()), resolved.size(),
                           key.sha256, 0);
        have = true;
      }
    } else if (digest_node) {
      if (!hex_digest(digest, key.sha256)) {
        r.error(*digest_node, r.path_of("sha256"), "expected 64 hexadecimal characters (a SHA-256 digest)");
      } else {
        have = true;
      }
    } else if (!t.contains("secret") && !t.contains("sha256")) {
      r.error_here(r.path_of("secret"), "is required (or sha256: the hex digest of the secret)");
    }
    if (have) {
      for (const KeyConfig& seen : config.keys) {
        if (std::memcmp(seen.sha256, key.sha256, 32) == 0) {
          r.error(secret_node ? *secret_node : *digest_node, r.path_of(secret_node ? "secret" : "sha256"),
                  "the same secret is already used by key " + quoted(seen.name));
        }
      }
    }
    if (const toml::node* node = r.get_node("models")) {
      const toml::array* list = node->as_array();
      if (list == nullptr) {
        r.error(*node, r.path_of("models"), "expected an array of model names or patterns");
      } else {
        for (size_t m = 0; m < list->size(); ++m) {
          const toml::node& item = *list->get(m);
          if (!item.is_string() || !valid_model_name(item.as_string()->get())) {
            r.error(item, r.path_of("models") + "[" + std::to_string(m) + "]",
                    "expected a model name or pattern");
            continue;
          }
          key.models.push_back(item.as_string()->get());
        }
      }
    }
    constexpr IntRange any{0, 1ull << 50};
    r.get_integer("rpm", any, key.rpm);
    r.get_integer("tpm", any, key.tpm);
    r.get_integer("max_concurrent", {0, 1'000'000}, key.max_concurrent);
    r.get_integer("daily_tokens", any, key.daily_tokens);
    r.get_integer("monthly_tokens", any, key.monthly_tokens);
    r.report_unknown_keys();
    config.keys.push_back(std::move(key));
  });
}

void read_access_log(TableReader r, AccessLogConfig& out) {
  r.get_bool("enabled", out.enabled);
  r.get_string("path", out.path);
  if (const toml::node* node = r.get_node("sample")) {
    double v = -1;
    if (node->is_floating_point()) v = node->as_floating_point()->get();
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    if (!(v >= 0.0 && v <= 1.0)) {
      r.error(*node, r.path_of("sample"), "expected a number from 0 to 1 (the share of requests logged)");
    } else {
      out.sample = v;
    }
  }
  r.report_unknown_keys();
}

void read_request_limits(TableReader r, LimitsConfig& out) {
  r.get_integer("default_max_tokens", {1, 10'000'000}, out.default_max_tokens);
  r.report_unknown_keys();
}

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
                        std::string(e.description()));
  } catch (const std::exception& e) {
    // Out of memory and the like: still an answer, not an exception.
    return single_error(std::string(source_name) + ": cannot load config: " + e.what());
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

void in_file_order(std::vector<std::string>& problems, std::string_view source) {
  struct Line {
    bool positioned;
    unsigned long line;
    unsigned long column;
    std::string text;
  };
  // Reads the "<source>:<line>:<column>:" every positioned line starts with.
  auto position = [&](std::string_view text, unsigned long& line, unsigned long& column) {
    if (!text.starts_with(source) || text.size() <= source.size() || text[source.size()] != ':') {
      return false;
    }
    const char* p = text.data() + source.size() + 1;
    const char* end = text.data() + text.size();
    auto l = std::from_chars(p, end, line);
    if (l.ec != std::errc() || l.ptr == end || *l.ptr != ':') return false;
    auto c = std::from_chars(l.ptr + 1, end, column);
    return c.ec == std::errc() && c.ptr != end && *c.ptr == ':';
  };
  std::vector<Line> lines;
  lines.reserve(problems.size());
  for (std::string& text : problems) {
    Line l{false, 0, 0, std::move(text)};
    l.positioned = position(l.text, l.line, l.column);
    lines.push_back(std::move(l));
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::tuple(!a.positioned, a.line, a.column) < std::tuple(!b.positioned, b.line, b.column);
  });
  problems.clear();
  for (Line& l : lines) {
    if (std::find(problems.begin(), problems.end(), l.text) == problems.end()) {
      problems.push_back(std::move(l.text));
    }
  }
}

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

std::string_view strategy_name(Strategy s) {
  switch (s) {
    case Strategy::weighted: return "weighted";
    case Strategy::priority: return "priority";
    case Strategy::least_inflight: return "least_inflight";
    case Strategy::latency: return "latency";
  }
  return "weighted";
}

std::string ProviderTable::dotted(std::string_view key) const {
  std::string d = path;
  d += '.';
  d += key;
  return d;
}

std::string ProviderTable::format(const toml::source_region& where, std::string_view key,
                                  std::string_view message) const {
  std::string text = source;
  text += ':';
  text += std::to_string(where.begin.line);
  text += ':';
  text += std::to_string(where.begin.column);
  text += ": ";
  text += dotted(key);
  text += ": ";
  text += message;
  return text;
}

}  // namespace aigw::config
