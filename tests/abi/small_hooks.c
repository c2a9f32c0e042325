/* A hooks table that claims to end after its mode field. */
#include "fixture.h"

static const aigw_hooks hooks = {
  8, AIGW_MODE_DIRECT, FX_HOOKS_COMMON,
  NULL, NULL, NULL, NULL,
  fx_request_start, NULL, NULL, NULL,
  NULL, NULL, 0
};

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "small_hooks", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
