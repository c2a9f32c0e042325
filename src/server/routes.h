// The routes the core itself serves: liveness and readiness.
#pragma once

#include "server/router.h"

namespace aigw::server {

void install_core_routes(Router& router);
void install_admin_routes(Router& router);

}  // namespace aigw::server
