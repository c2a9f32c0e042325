// The [[provider]] table of a `plugin = "anthropic"` provider, validated
// once in config_new and read-only afterwards (workers share it without
// locks). base_url is aigw's own key (it owns the connection), not read here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::anthropic_plugin {

struct Config {
  Config() = default;
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;
  // The keys are wiped before their memory goes back to the allocator.
  ~Config();

  const aigw_host* host = nullptr;
  aigw_host_plugin* plugin = nullptr;
  // One per routing channel, sent as the x-api-key header value.
  // Secret: never log, never put into a URL or a message.
  std::vector<std::string> keys;
};

// The header the Messages API reads the key from.
constexpr std::string_view kKeyHeader = "x-api-key";
// The API version every request names; 2023-06-01 is the version the
// Messages API is documented against.
constexpr std::string_view kVersionHeader = "anthropic-version";
constexpr std::string_view kVersion = "2023-06-01";

// Reads every key the plugin owns through the host's config callbacks.
// Returns AIGW_OK, or AIGW_ERR_CONFIG with a message naming the key (never
// a secret's value).
aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error);

}  // namespace aigw::anthropic_plugin
