#include "server/routes.h"

#include "server/worker.h"

namespace aigw::server {

namespace {

// Liveness: answers 200 for as long as the process serves at all.
void health(Exchange& ex) { ex.respond(200, "application/json", R"({"status":"ok"})"); }

// Readiness: 200 once every worker accepts, 503 while starting or draining,
// so a load balancer stops sending traffic before we go away.
void ready(Exchange& ex) {
  if (ex.worker().ready()) {
    ex.respond(200, "application/json", R"({"status":"ready"})");
  } else if (ex.worker().draining()) {
    ex.error(503, "draining", "This server is shutting down.");
  } else {
    ex.error(503, "starting", "This server is still starting.");
  }
}

}  // namespace

void install_core_routes(Router& router) {
  router.add("/health", {http::Method::get}, health);
  router.add("/ready", {http::Method::get}, ready);
}

}  // namespace aigw::server
