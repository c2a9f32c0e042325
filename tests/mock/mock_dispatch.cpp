// Requests in, jobs out: parsing pipelined requests off a connection,
// choosing the answer (canned, replayed, /mock/*), shaping it by the fault
// mode, and pumping the resulting job onto the wire as it falls due.
#include <algorithm>
#include <ctime>

#include "mock_server.h"

namespace aigw::mock {

namespace {

// Unsent output past which a stream stops producing events until the
// client reads: a client that never reads cannot make us buffer without end.
constexpr size_t kMaxBacklog = 256 * 1024;
constexpr int64_t kMaxDelayMs = 600'000;
constexpr int64_t kMaxDripMs = 10'000;
// bad-content-length declares this many bytes more than it sends.
constexpr size_t kMissingBytes = 64;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A header holding a small decimal number, or `fallback`.
int64_t header_ms(const http::RequestHead& head, std::string_view name, int64_t fallback,
                  int64_t max) {
  std::string_view v = head.header(name);
  if (v.empty() || v.size() > 9) return fallback;
  int64_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return fallback;
    n = n * 10 + (ch - '0');
  }
  return std::min(n, max);
}

// What an endpoint answers before a fault shapes how it goes on the wire.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool streaming = false;
  StreamSpec stream;
};

enum class Shape : uint8_t { as_asked, stream, plain };

Reply error_reply(int status, std::string_view message, std::string_view type,
                  std::string_view code) {
  Reply r;
  r.status = status;
  r.body = openai_error_body(message, type, code);
  return r;
}

Reply fault_status_reply(uint32_t status, const http::RequestHead& head) {
  const std::string tag = " (mock fault " + std::to_string(status) + ")";
  Reply r;
  if (status == 401) {
    r = error_reply(401, "Incorrect API key provided" + tag + ".", "invalid_request_error",
                    "invalid_api_key");
  } else if (status == 429) {
    r = error_reply(429, "Rate limit reached for requests" + tag + ". Please try again later.",
                    "requests", "rate_limit_exceeded");
  } else if (status >= 500) {
    r = error_reply(static_cast<int>(status),
                    "The server had an error while processing your request" + tag + ".",
                    "server_error", "");
  } else {
    r = error_reply(static_cast<int>(status), "Mock fault" + tag + ".", "invalid_request_error",
                    "mock_fault");
  }
  // Only digits are echoed: the header value never reaches our output raw.
  std::string_view ra = head.header("x-mock-retry-after");
  bool digits = !ra.empty() && ra.size() <= 9 &&
                std::all_of(ra.begin(), ra.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (status == 429 || digits) {
    r.headers.emplace_back("Retry-After", digits ? std::string(ra) : std::string("2"));
  }
  return r;
}

}  // namespace

// ---- requests ---------------------------------------------------------------------

