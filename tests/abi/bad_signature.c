/* Claims the right version but another pointer size and byte order. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, AIGW_ABI_MINOR, "aigw-abi1-p32-be",
  "bad_signature", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
