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
// Anthropic's Messages API: served by any provider (src/gateway/messages_api.cpp).
void messages(Exchange& ex) { ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_MESSAGES); }
void count_tokens(Exchange& ex) {
  ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS);
}

// Answered from the routing snapshot, never by asking a provider: every
// public model name once (patterns are not names and are not listed), and
// the provider of its first target. No keys, no URLs. In Anthropic's shape
// when the request carries `anthropic-version` (Anthropic's SDKs always do),
// in OpenAI's otherwise.
void models(Exchange& ex) {
  const bool anthropic = !ex.head().header("anthropic-version").empty();
  std::string body = anthropic ? R"({"data":[)" : R"({"object":"list","data":[)";
  std::string first_id, last_id;
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
      if (first) first_id = m;
      last_id = m;
      first = false;
      if (anthropic) {
        body += R"({"type":"model","id":)";
        json::append_string(body, m);
        body += R"(,"display_name":)";
        json::append_string(body, m);
        body += R"(,"created_at":"1970-01-01T00:00:00Z"})";
        continue;
      }
      body += R"({"id":)";
      json::append_string(body, m);
      body += R"(,"object":"model","created":0,"owned_by":)";
      json::append_string(body, gen->config->providers[route->targets[0].provider].name);
      body += '}';
    }
  }
  body += ']';
  if (anthropic) {
    // One page holds every model: there is no next one.
    body += R"(,"has_more":false,"first_id":)";
    if (first_id.empty()) {
      body += "null";
    } else {
      json::append_string(body, first_id);
    }
    body += R"(,"last_id":)";
    if (last_id.empty()) {
      body += "null";
    } else {
      json::append_string(body, last_id);
    }
  }
  body += '}';
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
void usage(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::usage);
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
  router.add("/v1/messages", {http::Method::post}, messages);
  router.add("/v1/messages/count_tokens", {http::Method::post}, count_tokens);
}

void install_admin_routes(Router& router) {
  router.add("/health", {http::Method::get}, health);
  router.add("/ready", {http::Method::get}, ready);
  router.add("/admin/plugins/reload", {http::Method::post}, reload_plugins);
  router.add("/admin/reload", {http::Method::post}, reload_config);
  router.add("/admin/providers", {http::Method::get}, providers);
  router.add("/admin/usage", {http::Method::get}, usage);
  router.add("/metrics", {http::Method::get}, metrics_scrape);
}

}  // namespace aigw::worker
