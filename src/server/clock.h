// The request path's clock lives in src/io/clock.h; this name is kept for the
// files of src/server that have not moved yet.
#pragma once

#include "io/clock.h"

namespace aigw::server {
using io::mono_ns;
}  // namespace aigw::server
