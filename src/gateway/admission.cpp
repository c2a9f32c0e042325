// Admission: a model request, parsed on a client connection, becomes a
// plugin request, or is refused with an answer that says why. In order: the
// body is declared JSON, its routing facts read (openai_body), the model
// routed, the key allowed that model and within its limits, a channel
// picked. Only then is a request slot taken; the first attempt starts in
// begin(), once the connection knows the slot.
#include <time.h>

#include <algorithm>

#include "gateway/openai_body.h"
#include "gateway/runtime.h"
#include "io/clock.h"
#include "limits/estimate.h"

namespace aigw::gateway {

namespace {

std::string_view endpoint_route(aigw_endpoint e) {
  switch (e) {
    case AIGW_ENDPOINT_CHAT_COMPLETIONS: return "/v1/chat/completions";
    case AIGW_ENDPOINT_COMPLETIONS: return "/v1/completions";
    case AIGW_ENDPOINT_EMBEDDINGS: return "/v1/embeddings";
    case AIGW_ENDPOINT_MESSAGES: return "/v1/messages";
    case AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS: return "/v1/messages/count_tokens";
    default: return "-";
  }
}

metrics::RateLimit rate_limit_label(limits::Resource r) {
  switch (r) {
    case limits::Resource::rpm: return metrics::RateLimit::rpm;
    case limits::Resource::tpm: return metrics::RateLimit::tpm;
    case limits::Resource::daily: return metrics::RateLimit::daily_tokens;
    case limits::Resource::monthly: return metrics::RateLimit::monthly_tokens;
    case limits::Resource::concurrent: return metrics::RateLimit::concurrent;
  }
  return metrics::RateLimit::rpm;
}

// Headers a client sends that a provider must never see: hop-by-hop ones and
// the client's own credentials for aigw.
constexpr std::string_view kDrop[] = {
    "authorization", "x-api-key", "api-key", "connection", "keep-alive", "transfer-encoding",
    "te", "upgrade", "proxy-authorization", "proxy-connection", "host", "content-length",
    "expect", "trailer", "cookie"};

// Which lengths a dropped name has (bit n: some name is n bytes): most of a
// request's headers have none of them and are let through on one test,
// not fifteen.
constexpr uint32_t drop_lengths() {
  uint32_t bits = 0;
  for (std::string_view d : kDrop) bits |= uint32_t{1} << d.size();
  return bits;
}
constexpr uint32_t kDropLengths = drop_lengths();

bool forwardable(std::string_view name) {
  if (name.size() >= 32 || ((kDropLengths >> name.size()) & 1) == 0) return true;
  for (std::string_view d : kDrop) {
    if (http::iequals(name, d)) return false;
  }
  return true;
}

}  // namespace

uint32_t Runtime::admit(uint32_t conn_index, uint32_t conn_generation, const http::RequestHead& head,
                        std::string_view body, aigw_endpoint endpoint, const http::ResponseMeta& meta,
                        RequestContext& rc) {
  // A refusal is an answer like any other: through the host's output.
  auto refuse = [&](int status, std::string_view code, std::string_view message,
                    const std::vector<http::ResponseHeader>& extra = {}) {
    std::string out;
    http::write_error(out, status, meta, code, message, extra.data(), extra.size());
    rc.status = status;
    rc.error = code;
    host_.output(conn_index, conn_generation, out, true, !meta.keep_alive);
    return kNone;
  };
  auto fail = [&](int status, std::string_view code, std::string_view message) {
    return refuse(status, code, message);
  };

  // The body must be declared JSON. Besides saying what the gateway
  // expects, this shuts a door: a web page may make a browser POST
  // text/plain or a form to any address (even 127.0.0.1) without asking
  // first, but never application/json, so a gateway without client keys on
  // a developer's machine cannot be made to spend its provider credits.
  std::string_view type;
  for (const http::Header& h : head.headers) {
    if (http::iequals(h.name, "content-type")) type = h.value;
  }
  if (!json_media_type(type)) {
    std::string got = type.empty() ? std::string("none") : "'" + std::string(type.substr(0, 100)) + "'";
    return fail(415, "unsupported_media_type",
                "The request body must be JSON sent with 'Content-Type: application/json' (got " + got + ").");
  }

  // Only what routing needs is read from the body. The copy is the padded
  // buffer simdjson needs, and it is also the request's own copy of its
  // bytes, which the ABI keeps alive until request_destroy.
  std::string json = pad_body(body);
  BodyFacts facts;
  if (BodyError e = body_parser_.read(json, rc.key >= 0, facts)) return fail(e.status, e.code, e.message);
  std::string& model = facts.model;
  const bool messages_api =
      endpoint == AIGW_ENDPOINT_MESSAGES || endpoint == AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS;
  const bool counting = endpoint == AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS;
  const bool stream = facts.stream && !counting;
  if (model.empty()) return fail(400, "missing_model", "You must provide a model parameter.");
  if (!current_ || !current_->health) return fail(503, "no_providers", "No providers are configured.");
  const routing::Route* route = current_->health->table().find(model);
  if (route == nullptr) {
    return fail(404, "model_not_found",
                "The model '" + model.substr(0, 200) + "' does not exist on this gateway.");
  }
  rc.model = route->model;
  const plugin::Generation& gen = *current_->gen;
  if (rc.key >= 0 && gen.keys && !gen.keys->model_allowed(rc.key, model)) {
    host_.metrics().count_auth_failure(metrics::AuthFailure::model_not_allowed);
    return fail(403, "model_not_allowed",
                "This API key may not use the model '" + model.substr(0, 200) + "'.");
  }
  int64_t now = io::mono_ns();
  // Rate limits and quotas of the client key: the estimate is charged now
  // and settled with the real usage when the response ends.
  limits::Decision admitted;
  uint64_t estimate = 0;
  aigw::limits::HeaderList rate_headers;
  if (rc.key >= 0 && limiter_) {
    // Counting tokens generates none: it counts as a request, not as tokens.
    if (!counting) {
      estimate = limits::estimate_tokens(body.size(), facts.estimate, gen.config->limits.default_max_tokens);
    }
    admitted = limiter_->admit(static_cast<uint32_t>(rc.key), estimate, now, time(nullptr));
    limits::write_headers(admitted, rate_headers);
    if (!admitted.ok) {
      host_.metrics().key(rc.key_name)->count_rate_limited(rate_limit_label(admitted.failed));
      std::vector<http::ResponseHeader> hs;
      for (auto& [k, v] : rate_headers) hs.push_back({k, v});
      return refuse(429, limits::error_code(admitted), limits::message(admitted), hs);
    }
  }
  routing::Pick pick = current_->health->pick(*route, now, nullptr, 0);
  if (pick.channel < 0) {
    if (admitted.ticket.valid) limiter_->settle(admitted.ticket, 0, now, time(nullptr));
    if (pick.why == routing::Pick::None::all_cooling) {
      int64_t wait_s = std::max<int64_t>(1, (pick.retry_at_ns - now + 999999999) / 1000000000);
      std::string retry = std::to_string(wait_s);
      return refuse(429, "rate_limited", "Every provider of this model is rate limited; retry after " + retry + "s.",
                    {{"Retry-After", retry}});
    }
    return fail(503, "no_healthy_channel",
                pick.why == routing::Pick::None::all_disabled
                    ? "Every provider key for this model has been rejected by its provider."
                    : "Every provider of this model is failing; try again shortly.");
  }

  aigw_request& r = alloc_request();
  r.rt = this;
  r.conn_index = conn_index;
  r.conn_generation = conn_generation;
  r.wgen = current_.get();
  ++r.wgen->active;
  r.route = route;
  r.start_ns = rc.start_ns ? rc.start_ns : now;
  r.request_id.assign(rc.request_id);
  r.key = rc.key;
  r.key_name = rc.key_name;
  r.peer = rc.peer;
  r.log_path = endpoint_route(endpoint);
  r.ticket = admitted.ticket;
  r.estimate = estimate;
  r.rate_headers = std::move(rate_headers);
  r.body = std::move(json);
  r.model = std::move(model);
  // Reserved for every header, forwarded or not: the views below point
  // into the buffer, so it must never reallocate.
  size_t head_size = head.method_text.size() + head.path.size();
  for (const http::Header& h : head.headers) head_size += h.name.size() + h.value.size();
  r.head_bytes.reserve(head_size);
  auto keep = [&r](std::string_view s) {
    const size_t at = r.head_bytes.size();
    r.head_bytes.append(s);
    return std::string_view(r.head_bytes).substr(at);
  };
  r.method_text = keep(head.method_text);
  r.path_text = keep(head.path);
  r.headers.reserve(head.headers.size());
  for (const http::Header& h : head.headers) {
    if (!forwardable(h.name)) continue;
    const std::string_view name = keep(h.name);
    const std::string_view value = keep(h.value);
    r.headers.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
  }
  r.stream = stream;
  r.version_minor = head.version_minor;
  r.keep_alive = meta.keep_alive;
  r.body_chunk = {reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()};

  aigw_client_request& c = r.client;
  c.struct_size = sizeof c;
  c.endpoint = endpoint;
  c.stream = stream ? 1 : 0;
  c.model = {r.model.data(), r.model.size()};
  c.method = {r.method_text.data(), r.method_text.size()};
  c.path = {r.path_text.data(), r.path_text.size()};
  c.headers = r.headers.data();
  c.header_count = r.headers.size();
  c.body = &r.body_chunk;
  c.body_count = 1;
  c.model_value_offset = facts.model_value_offset;
  c.model_value_len = facts.model_value_len;
  c.body_facts = facts.plugin_facts;
  // The Messages API: each attempt sets the body and endpoint its provider
  // takes (messages_api.cpp).
  r.messages_api = messages_api;
  r.client_endpoint = endpoint;
  r.model_value_offset = facts.model_value_offset;
  r.model_value_len = facts.model_value_len;
  r.body_facts = facts.plugin_facts;
  r.pending_pick = pick;
  return r.index;
}

void Runtime::begin(uint32_t slot) {
  if (slot >= requests_.size()) return;
  aigw_request* r = requests_[slot].get();
  if (r->wgen == nullptr || r->finished) return;  // the client left in between
  enter(r);
  launch(r, r->pending_pick);
  // A request answered at once has already written its bytes through the
  // host's output, which told the connection it is done.
  leave(r);
}


}  // namespace aigw::gateway
