#include "request.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>

#include "aigw_plugin.hpp"
#include "splice.h"
#include "verdict.h"

namespace aigw::openai_plugin {
namespace {

constexpr std::string_view kContentType = "Content-Type";
constexpr std::string_view kAccept = "Accept";
constexpr std::string_view kCacheControl = "Cache-Control";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kRequestId = "x-request-id";
constexpr std::string_view kProcessingMs = "openai-processing-ms";
constexpr std::string_view kRetryAfter = "retry-after";
constexpr std::string_view kRetryAfterMs = "retry-after-ms";
// The one client header worth passing on: it opts into beta API behaviour
// the client was written for. Organisation and project headers would let a
// client pick the account the gateway's key bills, and SDK telemetry
// (X-Stainless-*) means nothing to the provider.
constexpr std::string_view kOpenAiBeta = "OpenAI-Beta";
// Upstream values we copy are short; anything longer is not what we expect.
constexpr size_t kMaxKeptHeader = 256;

// Static storage outlives every request (the object stays loaded while any
// request of it exists), so it needs no arena copy.
constexpr std::string_view kUsageOption = "\"stream_options\":{\"include_usage\":true},";
constexpr std::string_view kUsageOptionAlone = "\"stream_options\":{\"include_usage\":true}";

using sdk::iequals;
using sdk::str;
using sdk::view;

bool clean_value(std::string_view v) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// Where a body's first byte other than JSON whitespace is, counting
// through its chunks: the root object's '{' of a body the host read.
uint64_t first_non_space(const aigw_host_bytes* chunks, size_t count) {
  uint64_t at = 0;
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < chunks[i].len; ++j, ++at) {
      if (!is_json_space(static_cast<char>(chunks[i].ptr[j]))) return at;
    }
  }
  return at;
}

std::string_view endpoint_path(aigw_endpoint ep) {
  switch (ep) {
    case AIGW_ENDPOINT_CHAT_COMPLETIONS: return "/chat/completions";
    case AIGW_ENDPOINT_COMPLETIONS: return "/completions";
    default: return "/embeddings";
  }
}

}  // namespace

