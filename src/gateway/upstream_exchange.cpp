// HTTP mode on the gateway's side. The plugin describes the upstream request
// (build_upstream); the worker's upstream client (src/upstream) carries it
// and reports back here: the head goes to the plugin, whose verdict steers
// routing; the body goes to the plugin to become client bytes; a failure is
// a failover or the client's error answer.
#include <cstring>

#include "log/log.h"
#include "io/clock.h"
#include "gateway/runtime.h"
#include "upstream/request_writer.h"

namespace aigw::gateway {

namespace {

std::string_view endpoint_path(aigw_endpoint e) {
  switch (e) {
    case AIGW_ENDPOINT_CHAT_COMPLETIONS: return "/chat/completions";
    case AIGW_ENDPOINT_COMPLETIONS: return "/completions";
    case AIGW_ENDPOINT_EMBEDDINGS: return "/embeddings";
    default: return "/";
  }
}

std::string_view sv(aigw_plugin_str s) { return {s.ptr ? s.ptr : "", s.ptr ? s.len : 0}; }

int64_t ns(config::Duration d) { return static_cast<int64_t>(d.count()) * 1'000'000; }

// The request's slot and generation: a failover bumps the generation, so a
// late event of an earlier attempt finds nothing.
uint64_t cookie_of(const aigw_request* r) { return (static_cast<uint64_t>(r->index) << 32) | r->generation; }

// How routing and the metrics see an upstream failure. To routing a TLS
// failure is a connect failure and anything malformed or cut short a server
// error; the metric keeps them apart.
routing::Failure routing_class(const upstream::Failure& f) {
  switch (f.kind) {
    case upstream::Failure::Kind::connect:
    case upstream::Failure::Kind::tls: return routing::Failure::connect;
    case upstream::Failure::Kind::timeout: return routing::Failure::timeout;
    default: return routing::Failure::server_error;
  }
}

metrics::UpstreamError metric_kind(const upstream::Failure& f) {
  switch (f.kind) {
    case upstream::Failure::Kind::connect: return metrics::UpstreamError::connect;
    case upstream::Failure::Kind::tls: return metrics::UpstreamError::tls;
    case upstream::Failure::Kind::timeout: return metrics::UpstreamError::timeout;
    case upstream::Failure::Kind::closed:
    case upstream::Failure::Kind::io:
      return f.after_head() ? metrics::UpstreamError::interrupted : metrics::UpstreamError::protocol;
    case upstream::Failure::Kind::protocol:
    case upstream::Failure::Kind::too_large: return metrics::UpstreamError::protocol;
    case upstream::Failure::Kind::pool_full:
    case upstream::Failure::Kind::no_fds: return metrics::UpstreamError::pool_full;
  }
  return metrics::UpstreamError::protocol;
}

}  // namespace

void Runtime::start_upstream(aigw_request* r) {
  const config::UpstreamConfig& u = *r->attempt.upstream;
  aigw_upstream_request up{};
  up.struct_size = sizeof up;
  up.body_unchanged = 1;
  up.method = {"POST", 4};
  std::string_view path = endpoint_path(r->client.endpoint);
  up.path_and_query = {path.data(), path.size()};
  if (r->probe) {
    up.body_unchanged = 0;
    up.method = {r->method_text.data(), r->method_text.size()};
    up.path_and_query = {r->path_text.data(), r->path_text.size()};
  }
  char msg[512] = {0};
  aigw_errbuf err{msg, sizeof msg};
  aigw_status st = r->attempt.hooks->build_upstream(r->attempt.ctx, &up, &err);
  if (r->finished) return;
  if (st != AIGW_OK) {
    msg[sizeof msg - 1] = 0;
    finish(r, st, msg[0] ? msg : "The provider could not build the upstream request.");
    return;
  }
  std::string_view method = sv(up.method);
  std::string_view target = sv(up.path_and_query);
  if (!upstream::valid_request_line(method, target)) {
    finish(r, AIGW_ERR_INTERNAL, "The provider plugin described an invalid upstream request.");
    return;
  }

  uint64_t body_len = 0;
  if (up.body_unchanged) {
    body_len = r->body.size();
  } else {
    for (size_t i = 0; i < up.body_count; ++i) body_len += up.body[i].len;
  }
  upstream::Request req;
  std::string& out = req.bytes;
  out.reserve(256 + body_len);
  upstream::write_request_head(out, method, u.base_path, target, u.host_header, body_len);
  for (size_t i = 0; i < up.header_count; ++i) {
    upstream::write_request_header(out, sv(up.headers[i].name), sv(up.headers[i].value));
  }
  upstream::end_request_head(out);
  if (up.body_unchanged) {
    out.append(r->body.data(), r->body.size());
  } else {
    for (size_t i = 0; i < up.body_count; ++i) {
      out.append(reinterpret_cast<const char*>(up.body[i].ptr), up.body[i].len);
    }
  }
  req.config = r->attempt.upstream;
  req.addrs = r->attempt.upstream_addrs;
  req.head_only = method == "HEAD";
  if (r->probe) req.total_timeout_ns = ns(r->wgen->gen->providers[r->attempt.provider].config->probe_timeout);
  req.cookie = cookie_of(r);
  // A failure found at once (no descriptor, the provider's cap) comes back
  // through on_failure before start returns.
  r->attempt.exchange = client_.start(std::move(req));
}

aigw_request* Runtime::by_cookie(uint64_t cookie) {
  return request(static_cast<uint32_t>(cookie >> 32), static_cast<uint32_t>(cookie));
}

void Runtime::on_head(uint64_t cookie, const http::ResponseHead& head) {
  aigw_request* r = by_cookie(cookie);
  if (r == nullptr || r->finished) return;
  const upstream::Handle exchange = r->attempt.exchange;
  if (r->probe) {
    end_probe(r, head.status == r->wgen->gen->providers[r->attempt.provider].probe_expect);
    return;
  }
  std::vector<aigw_host_header> hs;
  hs.reserve(head.headers.size());
  for (const http::Header& h : head.headers) {
    hs.push_back({{h.name.data(), h.name.size()}, {h.value.data(), h.value.size()}});
  }
  aigw_upstream_verdict verdict{sizeof verdict, AIGW_ERROR_NONE, 0};
  enter(r);
  aigw_status st = r->attempt.hooks->on_upstream_head(r->attempt.ctx, head.status, hs.data(), hs.size(), &verdict);
  if (!r->finished) upstream_head_verdict(r, head.status, verdict, st);
  const bool gone = r->finished;
  leave(r);  // may destroy r
  // The request ended (the plugin finished it, a failover, the error
  // answer): the rest of this response is not read.
  if (gone) client_.cancel(exchange);
}

void Runtime::upstream_head_verdict(aigw_request* r, int32_t status, const aigw_upstream_verdict& verdict,
                                          aigw_status st) {
  // The verdict steers routing: a failing channel is reported, and if
  // another channel can take the request this response is dropped unread
  // (nothing of it has reached the client).
  bool failover = false;
  switch (verdict.error_class) {
    case AIGW_ERROR_RETRYABLE:
      failover = try_failover(r, routing::Failure::server_error, 0, metrics::UpstreamError::status_5xx);
      break;
    case AIGW_ERROR_RATE_LIMITED:
      failover = try_failover(r, routing::Failure::rate_limited,
                              static_cast<int64_t>(verdict.retry_after_ms) * 1'000'000,
                              metrics::UpstreamError::status_429);
      break;
    case AIGW_ERROR_KEY_INVALID:
      failover = try_failover(r, routing::Failure::key_invalid, 0, metrics::UpstreamError::status_401);
      if (!failover && !r->finished) {
        // The provider refused aigw's own credentials: the client did
        // nothing wrong, and must learn neither the key nor a 401 that its
        // SDK would read as "your API key is invalid".
        end_response(r, false, 502, "upstream_auth_failed",
                     "The provider '" + r->wgen->gen->providers[r->attempt.provider].config->name +
                         "' rejected the gateway's credentials for it (HTTP " + std::to_string(status) +
                         "); no other key or provider could take the request.");
        return;
      }
      break;
    default:
      // The channel answered (a client error is the request's fault); how
      // its body ends is its outcome.
      report_first_byte(r);
      break;
  }
  if (!failover && st != AIGW_OK && !r->finished) {
    finish(r, st, "The provider plugin rejected the upstream response.");
  }
}

void Runtime::on_body(uint64_t cookie, std::string_view data, bool end) {
  aigw_request* r = by_cookie(cookie);
  if (r == nullptr) return;
  if (end) r->attempt.exchange = {};
  aigw_host_bytes b{reinterpret_cast<const uint8_t*>(data.data()), data.size()};
  enter(r);
  if (!r->finished) {
    r->attempt.hooks->on_upstream_body(r->attempt.ctx, data.empty() ? nullptr : &b, data.empty() ? 0 : 1, end ? 1 : 0);
  }
  if (end && !r->finished) {
    // The plugin owes a finish at the end of the body; a plugin that forgets
    // must not leave the client waiting.
    finish(r, r->attempt.started ? AIGW_OK : AIGW_ERR_INTERNAL, "The provider plugin did not finish the response.");
  }
  if (end) report_outcome(r);  // unless the plugin judged the body a failure
  const bool gone = r->finished && !end;
  const upstream::Handle exchange = r->attempt.exchange;
  leave(r);
  if (gone) client_.cancel(exchange);
}

void Runtime::on_failure(uint64_t cookie, const upstream::Failure& f) {
  aigw_request* r = by_cookie(cookie);
  if (r == nullptr) return;
  r->attempt.exchange = {};
  if (r->finished) return;
  if (r->probe) {
    end_probe(r, false);
    return;
  }
  if (f.kind == upstream::Failure::Kind::pool_full || f.kind == upstream::Failure::Kind::no_fds) {
    // A limit of this worker, not a fault of the channel: no verdict, but
    // another channel (another host) may still have room.
    report_abandon(r);
    host_.metrics().provider(r->wgen->gen->providers[r->attempt.provider].config->name)->count_error(
        metrics::UpstreamError::pool_full);
    if (try_failover(r, routing::Failure::server_error, 0, metrics::UpstreamError::pool_full)) return;
    r->attempt.retry_after_s = 1;
    end_response(r, false, f.status(), f.code(), f.message);
    return;
  }
  if (try_failover(r, routing_class(f), 0, metric_kind(f))) return;
  end_response(r, false, f.status(), f.code(), f.message);
}

}  // namespace aigw::gateway
