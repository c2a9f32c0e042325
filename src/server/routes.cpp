#include "server/routes.h"

#include "log/log.h"
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

void append_escaped(std::string& out, std::string_view s) {
  size_t at = out.size();
  out.resize(at + s.size() * 6);
  out.resize(at + log::json_escape(s, out.data() + at, s.size() * 6));
}

void chat_completions(Exchange& ex) {
  ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_CHAT_COMPLETIONS);
}
void completions(Exchange& ex) { ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_COMPLETIONS); }
void embeddings(Exchange& ex) { ex.worker().start_plugin_request(ex, AIGW_ENDPOINT_EMBEDDINGS); }

// Answered from configuration, never by asking a provider: it lists model
// names and the provider that serves each, nothing else (no keys, no URLs).
void models(Exchange& ex) {
  std::string body = R"({"object":"list","data":[)";
  bool first = true;
  for (const config::ProviderConfig& p : ex.worker().config().providers) {
    for (const std::string& m : p.models) {
      if (!first) body += ',';
      first = false;
      body += R"({"id":")";
      append_escaped(body, m);
      body += R"(","object":"model","created":0,"owned_by":")";
      append_escaped(body, p.name);
      body += R"("})";
    }
  }
  body += "]}";
  ex.respond(200, "application/json", body);
}

void reload_plugins(Exchange& ex) {
  ex.worker().forward_admin(ex, AdminRequest::Kind::reload_plugins);
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
}

}  // namespace aigw::server