const std::string& Instance::credential_for(const aigw_client_request& client) {
  const std::vector<std::string>& keys = config_->credentials;
  // An ABI 1.1 host routes keys itself (one channel per key) and says which.
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

aigw_status Request::admit(std::string& error) {
  aigw_endpoint ep = client_.endpoint;
  if (ep == AIGW_ENDPOINT_HEALTH_PROBE) {
    probe_ = true;  // GET {base_url}{probe_path}: no body, nothing billed
    return AIGW_OK;
  }
  if (ep != AIGW_ENDPOINT_CHAT_COMPLETIONS && ep != AIGW_ENDPOINT_COMPLETIONS &&
      ep != AIGW_ENDPOINT_EMBEDDINGS) {
    error = "the openai provider does not serve endpoint " + std::to_string(ep);
    return AIGW_ERR_UNSUPPORTED;
  }
  if (config_.style == ApiStyle::azure && client_.upstream_model.len == 0) {
    error = "an Azure OpenAI provider needs a model name: it is the deployment";
    return AIGW_ERR_INVALID;
  }
  stream_ = client_.stream == 1 && ep != AIGW_ENDPOINT_EMBEDDINGS;
  if (!stream_ || !config_.include_usage) return AIGW_OK;

  // Only the absence of stream_options is ours to fix: a client that sent
  // one chose its settings, include_usage or not.
  if (sdk::has_field(client_, &aigw_client_request::body_facts) && (client_.body_facts & AIGW_BODY_READ) != 0) {
    // The host read the body's top level already (ABI 1.5): no scan of a
    // body that may be a long conversation. The object has at least the
    // "stream": true member this request was told as `stream`, so the
    // added member takes a comma.
    if ((client_.body_facts & AIGW_BODY_HAS_STREAM_OPTIONS) != 0) return AIGW_OK;
    add_usage_option_ = true;
    drop_usage_event_ = true;
    root_open_offset_ = first_non_space(client_.body, client_.body_count);
    root_members_ = 1;
    return AIGW_OK;
  }
  JsonScanner& scan = instance_.scanner_;
  scan.reset(JsonScanner::kStreamOptions);
  for (size_t i = 0; i < client_.body_count; ++i) {
    const aigw_host_bytes& c = client_.body[i];
    if (c.ptr != nullptr) scan.feed(view(c));
  }
  // The host has parsed the body already; a body we cannot follow is sent
  // as it is rather than risk a broken splice.
  if (!scan.complete_object() || scan.stream_options_found()) return AIGW_OK;
  add_usage_option_ = true;
  drop_usage_event_ = true;
  root_open_offset_ = scan.root_open_offset();
  root_members_ = scan.root_members();
  return AIGW_OK;
}

void* Request::arena_copy(const void* data, size_t len) {
  void* p = host_->arena_alloc(req_, len == 0 ? 1 : len, alignof(std::max_align_t));
  if (p != nullptr && len > 0) std::memcpy(p, data, len);
  return p;
}

aigw_status Request::build_upstream(aigw_upstream_request& up, std::string& error) {
  if (!sdk::has_field(up, &aigw_upstream_request::body_count)) {
    error = "openai plugin: the host's upstream request table is too small";
    return AIGW_ERR_UNSUPPORTED;
  }
  const char* nomem = "openai plugin: out of request memory";

  // --- headers
  size_t beta = 0;
  bool beta_configured = false;
  for (const ExtraHeader& h : config_.extra_headers) beta_configured |= iequals(h.name, kOpenAiBeta);
  for (size_t i = 0; !beta_configured && i < client_.header_count; ++i) {
    if (iequals(view(client_.headers[i].name), kOpenAiBeta)) ++beta;
  }
  size_t max = 3 + config_.extra_headers.size() + beta;
  auto* h = static_cast<aigw_plugin_header*>(
      host_->arena_alloc(req_, max * sizeof(aigw_plugin_header), alignof(aigw_plugin_header)));
  if (h == nullptr) {
    error = nomem;
    return AIGW_ERR_NO_MEMORY;
  }
  size_t n = 0;
  // The config outlives every request, so its strings need no copy.
  h[n++] = {str(config_.credential_header()), str(instance_.credential_for(client_))};
  if (!probe_) h[n++] = {str(kContentType), str(kJson)};
  h[n++] = {str(kAccept), str(stream_ ? kEventStream : kJson)};
  for (const ExtraHeader& e : config_.extra_headers) h[n++] = {str(e.name), str(e.value)};
  for (size_t i = 0; beta > 0 && i < client_.header_count; ++i) {
    const aigw_host_header& ch = client_.headers[i];
    if (iequals(view(ch.name), kOpenAiBeta) && clean_value(view(ch.value))) {
      h[n++] = {{ch.name.ptr, ch.name.len}, {ch.value.ptr, ch.value.len}};
    }
  }
  up.headers = h;
  up.header_count = n;
  if (probe_) return AIGW_OK;  // method, path and the empty body are the host's

  // --- path
  if (config_.style == ApiStyle::azure) {
    std::string path = "/openai/deployments/";
    append_path_segment(path, view(client_.upstream_model));
    path += endpoint_path(client_.endpoint);
    path += "?api-version=";
    path += config_.azure_api_version;
    auto* p = static_cast<char*>(arena_copy(path.data(), path.size()));
    if (p == nullptr) {
      error = nomem;
      return AIGW_ERR_NO_MEMORY;
    }
    up.path_and_query = {p, path.size()};
  }

  // --- body
  Edit edits[2];
  size_t edit_count = 0;
  if (add_usage_option_) {
    edits[edit_count++] = {root_open_offset_ + 1, 0,
                           root_members_ == 0 ? kUsageOptionAlone : kUsageOption};
  }
  std::string_view model = view(client_.model);
  std::string_view upstream_model = view(client_.upstream_model);
  if (client_.model_value_len > 0 && upstream_model != model) {
    std::string escaped;
    sdk::append_json_escaped(escaped, upstream_model);
    auto* p = static_cast<char*>(arena_copy(escaped.data(), escaped.size()));
    if (p == nullptr) {
      error = nomem;
      return AIGW_ERR_NO_MEMORY;
    }
    edits[edit_count++] = {client_.model_value_offset, client_.model_value_len,
                           std::string_view(p, escaped.size())};
  }
  if (edit_count == 0) return AIGW_OK;  // the host's zero-copy default stands
  size_t room = max_spliced_chunks(client_.body_count, edit_count);
  auto* chunks = static_cast<aigw_plugin_bytes*>(
      host_->arena_alloc(req_, room * sizeof(aigw_plugin_bytes), alignof(aigw_plugin_bytes)));
  if (chunks == nullptr) {
    error = nomem;
    return AIGW_ERR_NO_MEMORY;
  }
  size_t count = splice_chunks(client_.body, client_.body_count, edits, edit_count, chunks);
  if (count == SIZE_MAX) {
    error = "openai plugin: the model's position lies outside the request body";
    return AIGW_ERR_INTERNAL;
  }
  up.body = chunks;
  up.body_count = count;
  up.body_unchanged = 0;
  return AIGW_OK;
}

aigw_status Request::on_head(int32_t status, const aigw_host_header* headers, size_t count,
                             aigw_upstream_verdict& verdict) {
  head_seen_ = true;
  status_ = status;
  aigw_error_class cls = classify_status(status);
  uint64_t retry_ms = 0;
  if (cls == AIGW_ERROR_RATE_LIMITED) {
    retry_ms = retry_after_ms(headers, count, static_cast<int64_t>(std::time(nullptr)));
  }
  if (sdk::has_field(verdict, &aigw_upstream_verdict::error_class)) {
    verdict.error_class = cls;
  }
  if (sdk::has_field(verdict, &aigw_upstream_verdict::retry_after_ms)) {
    verdict.retry_after_ms = retry_ms;
  }
  content_type_.clear();
  request_id_.clear();
  processing_ms_.clear();
  retry_after_.clear();
  retry_after_ms_.clear();
  for (size_t i = 0; headers != nullptr && i < count; ++i) {
    std::string_view name = view(headers[i].name);
    std::string_view value = view(headers[i].value);
    // The name first: only these five are kept, and only their values
    // need the byte check (it was most of this loop's cost).
    std::string* keep = nullptr;
    if (iequals(name, kContentType)) {
      keep = &content_type_;
    } else if (iequals(name, kRequestId)) {
      keep = &request_id_;
    } else if (iequals(name, kProcessingMs)) {
      keep = &processing_ms_;
    } else if (iequals(name, kRetryAfter)) {
      keep = &retry_after_;
    } else if (iequals(name, kRetryAfterMs)) {
      keep = &retry_after_ms_;
    }
    if (keep == nullptr || value.size() > kMaxKeptHeader || !clean_value(value)) continue;
    keep->assign(value);
  }
  passthrough_ = cls != AIGW_ERROR_NONE;
  // A retryable class may send the host to another channel, so the client
  // response must not start yet: it starts with the first body bytes, which
  // come only when the host delivers this response.
  if (cls == AIGW_ERROR_NONE || cls == AIGW_ERROR_CLIENT) start_response();
  return AIGW_OK;
}

bool Request::start_response() {
  if (responded_) return true;
  if (done_) return false;
  bool sse = stream_ && !passthrough_;
  std::string_view type = content_type_;
  if (type.empty()) type = sse ? kEventStream : kJson;
  aigw_plugin_header h[6];
  size_t n = 0;
  h[n++] = {str(kContentType), str(type)};
  if (sse) h[n++] = {str(kCacheControl), str(kNoCache)};
  if (!request_id_.empty()) h[n++] = {str(kRequestId), str(request_id_)};
  if (!processing_ms_.empty()) h[n++] = {str(kProcessingMs), str(processing_ms_)};
  if (!retry_after_.empty()) h[n++] = {str("Retry-After"), str(retry_after_)};
  if (!retry_after_ms_.empty()) h[n++] = {str(kRetryAfterMs), str(retry_after_ms_)};
  aigw_status st = host_->respond_start(req_, status_, h, n);
  if (st == AIGW_OK) {
    responded_ = true;
    return true;
  }
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    fail(st, "openai plugin: could not start the response");
  }
  return false;
}

