// HTTP mode: the upstream HTTP/1.1 client of a worker. Connections are pooled
// per (scheme, host, port) with a cap per worker, kept alive between
// requests, and every byte goes through the worker's ring. The plugin
// describes the request (build_upstream) and turns the response into client
// bytes (on_upstream_head / on_upstream_body); this file moves the bytes and
// enforces the timeouts.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "log/log.h"
#include "server/clock.h"
#include "server/plugin_exchange.h"
#include "server/upstream_conn.h"
#include "server/worker.h"

namespace aigw::server {

namespace {

int64_t ns(config::Duration d) { return static_cast<int64_t>(d.count()) * 1000000; }

std::string_view endpoint_path(aigw_endpoint e) {
  switch (e) {
    case AIGW_ENDPOINT_CHAT_COMPLETIONS: return "/chat/completions";
    case AIGW_ENDPOINT_COMPLETIONS: return "/completions";
    case AIGW_ENDPOINT_EMBEDDINGS: return "/embeddings";
    default: return "/";
  }
}

std::string_view sv(aigw_plugin_str s) { return {s.ptr ? s.ptr : "", s.ptr ? s.len : 0}; }

bool header_safe(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c <= ' ' || c == ':' || c == 0x7f) return false;
  }
  return value.find_first_of("\r\n") == std::string_view::npos && value.find('\0') == std::string_view::npos;
}

// Connections are shared only between providers that would make the same
// connection: same address and, for https, the same trust settings (a
// connection verified against one CA must not serve a provider that trusts
// another).
std::string pool_key(const config::UpstreamConfig& u) {
  std::string key = (u.tls ? "https://" : "http://") + u.host + ":" + std::to_string(u.port);
  if (u.tls) key += (u.tls_verify ? " verify " : " insecure ") + u.ca_file;
  return key;
}

socklen_t addr_len(const sockaddr_storage& ss) {
  return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

// ---- starting an upstream exchange ------------------------------------------

void PluginRuntime::start_upstream(aigw_request* r) {
  const config::UpstreamConfig& u = *r->upstream;
  aigw_upstream_request up{};
  up.struct_size = sizeof up;
  up.body_unchanged = 1;
  up.method = {"POST", 4};
  std::string_view path = endpoint_path(r->client.endpoint);
  up.path_and_query = {path.data(), path.size()};
  if (r->probe) {
    up.body_unchanged = 0;
    up.method = {r->header_store[0].data(), r->header_store[0].size()};
    up.path_and_query = {r->header_store[1].data(), r->header_store[1].size()};
  }
  char msg[512] = {0};
  aigw_errbuf err{msg, sizeof msg};
  aigw_status st = r->hooks->build_upstream(r->ctx, &up, &err);
  if (r->finished) return;
  if (st != AIGW_OK) {
    msg[sizeof msg - 1] = 0;
    finish(r, st, msg[0] ? msg : "The provider could not build the upstream request.");
    return;
  }
  std::string_view method = sv(up.method);
  std::string_view target = sv(up.path_and_query);
  if (method.empty() || method.find_first_of(" \r\n") != std::string_view::npos ||
      target.find_first_of(" \r\n") != std::string_view::npos ||
      (!target.empty() && target[0] != '/' && target[0] != '?')) {
    finish(r, AIGW_ERR_INTERNAL, "The provider plugin described an invalid upstream request.");
    return;
  }

  std::string& out = r->upstream_request;
  uint64_t body_len = 0;
  if (up.body_unchanged) {
    body_len = r->body.size();
  } else {
    for (size_t i = 0; i < up.body_count; ++i) body_len += up.body[i].len;
  }
  out.reserve(256 + body_len);
  out.append(method).append(" ").append(u.base_path).append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(u.host_header).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(body_len)).append("\r\n");
  for (size_t i = 0; i < up.header_count; ++i) {
    std::string_view n = sv(up.headers[i].name);
    std::string_view v = sv(up.headers[i].value);
    // The host owns framing and the Host header; anything that could split
    // the request is refused rather than sent.
    if (!header_safe(n, v) || http::iequals(n, "host") || http::iequals(n, "content-length") ||
        http::iequals(n, "transfer-encoding") || http::iequals(n, "connection")) {
      continue;
    }
    out.append(n).append(": ").append(v).append("\r\n");
  }
  out.append("\r\n");
  if (up.body_unchanged) {
    out.append(r->body.data(), r->body.size());
  } else {
    for (size_t i = 0; i < up.body_count; ++i) {
      out.append(reinterpret_cast<const char*>(up.body[i].ptr), up.body[i].len);
    }
  }
  r->deadline_total_ns = mono_ns() + ns(r->probe ? r->wgen->gen->providers[r->provider].config->probe_timeout
                                                : u.request_timeout);
  acquire_connection(r);
}

