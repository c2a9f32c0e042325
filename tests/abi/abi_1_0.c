/* A plugin built against ABI 1.0: its hooks table ends at on_client_gone
 * (no key_count) and it declares minor 0. A 1.1 host must load it, speak
 * 1.0 to it, and never read past its table. */
#include <stddef.h>

#include "fixture.h"

static const aigw_hooks hooks = {
  offsetof(aigw_hooks, key_count), AIGW_MODE_DIRECT, FX_HOOKS_COMMON,
  NULL, NULL, NULL, NULL,
  fx_request_start, NULL, NULL, NULL,
  NULL, NULL, 0
};

static const aigw_plugin_def def = {
  sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, 0, AIGW_ABI_SIGNATURE,
  "abi_1_0", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
