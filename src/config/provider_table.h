// The TOML side of a [[provider]] table, for the plugin host: the plugin's
// keys are read from here through the ABI's config callbacks, and problems
// are reported in the same "file:line:column: key: message" form as the
// rest of the config.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"

namespace aigw::config {

struct ProviderTable {
  std::shared_ptr<const toml::table> root;  // keeps `table` alive
  const toml::table* table = nullptr;
  std::string source;    // the config file name
  std::string path;      // "provider[1]" as used in messages
  // The keys the host itself read, in the order it asked for them (its
  // TableReader's known()): the plugin's reader counts them as known.
  std::vector<std::string> host_keys;

  // "aigw.toml:12:1: provider[1].chunk_words: must be ..."
  std::string format(const toml::source_region& where, std::string_view key,
                     std::string_view message) const;
  std::string dotted(std::string_view key) const;
};

}  // namespace aigw::config
