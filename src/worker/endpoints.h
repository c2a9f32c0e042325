// The routes the core itself serves: liveness and readiness.
#pragma once

#include "worker/router.h"

namespace aigw::worker {

void install_core_routes(Router& router);
void install_admin_routes(Router& router);

}  // namespace aigw::worker
