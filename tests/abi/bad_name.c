/* Names end up in file names, logs and metric labels: [a-z0-9_-]+ only. */
#include "fixture.h"

static const aigw_hooks hooks = FX_DIRECT_HOOKS(fx_request_start);

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "Bad Name!", "1.0.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
