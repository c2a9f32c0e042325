/* What a plugin built against a future ABI 2.0 header looks like to a 1.0
 * host: only the frozen prefix (struct_size, versions, signature, name) can
 * be trusted, and the host must refuse it by its version. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  sizeof(aigw_plugin_def), 2, 0, "aigw-abi2-" AIGW_ABI_PTR "-" AIGW_ABI_BYTE_ORDER,
  "wrong_major", "2.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
