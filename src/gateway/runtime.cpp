#include "gateway/runtime.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "limits/estimate.h"
#include "limits/limiter.h"
#include "log/log.h"
#include "io/clock.h"

namespace aigw::gateway {

namespace {

uint64_t now_ns() { return static_cast<uint64_t>(io::mono_ns()); }

// The ABI's numbers mapped by name, so that neither enum depends on the
// other's order.
std::optional<metrics::FinishReason> finish_reason_of(int32_t reason) {
  switch (reason) {
    case AIGW_FINISH_UNKNOWN: return metrics::FinishReason::unknown;
    case AIGW_FINISH_STOP: return metrics::FinishReason::stop;
    case AIGW_FINISH_LENGTH: return metrics::FinishReason::length;
    case AIGW_FINISH_TOOL_CALLS: return metrics::FinishReason::tool_calls;
    case AIGW_FINISH_CONTENT_FILTER: return metrics::FinishReason::content_filter;
    case AIGW_FINISH_ERROR: return metrics::FinishReason::error;
    default: return std::nullopt;
  }
}

int status_for(aigw_status st) {
  switch (st) {
    case AIGW_ERR_INVALID: return 400;
    case AIGW_ERR_NOT_FOUND: return 404;
    case AIGW_ERR_UNSUPPORTED: return 501;
    case AIGW_ERR_LIMIT: return 429;
    case AIGW_ERR_NO_MEMORY: return 503;
    default: return 502;  // the provider failed to produce an answer
  }
}

std::string_view code_for(aigw_status st) {
  switch (st) {
    case AIGW_ERR_INVALID: return "invalid_request";
    case AIGW_ERR_NOT_FOUND: return "not_found";
    case AIGW_ERR_UNSUPPORTED: return "unsupported";
    case AIGW_ERR_LIMIT: return "provider_busy";
    default: return "provider_error";
  }
}

}  // namespace

Runtime::Runtime(Host& host)
    : host_(host), client_(host.ring(), host.buffers(), host.fds(), *this) {}

Runtime::~Runtime() { shutdown(); }

bool Runtime::install(std::shared_ptr<plugin::Generation> gen, std::string& why) {
  auto wg = std::make_unique<WorkerGeneration>();
  wg->gen = std::move(gen);
  aigw_worker_info info{sizeof(aigw_worker_info), host_.index(), host_.worker_count(), 0};
  for (const plugin::Provider& p : wg->gen->providers) {
    void* inst = nullptr;
    char msg[512] = {0};
    aigw_errbuf err{msg, sizeof msg};
    aigw_status st = p.hooks->instance_new(p.plugin_config, &info, &inst, &err);
    if (st != AIGW_OK) {
      msg[sizeof msg - 1] = 0;
      why = "provider \"" + p.config->name + "\": instance_new failed: " + (msg[0] ? msg : "no reason");
      for (size_t i = 0; i < wg->instances.size(); ++i) {
        wg->gen->providers[i].hooks->instance_destroy(wg->instances[i]);
      }
      return false;
    }
    wg->instances.push_back(inst);
  }
  if (wg->gen->limits) {
    if (!limiter_) {
      limiter_ = std::make_unique<limits::WorkerLimiter>(wg->gen->limits, host_.worker_count());
    } else {
      limiter_->reload(wg->gen->limits);
    }
  }
  if (wg->gen->routes) {
    wg->health = std::make_unique<routing::Health>(
        wg->gen->routes, wg->gen->config->routing,
        (static_cast<uint64_t>(host_.index()) << 32) ^ wg->gen->id ^ 0x9e3779b97f4a7c15ull);
  }
  if (current_) retired_.push_back(std::move(current_));
  current_ = std::move(wg);
  retire_unused();
  return true;
}

void Runtime::update_addresses(uint64_t generation, size_t provider,
                                     std::shared_ptr<const std::vector<sockaddr_storage>> addrs) {
  if (generation != addrs_generation_) {
    addrs_.clear();
    addrs_generation_ = generation;
  }
  addrs_[provider] = std::move(addrs);
}

void Runtime::retire_unused() {
  for (size_t i = 0; i < retired_.size();) {
    WorkerGeneration& wg = *retired_[i];
    if (wg.active != 0) {
      ++i;
      continue;
    }
    for (size_t p = 0; p < wg.instances.size(); ++p) {
      wg.gen->providers[p].hooks->instance_destroy(wg.instances[p]);
    }
    // Dropping our reference lets the control thread destroy the
    // generation (configs, then the shared objects) once all workers did.
    retired_.erase(retired_.begin() + static_cast<long>(i));
  }
}

aigw_request* Runtime::request(uint32_t index, uint32_t generation) {
  if (index >= requests_.size()) return nullptr;
  aigw_request* r = requests_[index].get();
  return r->generation == generation && r->wgen != nullptr ? r : nullptr;
}

aigw_request& Runtime::alloc_request() {
  uint32_t i;
  if (!free_requests_.empty()) {
    i = free_requests_.back();
    free_requests_.pop_back();
  } else {
    i = static_cast<uint32_t>(requests_.size());
    requests_.push_back(std::make_unique<aigw_request>());
    requests_[i]->index = i;
  }
  ++live_;
  return *requests_[i];
}

void Runtime::leave(aigw_request* r) {
  if (--r->depth != 0) return;
  if (r->retry_pending && !r->client_gone) return;  // run_deferred goes on with it
  if (r->finished) destroy(r);
}

void Runtime::end_attempt(aigw_request* r) {
  // The attempt ended before its upstream response did (client gone, an
  // error, a failover): the client closes that connection, which has unread
  // bytes. A finished exchange ignores this.
  client_.cancel(r->attempt.exchange);
  r->attempt.exchange = {};
  r->attempt.outcome_pending = false;
  for (aigw_process* p : r->attempt.procs) {
    p->req = nullptr;
    kill_process(p);
  }
  r->attempt.procs.clear();
  if (r->attempt.ctx_live) {
    r->attempt.ctx_live = false;
    r->attempt.hooks->request_destroy(r->attempt.ctx);
    r->attempt.ctx = nullptr;
  }
}

void Runtime::destroy(aigw_request* r) {
  report_abandon(r);
  end_attempt(r);
  if (!r->probe && r->wgen) account(r);
  WorkerGeneration* wg = r->wgen;
  if (r->probe && wg && wg->gen->id == probe_gen_ && static_cast<size_t>(r->attempt.channel) < probe_busy_.size()) {
    probe_busy_[static_cast<size_t>(r->attempt.channel)] = false;
  }
  uint32_t index = r->index;
  uint32_t generation = r->generation + 1;
  requests_[index] = std::make_unique<aigw_request>();  // r is gone from here on
  requests_[index]->index = index;
  requests_[index]->generation = generation;
  free_requests_.push_back(index);
  --live_;
  if (wg) {
    --wg->active;
    if (wg != current_.get() && wg->active == 0) retire_unused();
  }
}

void Runtime::client_gone(uint32_t slot) {
  if (slot >= requests_.size()) return;
  aigw_request* r = requests_[slot].get();
  if (r->wgen == nullptr) return;
  r->client_gone = true;
  if (!r->finished) {
    r->finished = true;
    if (r->attempt.ctx_live && r->attempt.hooks->on_client_gone) {
      enter(r);
      r->attempt.hooks->on_client_gone(r->attempt.ctx);
      --r->depth;
    }
  }
  if (r->depth == 0) destroy(r);
}

void Runtime::abort(uint32_t slot, int status, std::string_view code, std::string_view message) {
  if (slot >= requests_.size()) return;
  aigw_request* r = requests_[slot].get();
  if (r->wgen == nullptr || r->finished || r->client_gone) return;
  enter(r);
  report_abandon(r);
  end_response(r, false, status, code, message);
  leave(r);
}

void Runtime::shutdown() {
  for (auto& r : requests_) {
    if (r->wgen != nullptr) client_gone(r->index);
  }
  client_.close_idle();
  if (current_) {
    retired_.push_back(std::move(current_));
  }
  retire_unused();
  procs_.for_each([&](io::SlotHandle, aigw_process& p) {
    if (p.pid > 0 && !p.reaped) {
      kill_process(&p);
      int st;
      waitpid(p.pid, &st, 0);
      p.exited = p.reaped = true;
    }
    if (p.pidfd >= 0) close(p.pidfd);
    if (p.stdin_fd >= 0) close(p.stdin_fd);
    if (p.stdout_fd >= 0) close(p.stdout_fd);
    p.pidfd = p.stdin_fd = p.stdout_fd = -1;
  });
}

// ---- response framing ---------------------------------------------------------

void Runtime::write_out(aigw_request* r, std::string_view bytes, bool done) {
  write_out(r, &bytes, 1, done);
}

void Runtime::write_out(aigw_request* r, const std::string_view* parts, size_t n, bool done) {
  if (r->client_gone || r->probe) return;
  if (r->first_byte_ns == 0) {
    for (size_t i = 0; i < n; ++i) {
      if (!parts[i].empty()) {
        r->first_byte_ns = io::mono_ns();
        break;
      }
    }
  }
  host_.output(r->conn_index, r->conn_generation, parts, n, done,
               done && (!r->keep_alive || (r->stream && r->version_minor == 0)));
}

void* Runtime::arena_alloc(aigw_request* r, size_t size, size_t align) {
  if (size == 0) return nullptr;
  if (align == 0 || (align & (align - 1)) != 0 || align > 4096) return nullptr;
  // One block per allocation keeps this simple; plugins allocate a handful
  // per request at most.
  r->arena.push_back(std::unique_ptr<char[]>(new (std::nothrow) char[size + align]));
  char* p = r->arena.back().get();
  if (!p) return nullptr;
  auto v = reinterpret_cast<uintptr_t>(p);
  v = (v + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  return reinterpret_cast<void*>(v);
}

aigw_status Runtime::respond_start(aigw_request* r, int32_t status,
                                         const aigw_plugin_header* h, size_t n) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  if (r->attempt.started) return AIGW_ERR_INVALID;
  if (status < 200 || status > 599 || (n > 0 && h == nullptr)) return AIGW_ERR_INVALID;
  r->attempt.started = true;
  // Direct mode has no upstream head: the response starting is the sign
  // that the channel works.
  if (r->attempt.hooks->mode != AIGW_MODE_HTTP) report_success(r);
  r->attempt.status = status;
  r->attempt.resp_headers.reserve(r->attempt.resp_headers.size() + n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view name{h[i].name.ptr ? h[i].name.ptr : "", h[i].name.len};
    std::string_view value{h[i].value.ptr ? h[i].value.ptr : "", h[i].value.len};
    // The host owns framing headers; a plugin cannot smuggle a second
    // response through a header value either.
    if (http::iequals(name, "content-length") || http::iequals(name, "transfer-encoding") ||
        http::iequals(name, "connection") || !http::safe_field_name(name) || !http::safe_field_value(value)) {
      continue;
    }
    // The client's x-request-id is aigw's own (its log line carries it);
    // the provider's id for the same request goes out under another name.
    if (http::iequals(name, "x-request-id")) name = "x-upstream-request-id";
    r->attempt.resp_headers.emplace_back(name, value);
  }
  // A stream's head waits for its first content event (commit), so that a
  // failure before content can still go to another channel.
  return AIGW_OK;
}

aigw_status Runtime::emit(aigw_request* r, const aigw_plugin_bytes* chunks, size_t n) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  if (!r->attempt.started || (n > 0 && chunks == nullptr)) return AIGW_ERR_INVALID;
  if (!r->stream) {
    for (size_t i = 0; i < n; ++i) {
      r->attempt.buffered.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
    }
    return AIGW_OK;
  }
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += chunks[i].len;
  if (total == 0) return AIGW_OK;
  if (r->committed && !r->attempt.translated && n <= kGatherParts - 2) {
    // The common case, every event after the first content: the chunk-size
    // line, the plugin's bytes and CRLF go to the connection's output as
    // parts, one copy in all (they were joined, framed and copied again).
    http::ChunkSizeText size_text;
    const bool chunked = r->version_minor != 0;  // HTTP/1.0: the body runs to the close
    if (n == 1 && chunked) {
      // One piece, as a plugin's batch of one read nearly always is: three
      // parts, not a zeroed array of kGatherParts.
      const std::string_view parts[3] = {http::chunk_size_line(size_text, total),
                                         {reinterpret_cast<const char*>(chunks[0].ptr), chunks[0].len}, "\r\n"};
      write_out(r, parts, 3, false);
      return AIGW_OK;
    }
    std::string_view parts[kGatherParts];
    size_t count = 0;
    if (chunked) parts[count++] = http::chunk_size_line(size_text, total);
    for (size_t i = 0; i < n; ++i) {
      if (chunks[i].len > 0) parts[count++] = {reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len};
    }
    if (chunked) parts[count++] = "\r\n";
    write_out(r, parts, count, false);
    return AIGW_OK;
  }
  std::string frame;
  std::string joined;
  for (size_t i = 0; i < n; ++i) joined.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
  if (r->attempt.translated && !translate_stream(r, joined)) return AIGW_OK;
  if (!r->committed) {
    hold(r, joined);  // framed when committed
    // A translated stream commits when its Anthropic content begins, also
    // for a plugin too old to say so itself.
    if (r->attempt.translated && r->attempt.stream_reply->content_started()) commit(r);
    return AIGW_OK;
  }
  if (r->version_minor == 0) {
    frame = std::move(joined);
  } else {
    http::write_chunk(frame, joined);
  }
  write_out(r, frame, false);
  return AIGW_OK;
}

