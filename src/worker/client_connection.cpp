// Bytes in, requests out: the per-connection half of the worker.
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "auth/keys.h"
#include "log/log.h"
#include "metrics/access_log.h"
#include "io/clock.h"
#include "worker/worker.h"

namespace aigw::worker {

namespace {

// Past this much unsent output we stop reading from the client: a client
// that pipelines requests but does not read responses must not make us
// buffer without bound.
constexpr size_t kMaxOutputBacklog = 256 * 1024;

// Strings above this are given back after use instead of kept for the next
// request, so one large request does not pin memory on an idle connection.
constexpr size_t kKeepCapacity = 16 * 1024;

// Send buffers kept for reuse per worker, and the largest one kept: enough
// for the sends in flight of a busy worker, bounded either way.
constexpr size_t kSpareSendBuffers = 256;
constexpr size_t kSpareSendCapacity = 16 * 1024;

void trim_capacity(std::string& s) {
  if (s.capacity() <= kKeepCapacity) return;
  if (s.empty()) {
    std::string().swap(s);
  } else if (s.capacity() > 4 * s.size()) {
    s.shrink_to_fit();  // keeps the content: it is a partial request
  }
}

bool gone(const Connection& c) { return c.fd < 0 || c.phase == Phase::closing; }

// Absolute-form targets ("http://host/path", RFC 9112 3.2.2) route by path.
std::string_view route_path(std::string_view path) {
  auto starts = [&](std::string_view p) {
    return path.size() >= p.size() && http::iequals(path.substr(0, p.size()), p);
  };
  size_t skip = starts("http://") ? 7 : starts("https://") ? 8 : 0;
  if (skip == 0) return path;
  size_t slash = path.find('/', skip);
  return slash == std::string_view::npos ? std::string_view("/") : path.substr(slash);
}

}  // namespace

// ---- Exchange ---------------------------------------------------------------

void Exchange::respond(int status, std::string_view content_type, std::string_view body,
                       std::initializer_list<http::ResponseHeader> extra) {
  if (ctx_) ctx_->status = status;
  http::write_response(worker_.out_buffer(conn_), status, meta_, content_type, body, extra);
}

void Exchange::error(int status, std::string_view code, std::string_view message,
                     std::initializer_list<http::ResponseHeader> extra) {
  if (ctx_) {
    ctx_->status = status;
    ctx_->error = code;
  }
  http::write_error(worker_.out_buffer(conn_), status, meta_, code, message, extra);
}

// ---- reading ----------------------------------------------------------------

void Worker::arm_recv(Connection& c) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_.group_id();
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::recv, c.index, c.generation));
  c.recv_armed = true;
  ++c.ops;
}

void Worker::on_recv(Connection& c, const io_uring_cqe* cqe) {
  const bool more = cqe->flags & IORING_CQE_F_MORE;
  if (!more) {
    c.recv_armed = false;
    --c.ops;
  }
  const int res = cqe->res;
  if (res > 0) {
    auto bid = static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    if (c.phase == Phase::lingering || c.phase == Phase::closing || c.close_after_write) {
      // Input after our final response is read only to be discarded.
    } else if (c.tls) {
      on_tls_data(c, buffers_.data(bid, static_cast<size_t>(res)));
    } else {
      on_data(c, buffers_.data(bid, static_cast<size_t>(res)));
    }
    buffers_.recycle(bid);
  } else if (res == 0) {
    c.peer_eof = true;
    if (c.phase != Phase::closing) {
      // A client that half-closes after sending a complete request still
      // gets its answer; anything else ends here.
      if ((c.send_inflight || !c.out.empty()) && c.phase == Phase::idle) {
        c.close_after_write = true;
      } else {
        close_now(c);
      }
    }
  } else if (res == -ENOBUFS) {
    // Every receive buffer handed to the kernel is in use within this batch:
    // more are handed over at the end of the batch (if any are left), and
    // the receive is re-armed once they and the used ones are published.
    buffers_.note_starved();
    if (!gone(c)) rearm_recv_.push_back(c.index);
  } else if (res != -ECANCELED) {
    close_now(c);  // reset by peer and the like
  }
  if (c.fd < 0) return;

  if (c.phase == Phase::closing) {
    if (c.ops == 0) release(c);
    return;
  }
  // A multishot receive can also end on its own (the kernel ran out of room
  // for completions), or a cancel meant for a pause can land after reading
  // resumed: keep reading unless we chose to stop.
  if (!more && !c.recv_armed && (res > 0 || res == -ECANCELED) && !c.read_paused &&
      !c.close_after_write) {
    arm_recv(c);
  }
}

