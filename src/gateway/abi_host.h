// The aigw_host table handed to every plugin in config_new: what the
// control thread passes to plugin::build_generation.
#pragma once

#include "aigw_plugin.h"

namespace aigw::gateway {

const aigw_host* host_table();

}  // namespace aigw::gateway
