#include "request.h"

#include <ctime>
#include <vector>

#include "native_scan.h"
#include "translate_request.h"
#include "upstream_error.h"

namespace aigw::anthropic_plugin {
namespace {

constexpr std::string_view kContentType = "Content-Type";
constexpr std::string_view kAccept = "Accept";
constexpr std::string_view kCacheControl = "Cache-Control";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kRetryAfter = "Retry-After";

using sdk::str;
using sdk::view;

constexpr std::string_view kPath = "/v1/messages";

std::string body_of(const aigw_client_request& client) {
  std::string body;
  for (size_t i = 0; i < client.body_count; ++i) body.append(view(client.body[i]));
  return body;
}

}  // namespace

bool check_model(std::string_view m, std::string& error) {
  bool ok = !m.empty() && m.size() <= 256;
  for (char c : m) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == ':' || c == '@');
  }
  if (!ok) {
    error = "the anthropic provider needs a Claude model id (letters, digits, - . _ : @), such as "
            "\"claude-sonnet-4-5\"";
  }
  return ok;
}

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
      host_(instance.config_->host),
      req_(req),
      client_(client),
      answer_(host_, req) {}

aigw_status Request::admit(std::string& error) {
  aigw_endpoint ep = client_.endpoint;
  if (is_native_endpoint(ep)) {
    native_ = std::make_unique<NativeExchange>(instance_, req_, client_);
    return native_->admit(error);
  }
  if (ep == AIGW_ENDPOINT_HEALTH_PROBE) {
    probe_ = true;  // the host's method and path (health_probe), our key
    return AIGW_OK;
  }
  if (ep != AIGW_ENDPOINT_CHAT_COMPLETIONS) {
    error = "the anthropic provider serves /v1/chat/completions and /v1/messages only "
            "(Anthropic has no embeddings, and legacy completions have no Messages counterpart)";
    return AIGW_ERR_UNSUPPORTED;
  }
  std::string_view model = view(client_.upstream_model);
  if (!check_model(model, error)) return AIGW_ERR_INVALID;
  std::string body = body_of(client_);
  RequestError rerr;
  ChatRequestInfo info;
  if (!translate_chat_request(instance_.parser_, body, model, upstream_body_, info, rerr)) {
    error = rerr.message;
    return AIGW_ERR_INVALID;
  }
  // The host read "stream" from the same body; its reading decides.
  stream_ = client_.stream == 1;
  include_usage_ = info.include_usage;
  chat_.id = "chatcmpl-anthropic-" + std::to_string(instance_.next_serial());
  chat_.model = std::string(view(client_.model));
  chat_.created = static_cast<int64_t>(std::time(nullptr));
  chat_.include_usage = include_usage_;
  if (stream_) stream_tr_.emplace(chat_);
  return AIGW_OK;
}