void Worker::on_data(Connection& c, std::string_view data) {
  if (c.read_paused) {
    c.in.append(data);  // arrived before the cancel took effect
    return;
  }
  if (c.phase == Phase::responding) {
    // A pipelined request behind one still being answered: keep it for
    // later, but stop reading if the client sends too much meanwhile.
    c.in.append(data);
    if (c.in.size() > limits_.max_header_bytes) pause_reading(c);
    return;
  }
  if (c.in.empty()) {
    // The common case: parse in place in the kernel's buffer, copy nothing
    // unless a partial request is left over.
    size_t n = process(c, data);
    if (gone(c)) return;
    if (n < data.size() && !c.close_after_write) c.in.assign(data.substr(n));
  } else {
    c.in.append(data);
    size_t n = process(c, c.in);
    if (gone(c)) return;
    if (c.close_after_write) {
      std::string().swap(c.in);
    } else {
      c.in.erase(0, n);
      trim_capacity(c.in);
    }
  }
  flush(c);
  if (!gone(c)) settle_timer(c, c.phase == Phase::body_length || c.phase == Phase::body_chunked);
}

void Worker::on_tls_data(Connection& c, std::string_view ciphertext) {
  c.tls->feed(ciphertext);
  if (!c.tls->handshake_done()) {
    tls::Session::Status st = c.tls->handshake();
    if (st == tls::Session::Status::error || st == tls::Session::Status::closed) {
      // A failed handshake has nobody to answer in HTTP; the alert, if
      // any, goes out before the close.
      log::debug("TLS handshake failed", {{"worker", index_}, {"error", c.tls->error()}});
      close_now(c);
      return;
    }
    flush(c);
    if (!c.tls->handshake_done()) return;
  }
  tls_plain_.clear();
  tls::Session::Status st;
  while ((st = c.tls->read(tls_plain_)) == tls::Session::Status::ok) {
  }
  if (!tls_plain_.empty()) {
    std::string plain;
    plain.swap(tls_plain_);  // on_data may come back here through resume paths
    on_data(c, plain);
    if (gone(c)) return;
  }
  if (st == tls::Session::Status::error) {
    close_now(c);
  } else if (st == tls::Session::Status::closed && !gone(c)) {
    c.peer_eof = true;
    if (!c.send_inflight && c.out.empty() && !c.tls->has_output()) close_now(c);
    else c.close_after_write = true;
  }
}

bool Worker::parse_head_ready(Connection& c, std::string_view view) const {
  // Only parse when a new line end arrived: a client dribbling one byte at a
  // time must not make us re-parse the whole head for every byte.
  if (view.size() > c.scanned &&
      std::memchr(view.data() + c.scanned, '\n', view.size() - c.scanned) != nullptr) {
    return true;
  }
  c.scanned = view.size();
  // No line end yet: still let the parser judge an over-long request line.
  return view.size() > limits_.max_uri_bytes || view.size() > limits_.max_header_bytes;
}

