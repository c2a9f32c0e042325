// The local provider plugin (plugins/local): demo echo model and local
// processes behind the aigw plugin ABI. Built as libaigw_local.so (entry
// `aigw_plugin_entry`) and, with -DAIGW_LOCAL_BUILTIN, linked into aigw as
// the built-in fallback, whose entry has the name below.
#pragma once

#include "aigw_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

const aigw_plugin_def* aigw_local_plugin_entry(void);

#ifdef __cplusplus
}
#endif
