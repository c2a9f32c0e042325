/* The entry exists but returns no definition. */
#include "aigw_plugin.h"

AIGW_PLUGIN_ENTRY { return NULL; }
