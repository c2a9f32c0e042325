// The [[provider]] table of a `plugin = "local"` provider, validated once in
// config_new and read-only afterwards (workers share it without locks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::local_plugin {

enum class Mode { demo, process };

struct Config {
  const aigw_host* host = nullptr;
  aigw_host_plugin* plugin = nullptr;
  Mode mode = Mode::demo;
  // demo
  uint32_t chunk_words = 1;
  uint64_t chunk_interval_ms = 20;
  std::string reply_prefix = "You said: ";
  // process
  std::vector<std::string> command;
  uint64_t timeout_ms = 120'000;
  uint32_t max_processes = 4;  // per worker instance
};

// Reads every key the plugin owns through the host's config callbacks.
// Returns AIGW_OK, or AIGW_ERR_CONFIG with a message naming the key.
aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error);

}  // namespace aigw::local_plugin