size_t Worker::process(Connection& c, std::string_view buf) {
  size_t pos = 0;
  http::ParseError err;
  while (!c.close_after_write && !gone(c)) {
    std::string_view view = buf.substr(pos);
    switch (c.phase) {
      case Phase::idle:
      case Phase::head: {
        if (view.empty()) return pos;
        if (c.out.size() + (c.sending.size() - c.sending_off) > kMaxOutputBacklog) {
          pause_reading(c);
          return pos;
        }
        if (c.phase == Phase::idle) {
          c.phase = Phase::head;
          c.scanned = 0;
        }
        if (!parse_head_ready(c, view)) return pos;
        http::RequestHead& head = scratch_head_;
        switch (http::parse_request_head(view, limits_, head, err)) {
          case http::ParseStatus::incomplete:
            c.scanned = view.size();
            return pos;
          case http::ParseStatus::error:
            fail(c, err.status, err.code, err.message);
            return buf.size();
          case http::ParseStatus::complete:
            break;
        }
        c.head_bytes = head.head_bytes;
        if (head.body_kind == http::BodyKind::none ||
            (head.body_kind == http::BodyKind::length && head.content_length == 0)) {
          c.phase = Phase::idle;
          dispatch(c, head, {});
          pos += head.head_bytes;
          continue;
        }
        if (head.body_kind == http::BodyKind::length) {
          c.need = head.head_bytes + head.content_length;
          if (view.size() >= c.need) {
            c.phase = Phase::idle;
            dispatch(c, head, view.substr(head.head_bytes, head.content_length));
            pos += c.need;
            continue;
          }
          c.phase = Phase::body_length;
        } else {
          c.phase = Phase::body_chunked;
          c.chunked = std::make_unique<ChunkedBody>();
        }
        // The client waits for our go-ahead before sending the body; send it
        // only when nothing of the body has arrived yet.
        if (head.expect_continue && view.size() == head.head_bytes && head.version_minor == 1) {
          c.out.append("HTTP/1.1 100 Continue\r\n\r\n");
        }
        continue;
      }
      case Phase::body_length: {
        if (view.size() < c.need) return pos;
        http::RequestHead& head = scratch_head_;
        // Parsed once before; parse again in place rather than keep views
        // into a buffer that has moved since.
        http::parse_request_head(view, limits_, head, err);
        c.phase = Phase::idle;
        dispatch(c, head, view.substr(c.head_bytes, c.need - c.head_bytes));
        pos += c.need;
        continue;
      }
      case Phase::body_chunked: {
        size_t consumed = 0;
        ChunkedBody& cb = *c.chunked;
        auto r = cb.decoder.feed(view.substr(c.head_bytes + cb.fed), consumed, cb.body, limits_, err);
        cb.fed += consumed;
        if (r == http::ChunkedDecoder::Result::need_more) return pos;
        if (r == http::ChunkedDecoder::Result::error) {
          fail(c, err.status, err.code, err.message);
          return buf.size();
        }
        http::RequestHead& head = scratch_head_;
        http::parse_request_head(view, limits_, head, err);
        c.phase = Phase::idle;
        // dispatch reads the body before it returns (the gateway copies what
        // it keeps), so the decoded body goes once it has.
        std::unique_ptr<ChunkedBody> done = std::move(c.chunked);
        dispatch(c, head, done->body);
        pos += c.head_bytes + done->fed;
        continue;
      }
      case Phase::responding:
        return pos;  // the rest waits until this response is complete
      case Phase::lingering:
      case Phase::closing:
        return buf.size();
    }
  }
  return c.close_after_write ? buf.size() : pos;
}