void MockWorker::process(Conn& c) {
  size_t pos = 0;
  http::ParseError err;
  auto fail = [&](const http::ParseError& e) {
    http::ResponseMeta meta;
    meta.keep_alive = false;
    meta.date = {date_, date_len_};
    std::string out;
    http::write_error(out, e.status, meta, e.code, e.message);
    queue(c, std::move(out), false);
    c.close_after_write = true;
  };
  while (!c.closing && !c.job.active && !c.close_after_write && !c.reset_after_write) {
    std::string_view view = std::string_view(c.in).substr(pos);
    if (view.empty()) break;
    http::RequestHead& head = scratch_head_;
    // Parsed again from its start when more bytes arrive: stateless, and a
    // head is at most max_header_bytes.
    http::ParseStatus st = http::parse_request_head(view, limits_, head, err);
    if (st == http::ParseStatus::incomplete) break;
    if (st == http::ParseStatus::error) {
      fail(err);
      pos = c.in.size();
      break;
    }
    std::string_view body;
    size_t consumed = head.head_bytes;
    bool complete = true;
    if (head.body_kind == http::BodyKind::length) {
      const uint64_t need = head.head_bytes + head.content_length;
      if (view.size() < need) {
        complete = false;
      } else {
        body = view.substr(head.head_bytes, head.content_length);
        consumed = need;
      }
    } else if (head.body_kind == http::BodyKind::chunked) {
      if (!c.decoding_chunked) {
        c.chunked.reset();
        c.chunk_fed = 0;
        c.body.clear();
        c.decoding_chunked = true;
      }
      size_t used = 0;
      auto r = c.chunked.feed(view.substr(head.head_bytes + c.chunk_fed), used, c.body, limits_,
                              err);
      c.chunk_fed += used;
      if (r == http::ChunkedDecoder::Result::error) {
        fail(err);
        pos = c.in.size();
        break;
      }
      if (r == http::ChunkedDecoder::Result::need_more) {
        complete = false;
      } else {
        body = c.body;
        consumed = head.head_bytes + c.chunk_fed;
        c.decoding_chunked = false;
      }
    }
    if (!complete) {
      // The client waits for our go-ahead before it sends the body.
      if (head.expect_continue && !c.continue_sent && head.version_minor == 1 &&
          view.size() == head.head_bytes) {
        queue(c, "HTTP/1.1 100 Continue\r\n\r\n", false);
        c.continue_sent = true;
      }
      break;
    }
    c.continue_sent = false;
    dispatch(c, head, body);
    pos += consumed;
    if (c.fd < 0) return;  // released: `c.in` is gone
  }
  if (c.fd < 0) return;
  c.in.erase(0, pos);
  if (c.in.empty() && c.in.capacity() > 64 * 1024) std::string().swap(c.in);
  if (!c.decoding_chunked && c.body.capacity() > 64 * 1024) std::string().swap(c.body);
}

