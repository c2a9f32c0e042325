#include "request.h"

#include <chrono>
#include <ctime>
#include <vector>

#include "translate_request.h"
#include "upstream_error.h"

namespace aigw::gemini_plugin {
namespace {

constexpr std::string_view kContentType = "Content-Type";
constexpr std::string_view kAccept = "Accept";
constexpr std::string_view kCacheControl = "Cache-Control";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kRetryAfter = "Retry-After";
constexpr std::string_view kAuthorization = "Authorization";

// A whole answer larger than this is not one the plugin can hold for
// translation (image output is the large case, a few MiB each).
constexpr size_t kMaxWholeBody = 128u << 20;

using sdk::str;
using sdk::view;

// Model names become a path segment: only the characters Gemini's model
// ids use, so that a name can never reach another path or the query.
bool valid_model(std::string_view m) {
  if (m.empty() || m.size() > 256) return false;
  for (char c : m) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

aigw_status status_for(int32_t http) {
  if (http == 429) return AIGW_ERR_LIMIT;
  if (http >= 400 && http < 500) return AIGW_ERR_INVALID;
  return AIGW_ERR_INTERNAL;
}

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string body_of(const aigw_client_request& client) {
  std::string body;
  for (size_t i = 0; i < client.body_count; ++i) body.append(view(client.body[i]));
  return body;
}

}  // namespace

const std::string& Instance::key_for(const aigw_client_request& client) {
  const std::vector<std::string>& keys = config_->keys;
  if (sdk::has_field(client, &aigw_client_request::key_index) && client.key_index < keys.size()) {
    return keys[client.key_index];
  }
  if (next_key_ >= keys.size()) next_key_ = 0;
  return keys[next_key_++];
}

Request::Request(Instance& instance, aigw_request* req, const aigw_client_request& client)
    : instance_(instance),
      config_(*instance.config_),
      host_(instance.config_->host),
      req_(req),
      client_(client) {}

const AuthState* Request::usable_token(std::string& error) const {
  const AuthState* s = config_.tokens->current();
  if (!s->authorization.empty() && mono_ns() < s->usable_until_ns) return s;
  error = "Vertex AI access token unavailable: " +
          (s->last_error.empty() ? std::string("the token expired and no new one came yet")
                                 : s->last_error);
  return nullptr;
}

aigw_status Request::admit(std::string& error) {
  aigw_endpoint ep = client_.endpoint;
  if (ep == AIGW_ENDPOINT_HEALTH_PROBE) {
    probe_ = true;  // the host's method and path (health_probe), our key
    // Without a token the probe could only be refused upstream with a 401;
    // the host logs this refusal instead, with the reason.
    if (config_.auth == Auth::vertex_oauth && usable_token(error) == nullptr) {
      return AIGW_ERR_INTERNAL;
    }
    return AIGW_OK;
  }
  if (ep != AIGW_ENDPOINT_CHAT_COMPLETIONS && ep != AIGW_ENDPOINT_EMBEDDINGS) {
    error = "the gemini provider serves /v1/chat/completions and /v1/embeddings only "
            "(legacy completions have no Gemini counterpart)";
    return AIGW_ERR_UNSUPPORTED;
  }
  std::string_view model = view(client_.upstream_model);
  if (!valid_model(model)) {
    error = "the gemini provider needs a Gemini model id (letters, digits, - . _), such as "
            "\"gemini-2.5-flash\"";
    return AIGW_ERR_INVALID;
  }
  std::string body = body_of(client_);
  RequestError rerr;
  path_ = config_.model_prefix;
  path_.append(model);
  if (ep == AIGW_ENDPOINT_EMBEDDINGS) {
    embeddings_ = true;
    // Vertex serves embeddings through :predict (text-embedding-* and
    // gemini-embedding-001 alike); AI Studio through batchEmbedContents.
    EmbedApi api = config_.vertex() ? EmbedApi::vertex_predict : EmbedApi::batch_embed_contents;
    if (!translate_embeddings_request(instance_.parser_, body, model, upstream_body_, rerr, api)) {
      error = rerr.message;
      return AIGW_ERR_INVALID;
    }
    path_.append(config_.vertex() ? ":predict" : ":batchEmbedContents");
    return AIGW_OK;
  }
  ChatRequestInfo info;
  if (!translate_chat_request(instance_.parser_, body, upstream_body_, info, rerr)) {
    error = rerr.message;
    return AIGW_ERR_INVALID;
  }
  // The host read "stream" from the same body; its reading decides.
  stream_ = client_.stream == 1;
  include_usage_ = info.include_usage;
  path_.append(stream_ ? ":streamGenerateContent?alt=sse" : ":generateContent");
  chat_.id = "chatcmpl-gemini-" + std::to_string(instance_.next_serial());
  chat_.model = std::string(view(client_.model));
  chat_.created = static_cast<int64_t>(std::time(nullptr));
  chat_.include_usage = include_usage_;
  if (stream_) stream_tr_.emplace(chat_);
  return AIGW_OK;
}

aigw_status Request::build_upstream(aigw_upstream_request& up, std::string& error) {
  if (!sdk::has_field(up, &aigw_upstream_request::body_count)) {
    error = "gemini plugin: the host's upstream request table is too small";
    return AIGW_ERR_UNSUPPORTED;
  }
  auto* h = static_cast<aigw_plugin_header*>(
      host_->arena_alloc(req_, 3 * sizeof(aigw_plugin_header), alignof(aigw_plugin_header)));
  if (h == nullptr) {
    error = "gemini plugin: out of request memory";
    return AIGW_ERR_NO_MEMORY;
  }
  size_t n = 0;
  // The config outlives every request, so its strings need no copy; so do
  // the token source's states (kept until the config goes), and aigw copies
  // the headers before this hook returns anyway.
  if (config_.auth == Auth::vertex_oauth) {
    const AuthState* token = usable_token(error);
    if (token == nullptr) {
      // Fails at once, never waits for the refresher: aigw counts it
      // against the channel and tries another one where the route has it.
      return AIGW_ERR_INTERNAL;
    }
    h[n++] = {str(kAuthorization), str(token->authorization)};
  } else {
    h[n++] = {str(kKeyHeader), str(instance_.key_for(client_))};
  }
  if (!probe_) {
    h[n++] = {str(kContentType), str(kJson)};
    h[n++] = {str(kAccept), str(stream_ ? kEventStream : kJson)};
  }
  up.headers = h;
  up.header_count = n;
  if (probe_) return AIGW_OK;  // method, path and the empty body are the host's

  static constexpr std::string_view kPost = "POST";
  up.method = str(kPost);
  up.path_and_query = str(path_);
  // path_ and upstream_body_ live in this object, until request_destroy.
  auto* chunk = static_cast<aigw_plugin_bytes*>(
      host_->arena_alloc(req_, sizeof(aigw_plugin_bytes), alignof(aigw_plugin_bytes)));
  if (chunk == nullptr) {
    error = "gemini plugin: out of request memory";
    return AIGW_ERR_NO_MEMORY;
  }
  *chunk = sdk::bytes(upstream_body_);
  up.body = chunk;
  up.body_count = 1;
  up.body_unchanged = 0;
  return AIGW_OK;
}

aigw_status Request::on_head(int32_t status, const aigw_host_header* headers, size_t count,
                             aigw_upstream_verdict& verdict) {
  head_seen_ = true;
  status_ = status;
  aigw_error_class cls = classify_status(status);
  if (status == 401 && config_.auth == Auth::vertex_oauth) {
    // A rejected access token (revoked, or expired early) is the token's
    // problem, not the service account's: the refresher fetches another
    // now, and the channel is not disabled as a bad key would be (a 403,
    // missing permissions, still is).
    config_.tokens->refresh_soon();
    cls = AIGW_ERROR_RETRYABLE;
  }
  retry_after_ms_ = 0;
  for (size_t i = 0; headers != nullptr && i < count; ++i) {
    if (sdk::iequals(view(headers[i].name), kRetryAfter)) {
      uint64_t ms = 0;
      if (parse_retry_after(view(headers[i].value), ms)) retry_after_ms_ = ms;
    }
  }
  if (sdk::has_field(verdict, &aigw_upstream_verdict::error_class)) verdict.error_class = cls;
  // The head is all the verdict can use: a RetryInfo in the body comes
  // later, and reaches the client as Retry-After on the translated error.
  if (sdk::has_field(verdict, &aigw_upstream_verdict::retry_after_ms)) {
    verdict.retry_after_ms = cls == AIGW_ERROR_RATE_LIMITED ? retry_after_ms_ : 0;
  }
  streaming_ok_ = stream_ && cls == AIGW_ERROR_NONE;
  // Nothing starts yet. A stream starts with its first bytes for the
  // client, each event going out as it comes; until then its status may
  // still change, as a whole answer's may until its end (a blocked prompt
  // is a 200 from Gemini and a 400 to the client), and an error body is
  // translated before anything is sent.
  return AIGW_OK;
}

bool Request::respond(int32_t status, std::string_view content_type) {
  if (responded_) return true;
  if (done_) return false;
  aigw_plugin_header h[3];
  size_t n = 0;
  h[n++] = {str(kContentType), str(content_type)};
  if (content_type == kEventStream) h[n++] = {str(kCacheControl), str(kNoCache)};
  std::string retry;
  if (status == 429 && retry_after_ms_ > 0) {
    retry = std::to_string((retry_after_ms_ + 999) / 1000);  // whole seconds, rounded up
    h[n++] = {str(kRetryAfter), str(retry)};
  }
  aigw_status st = host_->respond_start(req_, status, h, n);
  if (st == AIGW_OK) {
    responded_ = true;
    return true;
  }
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    fail(st, "gemini plugin: could not start the response");
  }
  return false;
}

bool Request::emit(std::string_view bytes) {
  if (bytes.empty()) return true;
  aigw_plugin_bytes chunk = sdk::bytes(bytes);
  aigw_status st = host_->emit(req_, &chunk, 1);
  if (st == AIGW_OK) return true;
  // CLOSED: the client left; on_client_gone and request_destroy follow.
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    fail(st, "gemini plugin: could not send the response");
  }
  return false;
}