void Worker::dispatch(Connection& c, const http::RequestHead& head, std::string_view body) {
  ++c.served;
  c.dispatching = true;
  http::ResponseMeta meta;
  meta.version_minor = head.version_minor;
  meta.keep_alive = head.keep_alive && !draining_ &&
                    c.served < cfg_->server.limits.max_requests_per_connection &&
                    cfg_->server.timeouts.keepalive_idle.count() != 0;
  meta.head_only = head.method == http::Method::head;
  meta.date = {date_, date_len_};
  const std::string_view path = route_path(head.path);
  // Anthropic's clients read errors in Anthropic's shape, from the first
  // refusal (a missing key) on.
  if (path == "/v1/messages" || path.starts_with("/v1/messages/")) meta.errors = http::ErrorShape::anthropic;

  if (c.admin) {
    route(c, head, body, meta, path, nullptr);
  } else {
    metrics::GeneratedId id_storage;
    gateway::RequestContext rc;
    rc.request_id = meta.request_id = request_id(head, id_storage);
    rc.peer = c.peer;
    rc.start_ns = io::mono_ns();
    if (authenticate(c, head, meta, path, rc)) route(c, head, body, meta, path, &rc);
    if (!rc.plugin && c.phase != Phase::responding) {
      // Answered at once: account for it now (plugin requests account
      // when they end).
      metrics::RequestRecord rec;
      rec.request_id = rc.request_id;
      rec.method = head.method_text;
      // A path no route knows is the client's to choose: "-", so the log
      // stays about routes (the error code says what happened).
      rec.path = rc.error == "not_found" ? std::string_view("-") : path.substr(0, 256);
      rec.peer = rc.peer;
      rec.model = rc.model;
      rec.key = rc.key_name;
      rec.status = rc.status;
      rec.start_ns = rc.start_ns;
      rec.end_ns = rec.first_byte_ns = io::mono_ns();
      rec.error = rc.error;
      record(rec);
    }
  }
  // An exchange that goes on asynchronously decides about closing when it
  // ends (output()); only a response complete now closes now.
  if (!meta.keep_alive && c.phase != Phase::responding) c.close_after_write = true;
  c.dispatching = false;
}

// Client keys. Every path needs a key except the two probes a load balancer
// calls (/health and /ready, exactly so spelled): the decision never depends
// on how a path is written, so no spelling of a route can slip past it.
bool Worker::authenticate(Connection& c, const http::RequestHead& head, const http::ResponseMeta& meta,
                          std::string_view path, RequestContext& rc) {
  const plugin::Generation* gen = plugins_->generation();
  const auth::KeyTable* keys = gen ? gen->keys.get() : nullptr;
  if (keys == nullptr || keys->open() || path == "/health" || path == "/ready") return true;
  std::string_view presented = auth::credential(head);
  if (!presented.empty()) {
    const uint64_t fp = std::hash<std::string_view>{}(presented) ^ (presented.size() << 48);
    if (c.auth_key >= 0 && c.auth_generation == gen->id && c.auth_fingerprint == fp) {
      rc.key = c.auth_key;
    } else {
      rc.key = keys->lookup(presented);
      c.auth_key = rc.key;
      c.auth_generation = gen->id;
      c.auth_fingerprint = fp;
    }
    if (rc.key >= 0) {
      rc.key_name = keys->key(rc.key).name;
      return true;
    }
  }
  const bool missing = presented.empty();
  metrics_.count_auth_failure(missing ? metrics::AuthFailure::missing : metrics::AuthFailure::unknown);
  rc.status = 401;
  rc.error = missing ? "missing_api_key" : "invalid_api_key";
  const bool anthropic = meta.errors == http::ErrorShape::anthropic;
  http::write_error(c.out, 401, meta, rc.error,
                    !missing   ? "Incorrect API key provided."
                    : anthropic ? "You didn't provide an API key. Send it as 'x-api-key: <key>'."
                                : "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
                    {{"WWW-Authenticate", "Bearer"}});
  return false;
}

void Worker::route(Connection& c, const http::RequestHead& head, std::string_view body,
                   const http::ResponseMeta& meta, std::string_view path, RequestContext* rc) {
  Router::Result r = (c.admin ? admin_router_ : router_).find(path, head.method);
  switch (r.match) {
    case Router::Match::found: {
      Exchange ex(*this, c, head, body, meta, rc);
      r.handler(ex);
      break;
    }
    case Router::Match::not_found: {
      std::string msg = "No route for ";
      msg.append(head.method_text);
      msg.push_back(' ');
      msg.append(head.path.substr(0, 256));
      http::write_error(c.out, 404, meta, "not_found", msg);
      if (rc) {
        rc->status = 404;
        rc->error = "not_found";
      }
      break;
    }
    case Router::Match::method_not_allowed: {
      std::string msg = "Method ";
      msg.append(head.method_text);
      msg.append(" is not allowed here; allowed: ");
      msg.append(r.allow);
      http::write_error(c.out, 405, meta, "method_not_allowed", msg, {{"Allow", r.allow}});
      if (rc) {
        rc->status = 405;
        rc->error = "method_not_allowed";
      }
      break;
    }
  }
}