void PluginRuntime::acquire_connection(aigw_request* r) {
  std::string key = pool_key(*r->upstream);
  Pool& pool = pools_[key];
  while (!pool.idle.empty()) {
    uint32_t i = pool.idle.back();
    pool.idle.pop_back();
    UpstreamConn& c = *uconns_[i];
    if (c.fd < 0 || c.state != UpstreamConn::State::ready) continue;
    c.state = UpstreamConn::State::busy;
    c.req = r;
    r->conn = &c;
    send_request(c);
    return;
  }
  if (pool.open < r->upstream->max_connections) {
    connect_new(r, key);
    return;
  }
  // Every connection is busy: wait for one, within the connect timeout.
  pool.waiting.emplace_back(r->index, r->generation);
  arm_upstream_timer(r, mono_ns() + ns(r->upstream->connect_timeout));
}

void PluginRuntime::connect_new(aigw_request* r, const std::string& key) {
  const auto& addrs = *r->upstream_addrs;
  static thread_local size_t rr = 0;  // spreads connections over the resolved addresses
  const sockaddr_storage& addr = addrs[rr++ % addrs.size()];
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    upstream_fail(r, 502, "upstream_unreachable", std::string("socket: ") + std::strerror(errno));
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  uint32_t i;
  if (!free_uconns_.empty()) {
    i = free_uconns_.back();
    free_uconns_.pop_back();
  } else {
    i = static_cast<uint32_t>(uconns_.size());
    // Not make_unique: value-initialising would zero the receive buffer and
    // make all of it resident on every connection, idle pooled ones too.
    uconns_.push_back(std::unique_ptr<UpstreamConn>(new UpstreamConn));
    uconns_[i]->index = i;
  }
  UpstreamConn& c = *uconns_[i];
  c.fd = fd;
  c.state = UpstreamConn::State::connecting;
  c.pool_key = key;
  c.addr = addr;
  c.addr_len = addr_len(addr);
  c.req = r;
  r->conn = &c;
  ++pools_[key].open;

  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&c.addr), c.addr_len);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_connect, c.index, c.generation));
  ++c.ops;
  arm_upstream_timer(r, mono_ns() + ns(r->upstream->connect_timeout));
}

tls::ClientContext* PluginRuntime::tls_context(const config::UpstreamConfig& u, std::string& why) {
  // One context per CA choice per worker: each has its own random generator
  // (shared-nothing), and loading a CA bundle is done once, not per connection.
  std::string key = (u.tls_verify ? "verify:" : "insecure:") + u.ca_file;
  auto it = tls_contexts_.find(key);
  if (it != tls_contexts_.end()) return it->second.get();
  std::unique_ptr<tls::ClientContext> ctx =
      u.tls_verify ? tls::ClientContext::create(u.ca_file, why) : tls::ClientContext::create_insecure(why);
  if (!ctx) return nullptr;
  if (!u.tls_verify) {
    log::warn("TLS certificate verification is off for an upstream (tls_verify = false)",
              {{"upstream", u.host_header}});
  }
  return tls_contexts_.emplace(key, std::move(ctx)).first->second.get();
}

void PluginRuntime::send_request(UpstreamConn& c) {
  aigw_request* r = c.req;
  c.acc.clear();
  c.head_done = false;
  c.decoded.clear();
  c.chunked.reset();
  c.request_written = false;
  if (!c.recv_armed) arm_upstream_recv(c);
  if (c.tls && !c.tls->handshake_done()) {
    // The request follows the handshake (tls_step); the connect timeout
    // covers the handshake as well.
    if (!tls_step(c)) return;
    return;
  }
  write_request(c);
  (void)r;
}

