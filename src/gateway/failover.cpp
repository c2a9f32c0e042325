// Routing on the request path: which channel serves an attempt, what health
// hears about it, and failover to another channel while nothing has reached
// the client yet.
//
// An attempt is one plugin request (request_new .. request_destroy) on one
// channel. The aigw_request outlives its attempts: the client connection,
// the body and the response state belong to it, the plugin context and the
// upstream connection to the attempt. A failover destroys the attempt's
// plugin context, bumps the request's generation (so timers and pool waits
// of the old attempt find nothing) and launches the next one.
#include <csignal>

#include "log/log.h"
#include "io/clock.h"
#include "gateway/runtime.h"
#include "plugin/loader.h"

namespace aigw::gateway {

namespace {

// True once `s` holds an event that carries model output: a non-empty
// content, text or refusal string, a tool call, or the end of the stream.
// The role-only preamble ("content":"") and keep-alive comments do not
// count. Plugins emit OpenAI-shaped events, so these names are the contract.
bool has_content(std::string_view s) {
  static constexpr std::string_view kStrings[] = {"\"content\":", "\"text\":", "\"refusal\":",
                                                  "\"reasoning_content\":"};
  for (std::string_view key : kStrings) {
    for (size_t at = s.find(key); at != std::string_view::npos; at = s.find(key, at + 1)) {
      size_t v = at + key.size();
      while (v < s.size() && s[v] == ' ') ++v;
      if (v + 1 < s.size() && s[v] == '"' && s[v + 1] != '"') return true;
    }
  }
  return s.find("\"tool_calls\"") != std::string_view::npos ||
         s.find("\"function_call\"") != std::string_view::npos ||
         s.find("[DONE]") != std::string_view::npos;
}

// Held-back stream bytes beyond this are sent even without content: holding
// is for the first events, not a way to buffer a whole response.
constexpr size_t kMaxHeld = 64 * 1024;

}  // namespace

void Runtime::launch(aigw_request* r, const routing::Pick& pick) {
  WorkerGeneration& wg = *r->wgen;
  const routing::Table& table = wg.health->table();
  const routing::Channel& ch = table.channels()[static_cast<size_t>(pick.channel)];
  const routing::Target& target = r->route->targets[static_cast<size_t>(pick.target)];
  const plugin::Provider& prov = wg.gen->providers[ch.provider];

  r->attempt.channel = pick.channel;
  r->attempt.provider = ch.provider;
  if (r->attempts < aigw_request::kMaxAttempts) r->tried[r->attempts] = static_cast<uint32_t>(pick.channel);
  ++r->attempts;
  r->attempt.hooks = prov.hooks;
  r->attempt.sniff_content = plugin::negotiate_minor(prov.def) < 2;
  r->attempt.target_model = target.model.empty() ? r->model : target.model;
  r->attempt.upstream_model = r->attempt.target_model;
  for (const auto& [pub, up] : prov.config->model_map) {
    if (pub == r->attempt.target_model) r->attempt.upstream_model = up;
  }
  r->client.upstream_model = {r->attempt.upstream_model.data(), r->attempt.upstream_model.size()};
  r->client.key_index = ch.key;
  r->attempt.upstream = nullptr;
  r->attempt.upstream_addrs = nullptr;
  r->attempt.addrs_hold.reset();
  // The Messages API: this provider's dialect decides the body it gets.
  // Answered already (a body that cannot be translated, count_tokens by
  // estimate): the channel was never asked, so health hears nothing.
  enter(r);
  const bool go = choose_dialect(r, prov);
  leave(r);
  if (!go) return;
  // A translated answer commits when its Anthropic content begins, never by
  // sniffing for OpenAI field names in the bytes already translated.
  if (r->attempt.translated) r->attempt.sniff_content = false;
  if (prov.hooks->mode == AIGW_MODE_HTTP) use_upstream(r, ch.provider);
  r->attempt.start_ns = io::mono_ns();
  r->attempt.verdict_given = false;
  wg.health->begin(static_cast<uint32_t>(pick.channel));

  char msg[512] = {0};
  aigw_errbuf err{msg, sizeof msg};
  enter(r);
  aigw_status st = r->attempt.hooks->request_new(wg.instances[ch.provider], r, &r->client, &r->attempt.ctx, &err);
  if (st != AIGW_OK) {
    msg[sizeof msg - 1] = 0;
    // The provider refused this request: a fact about the request, not the
    // channel's health, and another provider may accept it.
    wg.health->abandon(static_cast<uint32_t>(pick.channel));
    r->attempt.verdict_given = true;
    if (!try_failover(r, routing::Failure::server_error, 0, metrics::UpstreamError::status_5xx)) {
      finish(r, st, msg[0] ? msg : "The provider refused the request.");
    }
    leave(r);
    return;
  }
  r->attempt.ctx_live = true;
  if (r->attempt.hooks->mode == AIGW_MODE_HTTP) {
    start_upstream(r);
  } else {
    st = r->attempt.hooks->request_start(r->attempt.ctx);
    if (st != AIGW_OK && !r->finished && !r->retry_pending) {
      finish(r, st, "The provider could not start the request.");
    }
  }
  leave(r);
}

void Runtime::use_upstream(aigw_request* r, uint32_t provider) {
  const plugin::Provider& prov = r->wgen->gen->providers[provider];
  r->attempt.upstream = &prov.config->upstream;
  r->attempt.upstream_addrs = &prov.addrs;
  // A DNS refresh newer than the generation's own resolution, held for as
  // long as the request may connect.
  if (addrs_generation_ == r->wgen->gen->id) {
    auto it = addrs_.find(provider);
    if (it != addrs_.end()) {
      r->attempt.addrs_hold = it->second;
      r->attempt.upstream_addrs = r->attempt.addrs_hold.get();
    }
  }
}

void Runtime::restart(aigw_request* r, const routing::Pick& pick) {
  // Tear the failed attempt down completely, then replace it whole: the
  // next one starts from nothing the failed provider left behind.
  end_attempt(r);
  r->attempt = Attempt{};
  ++r->generation;  // stale timers and pool waits of the old attempt now miss
  r->finished = false;
  launch(r, pick);
}

bool Runtime::try_failover(aigw_request* r, routing::Failure failure, int64_t retry_after_ns,
                                 metrics::UpstreamError kind) {
  report_failure(r, failure, retry_after_ns, kind);
  if (r->committed || r->client_gone || r->retry_pending || r->route == nullptr) return false;
  const config::RoutingConfig& rc = r->wgen->gen->config->routing;
  if (r->attempts >= rc.max_attempts || r->attempts >= aigw_request::kMaxAttempts) return false;
  int64_t now = io::mono_ns();
  if (now - r->start_ns >= static_cast<int64_t>(rc.attempt_deadline.count()) * 1000000) return false;
  routing::Pick pick = r->wgen->health->pick(*r->route, now, r->tried, r->attempts);
  if (pick.channel < 0) return false;
  log::debug("failing over to another channel",
             {{"from", r->wgen->health->table().channels()[static_cast<size_t>(r->attempt.channel)].name},
              {"to", r->wgen->health->table().channels()[static_cast<size_t>(pick.channel)].name},
              {"attempt", r->attempts + 1}});
  // The switch happens at the end of this loop turn (run_deferred), never
  // inside the completion or hook that reported the failure: callers up the
  // stack still hold the old attempt's connection and context. Until then
  // the old context gets AIGW_ERR_CLOSED and its bytes are ignored.
  r->retry_pending = true;
  r->pending_pick = pick;
  r->finished = true;
  deferred_.emplace_back(r->index, r->generation);
  host_.metrics()
      .provider(r->wgen->gen->providers[r->attempt.provider].config->name)
      ->count_attempt(metrics::AttemptResult::failover);
  return true;
}

void Runtime::run_deferred() {
  while (!deferred_.empty()) {
    std::vector<std::pair<uint32_t, uint32_t>> batch;
    batch.swap(deferred_);
    for (auto [index, generation] : batch) {
      aigw_request* r = request(index, generation);
      if (r == nullptr || !r->retry_pending) continue;
      r->retry_pending = false;
      if (r->client_gone) {
        if (r->depth == 0) destroy(r);
        continue;
      }
      enter(r);
      restart(r, r->pending_pick);
      leave(r);
    }
  }
}

void Runtime::report_success(aigw_request* r) {
  if (r->attempt.verdict_given || r->attempt.channel < 0) return;
  r->attempt.verdict_given = true;
  int64_t now = io::mono_ns();
  routing::News news;
  if (r->wgen->health->success(static_cast<uint32_t>(r->attempt.channel), now, now - r->attempt.start_ns, &news)) {
    host_.publish_health(news);
  }
}

void Runtime::report_first_byte(aigw_request* r) {
  if (r->attempt.verdict_given || r->attempt.channel < 0) return;
  r->attempt.verdict_given = true;
  r->attempt.outcome_pending = true;
  int64_t now = io::mono_ns();
  routing::News news;
  if (r->wgen->health->first_byte(static_cast<uint32_t>(r->attempt.channel), now, now - r->attempt.start_ns, &news)) {
    host_.publish_health(news);
  }
}

void Runtime::report_outcome(aigw_request* r) {
  if (!r->attempt.outcome_pending) return;
  r->attempt.outcome_pending = false;
  r->wgen->health->completed(static_cast<uint32_t>(r->attempt.channel), true, io::mono_ns(), nullptr);
}

namespace {

const char* news_word(routing::News::Kind k) {
  return k == routing::News::Kind::opened ? "channel circuit opened" : "channel key disabled";
}

}  // namespace

void Runtime::report_failure(aigw_request* r, routing::Failure failure, int64_t retry_after_ns,
                                   metrics::UpstreamError kind) {
  if (r->attempt.channel < 0) return;
  routing::News news;
  bool told = false;
  if (!r->attempt.verdict_given) {
    r->attempt.verdict_given = true;
    told = r->wgen->health->failure(static_cast<uint32_t>(r->attempt.channel), failure, io::mono_ns(), retry_after_ns,
                                    &news);
  } else if (r->attempt.outcome_pending) {
    // The head was good, the rest of the response was not: a failure of
    // the channel all the same, or a provider whose streams die after the
    // head would stay in rotation for ever.
    r->attempt.outcome_pending = false;
    told = r->wgen->health->completed(static_cast<uint32_t>(r->attempt.channel), false, io::mono_ns(), &news);
  } else {
    return;
  }
  host_.metrics().provider(r->wgen->gen->providers[r->attempt.provider].config->name)->count_error(kind);
  if (!told) return;
  host_.publish_health(news);
  if (news.kind == routing::News::Kind::opened || news.kind == routing::News::Kind::key_disabled) {
    log::warn(news_word(news.kind),
              {{"channel", r->wgen->health->table().channels()[static_cast<size_t>(r->attempt.channel)].name},
               {"worker", host_.index()}});
  }
}

void Runtime::report_abandon(aigw_request* r) {
  r->attempt.outcome_pending = false;  // the client left: the body's end says nothing now
  if (r->attempt.verdict_given || r->attempt.channel < 0 || r->wgen == nullptr) return;
  r->attempt.verdict_given = true;
  r->wgen->health->abandon(static_cast<uint32_t>(r->attempt.channel));
}

size_t Runtime::routing_header_bound(const aigw_request* r) { return r->rate_headers.size() + 2; }

void Runtime::routing_headers(const aigw_request* r, std::vector<http::ResponseHeader>& out,
                                    std::string& attempts_text) const {
  for (const auto& [k, v] : r->rate_headers) out.push_back({k, v});
  if (r->attempt.channel < 0 || r->wgen == nullptr) return;
  attempts_text = std::to_string(r->attempts);
  out.push_back({"x-aigw-provider", r->wgen->gen->providers[r->attempt.provider].config->name});
  out.push_back({"x-aigw-attempts", attempts_text});
}

void Runtime::hold(aigw_request* r, std::string_view frame) {
  r->attempt.held.append(frame);
  // Rescan a little before the new bytes: a key may straddle two emits.
  size_t from = r->attempt.held_scan > 32 ? r->attempt.held_scan - 32 : 0;
  r->attempt.held_scan = r->attempt.held.size();
  if ((r->attempt.sniff_content && has_content(std::string_view(r->attempt.held).substr(from))) || r->attempt.held.size() > kMaxHeld) {
    commit(r);
  }
}

aigw_status Runtime::commit_stream(aigw_request* r) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  if (!r->attempt.started) return AIGW_ERR_INVALID;
  // A response that is not a stream is sent whole at finish: nothing to do.
  if (r->stream) commit(r);
  return AIGW_OK;
}