bool Request::emit(std::string_view bytes) {
  if (bytes.empty()) return true;
  aigw_plugin_bytes chunk = sdk::bytes(bytes);
  return sent(host_->emit(req_, &chunk, 1));
}

bool Request::sent(aigw_status st) {
  if (st == AIGW_OK) return true;
  // CLOSED: the client left; on_client_gone and request_destroy follow and
  // there is nobody to finish for.
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    fail(st, "openai plugin: could not send the response");
  }
  return false;
}

// A fast upstream delivers many events in one read. An emit each cost
// the host a call, a chunk frame and an output append per event (a sixth
// of a fast stream's instructions); batched, the read's events go out as
// one chunk. The host's chunks stay valid until on_body returns, so the
// batch only holds views of them; an event the splitter assembled across
// chunks lives in its buffer only during the call, so the batch goes
// first, then that event. Consecutive events of one chunk are one piece.
bool Request::queue(std::string_view event) {
  const auto at = reinterpret_cast<uintptr_t>(event.data());
  const auto chunk = reinterpret_cast<uintptr_t>(chunk_.data());
  if (chunk_.empty() || at < chunk || at + event.size() > chunk + chunk_.size()) {
    return send_batch() && emit(event);
  }
  aigw_plugin_bytes* batch = instance_.batch_;
  size_t& n = instance_.batch_count_;
  if (n > 0 && reinterpret_cast<uintptr_t>(batch[n - 1].ptr) + batch[n - 1].len == at) {
    batch[n - 1].len += event.size();
    return true;
  }
  if (n == Instance::kBatchMax && !send_batch()) return false;
  batch[n++] = sdk::bytes(event);
  return true;
}