void PluginRuntime::write_request(UpstreamConn& c) {
  aigw_request* r = c.req;
  if (r == nullptr || c.request_written) return;
  c.request_written = true;
  // The request stays in the aigw_request too: a retry sends it again.
  if (c.tls) {
    if (c.tls->write(r->upstream_request) != tls::Session::Status::ok) {
      std::string msg = "TLS with the provider failed: " + c.tls->error();
      close_upstream(c);
      upstream_fail(r, 502, "upstream_tls_error", msg);
      return;
    }
    queue_send(c, c.tls->take_output());
  } else {
    queue_send(c, r->upstream_request);
  }
  r->deadline_first_byte_ns = mono_ns() + ns(r->upstream->first_byte_timeout);
  arm_upstream_timer(r, r->deadline_first_byte_ns);
}

void PluginRuntime::queue_send(UpstreamConn& c, std::string_view bytes) {
  if (bytes.empty()) return;
  if (c.send_inflight) {
    c.pending.append(bytes);
    return;
  }
  c.sending.assign(bytes);
  c.sending_off = 0;
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_send(sqe, c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_send, c.index, c.generation));
  c.send_inflight = true;
  ++c.ops;
}

bool PluginRuntime::tls_step(UpstreamConn& c) {
  const uint32_t generation = c.generation;
  tls::Session::Status st = c.tls->handshake();
  if (c.tls->has_output()) queue_send(c, c.tls->take_output());
  if (st == tls::Session::Status::want_io) return true;
  aigw_request* r = c.req;
  if (st != tls::Session::Status::ok) {
    std::string msg = "TLS with the provider failed: " + c.tls->error();
    close_upstream(c);
    if (r) upstream_fail(r, 502, "upstream_tls_error", msg);
    return false;
  }
  c.tls->save(pools_[c.pool_key].tls_session);
  if (r) write_request(c);
  // write_request may have failed and released c (then reused or not).
  return c.generation == generation && c.state != UpstreamConn::State::closing;
}

void PluginRuntime::arm_upstream_recv(UpstreamConn& c) {
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_recv(sqe, c.fd, c.in, sizeof c.in, 0);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_recv, c.index, c.generation));
  c.recv_armed = true;
  ++c.ops;
}

void PluginRuntime::arm_upstream_timer(aigw_request* r, int64_t deadline_ns) {
  if (r->deadline_total_ns != 0 && deadline_ns > r->deadline_total_ns) {
    deadline_ns = r->deadline_total_ns;
  }
  int64_t old = r->upstream_deadline_ns;
  r->upstream_deadline_ns = deadline_ns;
  if (r->heap_index == SIZE_MAX) {
    r->heap_index = upstream_heap_.size();
    upstream_heap_.push_back(r);
    heap_up(r->heap_index);
  } else if (deadline_ns < old) {
    heap_up(r->heap_index);
  } else {
    heap_down(r->heap_index);
  }
}

void PluginRuntime::disarm_upstream_timer(aigw_request* r) {
  size_t i = r->heap_index;
  if (i == SIZE_MAX) return;
  size_t last = upstream_heap_.size() - 1;
  if (i != last) {
    heap_swap(i, last);
    upstream_heap_.pop_back();
    heap_down(i);
    heap_up(i);
  } else {
    upstream_heap_.pop_back();
  }
  r->heap_index = SIZE_MAX;
}

void PluginRuntime::heap_swap(size_t a, size_t b) {
  std::swap(upstream_heap_[a], upstream_heap_[b]);
  upstream_heap_[a]->heap_index = a;
  upstream_heap_[b]->heap_index = b;
}

void PluginRuntime::heap_up(size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (upstream_heap_[parent]->upstream_deadline_ns <= upstream_heap_[i]->upstream_deadline_ns) break;
    heap_swap(i, parent);
    i = parent;
  }
}

