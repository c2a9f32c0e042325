/* A definition without a hooks table. */
#include "aigw_plugin.h"

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "null_hooks", "1.0.0", 0, 0, NULL
};

AIGW_PLUGIN_ENTRY { return &def; }
