/* The smallest valid HTTP-mode plugin: forwards the client request and the
 * upstream body unchanged. */
#include "fixture.h"

static const aigw_hooks hooks = FX_HTTP_HOOKS;

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "good_http", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
