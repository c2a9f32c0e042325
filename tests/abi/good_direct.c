/* The smallest valid direct-mode plugin: answers every request with "{}". */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "good_direct", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
