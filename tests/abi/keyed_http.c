/* An ABI 1.1 HTTP-mode plugin with three upstream keys: key_count says so,
 * and build_upstream sends the key the host chose (key_index). */
#include "fixture.h"

static uint32_t keyed_key_count(void* config) {
  (void)config;
  return 3;
}

static const aigw_hooks hooks = {
  sizeof(aigw_hooks), AIGW_MODE_HTTP, FX_HOOKS_COMMON,
  fx_build_upstream, fx_on_upstream_head, fx_on_upstream_body,
  NULL, /* health_probe */
  NULL, NULL, NULL, NULL, /* direct-mode hooks */
  NULL, /* on_client_gone */
  keyed_key_count,
  0 /* native_dialects (1.3) */
};

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "keyed_http", "1.1.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
