/* An ABI 1.3 plugin that serves Anthropic's Messages API natively: it
 * declares AIGW_DIALECT_ANTHROPIC_MESSAGES in native_dialects, written with
 * designated initialisers as a plugin author would (the fields it does not
 * name are zero). Otherwise the smallest HTTP plugin: it forwards the client
 * request and the upstream body unchanged, which for a native dialect is
 * the whole job. */
#include "fixture.h"

static const aigw_hooks hooks = {
  .struct_size = sizeof(aigw_hooks),
  .mode = AIGW_MODE_HTTP,
  .config_new = fx_config_new,
  .config_destroy = fx_config_destroy,
  .instance_new = fx_instance_new,
  .instance_destroy = fx_instance_destroy,
  .request_new = fx_request_new,
  .request_destroy = fx_request_destroy,
  .build_upstream = fx_build_upstream,
  .on_upstream_head = fx_on_upstream_head,
  .on_upstream_body = fx_on_upstream_body,
  .native_dialects = AIGW_DIALECT_ANTHROPIC_MESSAGES,
};

/* Minor 3 by hand rather than AIGW_PLUGIN_DEF_HEADER: the fixture stands
 * for a plugin that needs 1.3 and nothing later. */
static const aigw_plugin_def def = {
  sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, 3, AIGW_ABI_SIGNATURE,
  "native_messages", "1.3.0", 0, 0, &hooks
};

AIGW_PLUGIN_ENTRY { return &def; }