void PluginRuntime::heap_down(size_t i) {
  const size_t n = upstream_heap_.size();
  for (;;) {
    size_t l = 2 * i + 1, smallest = i;
    if (l < n && upstream_heap_[l]->upstream_deadline_ns < upstream_heap_[smallest]->upstream_deadline_ns) smallest = l;
    if (l + 1 < n && upstream_heap_[l + 1]->upstream_deadline_ns < upstream_heap_[smallest]->upstream_deadline_ns) {
      smallest = l + 1;
    }
    if (smallest == i) return;
    heap_swap(i, smallest);
    i = smallest;
  }
}

// ---- completions ----------------------------------------------------------------

void PluginRuntime::on_upstream_cqe(uint8_t op, uint32_t index, uint32_t generation, int res) {
  if (index >= uconns_.size()) return;
  UpstreamConn& c = *uconns_[index];
  if (c.generation != generation) return;
  --c.ops;
  switch (static_cast<io::Op>(op)) {
    case io::Op::upstream_connect:
      if (c.state == UpstreamConn::State::closing) break;
      if (res < 0) {
        aigw_request* r = c.req;
        std::string msg = "Cannot connect to the provider " + r->upstream->host_header + ": " +
                          std::strerror(-res);
        close_upstream(c);
        upstream_fail(r, 502, "upstream_unreachable", msg);
        break;
      }
      c.state = UpstreamConn::State::busy;
      if (c.req->upstream->tls) {
        std::string why;
        tls::ClientContext* ctx = tls_context(*c.req->upstream, why);
        c.tls = std::make_unique<tls::Session>();
        Pool& pool = pools_[c.pool_key];
        if (!ctx || !c.tls->init_client(*ctx, c.req->upstream->host,
                                        pool.tls_session.empty() ? nullptr : &pool.tls_session, why)) {
          aigw_request* r = c.req;
          close_upstream(c);
          upstream_fail(r, 502, "upstream_tls_error", "TLS setup for the provider failed: " + why);
          break;
        }
      }
      send_request(c);
      break;
    case io::Op::upstream_send:
      c.send_inflight = false;
      if (c.state == UpstreamConn::State::closing) break;
      if (res < 0) {
        aigw_request* r = c.req;
        bool retry = r && c.served > 0 && !c.head_done && c.acc.empty();
        close_upstream(c);
        if (r) {
          if (retry) {
            acquire_connection(r);  // a reused connection the provider had closed
          } else {
            upstream_fail(r, 502, "upstream_error",
                          std::string("Sending to the provider failed: ") + std::strerror(-res));
          }
        }
        break;
      }
      c.sending_off += static_cast<size_t>(res);
      if (c.sending_off < c.sending.size()) {
        io_uring_sqe* sqe = worker_.sqe();
        io_uring_prep_send(sqe, c.fd, c.sending.data() + c.sending_off,
                           c.sending.size() - c.sending_off, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, io::pack(io::Op::upstream_send, c.index, c.generation));
        c.send_inflight = true;
        ++c.ops;
      } else if (!c.pending.empty()) {
        std::string next;
        next.swap(c.pending);
        queue_send(c, next);
      } else {
        std::string().swap(c.sending);
      }
      break;
    case io::Op::upstream_recv: {
      c.recv_armed = false;
      if (c.state == UpstreamConn::State::closing) break;
      if (res > 0) {
        if (c.state == UpstreamConn::State::ready) {
          // Bytes on an idle connection: the provider broke the protocol.
          close_upstream(c);
          break;
        }
        std::string_view got(c.in, static_cast<size_t>(res));
        if (c.tls) {
          c.tls->feed(got);
          if (!c.tls->handshake_done()) {
            if (!tls_step(c)) break;
          }
          if (c.tls->handshake_done()) {
            c.plain.clear();
            tls::Session::Status st = tls::Session::Status::ok;
            while (c.state != UpstreamConn::State::closing &&
                   (st = c.tls->read(c.plain)) == tls::Session::Status::ok) {
            }
            if (st == tls::Session::Status::error) {
              aigw_request* r = c.req;
              std::string msg = "TLS with the provider failed: " + c.tls->error();
              close_upstream(c);
              if (r) upstream_fail(r, 502, "upstream_tls_error", msg);
              break;
            }
            if (!c.plain.empty()) {
              std::string plain = std::move(c.plain);  // c may be released while it is read
              c.plain.clear();
              on_upstream_bytes(c, plain);
            }
            if (st == tls::Session::Status::closed && c.state != UpstreamConn::State::closing) {
              res = 0;  // close_notify: handled like the end of the connection below
              goto eof;
            }
          }
        } else {
          on_upstream_bytes(c, got);
        }
        if (c.fd >= 0 && c.state != UpstreamConn::State::closing && !c.recv_armed) {
          arm_upstream_recv(c);
        }
        break;
      }
    eof:
      aigw_request* r = c.req;
      if (r == nullptr || c.state == UpstreamConn::State::ready) {
        close_upstream(c);  // an idle keep-alive connection the provider closed
        break;
      }
      if (res == 0 && c.head_done && c.head.body_kind == http::ResponseBodyKind::until_close) {
        deliver_body(c, {}, true);
        break;
      }
      bool retry = res == 0 && c.served > 0 && !c.head_done && c.acc.empty() &&
                   !r->upstream_head_seen;
      bool mid_response = c.head_done;
      close_upstream(c);  // c may be reused from here on: read nothing more of it
      if (retry) {
        acquire_connection(r);
      } else if (res == 0) {
        upstream_fail(r, 502, "upstream_closed",
                      mid_response ? "The provider closed the connection in the middle of the response."
                                   : "The provider closed the connection without answering.");
      } else {
        upstream_fail(r, 502, "upstream_error",
                      std::string("Reading from the provider failed: ") + std::strerror(-res));
      }
      break;
    }
    default:
      break;
  }
  if (c.state == UpstreamConn::State::closing && c.ops == 0) release_upstream(c);
}

