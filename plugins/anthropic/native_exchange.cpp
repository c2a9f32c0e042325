#include "native_exchange.h"

#include <algorithm>

#include "anthropic_config.h"
#include "request.h"
#include "upstream_error.h"

namespace aigw::anthropic_plugin {
namespace {

using sdk::str;
using sdk::view;

constexpr std::string_view kMessagesPath = "/v1/messages";
constexpr std::string_view kCountTokensPath = "/v1/messages/count_tokens";
constexpr std::string_view kBetaHeader = "anthropic-beta";
constexpr std::string_view kContentType = "Content-Type";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr std::string_view kRetryAfter = "retry-after";
constexpr std::string_view kRateLimitPrefix = "anthropic-ratelimit-";

// What of Anthropic's head an Anthropic client reads: the request id its
// SDKs attach to errors, the rate-limit state and when to come back.
bool passed_to_client(std::string_view name) {
  return sdk::iequals(name, kContentType) || sdk::iequals(name, "request-id") ||
         sdk::iequals(name, kRetryAfter) ||
         (name.size() > kRateLimitPrefix.size() &&
          sdk::iequals(name.substr(0, kRateLimitPrefix.size()), kRateLimitPrefix));
}

// A status a client can be given as Anthropic's answer; anything else
// (1xx, 3xx) is not an answer at all.
bool final_status(int32_t status) {
  return (status >= 200 && status <= 299) || (status >= 400 && status <= 599);
}

}  // namespace

bool is_native_endpoint(aigw_endpoint endpoint) {
  return endpoint == AIGW_ENDPOINT_MESSAGES || endpoint == AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS;
}

size_t splice_body(const aigw_host_bytes* body, size_t count, uint64_t offset, uint64_t len,
                   std::string_view name, aigw_plugin_bytes* out) {
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) total += body[i].len;
  if (offset > total || len > total - offset) return 0;
  size_t n = 0;
  // The part of each chunk inside [lo, hi), in order.
  auto take = [&](uint64_t lo, uint64_t hi) {
    uint64_t at = 0;
    for (size_t i = 0; i < count; ++i) {
      uint64_t from = std::max(lo, at), to = std::min(hi, at + body[i].len);
      if (from < to) out[n++] = {body[i].ptr + (from - at), static_cast<size_t>(to - from)};
      at += body[i].len;
    }
  };
  take(0, offset);
  out[n++] = sdk::bytes(name);
  take(offset + len, total);
  return n;
}

NativeExchange::NativeExchange(Instance& instance, aigw_request* req,
                               const aigw_client_request& client)
    : instance_(instance),
      host_(instance.config_->host),
      req_(req),
      client_(client),
      answer_(host_, req) {}

aigw_status NativeExchange::admit(std::string& error) {
  count_tokens_ = client_.endpoint == AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS;
  // count_tokens answers with one number, never a stream.
  stream_ = !count_tokens_ && client_.stream == 1;
  std::string_view upstream = view(client_.upstream_model);
  if (!check_model(upstream, error)) return AIGW_ERR_INVALID;
  // The names agree: the body goes as the client sent it, without a copy.
  if (upstream == view(client_.model)) return AIGW_OK;
  if (client_.model_value_len == 0) {
    error = "the request names no \"model\" to replace with the provider's name for it";
    return AIGW_ERR_INVALID;
  }
  sdk::append_json_escaped(model_escaped_, upstream);
  return AIGW_OK;
}

size_t NativeExchange::upstream_headers(aigw_plugin_header* h) const {
  size_t n = 0;
  // The config outlives every request, and the client's headers live until
  // request_destroy: neither needs a copy.
  h[n++] = {str(kKeyHeader), str(instance_.key_for(client_))};
  std::string_view version = kVersion;
  for (size_t i = 0; i < client_.header_count; ++i) {
    const aigw_host_header& ch = client_.headers[i];
    if (sdk::iequals(view(ch.name), kVersionHeader) && version == kVersion) {
      version = view(ch.value);  // the client's first: it knows what it speaks
    } else if (sdk::iequals(view(ch.name), kBetaHeader)) {
      h[n++] = {str(kBetaHeader), str(view(ch.value))};
    }
  }
  h[n++] = {str(kVersionHeader), str(version)};
  h[n++] = {str(kContentType), str(kJson)};
  return n;
}

