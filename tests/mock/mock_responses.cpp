#include "mock_responses.h"

#include <simdjson.h>

#include <algorithm>

#include "json/write.h"

namespace aigw::mock {

namespace {

// Model names come from the request: bounded so one request cannot make
// every body it gets back arbitrarily large.
constexpr size_t kMaxModelBytes = 256;
constexpr uint32_t kMaxInputs = 2048;
// The fixed embedding every input gets: small, deterministic, non-trivial.
constexpr std::string_view kEmbedding = "[0.1,-0.2,0.3,-0.4,0.5,-0.6,0.7,-0.8]";

void append_uint(std::string& out, uint64_t v) { out.append(std::to_string(v)); }

void append_usage(std::string& out, const Completion& c) {
  out.append("\"usage\":{\"prompt_tokens\":");
  append_uint(out, c.prompt_tokens);
  out.append(",\"completion_tokens\":");
  append_uint(out, c.completion_tokens);
  out.append(",\"total_tokens\":");
  append_uint(out, uint64_t{c.prompt_tokens} + c.completion_tokens);
  out.push_back('}');
}

// {"id":..,"object":..,"created":..,"model":.., — the common prefix of every
// completion object and chunk.
void open_object(std::string& out, const Completion& c, std::string_view object) {
  out.append("{\"id\":");
  json::append_string(out, c.id);
  out.append(",\"object\":\"");
  out.append(object);
  out.append("\",\"created\":");
  append_uint(out, static_cast<uint64_t>(c.created));
  out.append(",\"model\":");
  json::append_string(out, c.model);
}

std::string all_tokens(uint32_t n) {
  std::string s;
  s.reserve(n * 7);
  for (uint32_t k = 0; k < n; ++k) append_token(s, k);
  return s;
}

}  // namespace

std::string openai_error_body(std::string_view message, std::string_view type,
                              std::string_view code) {
  std::string body = "{\"error\":{\"message\":";
  json::append_string(body, message);
  body.append(",\"type\":");
  json::append_string(body, type);
  body.append(",\"param\":null,\"code\":");
  if (code.empty()) {
    body.append("null");
  } else {
    json::append_string(body, code);
  }
  body.append("}}");
  return body;
}

// ---- request facts ------------------------------------------------------------

struct FactsReader::Impl {
  simdjson::ondemand::parser parser;
  std::string scratch;  // the body plus the padding simdjson reads past the end
};

FactsReader::FactsReader() : impl_(std::make_unique<Impl>()) {}
FactsReader::~FactsReader() = default;

RequestFacts FactsReader::read(std::string_view body) {
  using namespace simdjson;
  RequestFacts f;
  std::string& buf = impl_->scratch;
  buf.reserve(body.size() + SIMDJSON_PADDING);
  buf.assign(body);
  ondemand::document doc;
  if (impl_->parser.iterate(padded_string_view(buf.data(), body.size(), buf.capacity())).get(doc)) {
    return f;
  }
  ondemand::object obj;
  if (doc.get_object().get(obj)) return f;
  f.is_object = true;
  for (auto field : obj) {
    std::string_view key;
    ondemand::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      f.is_object = false;  // broken JSON: stop here, keep what was found
      break;
    }
    if (key == "model") {
      std::string_view s;
      if (!v.get_string().get(s)) f.model.assign(s.substr(0, kMaxModelBytes));
    } else if (key == "stream") {
      bool b = false;
      if (!v.get_bool().get(b)) f.stream = b;
    } else if (key == "stream_options") {
      ondemand::object o;
      if (v.get_object().get(o)) continue;
      for (auto inner : o) {
        std::string_view k;
        ondemand::value iv;
        if (inner.unescaped_key().get(k) || inner.value().get(iv)) break;
        bool b = false;
        if (k == "include_usage" && !iv.get_bool().get(b)) f.include_usage = b;
      }
    } else if (key == "input") {
      ondemand::array a;
      size_t n = 0;
      if (!v.get_array().get(a) && !a.count_elements().get(n)) {
        f.inputs = static_cast<uint32_t>(std::clamp<size_t>(n, 1, kMaxInputs));
      }
    }
  }
  return f;
}

// ---- canned bodies ------------------------------------------------------------

void append_token(std::string& out, uint32_t k) {
  if (k != 0) out.push_back(' ');
  out.append("tok");
  append_uint(out, k);
}

std::string chat_completion_body(const Completion& c) {
  std::string b;
  b.reserve(256 + c.completion_tokens * 7);
  open_object(b, c, "chat.completion");
  b.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  json::append_string(b, all_tokens(c.completion_tokens));
  b.append(",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],");
  append_usage(b, c);
  b.push_back('}');
  return b;
}

std::string text_completion_body(const Completion& c) {
  std::string b;
  b.reserve(256 + c.completion_tokens * 7);
  open_object(b, c, "text_completion");
  b.append(",\"choices\":[{\"text\":");
  json::append_string(b, all_tokens(c.completion_tokens));
  b.append(",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}],");
  append_usage(b, c);
  b.push_back('}');
  return b;
}

