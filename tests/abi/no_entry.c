/* A valid definition behind the wrong symbol name: the host must say the
 * file is not an aigw plugin, not crash looking for hooks. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "no_entry", "1.0.0", 0, 0, &hooks
};

AIGW_EXPORT const aigw_plugin_def* aigw_plugin_entry_v1(void);
AIGW_EXPORT const aigw_plugin_def* aigw_plugin_entry_v1(void) { return &def; }
