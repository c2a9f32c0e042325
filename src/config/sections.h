// The reader of each section of the schema, one file per section (see
// README.md), and the name rules several sections share. Internal to
// src/config: build() in config.cpp calls them in file order of the schema,
// each on the TableReader of its table.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/config.h"
#include "config/schema_reader.h"

namespace aigw::config {

// server.cpp: [server] with [server.limits], [server.timeouts], [server.io], [server.tls].
void read_server(TableReader r, ServerConfig& out);
// One listen address of a list; `dotted` names it in messages. Shared with [admin].
void read_listen_entry(TableReader& r, const toml::node& node, const std::string& dotted,
                       std::vector<ListenAddr>& out);

// admin.cpp: [admin].
void read_admin(TableReader r, AdminConfig& out);

// logging.cpp: [log] and [access_log].
void read_log(TableReader r, LogConfig& out);
void read_access_log(TableReader r, AccessLogConfig& out);

// state.cpp: [state] (the usage store). Its [state.redis] sub-table is
// accepted here and read by the Redis feature's own reader.
void read_state(TableReader r, StateConfig& out);

// providers.cpp: [[plugin]] and [[provider]]. A provider keeps its TOML
// table (`root` keeps it alive) for its plugin to read its own keys.
void read_plugins(TableReader& top, std::vector<PluginConfig>& out);
void read_providers(TableReader& top, const std::shared_ptr<const toml::table>& root,
                    std::string_view source, Config& config);

// routing.cpp: [[route]] and [routing].
void read_routes(TableReader& top, Config& config);
void read_routing(TableReader r, RoutingConfig& out);

// keys.cpp: [[key]].
void read_keys(TableReader& top, Config& config);

// limits.cpp: [limits] (token estimates; [server.limits] is server.cpp's).
void read_request_limits(TableReader r, LimitsConfig& out);

// state_redis.cpp: [state.redis], read from the reader of [state] (whose own
// keys belong to the usage store's reader).
void read_state_redis(TableReader& state, RedisConfig& out);

// names.cpp. A model name or pattern: printable ASCII without spaces or
// quotes, so it is safe in a JSON string, a log line and a metric label as
// written.
bool valid_model_name(std::string_view m);
// A name of a plugin, provider or key: 1 to 64 of a-z, 0-9, '-', '_'.
bool valid_name(std::string_view name);
// The required "name" key of an entry of [[plugin]], [[provider]] or [[key]].
void require_name(TableReader& r, const toml::table& t, std::string& out);

}  // namespace aigw::config
