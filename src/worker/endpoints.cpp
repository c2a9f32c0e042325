#include "worker/endpoints.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "auth/keys.h"
#include "dashboard/assets.h"
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
void recent_errors(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::errors);
}
void config_report(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::config);
}
void keys_report(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::keys);
}
void history_report(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::history);
}
void metrics_scrape(Exchange& ex) {
  if (admin_allowed(ex)) ex.worker().forward_admin(ex, AdminRequest::Kind::metrics);
}

// Did this connection arrive on a loopback address? Asked of the socket
// itself (the address it was accepted on), so it holds whatever the
// listener's configured spelling; a syscall, but only for the page's files.
bool on_loopback(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return false;
  if (sa.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    // ::ffff:127.x.y.z, an IPv4 client on a dual-stack socket.
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

// The dashboard's files (src/dashboard). They hold no secret and need no
// key: the page asks the operator for the admin key and sends it with every
// fetch, and the data endpoints check it. Without an admin key nothing would
// stand between a network and those endpoints but the listener's address,
// so the page is then served on loopback only, never advertising an open
// admin port to a browser on another machine.
void dashboard_file(Exchange& ex) {
  const std::string& key = ex.worker().config().admin.api_key;
  if (key.empty() && !on_loopback(ex.connection().fd)) {
    ex.error(403, "dashboard_needs_admin_key",
             "The dashboard is served on a loopback admin listener only while [admin] api_key is not set.");
    return;
  }
  std::string_view path = ex.head().path;
  // The absolute form ("http://host/ui"), which the router matched by its path.
  if (const size_t scheme = path.find("://"); scheme != std::string_view::npos) {
    const size_t slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
  }
  if (path == "/ui/") path = "/ui";
  const dashboard::Asset* a = dashboard::find(path);
  if (a == nullptr) {  // a route without a file cannot happen: routes come from the same table
    ex.error(404, "not_found", "No such dashboard file.");
    return;
  }
  // no-cache: the browser keeps the file but asks every time, so an upgraded
  // binary's page is seen at once; the ETag makes the asking cost a 304.
  const std::initializer_list<http::ResponseHeader> headers = {
      {"ETag", a->etag},
      {"Cache-Control", "no-cache"},
      {"Content-Security-Policy", dashboard::kContentSecurityPolicy},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
  };
  const std::string_view inm = ex.head().header("if-none-match");
  if (!inm.empty() && dashboard::etag_matches(inm, a->etag)) {
    // RFC 9110 15.4.5: no body; a Content-Length, if any, is the one a 200
    // would carry, which head_only writes.
    http::ResponseMeta meta = ex.meta();
    meta.head_only = true;
    http::write_response(ex.connection().out, 304, meta, {}, a->bytes, headers);
    return;
  }
  ex.respond(200, a->content_type, a->bytes, headers);
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
  router.add("/admin/errors", {http::Method::get}, recent_errors);
  router.add("/admin/config", {http::Method::get}, config_report);
  router.add("/admin/keys", {http::Method::get}, keys_report);
  router.add("/admin/history", {http::Method::get}, history_report);
  router.add("/metrics", {http::Method::get}, metrics_scrape);
  // The dashboard: one exact route per file, so any other /ui/... path is
  // the router's ordinary 404.
  router.add("/ui/", {http::Method::get}, dashboard_file);
  for (const dashboard::Asset& a : dashboard::assets()) router.add(a.path, {http::Method::get}, dashboard_file);
}

}  // namespace aigw::worker
