// Process mode: runs the configured command per request, writes the prompt
// to its stdin and turns its stdout into an OpenAI response (streamed as it
// arrives, or collected and sent once the child exits with status 0).
#pragma once

#include <string>

#include "request.h"

namespace aigw::local_plugin {

// In request_new: refuses what process mode cannot serve and takes one of
// the worker's max_processes slots. AIGW_OK, or an error with `error` set.
aigw_status process_admit(Request& r, std::string& error);
aigw_status process_start(Request& r);
void process_on_output(Request& r, const aigw_host_bytes* chunks, size_t count, int32_t eof);
void process_on_exit(Request& r, int32_t exit_status);
void process_on_timer(Request& r, uint64_t token);
void process_client_gone(Request& r);
// In request_destroy: gives the slot back if the exit never came.
void process_release(Request& r);

}  // namespace aigw::local_plugin
