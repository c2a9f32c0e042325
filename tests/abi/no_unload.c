/* Valid, and asks never to be dlclosed: hot swap drops it but its code
 * stays mapped. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "no_unload", "1.0.0", AIGW_PLUGIN_FLAG_NO_UNLOAD, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