void PluginRuntime::on_upstream_bytes(UpstreamConn& c, std::string_view bytes) {
  aigw_request* r = c.req;
  if (r == nullptr) return;
  // The first byte ends the first-byte wait; from then on the longest
  // allowed pause between bytes is the stream-idle timeout.
  arm_upstream_timer(r, mono_ns() + ns(r->upstream->stream_idle_timeout));
  if (!r->upstream_head_seen || !c.head_done) {
    c.acc.append(bytes);
    for (;;) {
      http::ParseError err;
      http::ResponseLimits limits;
      auto st = http::parse_response_head(c.acc, c.request_was_head, limits, c.head, err);
      if (st == http::ParseStatus::incomplete) return;
      if (st == http::ParseStatus::error) {
        close_upstream(c);
        upstream_fail(r, 502, err.code, std::string("The provider's response is malformed: ") + err.message);
        return;
      }
      if (c.head.informational()) {
        c.acc.erase(0, c.head.head_bytes);
        continue;
      }
      break;
    }
    c.head_done = true;
    r->upstream_head_seen = true;
    if (r->probe) {
      end_probe(r, c.head.status == r->wgen->gen->providers[r->provider].probe_expect);
      return;
    }
    std::vector<aigw_host_header> hs;
    hs.reserve(c.head.headers.size());
    for (const http::Header& h : c.head.headers) {
      hs.push_back({{h.name.data(), h.name.size()}, {h.value.data(), h.value.size()}});
    }
    aigw_upstream_verdict verdict{sizeof verdict, AIGW_ERROR_NONE, 0};
    enter(r);
    aigw_status st = r->hooks->on_upstream_head(r->ctx, c.head.status, hs.data(), hs.size(), &verdict);
    bool gone = r->finished;
    if (!gone) {
      // The verdict steers routing: a failing channel is reported, and if
      // another channel can take the request this response is dropped
      // unread (nothing of it has reached the client).
      bool failover = false;
      switch (verdict.error_class) {
        case AIGW_ERROR_RETRYABLE:
          failover = try_failover(r, routing::Failure::server_error, 0);
          break;
        case AIGW_ERROR_RATE_LIMITED:
          failover = try_failover(r, routing::Failure::rate_limited,
                                  static_cast<int64_t>(verdict.retry_after_ms) * 1000000);
          break;
        case AIGW_ERROR_KEY_INVALID:
          failover = try_failover(r, routing::Failure::key_invalid, 0);
          break;
        default:
          report_success(r);  // the channel answered (a client error is the request's fault)
          break;
      }
      if (!failover && st != AIGW_OK && !r->finished) {
        finish(r, st, "The provider plugin rejected the upstream response.");
      }
    }
    gone = r->finished;
    leave(r);
    if (gone) {
      // The request ended (the plugin finished it, or it failed): the rest
      // of this response is not read; the connection cannot be reused.
      if (c.req == nullptr || c.req != r) return;
      close_upstream(c);
      return;
    }
    c.body_left = c.head.content_length;
    std::string rest = c.acc.substr(c.head.head_bytes);
    c.acc.clear();
    if (c.head.body_kind == http::ResponseBodyKind::none) {
      deliver_body(c, {}, true);
      return;
    }
    if (!rest.empty()) {
      on_upstream_bytes(c, rest);
    } else if (c.head.body_kind == http::ResponseBodyKind::length && c.body_left == 0) {
      deliver_body(c, {}, true);
    }
    return;
  }

  switch (c.head.body_kind) {
    case http::ResponseBodyKind::length: {
      size_t take = static_cast<size_t>(std::min<uint64_t>(c.body_left, bytes.size()));
      c.body_left -= take;
      if (take < bytes.size()) {
        // More bytes than the Content-Length: deliver the body, never reuse.
        c.head.keep_alive = false;
      }
      deliver_body(c, bytes.substr(0, take), c.body_left == 0);
      break;
    }
    case http::ResponseBodyKind::chunked: {
      size_t consumed = 0;
      http::ParseError err;
      http::ResponseLimits limits;
      c.decoded.clear();
      auto res = c.chunked.feed(bytes, consumed, c.decoded, limits.chunked_limits(), err);
      if (res == http::ChunkedDecoder::Result::error) {
        http::ParseError e = http::to_upstream_error(err);
        close_upstream(c);
        upstream_fail(r, 502, e.code, std::string("The provider's response body is malformed: ") + e.message);
        return;
      }
      bool end = res == http::ChunkedDecoder::Result::done;
      if (end && consumed < bytes.size()) c.head.keep_alive = false;
      if (!c.decoded.empty() || end) deliver_body(c, c.decoded, end);
      break;
    }
    case http::ResponseBodyKind::until_close:
      deliver_body(c, bytes, false);
      break;
    case http::ResponseBodyKind::none:
      break;
  }
}

