// The configuration half of the aigw_host callbacks (see aigw_plugin.h):
// logging, the clock, and reading a provider's keys during config_new.
// The whole table, request callbacks included, is the gateway's
// (gateway/abi_host.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "aigw_plugin.h"

namespace aigw::plugin {

void host_log(aigw_host_plugin* plugin, aigw_log_level level, aigw_plugin_str msg);
uint64_t host_now_ns();
aigw_status cfg_string(aigw_config_source* src, aigw_plugin_str key, aigw_host_str* out);
aigw_status cfg_int(aigw_config_source* src, aigw_plugin_str key, int64_t* out);
aigw_status cfg_bool(aigw_config_source* src, aigw_plugin_str key, int32_t* out);
aigw_status cfg_duration(aigw_config_source* src, aigw_plugin_str key, uint64_t* out);
aigw_status cfg_array_len(aigw_config_source* src, aigw_plugin_str key, size_t* out);
aigw_status cfg_array_string(aigw_config_source* src, aigw_plugin_str key, size_t index, aigw_host_str* out);
aigw_status cfg_secret(aigw_config_source* src, aigw_plugin_str key, size_t index, aigw_host_str* out);

}  // namespace aigw::plugin