void Request::fail(aigw_status status, std::string_view message) {
  if (done_) return;
  done_ = true;
  host_->finish(req_, status, str(message));
}

void Request::on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body) {
  if (done_) return;
  if (!head_seen_) {
    fail(AIGW_ERR_INTERNAL, "gemini plugin: upstream body before its head");
    return;
  }
  if (!streaming_ok_) {
    for (size_t i = 0; i < count; ++i) {
      std::string_view c = view(chunks[i]);
      if (body_.size() + c.size() > kMaxWholeBody) {
        fail(AIGW_ERR_INTERNAL, "the Gemini answer is larger than 128 MiB");
        return;
      }
      body_.append(c);
    }
    if (end_of_body) end_whole();
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    std::string_view c = view(chunks[i]);
    if (c.empty()) continue;
    if (!sse_.feed(c, [this](std::string_view event) { return on_event(event); })) {
      if (sse_.overflow()) fail(AIGW_ERR_INTERNAL, "upstream sent a stream event larger than 16 MiB");
      return;
    }
  }
  if (end_of_body) end_stream();
}

void Request::report_usage(const Usage& usage) {
  if (!usage.present) return;
  aigw_usage u{};
  u.struct_size = sizeof u;
  u.prompt_tokens = usage.prompt;
  u.completion_tokens = usage.completion;
  u.total_tokens = usage.total;
  u.cached_tokens = usage.cached;        // ABI 1.4
  u.reasoning_tokens = usage.reasoning;  // thoughts, counted in completion too
  host_->report_usage(req_, &u);
}