void PluginRuntime::deliver_body(UpstreamConn& c, std::string_view data, bool end) {
  aigw_request* r = c.req;
  if (r == nullptr) return;
  aigw_host_bytes b{reinterpret_cast<const uint8_t*>(data.data()), data.size()};
  enter(r);
  if (!r->finished) r->hooks->on_upstream_body(r->ctx, data.empty() ? nullptr : &b, data.empty() ? 0 : 1, end ? 1 : 0);
  if (end && !r->finished) {
    // The plugin owes a finish at the end of the body; a plugin that forgets
    // must not leave the client waiting.
    finish(r, r->started ? AIGW_OK : AIGW_ERR_INTERNAL, "The provider plugin did not finish the response.");
  }
  bool reusable = end && c.head.keep_alive && c.req == r;
  if (end && c.req == r) {
    // Detach first: leave() may destroy the request, which would otherwise
    // close a connection that is fit for reuse.
    r->conn = nullptr;
    c.req = nullptr;
  }
  leave(r);
  if (end && c.state != UpstreamConn::State::closing) upstream_done(c, reusable);
}

void PluginRuntime::upstream_done(UpstreamConn& c, bool reusable) {
  c.req = nullptr;
  ++c.served;
  if (!reusable || c.fd < 0 || c.state == UpstreamConn::State::closing) {
    close_upstream(c);
    return;
  }
  c.state = UpstreamConn::State::ready;
  c.acc.clear();
  c.decoded.clear();
  c.head_done = false;
  Pool& pool = pools_[c.pool_key];
  // A waiting request takes the connection at once.
  while (!pool.waiting.empty()) {
    auto [idx, gen] = pool.waiting.front();
    pool.waiting.pop_front();
    aigw_request* w = request(idx, gen);
    if (!w || w->finished) continue;
    c.state = UpstreamConn::State::busy;
    c.req = w;
    w->conn = &c;
    send_request(c);
    return;
  }
  pool.idle.push_back(c.index);
  if (!c.recv_armed) arm_upstream_recv(c);  // notices a provider closing an idle connection
}

