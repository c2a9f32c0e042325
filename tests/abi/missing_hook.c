/* Direct mode without request_start: it could never answer a request. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(NULL);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "missing_hook", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