void Runtime::commit(aigw_request* r) {
  if (r->committed) return;
  // A translated error answer goes out whole, in Anthropic's shape, when it
  // ends (end_response), not as a stream.
  if (r->attempt.translated && r->attempt.status >= 400) return;
  r->committed = true;
  std::vector<http::ResponseHeader> hs;
  hs.reserve(r->attempt.resp_headers.size() + routing_header_bound(r));
  for (auto& [k, v] : r->attempt.resp_headers) hs.push_back({k, v});
  std::string attempts;
  routing_headers(r, hs, attempts);
  http::ResponseMeta meta = response_meta(r);
  std::string out;
  // The head and the held events in one allocation.
  out.reserve(http::head_bound(meta, hs.data(), hs.size()) + r->attempt.held.size() + 24);
  http::write_stream_head(out, r->attempt.status, meta, hs.data(), hs.size());
  host_.metrics().stream_opened();
  if (!r->attempt.held.empty()) {
    if (r->version_minor == 0) {
      out += r->attempt.held;
    } else {
      http::write_chunk(out, r->attempt.held);
    }
  }
  std::string().swap(r->attempt.held);
  write_out(r, out, false);
}

void Runtime::apply_health(const routing::News& news) {
  if (current_ && current_->health) current_->health->apply(news);
}

