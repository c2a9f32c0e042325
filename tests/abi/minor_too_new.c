/* Built against a newer minor than the host speaks: it may rely on host
 * callbacks the host does not have, so the host refuses it. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, AIGW_ABI_MINOR + 3, AIGW_ABI_SIGNATURE,
  "minor_too_new", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
