/* A mode this host does not know (a later minor might add one). */
#include "fixture.h"

static const aigw_hooks hooks = {
  sizeof(aigw_hooks), 7, FX_HOOKS_COMMON,
  NULL, NULL, NULL, NULL,
  fx_request_start, NULL, NULL, NULL,
  NULL, NULL, 0
};

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "unknown_mode", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