void PluginRuntime::upstream_fail(aigw_request* r, int status, std::string_view code,
                                  std::string_view message) {
  if (r->conn) {
    UpstreamConn* c = r->conn;
    r->conn = nullptr;
    c->req = nullptr;
    close_upstream(*c);
  }
  if (r->finished) return;
  if (r->probe) {
    end_probe(r, false);
    return;
  }
  // To routing, a TLS failure is a connect failure and anything malformed
  // or cut short a server error; the metric keeps them apart.
  routing::Failure f = routing::Failure::server_error;
  metrics::UpstreamError kind = metrics::UpstreamError::protocol;
  if (code == "upstream_timeout" || code == "upstream_busy") {
    f = routing::Failure::timeout;
    kind = metrics::UpstreamError::timeout;
  } else if (code == "upstream_unreachable") {
    f = routing::Failure::connect;
    kind = metrics::UpstreamError::connect;
  } else if (code == "upstream_tls_error") {
    f = routing::Failure::connect;
    kind = metrics::UpstreamError::tls;
  }
  if (try_failover(r, f, 0, static_cast<int>(kind))) return;
  end_response(r, false, status, code, message);
}

void PluginRuntime::upstream_timeout(aigw_request* r) {
  UpstreamConn* c = r->conn;
  if (c == nullptr) {
    // Still waiting for a free connection in the pool.
    upstream_fail(r, 503, "upstream_busy",
                  "Every connection to the provider is busy; try again shortly.");
    return;
  }
  int64_t now = mono_ns();
  const char* what = c->state == UpstreamConn::State::connecting ? "connecting to the provider"
                     : !r->upstream_head_seen                     ? "waiting for the provider's answer"
                     : now >= r->deadline_total_ns                ? "the whole request"
                                                                  : "the next bytes of the response";
  upstream_fail(r, 504, "upstream_timeout", std::string("Timed out ") + what + ".");
}

void PluginRuntime::close_upstream(UpstreamConn& c) {
  if (c.state == UpstreamConn::State::closing) return;
  if (c.req) {
    c.req->conn = nullptr;
    c.req = nullptr;
  }
  c.state = UpstreamConn::State::closing;
  if (c.ops == 0) {
    release_upstream(c);
    return;
  }
  io_uring_sqe* sqe = worker_.sqe();
  io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, 0, 0));
}

void PluginRuntime::release_upstream(UpstreamConn& c) {
  if (c.fd >= 0) close(c.fd);
  auto it = pools_.find(c.pool_key);
  if (it != pools_.end()) {
    Pool& pool = it->second;
    if (pool.open > 0) --pool.open;
    for (size_t i = 0; i < pool.idle.size(); ++i) {
      if (pool.idle[i] == c.index) {
        pool.idle.erase(pool.idle.begin() + static_cast<long>(i));
        break;
      }
    }
    // A slot opened up: a waiting request may connect now.
    while (!pool.waiting.empty() && pool.open < 1u << 30) {
      auto [idx, gen] = pool.waiting.front();
      aigw_request* w = request(idx, gen);
      if (!w || w->finished) {
        pool.waiting.pop_front();
        continue;
      }
      if (pool.open >= w->upstream->max_connections) break;
      pool.waiting.pop_front();
      connect_new(w, c.pool_key);
      break;
    }
  }
  // Reset in place rather than replace: callers up the stack may still hold
  // a reference (they read nothing more, but the memory stays valid).
  uint32_t index = c.index;
  uint32_t generation = c.generation + 1;
  c.fd = -1;
  c.state = UpstreamConn::State::connecting;
  c.pool_key.clear();
  c.ops = 0;
  c.recv_armed = c.send_inflight = false;
  c.served = 0;
  c.req = nullptr;
  c.sending.clear();
  c.pending.clear();
  c.sending_off = 0;
  c.tls.reset();
  c.request_written = false;
  c.plain.clear();
  c.acc.clear();
  c.head_done = false;
  c.chunked.reset();
  c.body_left = 0;
  c.decoded.clear();
  c.index = index;
  c.generation = generation;
  free_uconns_.push_back(index);
}

}  // namespace aigw::server
