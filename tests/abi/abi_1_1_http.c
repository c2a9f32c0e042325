/* A plugin built against ABI 1.1 (tests/abi/abi_1_1/aigw_plugin.h, the
 * header as it was released): HTTP mode, forwards the upstream body. It has
 * no aigw_host.commit to call, so for it the host holds a stream back until
 * the emitted bytes look like OpenAI content. A 1.2 host must load it and
 * answer through it unchanged. */
#include "fixture.h"

#if AIGW_ABI_MINOR != 1
#error "abi_1_1_http must be compiled against the frozen 1.1 header"
#endif

static const aigw_hooks hooks = FX_HTTP_HOOKS;

static const aigw_plugin_def def = {
  AIGW_PLUGIN_DEF_HEADER, "abi_1_1_http", "1.1.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