aigw_status Runtime::finish(aigw_request* r, aigw_status status, std::string_view message) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  // The provider failed or is busy and nothing reached the client yet:
  // another channel may still answer.
  if ((status == AIGW_ERR_INTERNAL || status == AIGW_ERR_LIMIT) && !r->committed &&
      try_failover(r, status == AIGW_ERR_LIMIT ? routing::Failure::rate_limited : routing::Failure::server_error,
                   0, status == AIGW_ERR_LIMIT ? metrics::UpstreamError::status_429
                                               : metrics::UpstreamError::status_5xx)) {
    return AIGW_OK;
  }
  end_response(r, status == AIGW_OK, status_for(status), code_for(status),
               message.empty() ? std::string_view("The provider failed.") : message);
  return AIGW_OK;
}

http::ResponseMeta Runtime::response_meta(const aigw_request* r) const {
  http::ResponseMeta meta;
  meta.version_minor = r->version_minor;
  meta.keep_alive = r->keep_alive;
  meta.date = host_.date();
  meta.request_id = r->request_id;
  if (r->messages_api) meta.errors = http::ErrorShape::anthropic;
  return meta;
}

void Runtime::end_response(aigw_request* r, bool ok, int http_status, std::string_view code,
                                 std::string_view message) {
  r->finished = true;
  http::ResponseMeta meta = response_meta(r);
  std::string out;
  std::string attempts;
  // A translated error answer to a stream request goes out whole, like an
  // answer that is not a stream (commit() held it back).
  const bool whole = !r->stream || (r->attempt.translated && r->attempt.status >= 400 && !r->committed);
  if (ok && r->attempt.started && r->stream && r->attempt.translated && !whole) finish_translated_stream(r);
  if (ok && r->attempt.started && !whole && !r->committed) commit(r);
  r->final_status = ok && r->attempt.started ? r->attempt.status : ok ? 502 : http_status;
  if (!ok || !r->attempt.started) r->error_code.assign(ok ? std::string_view("provider_error") : code);
  if (ok && r->attempt.started && whole) {
    r->committed = true;
    if (r->attempt.translated) {
      r->final_status = translate_whole(r, r->attempt.buffered);
      r->attempt.status = r->final_status;
      for (auto& [k, v] : r->attempt.resp_headers) {
        if (http::iequals(k, "content-type")) v = "application/json";
      }
    }
    std::vector<http::ResponseHeader> hs;
    hs.reserve(r->attempt.resp_headers.size() + routing_header_bound(r));
    routing_headers(r, hs, attempts);
    std::string_view content_type;
    for (auto& [k, v] : r->attempt.resp_headers) {
      if (http::iequals(k, "content-type")) {
        content_type = v;
      } else {
        hs.push_back({k, v});
      }
    }
    if (content_type.empty() && r->attempt.translated) content_type = "application/json";
    http::write_response(out, r->attempt.status, meta, content_type, r->attempt.buffered, hs.data(), hs.size());
  } else if (ok && r->attempt.started) {
    if (r->version_minor != 0) http::write_last_chunk(out);
  } else if (ok) {
    http::write_error(out, 502, meta, "provider_error", "The provider finished without a response.");
  } else {
    std::string msg(message);
    if (r->committed && r->stream) {
      // Bytes are already on the wire: end the stream with an error event,
      // never a silent cut.
      std::string ev = stream_error_event(r, http_status, code, msg);
      if (r->version_minor == 0) {
        out = ev;
      } else {
        http::write_chunk(out, ev);
        http::write_last_chunk(out);
      }
    } else {
      std::vector<http::ResponseHeader> hs;
      routing_headers(r, hs, attempts);
      std::string retry;
      if (r->attempt.retry_after_s != 0) {
        retry = std::to_string(r->attempt.retry_after_s);
        hs.push_back({"Retry-After", retry});
      }
      http::write_error(out, http_status, meta, code, msg, hs.data(), hs.size());
    }
  }
  r->attempt.buffered.clear();
  write_out(r, out, true);
  for (aigw_process* p : r->attempt.procs) kill_process(p);
  if (r->depth == 0) destroy(r);
}