void MockWorker::dispatch(Conn& c, const http::RequestHead& head, std::string_view body) {
  const MockOptions& opts = shared_.opts;
  ++c.served;
  http::ResponseMeta meta;
  meta.version_minor = head.version_minor;
  meta.keep_alive = head.keep_alive;
  meta.head_only = head.method == http::Method::head;
  meta.date = {date_, date_len_};
  const bool get = head.method == http::Method::get || head.method == http::Method::head;
  const bool post = head.method == http::Method::post;

  auto respond_now = [&](int status, std::string_view ct, std::string_view b,
                         std::initializer_list<http::ResponseHeader> extra = {}) {
    std::string out;
    http::write_response(out, status, meta, ct, b, extra);
    queue(c, std::move(out), false);
    if (!meta.keep_alive) c.close_after_write = true;
  };

  // Absolute-form targets ("http://host/path", RFC 9112 3.2.2) route by path.
  const std::string_view path = origin_form(head.path);

  // The mock's own endpoints: never recorded, never faulted.
  if (starts_with(path, "/mock/")) {
    if (path == "/mock/stats" && get) {
      respond_now(200, "application/json", shared_.stats.stats_json());
    } else if (path == "/mock/last" && get) {
      std::string last = shared_.stats.last_json();
      if (last.empty()) {
        respond_now(404, "application/json",
                    openai_error_body("No request recorded yet.", "invalid_request_error",
                                      "not_found"));
      } else {
        respond_now(200, "application/json", last);
      }
    } else if (path == "/mock/fault" && post) {
      Fault f;
      std::string_view mode = body;
      while (!mode.empty() && (mode.back() == '\n' || mode.back() == ' ')) mode.remove_suffix(1);
      if (!parse_fault(mode, f)) {
        respond_now(400, "application/json",
                    openai_error_body("Unknown fault mode", "invalid_request_error", "mock_bad_fault"));
      } else {
        shared_.runtime_fault->store(encode_fault(f));
        respond_now(200, "application/json", R"({"status":"set"})");
      }
    } else if (path == "/mock/reset" && post) {
      shared_.stats.reset();
      respond_now(200, "application/json", R"({"status":"reset"})");
    } else {
      respond_now(404, "application/json",
                  openai_error_body("No mock endpoint " + std::string(path.substr(0, 256)),
                                    "invalid_request_error", "not_found"));
    }
    return;
  }

  stats_.request(head, path, body);

  Fault fault;
  if (std::string_view fh = head.header("x-mock-fault"); !fh.empty()) {
    if (!parse_fault(fh, fault)) {
      respond_now(400, "application/json",
                  openai_error_body("Unknown x-mock-fault value: " + std::string(fh.substr(0, 64)),
                                    "invalid_request_error", "mock_bad_fault"));
      return;
    }
  } else if (starts_with(path, "/v1/") || starts_with(path, "/v1beta/")) {
    // /v1beta/ is the Gemini API's root, which replays answer.
    fault = opts.fault;
    Fault rt;
    if (decode_fault(shared_.runtime_fault->load(), rt)) fault = rt;
    std::string_view auth = head.header("authorization");
    std::string_view goog = head.header("x-goog-api-key");  // Gemini's key header
    for (const auto& [key, f] : opts.key_faults) {
      if ((auth.size() == key.size() + 7 && auth.substr(7) == key) || goog == key) fault = f;
    }
  }
  if (fault.kind != FaultKind::none) stats_.fault_served(fault_name(fault));

  Shape shape = Shape::as_asked;
  switch (fault.kind) {
    case FaultKind::garbage_sse:
    case FaultKind::hang_after_head:
    case FaultKind::no_done: shape = Shape::stream; break;
    case FaultKind::bad_content_length: shape = Shape::plain; break;
    default: break;
  }

  // ---- the answer, before the fault shapes it ----
  Reply r;
  if (fault.kind == FaultKind::status) {
    r = fault_status_reply(fault.n, head);
  } else if (path == "/health") {
    if (get) {
      r.body = R"({"status":"ok"})";
    } else {
      r = error_reply(405, "Method not allowed; allowed: GET, HEAD", "invalid_request_error",
                      "method_not_allowed");
    }
  } else if (!shared_.replay.empty()) {
    const Interaction* it = matcher_.match(head.method_text, head.target, body, head);
    stats_.replay(it != nullptr);
    if (it == nullptr) {
      r = error_reply(404,
                      "No recorded interaction matches " + std::string(head.method_text) + " " +
                          std::string(path.substr(0, 256)) + " with this body.",
                      "invalid_request_error", "mock_no_match");
    } else {
      r.status = it->status;
      r.content_type.clear();  // the recorded Content-Type is among the headers
      r.headers = it->headers;
      if (it->streaming && shape != Shape::plain) {
        r.streaming = true;
        r.stream.kind = StreamKind::replay;
        r.stream.replay_body = it->response_body;
      } else {
        r.body = it->response_body;
      }
    }
  } else if (path == "/v1/models") {
    if (get) {
      r.body = models_body(opts.models);
    } else {
      r = error_reply(405, "Method not allowed; allowed: GET, HEAD", "invalid_request_error",
                      "method_not_allowed");
    }
  } else if (path == "/v1/chat/completions" || path == "/v1/completions" ||
             path == "/v1/embeddings") {
    RequestFacts facts;
    if (post) facts = facts_.read(body);
    if (!post) {
      r = error_reply(405, "Method not allowed; allowed: POST", "invalid_request_error",
                      "method_not_allowed");
    } else if (!facts.is_object) {
      r = error_reply(400, "We could not parse the JSON body of your request.",
                      "invalid_request_error", "invalid_json");
    } else {
      const bool chat = path == "/v1/chat/completions";
      Completion comp;
      comp.model = facts.model.empty() ? opts.models.front() : facts.model;
      comp.created = static_cast<int64_t>(time(nullptr));
      comp.prompt_tokens = static_cast<uint32_t>(std::max<size_t>(1, body.size() / 4));
      comp.id = (chat ? "chatcmpl-mock-" : "cmpl-mock-") + std::to_string(index_) + "-" +
                std::to_string(++next_id_);
      if (path == "/v1/embeddings") {
        r.body = embeddings_body(comp.model, facts.inputs, comp.prompt_tokens);
      } else if (shape == Shape::stream || (shape == Shape::as_asked && facts.stream)) {
        comp.completion_tokens = opts.stream_tokens;
        r.streaming = true;
        r.content_type = "text/event-stream";
        r.headers.emplace_back("Cache-Control", "no-cache");
        r.stream.kind = chat ? StreamKind::chat : StreamKind::completion;
        r.stream.include_usage = facts.include_usage;
        r.stream.completion = std::move(comp);
      } else {
        comp.completion_tokens = opts.completion_tokens;
        r.body = chat ? chat_completion_body(comp) : text_completion_body(comp);
      }
    }
  } else {
    r = error_reply(404,
                    "No route for " + std::string(head.method_text) + " " +
                        std::string(path.substr(0, 256)),
                    "invalid_request_error", "not_found");
  }

  // The common case goes out at once, without a job.
  if (fault.kind == FaultKind::none || fault.kind == FaultKind::status) {
    if (!r.streaming) {
      std::vector<http::ResponseHeader> extra;
      for (const auto& [k, v] : r.headers) extra.push_back({k, v});
      std::string out;
      http::write_response(out, r.status, meta, r.content_type, r.body, extra.data(), extra.size());
      queue(c, std::move(out), false);
      if (!meta.keep_alive) c.close_after_write = true;
      return;
    }
  }

  // ---- the fault shapes the job ----
  const int64_t now = monotonic_ns();
  Job j;
  j.active = true;
  j.start_ns = now;
  if (fault.kind == FaultKind::hang) {
    j.prelude_done = true;
    j.ending = Ending::hang;
    start_job(c, std::move(j));
    return;
  }
  if (fault.kind == FaultKind::slow_first_byte) {
    j.start_ns = now + header_ms(head, "x-mock-delay", 500, kMaxDelayMs) * 1'000'000;
  }
  if (fault.kind == FaultKind::garbage_sse) {
    Reply g;
    g.content_type = "text/event-stream";
    g.streaming = true;
    g.stream.kind = StreamKind::garbage;
    g.stream.garbage_lines = opts.stream_tokens;
    r = std::move(g);
  } else if (fault.kind == FaultKind::hang_after_head && !r.streaming) {
    r.status = 200;
    r.content_type = "text/event-stream";
    r.headers.clear();
    r.streaming = true;
  }
  if (fault.kind == FaultKind::no_done) r.stream.done_event = false;

  std::vector<http::ResponseHeader> extra;
  size_t head_len = 0;
  if (r.streaming) {
    if (!r.content_type.empty()) extra.push_back({"Content-Type", r.content_type});
    for (const auto& [k, v] : r.headers) extra.push_back({k, v});
    http::write_stream_head(j.prelude, r.status, meta, extra.data(), extra.size());
    head_len = j.prelude.size();
    j.chunked = meta.version_minor != 0;
    j.streaming = fault.kind != FaultKind::hang_after_head;
    j.interval_ns = opts.stream_interval_ms * 1'000'000;
    j.gen.start(std::move(r.stream));
  } else {
    for (const auto& [k, v] : r.headers) extra.push_back({k, v});
    // The head is written on its own (head_only) so that faults can cut
    // right after it, and declare a length the body does not have.
    std::string declared;
    std::string_view length_of = r.body;
    if (fault.kind == FaultKind::bad_content_length) {
      declared = r.body + std::string(kMissingBytes, ' ');
      length_of = declared;
    }
    http::ResponseMeta hm = meta;
    hm.head_only = true;
    http::write_response(j.prelude, r.status, hm, r.content_type, length_of, extra.data(),
                         extra.size());
    head_len = j.prelude.size();
    if (!meta.head_only) j.prelude.append(r.body);
  }

  switch (fault.kind) {
    case FaultKind::reset_after:
    case FaultKind::close_after:
      if (j.streaming) {
        j.event_limit = fault.n;
        j.terminator = false;
      } else {
        j.prelude.resize(std::min(j.prelude.size(), head_len + fault.n));
      }
      j.ending = fault.kind == FaultKind::reset_after ? Ending::reset : Ending::close;
      break;
    case FaultKind::bad_content_length:
      j.ending = Ending::close;
      break;
    case FaultKind::hang_after_head:
      j.ending = Ending::hang;
      break;
    case FaultKind::drip:
      // Everything is rendered now and leaves one byte per tick.
      if (j.streaming) {
        std::string ev;
        uint32_t slot = 0;
        while (j.gen.peek_slot(slot)) {
          ev.clear();
          j.gen.next(ev);
          if (j.chunked) {
            http::write_chunk(j.prelude, ev);
          } else {
            j.prelude.append(ev);
          }
        }
        if (j.chunked) http::write_last_chunk(j.prelude);
        j.streaming = false;
      }
      j.drip_ns = std::max<int64_t>(
          1, header_ms(head, "x-mock-drip-interval", 20, kMaxDripMs) * 1'000'000);
      j.next_drip_ns = j.start_ns;
      break;
    default:
      break;
  }
  if (j.ending == Ending::keep && (!meta.keep_alive || (r.streaming && !j.chunked))) {
    j.ending = Ending::close;  // Connection: close, or an HTTP/1.0 stream the close ends
  }
  start_job(c, std::move(j));
}

