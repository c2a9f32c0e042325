// Anthropic's Messages API on the gateway: which body an attempt sends, and
// how its answer reaches an Anthropic client.
//
// The dialect is decided per attempt, because a failover may move a request
// from a provider that speaks the Messages API natively (its plugin declares
// AIGW_DIALECT_ANTHROPIC_MESSAGES) to one that does not:
//   native:      the client's bytes go to the plugin as they came (the
//                plugin splices its model name in), and its answer goes back
//                unchanged, so the pass-through copies nothing;
//   translated:  the plugin gets the Chat Completions translation of the
//                request (src/translate, made once per request) and its
//                OpenAI answer is translated back: event by event for a
//                stream, whole at the end otherwise, errors in Anthropic's
//                shape.
#include <algorithm>

#include "gateway/runtime.h"
#include "http/response.h"
#include "json/write.h"

namespace aigw::gateway {

namespace {

constexpr std::string_view kChatPath = "/v1/chat/completions";

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Anthropic's ids look like msg_…; ours carries the request id, so a client's
// message id leads to aigw's log line.
std::string message_id(const aigw_request* r) {
  std::string id = "msg_aigw_";
  for (char c : r->request_id) {
    if (id_char(c)) id.push_back(c);
  }
  return id;
}

}  // namespace

bool Runtime::choose_dialect(aigw_request* r, const plugin::Provider& prov) {
  r->attempt.translated = false;
  if (!r->messages_api) return true;
  aigw_client_request& c = r->client;
  if ((prov.native_dialects & AIGW_DIALECT_ANTHROPIC_MESSAGES) != 0) {
    c.endpoint = r->client_endpoint;
    c.path = {r->path_text.data(), r->path_text.size()};
    c.body = &r->body_chunk;
    c.model_value_offset = r->model_value_offset;
    c.model_value_len = r->model_value_len;
    c.body_facts = r->body_facts;
    return true;
  }

  if (r->client_endpoint == AIGW_ENDPOINT_MESSAGES_COUNT_TOKENS) {
    // Only Anthropic can count Anthropic's tokens; for any other provider
    // the answer is an estimate, and says so in a header (the body's shape
    // is Anthropic's and has no room for it).
    r->finished = true;
    r->final_status = 200;
    std::string body = "{\"input_tokens\":" + std::to_string(translate::estimate_input_tokens(r->body)) + "}";
    std::string out;
    http::write_response(out, 200, response_meta(r), "application/json", body,
                         {{"x-aigw-token-count", "estimate"}});
    r->committed = true;
    write_out(r, out, true);
    return false;
  }

  if (r->chat_body.empty()) {
    std::string chat;
    translate::RequestError e = translate::messages_to_chat(r->body, chat);
    if (e) {
      end_response(r, false, 400, "invalid_request", e.message);
      return false;
    }
    r->chat_body = pad_body(chat);
    BodyFacts facts;
    if (BodyError be = body_parser_.read(r->chat_body, false, facts)) {
      // The translator wrote something the gateway cannot read back: its
      // defect, not the client's.
      end_response(r, false, 500, "internal_error", "The request could not be translated for this provider.");
      return false;
    }
    r->chat_model_offset = facts.model_value_offset;
    r->chat_model_len = facts.model_value_len;
    r->chat_body_facts = facts.plugin_facts;
    r->chat_chunk = {reinterpret_cast<const uint8_t*>(r->chat_body.data()), r->chat_body.size()};
  }
  c.endpoint = AIGW_ENDPOINT_CHAT_COMPLETIONS;
  c.path = {kChatPath.data(), kChatPath.size()};
  c.body = &r->chat_chunk;
  c.model_value_offset = r->chat_model_offset;
  c.model_value_len = r->chat_model_len;
  c.body_facts = r->chat_body_facts;
  r->attempt.translated = true;
  if (r->stream) {
    r->attempt.stream_reply = std::make_unique<translate::StreamToMessages>(
        r->model, message_id(r), translate::estimate_input_tokens(r->body));
  }
  return true;
}

bool Runtime::translate_stream(aigw_request* r, std::string& bytes) {
  if (r->attempt.status >= 400) {
    // An error answer to a stream request is one JSON body: collected, and
    // sent whole in Anthropic's shape at the end.
    if (r->attempt.error_raw.size() < 64 * 1024) r->attempt.error_raw.append(bytes);
    bytes.clear();
    return false;
  }
  std::string out;
  r->attempt.stream_reply->feed(bytes, out);
  bytes.swap(out);
  return !bytes.empty();
}

int Runtime::translate_whole(aigw_request* r, std::string& body) {
  const int status = r->attempt.status;
  if (status >= 400) {
    std::string_view raw = r->stream ? std::string_view(r->attempt.error_raw) : std::string_view(body);
    body = translate::error_from_openai(status, raw, r->request_id);
    return status;
  }
  std::string out;
  if (!translate::chat_to_message(body, r->model, message_id(r), out)) {
    body = translate::error_body(502, "The provider's answer could not be read as a chat completion.",
                                 r->request_id);
    r->error_code.assign("provider_error");
    return 502;
  }
  body.swap(out);
  return status;
}

void Runtime::finish_translated_stream(aigw_request* r) {
  std::string tail;
  r->attempt.stream_reply->finish(tail);
  if (tail.empty()) return;
  if (!r->committed) {
    r->attempt.held.append(tail);
    return;
  }
  std::string frame;
  if (r->version_minor == 0) {
    frame = std::move(tail);
  } else {
    http::write_chunk(frame, tail);
  }
  write_out(r, frame, false);
}

std::string Runtime::stream_error_event(aigw_request* r, int status, std::string_view code,
                                        std::string_view message) {
  if (r->attempt.translated && r->attempt.stream_reply) {
    std::string ev;
    r->attempt.stream_reply->fail(status, message, ev);
    return ev;
  }
  return http::error_event(response_meta(r), status, code, message);
}

}  // namespace aigw::gateway