std::string_view Worker::request_id(const http::RequestHead& head, metrics::GeneratedId& storage) {
  for (const http::Header& h : head.headers) {
    if (http::iequals(h.name, "x-request-id") && metrics::valid_request_id(h.value)) return h.value;
  }
  storage = metrics::make_request_id(request_id_state_);
  return storage.view();
}

void Worker::start_plugin_request(Exchange& ex, aigw_endpoint endpoint) {
  Connection& c = ex.connection();
  c.phase = Phase::responding;
  uint32_t slot = plugins_->admit(c.index, c.generation, ex.head(), ex.body(), endpoint, ex.meta(), *ex.context());
  if (slot == Runtime::kNone) return;  // refused: the answer went through output()
  ex.context()->plugin = true;
  c.exchange = slot;  // before the first attempt starts, so a close reaches it
  plugins_->begin(slot);
}

void Worker::forward_admin(Exchange& ex, AdminRequest::Kind kind) {
  Connection& c = ex.connection();
  c.phase = Phase::responding;
  c.exchange = kAdminExchange;
  c.admin_keep_alive = ex.meta().keep_alive;
  c.admin_version_minor = ex.meta().version_minor;
  AdminRequest r{kind, index_, c.index, c.generation, {}, false};
  if (kind == AdminRequest::Kind::usage) {
    r.query = std::string(ex.head().query);
    r.csv = ex.head().header("accept").find("text/csv") != std::string_view::npos;
  } else if (kind == AdminRequest::Kind::keys) {
    r.query = std::string(ex.head().query);
  }
  reports_.inbox.post(r);
}

void Worker::give_back(std::string& buf) {
  buf.clear();
  const size_t cap = buf.capacity();
  // No heap block (a send made from the caller's bytes had none).
  if (cap == std::string().capacity()) return;
  if (cap > std::string().capacity() && cap <= kSpareSendCapacity && send_buffers_.size() < kSpareSendBuffers) {
    send_buffers_.push_back(std::move(buf));
  }
  std::string().swap(buf);  // moved from or not: no capacity left
}

std::string& Worker::out_buffer(Connection& c) {
  if (c.out.capacity() == std::string().capacity() && !send_buffers_.empty()) {
    c.out.swap(send_buffers_.back());
    send_buffers_.pop_back();
  }
  return c.out;
}

void Worker::output(uint32_t conn_index, uint32_t conn_generation, const std::string_view* parts, size_t n,
                    bool done, bool close) {
  Connection* c = slot(conn_index, conn_generation);
  if (c == nullptr || gone(*c)) return;
  // The same rule as flush's send at once (a part that does not end the
  // response, on a turn that woke for one completion), but from the
  // caller's bytes: a slow stream's event goes to the socket with no copy
  // and no buffer taken from the spares and given back.
  size_t total = 0;
  bool tried = false;
  size_t taken = 0;
  if (!done && !c->dispatching && send_now_) {
    taken = send_parts_now(*c, parts, n, total, tried);
    if (tried && taken == total) return;
  }
  if (!tried) {
    total = 0;
    for (size_t i = 0; i < n; ++i) total += parts[i].size();
  }
  std::string& out = out_buffer(*c);
  // Grown once, then appends that find room. A resize would first zero
  // what the copies then overwrite: a batch of events is kilobytes. What
  // the socket took already is skipped.
  out.reserve(out.size() + total - taken);
  for (size_t i = 0; i < n; ++i) {
    const size_t skip = std::min(taken, parts[i].size());
    taken -= skip;
    out.append(parts[i].substr(skip));
  }
  if (done) {
    c->phase = Phase::idle;
    c->exchange = kNoSlot;
    if (close || draining_) c->close_after_write = true;
  }
  // An answer given while the connection is still dispatching the request
  // (a refusal, a plugin that answers at once) is sent with the others of
  // that batch, and the parse loop on the stack goes on by itself.
  if (c->dispatching) return;
  if (done && !c->close_after_write && (!c->in.empty() || c->read_paused)) resume_.push_back(c->index);
  // Tried at once already: the rest waits in the ring for room.
  flush(*c, !done && !tried);
  if (done && !c->send_inflight) after_output_drained(*c);
}

