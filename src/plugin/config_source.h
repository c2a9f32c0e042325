// The host half of aigw_config_source: one provider's TOML table as a plugin
// reads it during config_new. Reading goes through the host's own schema
// reader (config/schema_reader.h), so a plugin's keys get the same type
// messages, positions and "did you mean" as the host's.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "config/provider_table.h"
#include "config/schema_reader.h"

struct aigw_config_source {
  const aigw::config::ProviderTable* table = nullptr;
  // Every problem found, as "file:line:column: key: message" lines; filled
  // by report_unknown().
  std::vector<std::string> errors;
  // Resolved secrets handed to the plugin stay valid until config_new
  // returns; a deque keeps earlier ones in place. Wiped on destruction.
  std::deque<std::string> secrets;

  aigw_config_source() = default;
  // The reader refers to the problems beside it.
  aigw_config_source(const aigw_config_source&) = delete;
  aigw_config_source& operator=(const aigw_config_source&) = delete;

  ~aigw_config_source() {
    for (std::string& s : secrets) {
      volatile char* p = s.data();
      for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
    }
  }

  // The reader of `table`, made on first use (`table` is set after
  // construction). It already knows the keys the host read.
  aigw::config::TableReader& reader() {
    if (!reader_) {
      problems_.emplace(table->source);
      reader_.emplace(table->table, table->path, table->table->source(), *problems_);
      reader_->mark_known(table->host_keys);
    }
    return *reader_;
  }

  // The node under `key`, marked as read.
  const toml::node* get(std::string_view key) { return reader().get_node(key); }

  std::string& keep_secret() { return secrets.emplace_back(); }

  // Call once config_new has returned: keys nobody (host or plugin) read
  // become "unknown key" errors, each with the nearest key the host or the
  // plugin asked for when one is close, and every problem moves to
  // `errors`. `complete`: config_new succeeded, so the plugin read every key
  // it knows; otherwise only the likely typos are reported (see
  // TableReader::report_unknown_plugin_keys).
  void report_unknown(std::string_view plugin_name, bool complete) {
    reader().report_unknown_plugin_keys(plugin_name, complete);
    for (std::string& e : problems_->take()) errors.push_back(std::move(e));
  }

 private:
  std::optional<aigw::config::Problems> problems_;
  std::optional<aigw::config::TableReader> reader_;
};
