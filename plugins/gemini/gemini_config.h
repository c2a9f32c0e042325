// The [[provider]] table of a `plugin = "gemini"` provider, validated once
// in config_new and read-only afterwards (workers share it without locks).
// base_url is aigw's own key (it owns the connection), not read here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::gemini_plugin {

struct Config {
  Config() = default;
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;
  // The keys are wiped before their memory goes back to the allocator.
  ~Config();

  const aigw_host* host = nullptr;
  aigw_host_plugin* plugin = nullptr;
  // One per routing channel, sent as the x-goog-api-key header value.
  // Secret: never log, never put into a URL or a message.
  std::vector<std::string> keys;
};

// The header Google AI Studio reads the key from. The `key=` query
// parameter also works upstream, but a URL ends up in access logs and
// error messages; a header does not.
constexpr std::string_view kKeyHeader = "x-goog-api-key";

// Reads every key the plugin owns through the host's config callbacks.
// Returns AIGW_OK, or AIGW_ERR_CONFIG with a message naming the key (never
// a secret's value). Keys nobody read are reported by the host as unknown,
// with a did-you-mean.
aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error);

}  // namespace aigw::gemini_plugin
