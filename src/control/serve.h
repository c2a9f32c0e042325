// The control thread's side of serving: start the workers, watch signals,
// drain on SIGTERM/SIGINT, and decide the exit code.
#pragma once

#include <memory>

#include "config/config.h"

namespace aigw::control {

// Runs until shutdown. Returns the process exit code: 0 after a clean drain
// (or a drain cut short by the grace period), 1 when start-up failed.
int serve(std::shared_ptr<const config::Config> cfg);

}  // namespace aigw::control