void Worker::fail(Connection& c, int status, std::string_view code, std::string_view message,
                  int version_minor) {
  http::ResponseMeta meta;
  meta.version_minor = version_minor;
  meta.keep_alive = false;
  meta.date = {date_, date_len_};
  http::write_error(c.out, status, meta, code, message);
  c.close_after_write = true;
  c.phase = Phase::idle;
  flush(c);
}

// ---- writing ----------------------------------------------------------------

void Worker::flush(Connection& c, bool now) {
  if (c.send_inflight || gone(c)) return;
  if (c.tls) {
    // Encrypt what is queued; handshake records may be waiting too.
    if (!c.out.empty()) {
      if (c.tls->write(c.out) != tls::Session::Status::ok) {
        close_now(c);
        return;
      }
      give_back(c.out);
    }
    if (!c.tls->has_output()) return;
    c.sending = c.tls->take_output();
  } else {
    if (c.out.empty()) return;
    c.sending.swap(c.out);
  }
  c.sending_off = 0;
  if (now && send_now_) {
    // Tried now, without blocking: a send the socket takes whole is in
    // flight as far as the rest of the worker can tell (same states, same
    // counts) until complete_sends_now() runs its completion later in this
    // turn, so nothing here runs on_send's work inside a plugin's emit.
    // Measured: a slow stream's event cost two loop turns, the second only
    // for the send's completion (docs/benchmarks.md). Any other outcome
    // (part taken, EAGAIN, an error) goes through the ring as before, which
    // reports the error in its completion.
    // Only a part that does not end the response: its end goes through the
    // ring, so a client that has read a whole response knows the worker has
    // finished with the request (settled its quota, counted it) before it
    // sends the next one, as before.
    const ssize_t n = ::send(c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(c.sending.size()) && n <= INT_MAX) {
      in_flight_until_turn_end(c, static_cast<int>(n));
      return;
    }
    if (n > 0) c.sending_off = static_cast<size_t>(n);
  }
  ring_send(c);
}

size_t Worker::send_parts_now(Connection& c, const std::string_view* parts, size_t n, size_t& total, bool& tried) {
  // Only where flush would send c.out at once: nothing queued before these
  // bytes and nothing in flight (the order holds), plain TCP (TLS encrypts
  // into a buffer of its own), and a size the completion's int holds.
  constexpr size_t kMaxParts = 32;  // the gateway's framed events have at most 18
  if (c.send_inflight || c.tls || !c.out.empty() || n > kMaxParts) return 0;
  iovec iov[kMaxParts];
  // One loop for both (a separate sum of three sizes cost as much again).
  total = 0;
  for (size_t i = 0; i < n; ++i) {
    iov[i] = {const_cast<char*>(parts[i].data()), parts[i].size()};
    total += parts[i].size();
  }
  if (total == 0 || total > INT_MAX) return 0;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  tried = true;
  const ssize_t sent = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent <= 0) return 0;  // EAGAIN or an error: the ring sends it, and reports the error
  // As flush's: c.sending is empty, so the completion has no buffer to
  // give back.
  if (static_cast<size_t>(sent) == total) in_flight_until_turn_end(c, static_cast<int>(sent));
  return static_cast<size_t>(sent);
}