// ---- jobs -------------------------------------------------------------------------

void MockWorker::start_job(Conn& c, Job job) {
  c.job = std::move(job);
  pump(c);
}

void MockWorker::pump(Conn& c) {
  Job& j = c.job;
  if (!j.active || c.closing || j.timer_armed) return;
  const int64_t now = monotonic_ns();
  if (now < j.start_ns) {
    arm_timer(c, j.start_ns);
    return;
  }
  if (!j.prelude_done) {
    if (j.drip_ns > 0) {
      while (j.prelude_off < j.prelude.size()) {
        if (now < j.next_drip_ns) {
          arm_timer(c, j.next_drip_ns);
          return;
        }
        queue(c, j.prelude.substr(j.prelude_off, 1), true);
        ++j.prelude_off;
        j.next_drip_ns = now + j.drip_ns;
      }
    } else {
      queue(c, std::move(j.prelude), true);
    }
    j.prelude_done = true;
    j.events_start_ns = now;
  }
  if (j.streaming && !j.stream_done) {
    for (;;) {
      if (c.out_bytes > kMaxBacklog) return;  // on_send pumps again
      uint32_t slot = 0;
      if (j.events_sent >= j.event_limit || !j.gen.peek_slot(slot)) {
        j.stream_done = true;
        if (j.terminator && j.chunked) queue(c, "0\r\n\r\n", true);
        break;
      }
      const int64_t due = j.events_start_ns + static_cast<int64_t>(slot) * j.interval_ns;
      if (now < due) {
        arm_timer(c, due);
        return;
      }
      std::string ev;
      j.gen.next(ev);
      if (j.chunked) {
        std::string framed;
        http::write_chunk(framed, ev);
        queue(c, std::move(framed), true);
      } else {
        queue(c, std::move(ev), true);
      }
      ++j.events_sent;
    }
  }
  // Everything is queued: the ending decides how the connection goes on.
  switch (j.ending) {
    case Ending::hang:
      return;  // stays active: no further request is read; the idle sweep ends it
    case Ending::close:
      c.close_after_write = true;
      break;
    case Ending::reset:
      c.reset_after_write = true;
      break;
    case Ending::keep:
      break;
  }
  c.job = Job{};
}

}  // namespace aigw::mock