aigw_status NativeExchange::splice_model(aigw_upstream_request& up, std::string& error) {
  size_t cap = client_.body_count + 2;
  auto* chunks = static_cast<aigw_plugin_bytes*>(
      host_->arena_alloc(req_, cap * sizeof(aigw_plugin_bytes), alignof(aigw_plugin_bytes)));
  if (chunks == nullptr) {
    error = "anthropic plugin: out of request memory";
    return AIGW_ERR_NO_MEMORY;
  }
  size_t n = splice_body(client_.body, client_.body_count, client_.model_value_offset,
                         client_.model_value_len, model_escaped_, chunks);
  if (n == 0) {
    error = "anthropic plugin: the host's model position lies outside the request body";
    return AIGW_ERR_INTERNAL;
  }
  up.body = chunks;
  up.body_count = n;
  up.body_unchanged = 0;
  return AIGW_OK;
}

aigw_status NativeExchange::build_upstream(aigw_upstream_request& up, std::string& error) {
  if (!sdk::has_field(up, &aigw_upstream_request::body_count)) {
    error = "anthropic plugin: the host's upstream request table is too small";
    return AIGW_ERR_UNSUPPORTED;
  }
  size_t cap = 3 + client_.header_count;  // key, version, type, each beta
  auto* h = static_cast<aigw_plugin_header*>(
      host_->arena_alloc(req_, cap * sizeof(aigw_plugin_header), alignof(aigw_plugin_header)));
  if (h == nullptr) {
    error = "anthropic plugin: out of request memory";
    return AIGW_ERR_NO_MEMORY;
  }
  up.headers = h;
  up.header_count = upstream_headers(h);
  static constexpr std::string_view kPost = "POST";
  up.method = str(kPost);
  // The client's query is not the plugin's to see: the Python SDK's
  // ?beta=true means nothing to the API (anthropic-beta chooses betas).
  up.path_and_query = str(count_tokens_ ? kCountTokensPath : kMessagesPath);
  if (model_escaped_.empty()) {
    up.body_unchanged = 1;  // the host's own chunks of the client body
    return AIGW_OK;
  }
  return splice_model(up, error);
}

void NativeExchange::keep_head_headers(const aigw_host_header* headers, size_t count) {
  head_headers_.clear();
  for (size_t i = 0; headers != nullptr && i < count; ++i) {
    std::string_view name = view(headers[i].name);
    if (passed_to_client(name)) head_headers_.emplace_back(name, view(headers[i].value));
  }
}

aigw_status NativeExchange::on_head(int32_t status, const aigw_host_header* headers, size_t count,
                                    aigw_upstream_verdict& verdict) {
  head_seen_ = true;
  status_ = status;
  keep_head_headers(headers, count);
  aigw_error_class cls = classify_status(status);
  uint64_t retry_after_ms = 0;
  for (const auto& [name, value] : head_headers_) {
    if (sdk::iequals(name, kRetryAfter)) parse_retry_after(value, retry_after_ms);
  }
  if (sdk::has_field(verdict, &aigw_upstream_verdict::error_class)) verdict.error_class = cls;
  if (sdk::has_field(verdict, &aigw_upstream_verdict::retry_after_ms)) {
    verdict.retry_after_ms = cls == AIGW_ERROR_RATE_LIMITED ? retry_after_ms : 0;
  }
  sse_ = stream_ && cls == AIGW_ERROR_NONE;
  whole_ = !stream_ && !count_tokens_ && cls == AIGW_ERROR_NONE;
  // An answer, or the client's own error: this head is the client's. A
  // head the host may still replace with another channel's (429, 5xx,
  // 401) starts only if its body is delivered.
  if (cls == AIGW_ERROR_NONE || cls == AIGW_ERROR_CLIENT) respond();
  return AIGW_OK;
}

