// Active health probes: worker 0 asks each probed provider, key by key, for
// something cheap (GET {base_url}/models for the openai plugin) every
// probe_interval, and tells every worker what it found through the same
// health news a failing request would send. One worker probes so that a
// provider sees one probe per interval, not one per core.
//
// A probe is an aigw_request with no client: endpoint
// AIGW_ENDPOINT_HEALTH_PROBE, no body, judged by the upstream status alone
// (the body is never read; the connection is closed after the head).
#include <time.h>

#include "log/log.h"
#include "io/clock.h"
#include "gateway/runtime.h"

namespace aigw::gateway {

void Runtime::on_tick(int64_t now_ns) {
  run_probes(now_ns);
  if (limiter_ && now_ns >= next_limiter_tick_ns_) {
    next_limiter_tick_ns_ = now_ns + 1'000'000'000;
    limiter_->tick(now_ns, time(nullptr));
  }
}

void Runtime::run_probes(int64_t now_ns) {
  if (host_.index() != 0 || !current_ || !current_->health) return;
  const plugin::Generation& gen = *current_->gen;
  const auto& channels = current_->health->table().channels();
  if (probe_gen_ != gen.id) {
    // A new generation: every probed channel gets its first probe soon,
    // then one per interval.
    probe_gen_ = gen.id;
    probe_due_.assign(channels.size(), now_ns + 1'000'000'000);
    probe_busy_.assign(channels.size(), false);
  }
  for (uint32_t c = 0; c < channels.size(); ++c) {
    const plugin::Provider& p = gen.providers[channels[c].provider];
    if (!p.probe || probe_busy_[c] || now_ns < probe_due_[c]) continue;
    probe_due_[c] = now_ns + static_cast<int64_t>(p.config->probe_interval.count()) * 1'000'000;
    start_probe(c, now_ns);
  }
}

void Runtime::start_probe(uint32_t channel, int64_t now_ns) {
  WorkerGeneration& wg = *current_;
  const routing::Channel& ch = wg.health->table().channels()[channel];
  const plugin::Provider& prov = wg.gen->providers[ch.provider];

  aigw_request& r = alloc_request();
  r.rt = this;
  r.conn_index = kNone;
  r.wgen = &wg;
  ++wg.active;
  r.probe = true;
  r.attempt.channel = static_cast<int32_t>(channel);
  r.attempt.provider = ch.provider;
  r.attempt.verdict_given = true;  // a probe reports through probe_result, not success/failure
  r.attempt.hooks = prov.hooks;
  r.start_ns = r.attempt.start_ns = now_ns;
  r.method_text = prov.probe_method;
  r.path_text = prov.probe_path;
  r.body_chunk = {reinterpret_cast<const uint8_t*>(r.body.data()), 0};
  aigw_client_request& c = r.client;
  c.struct_size = sizeof c;
  c.endpoint = AIGW_ENDPOINT_HEALTH_PROBE;
  c.method = {r.method_text.data(), r.method_text.size()};
  c.path = {r.path_text.data(), r.path_text.size()};
  c.body = &r.body_chunk;
  c.body_count = 0;
  c.key_index = ch.key;
  use_upstream(&r, ch.provider);
  probe_busy_[channel] = true;

  char msg[256] = {0};
  aigw_errbuf err{msg, sizeof msg};
  enter(&r);
  aigw_status st = r.attempt.hooks->request_new(wg.instances[ch.provider], &r, &r.client, &r.attempt.ctx, &err);
  if (st != AIGW_OK) {
    msg[sizeof msg - 1] = 0;
    log::warn("health probe refused by the plugin", {{"channel", ch.name}, {"error", msg}});
    r.finished = true;
  } else {
    r.attempt.ctx_live = true;
    start_upstream(&r);
  }
  leave(&r);
}

void Runtime::end_probe(aigw_request* r, bool ok) {
  if (r->finished) return;
  r->finished = true;
  routing::News news;
  const auto& ch = r->wgen->health->table().channels()[static_cast<size_t>(r->attempt.channel)];
  int64_t now = io::mono_ns();
  if (r->wgen->health->probe_result(static_cast<uint32_t>(r->attempt.channel), ok, now, &news)) {
    host_.publish_health(news);
    log::info(ok ? "health probe: channel healthy again" : "health probe failed",
              {{"channel", ch.name}});
  }
  client_.cancel(r->attempt.exchange);  // the body is not wanted
  r->attempt.exchange = {};
  if (r->depth == 0) destroy(r);
}

}  // namespace aigw::gateway