void Runtime::channel_states(metrics::Snapshot& snap, int64_t now_ns) const {
  if (!current_ || !current_->health) return;
  const routing::Health& h = *current_->health;
  const auto& channels = h.table().channels();
  for (uint32_t c = 0; c < channels.size(); ++c) {
    // The numbers of routing::Health::View and metrics::ChannelState match
    // by name; map explicitly so neither depends on the other's order.
    metrics::ChannelState st = metrics::ChannelState::closed;
    switch (h.view(c, now_ns)) {
      case routing::Health::View::closed: st = metrics::ChannelState::closed; break;
      case routing::Health::View::open: st = metrics::ChannelState::open; break;
      case routing::Health::View::half_open: st = metrics::ChannelState::half_open; break;
      case routing::Health::View::key_disabled: st = metrics::ChannelState::key_disabled; break;
      case routing::Health::View::cooling: st = metrics::ChannelState::cooling; break;
    }
    snap.set_channel_state(channels[c].name, st);
  }
}

void Runtime::health_json(std::string& out, int64_t now_ns) const {
  if (current_ && current_->health) {
    current_->health->write_json(out, host_.index(), now_ns);
  } else {
    out += "{\"worker\":" + std::to_string(host_.index()) + ",\"channels\":[]}";
  }
}

}  // namespace aigw::gateway
