// The anthropic provider plugin (plugins/anthropic): Anthropic's Messages API
// (Claude) behind the aigw plugin ABI, in HTTP mode, for OpenAI Chat
// Completions clients. Built as libaigw_anthropic.so (entry `aigw_plugin_entry`,
// the only exported symbol). The entry under the name below exists in every
// build, for programs that link the sources directly (the unit tests); with
// -DAIGW_ANTHROPIC_STATIC the sources define only that one, so they can sit
// next to other plugins in one binary.
#pragma once

#include "aigw_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

const aigw_plugin_def* aigw_anthropic_plugin_entry(void);

#ifdef __cplusplus
}
#endif
