// Demo mode: echoes the user's text back as an OpenAI response, streamed in
// word chunks on host timers, plus deterministic embeddings. Everything it
// sends is a function of the request and the config (and the clock for
// "created"), so tests and load runs see the same bytes every time.
#pragma once

#include "request.h"

namespace aigw::local_plugin {

// In request_new, after parsing: builds the reply text.
void demo_prepare(Request& r);
aigw_status demo_start(Request& r);
void demo_on_timer(Request& r, uint64_t token);

}  // namespace aigw::local_plugin