bool Request::send_batch() {
  const size_t n = instance_.batch_count_;
  if (n == 0) return true;
  instance_.batch_count_ = 0;
  return sent(host_->emit(req_, instance_.batch_, n));
}

bool Request::emit_all(const aigw_host_bytes* chunks, size_t count) {
  std::vector<aigw_plugin_bytes>& out = instance_.emit_chunks_;
  out.clear();
  for (size_t i = 0; i < count; ++i) {
    if (chunks[i].ptr != nullptr && chunks[i].len > 0) out.push_back({chunks[i].ptr, chunks[i].len});
  }
  if (out.empty()) return true;
  return sent(host_->emit(req_, out.data(), out.size()));
}

void Request::fail(aigw_status status, std::string_view message) {
  if (done_) return;
  done_ = true;
  host_->finish(req_, status, str(message));
}

void Request::on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body) {
  if (done_) return;
  if (!head_seen_) {
    fail(AIGW_ERR_INTERNAL, "openai plugin: upstream body before its head");
    return;
  }
  if (!start_response()) return;
  if (passthrough_ || !stream_) {
    if (!emit_all(chunks, count)) return;
    if (!passthrough_) {
      // The usual answer comes whole, in the call that ends it: one
      // On-Demand pass reads it. One in pieces, a long one or one that pass
      // refuses is scanned as it comes.
      AnswerFacts facts;
      if (end_of_body && !body_fed_ && instance_.values_.answer(chunks, count, facts)) {
        end_plain(facts);
        return;
      }
      for (size_t i = 0; i < count; ++i) {
        if (chunks[i].ptr == nullptr || chunks[i].len == 0) continue;
        body_scan_.feed(view(chunks[i]));
        body_fed_ = true;
      }
    }
    if (end_of_body) end_plain();
    return;
  }
  // The batch is the worker's scratch: whatever way this call ends, it
  // leaves it empty (an exception included).
  struct Unbatch {
    Request& r;
    ~Unbatch() {
      r.instance_.batch_count_ = 0;
      r.chunk_ = {};
    }
  } unbatch{*this};
  for (size_t i = 0; i < count; ++i) {
    if (chunks[i].ptr == nullptr || chunks[i].len == 0) continue;
    chunk_ = view(chunks[i]);
    auto each = [this](std::string_view event) { return on_event(event, sse_.event_lines()); };
    if (!sse_.feed(chunk_, each)) {
      if (sse_.overflow() && send_batch()) {
        fail(AIGW_ERR_INTERNAL, "upstream sent a stream event larger than 16 MiB");
      }
      return;
    }
  }
  chunk_ = {};
  if (!send_batch()) return;
  if (end_of_body) end_stream();
}

