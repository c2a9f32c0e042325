// The [[provider]] table of a `plugin = "openai"` provider, validated once in
// config_new and read-only afterwards (workers share it without locks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::openai_plugin {

enum class ApiStyle { openai, azure };

struct ExtraHeader {
  std::string name;
  std::string value;
};

struct Config {
  Config() = default;
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;
  // The credential values are wiped before their memory goes back to the
  // allocator.
  ~Config();

  const aigw_host* host = nullptr;
  aigw_host_plugin* plugin = nullptr;
  ApiStyle style = ApiStyle::openai;
  // The ready-made credential header value per key: "Bearer <key>" for
  // openai style, "<key>" for azure. Secret: never log or copy into
  // messages.
  std::vector<std::string> credentials;
  std::vector<ExtraHeader> extra_headers;
  std::string azure_api_version;
  bool include_usage = true;
  std::string probe_path;  // "/models" or "/openai/models?api-version=..."

  std::string_view credential_header() const {
    return style == ApiStyle::azure ? std::string_view("api-key") : std::string_view("Authorization");
  }
};

// Reads every key the plugin owns through the host's config callbacks.
// Returns AIGW_OK, or AIGW_ERR_CONFIG with a message naming the key (never
// a secret's value).
aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error);

}  // namespace aigw::openai_plugin