bool NativeExchange::respond() {
  if (answer_.started()) return true;
  std::vector<aigw_plugin_header> h;
  h.reserve(head_headers_.size() + 1);
  bool typed = false;
  for (const auto& [name, value] : head_headers_) {
    typed = typed || sdk::iequals(name, kContentType);
    h.push_back({str(name), str(value)});
  }
  if (!typed) h.push_back({str(kContentType), str(sse_ ? kEventStream : kJson)});
  return answer_.start(status_, h.data(), h.size());
}

void NativeExchange::account(const Outcome& outcome, aigw_finish_reason reason) {
  answer_.report_usage(outcome.usage);  // the same rule as translated answers
  host_->report_finish_reason(req_, reason);
}

void NativeExchange::on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body) {
  if (answer_.done()) return;
  if (!head_seen_) {
    answer_.finish(AIGW_ERR_INTERNAL, "anthropic plugin: upstream body before its head");
    return;
  }
  if (!final_status(status_)) {
    answer_.finish(AIGW_ERR_INTERNAL, "the Anthropic API answered HTTP " + std::to_string(status_));
    return;
  }
  if (!respond()) return;
  if (!sse_) {
    on_whole_body(chunks, count, end_of_body);
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    std::string_view c = view(chunks[i]);
    if (c.empty()) continue;
    if (!sse_split_.feed(c, [this](std::string_view event) { return on_event(event); })) {
      if (sse_split_.overflow()) answer_.finish(AIGW_ERR_INTERNAL, "upstream sent a stream event larger than 16 MiB");
      return;
    }
  }
  if (end_of_body) end_stream();
}

void NativeExchange::on_whole_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body) {
  for (size_t i = 0; i < count; ++i) {
    std::string_view c = view(chunks[i]);
    if (whole_) {
      if (body_.size() + c.size() > kMaxWholeBody) {
        answer_.finish(AIGW_ERR_INTERNAL, "the Anthropic answer is larger than 128 MiB");
        return;
      }
      body_.append(c);
    }
    // An error body is already in Anthropic's shape: it goes as it came.
    if (!answer_.emit(c)) return;
  }
  if (end_of_body) end_whole();
}

void NativeExchange::end_whole() {
  if (whole_) {
    Outcome oc;
    if (!read_native_answer(instance_.parser_, body_, oc)) {
      // Not sent yet (a whole answer goes at finish): the host answers
      // with an error instead.
      answer_.finish(AIGW_ERR_INTERNAL, "the Anthropic answer is not a JSON object");
      return;
    }
    account(oc, oc.finish);
  }
  answer_.finish(AIGW_OK);
}

bool NativeExchange::on_event(std::string_view event) {
  NativeEvent kind = scan_.on_event(instance_.parser_, event);
  if (kind == NativeEvent::kError) {
    // Not passed on: the host writes the error in Anthropic's shape, or,
    // before content, may take the request to another channel; the
    // client never gets two error events.
    stream_failed("the Anthropic stream ended with an error");
    return false;
  }
  if (!answer_.emit(event)) return false;
  if (scan_.content_started() && !answer_.commit()) return false;
  if (kind != NativeEvent::kStop) return true;
  // message_stop: the answer is whole; anything after it is ignored.
  account(scan_.outcome(), scan_.outcome().finish);
  answer_.finish(AIGW_OK);
  return false;
}

void NativeExchange::stream_failed(std::string_view fallback) {
  const Outcome& oc = scan_.outcome();
  account(oc, AIGW_FINISH_ERROR);
  answer_.finish(finish_status_for(oc.status), oc.message.empty() ? fallback : std::string_view(oc.message));
}

void NativeExchange::end_stream() {
  std::string_view tail = sse_split_.tail();
  if (!tail.empty() && native_event_is_whole(instance_.parser_, tail)) {
    // The last event lacks its blank line, but its data is whole: the
    // client gets it with the line, without which no SSE reader sees it.
    std::string last(tail);
    last.append(last.back() == '\n' ? "\n" : "\n\n");
    if (!on_event(last) || answer_.done()) return;
  }
  if (answer_.done()) return;
  // message_stop ends every answer; a body that ends before it was cut (a
  // dropped connection, a proxy's timeout). A cut event is not sent.
  stream_failed("upstream ended the stream before Anthropic's message_stop");
}

}  // namespace aigw::anthropic_plugin
