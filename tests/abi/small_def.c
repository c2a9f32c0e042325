/* A definition whose struct_size does not even cover the frozen prefix. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  12, AIGW_ABI_MAJOR, AIGW_ABI_MINOR, AIGW_ABI_SIGNATURE, "small_def", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
