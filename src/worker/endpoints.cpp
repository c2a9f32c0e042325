#include "worker/endpoints.h"

#include "auth/keys.h"
#include "json/write.h"
#include "worker/worker.h"

namespace aigw::worker {

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

void chat_completions(Exchange& ex) {
  ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_CHAT_COMPLETIONS);
}
void completions(Exchange& ex) { ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_COMPLETIONS); }
void embeddings(Exchange& ex) { ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_EMBEDDINGS); }

// Answered from the routing snapshot, never by asking a provider: every
// public model name once (patterns are not names and are not listed), and
// the provider of its first target. No keys, no URLs.
void models(Exchange& ex) {
  std::string body = R"({"object":"list","data":[)";
  const plugin::Generation* gen = ex.worker().plugins().generation();
  const RequestContext* rc = ex.context();
  if (gen != nullptr && gen->routes) {
    bool first = true;
    for (const std::string& m : gen->routes->public_models()) {
      const routing::Route* route = gen->routes->find(m);
      if (route == nullptr || route->targets.empty()) continue;
      // A client key sees only the models it may use.
      if (rc && rc->key >= 0 && gen->keys && !gen->keys->model_allowed(rc->key, m)) continue;
      if (!first) body += ',';
      first = false;
      body += R"({"id":)";
      json::append_string(body, m);
      body += R"(,"object":"model","created":0,"owned_by":)";
      json::append_string(body, gen->config->providers[route->targets[0].provider].name);
      body += '}';
    }
  }
  body += "]}";
  ex.respond(200, "application/json", body);
}

// Admin endpoints need `Authorization: Bearer <admin.api_key>` when a key is
// configured. Answers 401 itself and returns false otherwise.
bool admin_allowed(Exchange& ex) {
  const std::string& key = ex.worker().config().admin.api_key;
  if (key.empty()) return true;
  // The same Bearer rule and compare as client keys (src/auth).
  if (auth::secret_matches(auth::bearer(ex.head().header("authorization")), key)) return true;
  ex.error(401, "invalid_admin_key", "This endpoint needs the admin key (Authorization: Bearer ...).",
           {{"WWW-Authenticate", "Bearer"}});
  return false;
}

void reload_plugins(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::reload_plugins);
}
void reload_config(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::reload_config);
}
void providers(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::providers);
}
void metrics_scrape(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::metrics);
}

}  // namespace

void install_core_routes(Router& router) {
  router.add("/health", {http::Method::get}, health);
  router.add("/ready", {http::Method::get}, ready);
  router.add("/v1/chat/completions", {http::Method::post}, chat_completions);
  router.add("/v1/completions", {http::Method::post}, completions);
  router.add("/v1/embeddings", {http::Method::post}, embeddings);
  router.add("/v1/models", {http::Method::get}, models);
}

void install_admin_routes(Router& router) {
  router.add("/health", {http::Method::get}, health);
  router.add("/ready", {http::Method::get}, ready);
  router.add("/admin/plugins/reload", {http::Method::post}, reload_plugins);
  router.add("/admin/reload", {http::Method::post}, reload_config);
  router.add("/admin/providers", {http::Method::get}, providers);
  router.add("/metrics", {http::Method::get}, metrics_scrape);
}

}  // namespace aigw::worker
