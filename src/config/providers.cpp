// [[plugin]] and [[provider]]: which plugin serves which models, and where.
// A provider's table keeps the keys the host does not read for its plugin
// (src/plugin reads them through the ABI's config callbacks).
#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/provider_table.h"
#include "config/sections.h"

namespace aigw::config {

bool is_bundled_plugin(std::string_view name) {
  for (std::string_view b : kBundledPlugins) {
    if (b == name) return true;
  }
  return false;
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
      if (!declared && is_bundled_plugin(p.plugin)) {
        // Shipped with aigw: found by name where aigw was built or
        // installed, as if `[[plugin]] name = "<it>"` had been written.
        config.plugins.push_back(PluginConfig{p.plugin, {}});
        declared = true;
      }
      if (!declared) {
        r.error(*t.get("plugin"), r.path_of("plugin"),
                "no [[plugin]] named " + quoted(p.plugin) + " is declared (" +
                    std::string(kBundledPluginList) +
                    " load by name; another plugin needs a [[plugin]] table with its name and path)");
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
    // The keys read above, derived rather than listed again: a new host
    // key cannot be forgotten here and then reported as the plugin's.
    table->host_keys = r.known();
    p.table = std::move(table);
    config.providers.push_back(std::move(p));
  });
}

std::string ProviderTable::dotted(std::string_view key) const {
  std::string d = path;
  d += '.';
  d += key;
  return d;
}

std::string ProviderTable::format(const toml::source_region& where, std::string_view key,
                                  std::string_view message) const {
  return problem_line(source, where, dotted(key), message);
}

}  // namespace aigw::config