// A send made at once is in flight to the rest of the worker (the same
// states and counts as through the ring) until complete_sends_now() runs
// its completion at the end of the turn.
void Worker::in_flight_until_turn_end(Connection& c, int bytes) {
  c.send_inflight = true;
  ++c.ops;
  sent_now_.push_back({c.index, c.generation, bytes});
}

// The rest of c.sending, from c.sending_off, through the ring. Arming the
// send timer again on each part: progress starts the timeout again.
void Worker::ring_send(Connection& c) {
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_send(sqe, c.fd, c.sending.data() + c.sending_off, c.sending.size() - c.sending_off,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, io::pack(io::Op::send, c.index, c.generation));
  c.send_inflight = true;
  ++c.ops;
  timer_arm(c, TimerKind::send);
}

void Worker::complete_sends_now() {
  // By index, each entry copied out: a completion may flush more and queue
  // its connection again, which this loop then reaches too.
  for (size_t i = 0; i < sent_now_.size(); ++i) {
    const SentNow s = sent_now_[i];
    if (Connection* c = slot(s.index, s.generation)) on_send(*c, s.bytes);
  }
  sent_now_.clear();
}

void Worker::on_send(Connection& c, int res) {
  c.send_inflight = false;
  --c.ops;
  if (c.phase == Phase::closing) {
    if (c.ops == 0) release(c);
    return;
  }
  if (res < 0) {
    close_now(c);  // EPIPE, ECONNRESET: the client is gone
    return;
  }
  c.sending_off += static_cast<size_t>(res);
  if (c.sending_off < c.sending.size()) {
    ring_send(c);
    return;
  }
  // The send is done: its buffer goes back to the worker's spares (or is
  // freed), so the connection holds none until it has more to send.
  give_back(c.sending);
  c.sending_off = 0;
  if (!c.out.empty() || (c.tls && c.tls->has_output())) {
    flush(c);
    return;
  }
  after_output_drained(c);
}

void Worker::after_output_drained(Connection& c) {
  if (c.close_after_write && c.phase != Phase::responding) {
    if (c.peer_eof) {
      close_now(c);
    } else {
      start_linger(c);
    }
    return;
  }
  if (c.read_paused) {
    resume_reading(c);
    if (gone(c)) return;
  }
  settle_timer(c, false);
}

void Worker::settle_timer(Connection& c, bool progress) {
  if (c.phase == Phase::closing || c.phase == Phase::lingering) return;
  if (c.phase == Phase::responding && !c.send_inflight) {
    // The producer (plugin, control thread) owns the pace of the response
    // and its own timeouts; an idle stream is not an idle connection.
    timer_disarm(c);
    return;
  }
  TimerKind want;
  if (c.send_inflight) {
    want = TimerKind::send;
  } else {
    switch (c.phase) {
      case Phase::head: want = TimerKind::header; break;
      case Phase::body_length:
      case Phase::body_chunked: want = TimerKind::body; break;
      default: want = c.served == 0 ? TimerKind::header : TimerKind::idle; break;
    }
  }
  // The header timer runs from the first byte of a request (or from accept
  // for the first one) and is not restarted by more bytes: a slow sender
  // cannot stretch it. Body and send timers restart on progress.
  if (want == c.timer && !(progress && want != TimerKind::header)) return;
  timer_arm(c, want);
}

void Worker::pause_reading(Connection& c) {
  if (c.read_paused) return;
  c.read_paused = true;
  if (c.recv_armed) {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, io::pack(io::Op::recv, c.index, c.generation), 0);
    io_uring_sqe_set_data64(sqe, io::pack(io::Op::cancel, c.index, c.generation));
  }
}

void Worker::resume_reading(Connection& c) {
  c.read_paused = false;
  if (!c.in.empty()) {
    std::string pending;
    pending.swap(c.in);
    on_data(c, pending);
    if (gone(c) || c.read_paused) return;
  }
  if (!c.recv_armed && !c.close_after_write) arm_recv(c);
}

}  // namespace aigw::worker