void Request::end_whole() {
  int32_t status = status_;
  std::string_view type = kJson;
  out_.clear();
  if (classify_status(status_) == AIGW_ERROR_NONE) {
    status = 200;
    Outcome oc;
    if (embeddings_) {
      translate_embeddings_response(body_, view(client_.model), out_, oc, config_.vertex());
    } else {
      translate_chat_response(body_, chat_, out_, oc);
    }
    if (oc.error) {
      // Gemini said 200, but there is no answer to give (a blocked
      // prompt, a malformed function call): the client gets the error.
      status = oc.status >= 400 && oc.status <= 599 ? oc.status : 502;
      out_ = openai_error(status, oc.code, oc.message);
      if (!embeddings_) host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
    } else {
      report_usage(oc.usage);
      if (!embeddings_) host_->report_finish_reason(req_, oc.finish);
    }
  } else {
    if (status_ == 429) {
      uint64_t ms = 0;
      if (retry_delay_ms(instance_.parser_, body_, ms)) retry_after_ms_ = ms;
    }
    // Not a final status a client could be given (1xx, 3xx): a gateway error.
    if (status < 400 || status > 599) status = 502;
    out_ = openai_error_body(instance_.parser_, status, body_);
  }
  if (!respond(status, type) || !emit(out_)) return;
  done_ = true;
  host_->finish(req_, AIGW_OK, str({}));
}