aigw_status Request::build_upstream(aigw_upstream_request& up, std::string& error) {
  if (native_) return native_->build_upstream(up, error);
  if (!sdk::has_field(up, &aigw_upstream_request::body_count)) {
    error = "anthropic plugin: the host's upstream request table is too small";
    return AIGW_ERR_UNSUPPORTED;
  }
  auto* h = static_cast<aigw_plugin_header*>(
      host_->arena_alloc(req_, 4 * sizeof(aigw_plugin_header), alignof(aigw_plugin_header)));
  if (h == nullptr) {
    error = "anthropic plugin: out of request memory";
    return AIGW_ERR_NO_MEMORY;
  }
  size_t n = 0;
  // The config outlives every request, so its strings need no copy.
  h[n++] = {str(kKeyHeader), str(instance_.key_for(client_))};
  h[n++] = {str(kVersionHeader), str(kVersion)};
  if (!probe_) {
    h[n++] = {str(kContentType), str(kJson)};
    h[n++] = {str(kAccept), str(stream_ ? kEventStream : kJson)};
  }
  up.headers = h;
  up.header_count = n;
  if (probe_) return AIGW_OK;  // method, path and the empty body are the host's

  static constexpr std::string_view kPost = "POST";
  up.method = str(kPost);
  up.path_and_query = str(kPath);
  // upstream_body_ live in this object, until request_destroy.
  auto* chunk = static_cast<aigw_plugin_bytes*>(
      host_->arena_alloc(req_, sizeof(aigw_plugin_bytes), alignof(aigw_plugin_bytes)));
  if (chunk == nullptr) {
    error = "anthropic plugin: out of request memory";
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
  if (native_) return native_->on_head(status, headers, count, verdict);
  head_seen_ = true;
  status_ = status;
  aigw_error_class cls = classify_status(status);
  retry_after_ms_ = 0;
  for (size_t i = 0; headers != nullptr && i < count; ++i) {
    if (sdk::iequals(view(headers[i].name), kRetryAfter)) {
      uint64_t ms = 0;
      if (parse_retry_after(view(headers[i].value), ms)) retry_after_ms_ = ms;
    }
  }
  if (sdk::has_field(verdict, &aigw_upstream_verdict::error_class)) verdict.error_class = cls;
  // Anthropic sends retry-after with a 429; the host cools the key for
  // that long, and the client's error carries it too.
  if (sdk::has_field(verdict, &aigw_upstream_verdict::retry_after_ms)) {
    verdict.retry_after_ms = cls == AIGW_ERROR_RATE_LIMITED ? retry_after_ms_ : 0;
  }
  streaming_ok_ = stream_ && cls == AIGW_ERROR_NONE;
  // Nothing starts yet. A stream starts with its first bytes for the
  // client, each event going out as it comes; until then its status may
  // still change, as a whole answer's may until its end, and an error body
  // is translated before anything is sent.
  return AIGW_OK;
}

bool Request::respond(int32_t status, std::string_view content_type) {
  if (answer_.started()) return true;
  aigw_plugin_header h[3];
  size_t n = 0;
  h[n++] = {str(kContentType), str(content_type)};
  if (content_type == kEventStream) h[n++] = {str(kCacheControl), str(kNoCache)};
  std::string retry;
  if (status == 429 && retry_after_ms_ > 0) {
    retry = std::to_string((retry_after_ms_ + 999) / 1000);  // whole seconds, rounded up
    h[n++] = {str(kRetryAfter), str(retry)};
  }
  return answer_.start(status, h, n);
}

void Request::client_gone() {
  if (native_) native_->client_gone();
  answer_.end();
}

void Request::fail(aigw_status status, std::string_view message) {
  if (native_) {
    native_->fail(status, message);
    return;
  }
  answer_.finish(status, message);
}

void Request::on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body) {
  if (native_) {
    native_->on_body(chunks, count, end_of_body);
    return;
  }
  if (answer_.done()) return;
  if (!head_seen_) {
    fail(AIGW_ERR_INTERNAL, "anthropic plugin: upstream body before its head");
    return;
  }
  if (!streaming_ok_) {
    for (size_t i = 0; i < count; ++i) {
      std::string_view c = view(chunks[i]);
      if (body_.size() + c.size() > kMaxWholeBody) {
        fail(AIGW_ERR_INTERNAL, "the Anthropic answer is larger than 128 MiB");
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

void Request::end_whole() {
  int32_t status = status_;
  out_.clear();
  if (classify_status(status_) == AIGW_ERROR_NONE) {
    status = 200;
    Outcome oc;
    translate_chat_response(instance_.parser_, body_, chat_, out_, oc);
    if (oc.error) {
      // Anthropic said 200, but there is no answer to give: the client
      // gets the error.
      status = oc.status >= 400 && oc.status <= 599 ? oc.status : 502;
      out_ = openai_error(status, oc.code, oc.message);
      host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
    } else {
      answer_.report_usage(oc.usage);
      host_->report_finish_reason(req_, oc.finish);
    }
  } else {
    // Not a final status a client could be given (1xx, 3xx): a gateway
    // error. 529 stays 529: OpenAI's SDKs retry any status from 500 up.
    if (status < 400 || status > 599) status = 502;
    out_ = openai_error_body(instance_.parser_, status, body_);
  }
  if (!respond(status, kJson) || !answer_.emit(out_)) return;
  answer_.finish(AIGW_OK);
}

bool Request::on_event(std::string_view event) {
  // An event's data is its data lines joined by LF (the SSE rule);
  // Anthropic sends one line, which needs no copy. The `event:` name
  // repeats the data's "type", which is what the translator reads.
  std::string_view name, data;
  std::string joined;
  if (!split_sse_event(event, name, data, joined)) return true;  // a comment or keep-alive
  out_.clear();
  bool ok = stream_tr_->on_event(data, out_);
  if (!ok && out_.empty() && !answer_.started() && answer_stream_error()) return false;
  if (!out_.empty() && !respond(200, kEventStream)) return false;
  if (!answer_.emit(out_)) return false;
  if (stream_tr_->content_started() && !answer_.commit()) return false;
  if (!ok) {
    stream_failed();
    return false;
  }
  if (stream_tr_->ended()) {
    // message_stop: the answer is whole; anything after it is ignored.
    finish_stream();
    return false;
  }
  return true;
}

bool Request::answer_stream_error() {
  const Outcome& oc = stream_tr_->outcome();
  // The client's own errors only (an invalid request reported as an
  // event): the host may still take the others (overloaded, 5xx, 429) to
  // another channel, and answers them itself.
  if (oc.status < 400 || oc.status > 499 || oc.status == 429) return false;
  answer_.report_usage(oc.usage);
  host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  // Nothing went out: the client gets the answer a whole request would.
  out_ = openai_error(oc.status, oc.code, oc.message);
  if (!respond(oc.status, kJson) || !answer_.emit(out_)) return true;
  answer_.finish(AIGW_OK);
  return true;
}

void Request::stream_failed() {
  const Outcome& oc = stream_tr_->outcome();
  answer_.report_usage(oc.usage);
  host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  std::string message = oc.message.empty() ? "the Anthropic stream ended with an error" : oc.message;
  fail(finish_status_for(oc.status), message);
}

void Request::finish_stream() {
  if (answer_.done() || !answer_.commit()) return;
  const Outcome& end = stream_tr_->outcome();
  answer_.report_usage(end.usage);
  host_->report_finish_reason(req_, end.finish);
  answer_.finish(AIGW_OK);
}

void Request::end_stream() {
  if (!sse_.tail().empty()) {
    // The last event lacks its blank line; its data is still whole.
    std::string last(sse_.tail());
    last.append("\n\n");
    if (!on_event(last) || answer_.done()) return;
  }
  if (answer_.done()) return;
  // message_stop ends every answer; a body that ends before it was cut (a
  // dropped connection, a proxy's timeout).
  answer_.report_usage(stream_tr_->outcome().usage);
  host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  fail(AIGW_ERR_INTERNAL, "upstream ended the stream before Anthropic's message_stop");
}

}  // namespace aigw::anthropic_plugin