std::string embeddings_body(std::string_view model, uint32_t inputs, uint32_t prompt_tokens) {
  std::string b = "{\"object\":\"list\",\"data\":[";
  for (uint32_t i = 0; i < inputs; ++i) {
    if (i != 0) b.push_back(',');
    b.append("{\"object\":\"embedding\",\"index\":");
    append_uint(b, i);
    b.append(",\"embedding\":");
    b.append(kEmbedding);
    b.push_back('}');
  }
  b.append("],\"model\":");
  json::append_string(b, model);
  b.append(",\"usage\":{\"prompt_tokens\":");
  append_uint(b, prompt_tokens);
  b.append(",\"total_tokens\":");
  append_uint(b, prompt_tokens);
  b.append("}}");
  return b;
}

std::string models_body(const std::vector<std::string>& models) {
  std::string b = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < models.size(); ++i) {
    if (i != 0) b.push_back(',');
    b.append("{\"id\":");
    json::append_string(b, models[i]);
    b.append(",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"aigw-mock\"}");
  }
  b.append("]}");
  return b;
}

// ---- streams ------------------------------------------------------------------

void StreamGen::start(StreamSpec spec) {
  spec_ = std::move(spec);
  index_ = 0;
  replay_off_ = 0;
}

uint32_t StreamGen::count() const {
  const uint32_t n = spec_.completion.completion_tokens;
  const uint32_t tail = 1 + (spec_.include_usage ? 1 : 0) + (spec_.done_event ? 1 : 0);
  switch (spec_.kind) {
    case StreamKind::chat: return 1 + n + tail;  // role chunk first
    case StreamKind::completion: return n + tail;
    case StreamKind::garbage: return spec_.garbage_lines;
    case StreamKind::replay: return 0;  // not counted: ends with the recorded text
  }
  return 0;
}

bool StreamGen::peek_slot(uint32_t& slot) const {
  if (spec_.kind == StreamKind::replay) {
    if (replay_off_ >= spec_.replay_body.size()) return false;
    slot = index_;
    return true;
  }
  if (index_ >= count()) return false;
  const uint32_t n = spec_.completion.completion_tokens;
  const uint32_t last = n == 0 ? 0 : n - 1;
  switch (spec_.kind) {
    case StreamKind::chat: slot = index_ == 0 ? 0 : std::min(index_ - 1, last); break;
    case StreamKind::completion: slot = std::min(index_, last); break;
    default: slot = index_; break;
  }
  return true;
}

void StreamGen::next(std::string& out) {
  const uint32_t i = index_++;
  if (spec_.kind == StreamKind::replay) {
    std::string_view rest = spec_.replay_body.substr(replay_off_);
    // Events end at a blank line, LF or CRLF (Gemini sends CRLF).
    size_t lf = rest.find("\n\n");
    size_t crlf = rest.find("\r\n\r\n");
    size_t len = rest.size();
    if (lf != std::string_view::npos) len = lf + 2;
    if (crlf != std::string_view::npos && crlf + 4 < len) len = crlf + 4;
    out.append(rest.substr(0, len));
    replay_off_ += len;
    return;
  }
  if (spec_.kind == StreamKind::garbage) {
    // Neither JSON nor blank-line separated: a client that trusts the
    // framing sees one endless event, one that parses JSON sees errors.
    if (i % 2 == 0) {
      out.append("data: {\"broken\": tok");
      append_uint(out, i);
      out.push_back('\n');
    } else {
      out.append("this line is not SSE ");
      append_uint(out, i);
      out.push_back('\n');
    }
    return;
  }

  const Completion& c = spec_.completion;
  const bool chat = spec_.kind == StreamKind::chat;
  const uint32_t first_token = chat ? 1 : 0;
  const uint32_t n = c.completion_tokens;
  const std::string_view object = chat ? "chat.completion.chunk" : "text_completion";

  if (i >= first_token + n + 1 + (spec_.include_usage ? 1 : 0)) {
    out.append("data: [DONE]\n\n");
    return;
  }
  out.append("data: ");
  open_object(out, c, object);
  if (chat && i == 0) {
    out.append(",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
               "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    return;
  }
  if (i < first_token + n) {
    std::string tok;
    append_token(tok, i - first_token);
    if (chat) {
      out.append(",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
      json::append_string(out, tok);
      out.append("},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    } else {
      out.append(",\"choices\":[{\"text\":");
      json::append_string(out, tok);
      out.append(",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n");
    }
    return;
  }
  if (i == first_token + n) {
    if (chat) {
      out.append(",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
                 "\"finish_reason\":\"stop\"}]}\n\n");
    } else {
      out.append(",\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,"
                 "\"finish_reason\":\"stop\"}]}\n\n");
    }
    return;
  }
  // The usage chunk: no choices, as OpenAI sends it with include_usage.
  out.append(",\"choices\":[],");
  append_usage(out, c);
  out.append("}\n\n");
}

}  // namespace aigw::mock
