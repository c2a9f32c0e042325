// The host half of aigw_config_source: one provider's TOML table as a plugin
// reads it during config_new. Remembers which keys were read (the rest are
// reported as unknown) and collects problems in the config's error format.
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "config/provider_table.h"
#include "config/suggest.h"

struct aigw_config_source {
  const aigw::config::ProviderTable* table = nullptr;
  std::vector<std::string> read;
  std::vector<std::string> errors;
  // Resolved secrets handed to the plugin stay valid until config_new
  // returns; a deque keeps earlier ones in place. Wiped on destruction.
  std::deque<std::string> secrets;

  ~aigw_config_source() {
    for (std::string& s : secrets) {
      volatile char* p = s.data();
      for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
    }
  }

  const toml::node* get(std::string_view key) {
    read.emplace_back(key);
    return table->table->get(key);
  }

  aigw_status type_error(std::string_view key, const toml::node& n, std::string_view expected) {
    return value_error(key, n, "expected " + std::string(expected));
  }

  aigw_status value_error(std::string_view key, const toml::node& n, const std::string& message) {
    errors.push_back(table->format(n.source(), key, message));
    return AIGW_ERR_INVALID;
  }

  std::string& keep_secret() { return secrets.emplace_back(); }

  // Keys nobody (host or plugin) read, as "unknown key" errors, each with
  // the nearest key the host or the plugin asked for when one is close.
  // `complete`: config_new succeeded, so the plugin read every key it knows.
  // A plugin that gave up early may not have asked for all of its keys yet;
  // then only keys near one that was asked for (and so most likely typos of
  // it) are reported.
  void report_unknown(std::string_view plugin_name, bool complete) {
    std::vector<std::string> asked = table->host_keys;
    asked.insert(asked.end(), read.begin(), read.end());
    for (auto&& [k, node] : *table->table) {
      std::string_view key = k.str();
      if (std::find(asked.begin(), asked.end(), key) != asked.end()) continue;
      const std::string_view near = aigw::config::closest_key(key, asked);
      if (!complete && near.empty()) continue;
      std::string message = "unknown key for plugin \"";
      message += plugin_name;
      message += '"';
      if (!near.empty()) {
        message += " (did you mean \"";
        message += table->dotted(near);
        message += "\"?)";
      }
      errors.push_back(table->format(k.source().begin.line ? k.source() : node.source(), key,
                                     message));
    }
  }
};