void Request::end_plain() {
  if (passthrough_) {
    done_ = true;
    host_->finish(req_, AIGW_OK, str({}));
    return;
  }
  AnswerFacts facts;
  facts.have_usage = body_scan_.usage_found() && instance_.values_.usage(body_scan_.usage(), facts.usage);
  facts.first_finish = body_scan_.first_finish_reason();
  end_plain(facts);
}

void Request::end_plain(const AnswerFacts& facts) {
  if (facts.have_usage) host_->report_usage(req_, &facts.usage);
  if (!facts.first_finish.empty() && facts.first_finish != "null") {
    host_->report_finish_reason(req_, finish_reason_from(facts.first_finish));
  }
  done_ = true;
  host_->finish(req_, AIGW_OK, str({}));
}

bool Request::on_event(std::string_view event, size_t lines) {
  JsonScanner& scan = instance_.scanner_;
  EventData data = read_event_data(event, lines, scan, instance_.values_);
  bool drop = false;
  if (data.done) {
    done_seen_ = true;
  } else if (data.data_lines > 0 && data.one_pass) {
    drop = note(data.facts);
  } else if (data.data_lines > 0 && !data.scanned) {
    if (!data.braced) ++garbage_events_;  // nothing else to note: no usage, no finish reason
  } else if (data.data_lines > 0 && !scan.complete_object()) {
    ++garbage_events_;
  } else if (data.data_lines > 0) {
    EventFacts facts;
    facts.have_usage = scan.usage_found() && instance_.values_.usage(scan.usage(), facts.usage);
    facts.choices_found = scan.choices_found();
    facts.choice_count = scan.choice_count();
    facts.last_finish = scan.last_finish_reason();
    drop = note(facts);
  }
  if (drop) return true;
  if (!queue(event)) return false;
  if (!committed_ && (data.done || carries_content(event))) {
    // The host holds a stream back until this call: what is queued goes
    // first.
    if (!send_batch()) return false;
    committed_ = true;
    aigw_status st = sdk::commit(host_, req_);
    if (st != AIGW_OK) {
      done_ = true;  // CLOSED: the client left; anything else cannot happen after a good emit
      return false;
    }
  }
  return true;
}

bool Request::note(const EventFacts& facts) {
  bool drop = false;
  if (facts.have_usage) {
    usage_ = facts.usage;
    have_usage_ = true;
    // The usage-only chunk we asked for has no choices; usage that rides
    // on a chunk with content stays (dropping it would drop the content).
    drop = drop_usage_event_ && (!facts.choices_found || facts.choice_count == 0);
  }
  if (!facts.last_finish.empty()) {
    reason_ = finish_reason_from(facts.last_finish);
    have_reason_ = true;
  }
  return drop;
}

void Request::end_stream() {
  if (!sse_.tail().empty()) {
    // The last event lacks its blank line. It goes out completed, so that
    // whatever follows it (the host's error event, or nothing) is framed.
    std::string last(sse_.tail());
    last += last.back() == '\n' ? "\n" : "\n\n";
    if (!on_event(last, kLinesUnknown)) return;
  }
  if (garbage_events_ > 0) {
    std::string msg = std::to_string(garbage_events_) +
                      " upstream stream event(s) had data that is not a JSON object; "
                      "passed through unchanged";
    host_->log(config_.plugin, AIGW_LOG_WARN, str(msg));
  }
  if (have_usage_) host_->report_usage(req_, &usage_);
  done_ = true;
  if (done_seen_) {
    if (have_reason_) host_->report_finish_reason(req_, reason_);
    host_->finish(req_, AIGW_OK, str({}));
    return;
  }
  host_->report_finish_reason(req_, have_reason_ ? reason_ : AIGW_FINISH_ERROR);
  constexpr std::string_view kCut = "upstream ended the stream without [DONE]";
  host_->finish(req_, AIGW_ERR_INTERNAL, str(kCut));
}

}  // namespace aigw::openai_plugin