bool Request::on_event(std::string_view event) {
  // An event's data is its data lines joined by LF (the SSE rule); Gemini
  // sends one line, which needs no copy.
  std::string_view data;
  std::string joined;
  int lines = 0;
  sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
    if (name != "data") return;
    if (lines++ == 0) {
      data = value;
      return;
    }
    if (lines == 2) joined.assign(data);
    joined.push_back('\n');
    joined.append(value);
    data = joined;
  });
  if (lines == 0) return true;  // a comment or keep-alive
  out_.clear();
  bool ok = stream_tr_->on_event(data, out_);
  if (!ok && out_.empty() && !responded_ && answer_stream_error()) return false;
  if (!out_.empty() && !respond(200, kEventStream)) return false;
  if (!emit(out_)) return false;
  if (!committed_ && stream_tr_->content_started()) {
    committed_ = true;
    if (sdk::commit(host_, req_) != AIGW_OK) {
      done_ = true;  // CLOSED: the client left
      return false;
    }
  }
  if (!ok) {
    stream_failed();
    return false;
  }
  return true;
}

bool Request::answer_stream_error() {
  const Outcome& oc = stream_tr_->outcome();
  // The client's own errors only (a blocked prompt, a lost thought
  // signature, Gemini's 4xx in an event): the host may still take the
  // others (5xx, 429) to another channel, and answers them itself.
  if (oc.status < 400 || oc.status > 499 || oc.status == 429) return false;
  report_usage(oc.usage);
  host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  // Nothing went out: the client gets the answer a whole request would,
  // with its status and code, instead of the host's generic one.
  out_ = openai_error(oc.status, oc.code, oc.message);
  if (!respond(oc.status, kJson) || !emit(out_)) return true;
  done_ = true;
  host_->finish(req_, AIGW_OK, str({}));
  return true;
}

void Request::stream_failed() {
  const Outcome& oc = stream_tr_->outcome();
  report_usage(oc.usage);
  host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  std::string message = oc.message.empty() ? "the Gemini stream ended with an error" : oc.message;
  fail(status_for(oc.status), message);
}

void Request::end_stream() {
  if (!sse_.tail().empty()) {
    // The last event lacks its blank line; its data is still whole.
    std::string last(sse_.tail());
    last.append("\n\n");
    if (!on_event(last) || done_) return;
  }
  // Gemini's last event carries finishReason; a body that ends before one
  // was cut (a dropped connection, a proxy's timeout).
  if (!stream_tr_->finish_reason_seen()) {
    report_usage(stream_tr_->outcome().usage);
    host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
    fail(AIGW_ERR_INTERNAL, "upstream ended the stream before Gemini's finishReason");
    return;
  }
  out_.clear();
  stream_tr_->finish(out_);
  if (!out_.empty() && !respond(200, kEventStream)) return;
  if (!emit(out_)) return;
  if (stream_tr_->outcome().error) {
    stream_failed();  // e.g. a stream with no candidate at all
    return;
  }
  if (!committed_) {
    committed_ = true;
    if (sdk::commit(host_, req_) != AIGW_OK) {
      done_ = true;
      return;
    }
  }
  const Outcome& end = stream_tr_->outcome();
  report_usage(end.usage);
  host_->report_finish_reason(req_, end.finish);
  done_ = true;
  host_->finish(req_, AIGW_OK, str({}));
}

}  // namespace aigw::gemini_plugin
