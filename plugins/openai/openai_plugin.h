// The openai provider plugin (plugins/openai): every OpenAI-compatible HTTP
// API behind the aigw plugin ABI, in HTTP mode. Built as libaigw_openai.so
// (entry `aigw_plugin_entry`, the only exported symbol). The entry under the
// name below exists in every build, for programs that link the sources
// directly (the unit tests); with -DAIGW_OPENAI_STATIC the sources define
// only that one, so they can sit next to other plugins in one binary.
#pragma once

#include "aigw_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

const aigw_plugin_def* aigw_openai_plugin_entry(void);

#ifdef __cplusplus
}
#endif