aigw_status Runtime::timer_start(aigw_request* r, uint64_t delay_ns, uint64_t token) {
  if (r->finished || r->client_gone) return AIGW_ERR_CLOSED;
  timers_.push(Timer{now_ns() + delay_ns, r->index, r->generation, token, kPluginTimer});
  return AIGW_OK;
}

void Runtime::run_due_timers(uint64_t now) {
  if (int64_t u = client_.next_deadline_ns(); u != 0 && static_cast<uint64_t>(u) <= now) {
    client_.run_timers(static_cast<int64_t>(now));
  }
  while (!timers_.empty() && timers_.top().deadline_ns <= now) {
    Timer t = timers_.top();
    timers_.pop();
    if (t.kind != kPluginTimer) {
      on_process_timer(t.kind, t.index, t.generation);
      continue;
    }
    aigw_request* r = request(t.index, t.generation);
    if (!r || r->finished || !r->attempt.hooks->on_timer) continue;
    enter(r);
    r->attempt.hooks->on_timer(r->attempt.ctx, t.token);
    leave(r);
  }
}

// ---- accounting -------------------------------------------------------------------

void Runtime::account(aigw_request* r) {
  int64_t now = io::mono_ns();
  if (r->ticket.valid && limiter_) {
    limiter_->settle(r->ticket, r->has_usage ? r->usage_total : r->estimate, now, time(nullptr));
  }
  if (r->committed && r->stream) host_.metrics().stream_closed();
  const plugin::Generation& gen = *r->wgen->gen;
  std::string_view provider;
  if (r->attempt.channel >= 0) {
    provider = gen.providers[r->attempt.provider].config->name;
    int status = r->final_status != 0 ? r->final_status : 499;
    host_.metrics().provider(provider)->count_attempt(
        status < 500 && status != 429 && r->finished ? metrics::AttemptResult::ok
                                                      : metrics::AttemptResult::failed);
  }
  metrics::RequestRecord rec;
  rec.request_id = r->request_id;
  rec.method = "POST";
  rec.path = r->log_path;
  rec.peer = r->peer;
  rec.model = r->route ? std::string_view(r->route->model) : std::string_view();
  rec.provider = provider;
  rec.key = r->key_name;
  // A client that left before the response ended: 499, as nginx logs it.
  rec.status = r->final_status != 0 ? r->final_status : 499;
  rec.error = r->final_status != 0 ? std::string_view(r->error_code) : std::string_view("client_closed");
  rec.prompt_tokens = r->usage_prompt;
  rec.completion_tokens = r->usage_completion;
  rec.total_tokens = r->usage_total;
  rec.cached_tokens = r->usage_cached;
  rec.reasoning_tokens = r->usage_reasoning;
  rec.start_ns = r->start_ns;
  rec.first_byte_ns = r->first_byte_ns;
  rec.end_ns = now;
  rec.attempts = r->attempts;
  rec.stream = r->stream;
  rec.finish_reason = finish_reason_of(r->attempt.finish_reason);
  host_.record(rec);
}


}  // namespace aigw::gateway
