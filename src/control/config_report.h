// GET /admin/config: the plugins loaded and the configuration in effect, as
// JSON for the dashboard's "Plugins and config" panel, with every secret
// left out. Built on the control thread, which owns both.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "plugin/generation.h"

namespace aigw::control {

// What a secret reads as in the report. A value written "env:NAME" in a
// provider's table reads as that reference (the name, never the value).
inline constexpr std::string_view kRedacted = "<redacted>";

// The configuration as JSON. `running` is the config the process started
// with: the settings that need a restart (needs_restart in serve.cpp) are
// shown from it, because a reload never applies them; everything else
// comes from `current`, the latest generation's. Secrets the host resolved
// (admin.api_key, [state.redis] password) read "<redacted>"; client keys
// show no secret at all (only its digest is kept); the keys of a
// [[provider]] table that belong to its plugin (api_key, Vertex
// credentials, anything the host cannot judge) show numbers and booleans
// as written, "env:NAME" references as written and every other string as
// "<redacted>".
void write_config_json(std::string& out, const config::Config& running, const config::Config& current);

// The plugins of a generation, one entry per plugin name: the file, the
// ABI version negotiated, the plugin's own version and its mode.
void write_plugins_json(std::string& out, const plugin::Generation& gen);

}  // namespace aigw::control
