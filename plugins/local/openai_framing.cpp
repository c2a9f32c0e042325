#include "openai_framing.h"

#include "aigw_plugin.hpp"
#include "embedding.h"
#include "json_out.h"

namespace aigw::local_plugin {

Framer::Framer(ReplyKind kind, uint64_t serial, int64_t created, std::string_view model,
               bool include_usage)
    : kind_(kind), serial_(serial), created_(created), model_(model),
      include_usage_(include_usage) {}

void Framer::open_object(std::string& out, bool chunk) const {
  bool chat = kind_ == ReplyKind::chat;
  out.append(chat ? "{\"id\":\"chatcmpl-aigw-" : "{\"id\":\"cmpl-aigw-");
  append_uint(out, serial_);
  out.append("\",\"object\":\"");
  out.append(chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
  out.append("\",\"created\":");
  append_int(out, created_);
  out.append(",\"model\":");
  sdk::append_json_string(out, model_);
}

// OpenAI puts "usage":null on every chunk but the last when the client asked
// for usage; some clients look for the key.
void Framer::close_chunk(std::string& out) const {
  if (include_usage_) out.append(",\"usage\":null");
  out.append("}\n\n");
}

void Framer::role_event(std::string& out) const {
  out.append("data: ");
  open_object(out, true);
  out.append(
      ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"logprobs\":null,\"finish_reason\":null}]");
  close_chunk(out);
}

void Framer::content_event(std::string& out, std::string_view text) const {
  out.append("data: ");
  open_object(out, true);
  if (kind_ == ReplyKind::chat) {
    out.append(",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
    sdk::append_json_string(out, text);
    out.append("},\"logprobs\":null,\"finish_reason\":null}]");
  } else {
    out.append(",\"choices\":[{\"index\":0,\"text\":");
    sdk::append_json_string(out, text);
    out.append(",\"logprobs\":null,\"finish_reason\":null}]");
  }
  close_chunk(out);
}

void Framer::finish_event(std::string& out, std::string_view finish_reason) const {
  out.append("data: ");
  open_object(out, true);
  out.append(kind_ == ReplyKind::chat ? ",\"choices\":[{\"index\":0,\"delta\":{},"
                                      : ",\"choices\":[{\"index\":0,\"text\":\"\",");
  out.append("\"logprobs\":null,\"finish_reason\":");
  sdk::append_json_string(out, finish_reason);
  out.append("}]");
  close_chunk(out);
}

void Framer::usage_event(std::string& out, const aigw_usage& usage) const {
  out.append("data: ");
  open_object(out, true);
  out.append(",\"choices\":[],\"usage\":");
  append_usage(out, usage, true);
  out.append("}\n\n");
}

void Framer::done_event(std::string& out) { out.append("data: [DONE]\n\n"); }

void Framer::full_response(std::string& out, std::string_view text,
                           const aigw_usage& usage) const {
  open_object(out, false);
  if (kind_ == ReplyKind::chat) {
    out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    sdk::append_json_string(out, text);
    out.append("},");
  } else {
    out.append(",\"choices\":[{\"index\":0,\"text\":");
    sdk::append_json_string(out, text);
    out.append(",");
  }
  out.append("\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":");
  append_usage(out, usage, true);
  out.append("}");
}

void append_usage(std::string& out, const aigw_usage& usage, bool with_completion) {
  out.append("{\"prompt_tokens\":");
  append_uint(out, usage.prompt_tokens);
  if (with_completion) {
    out.append(",\"completion_tokens\":");
    append_uint(out, usage.completion_tokens);
  }
  out.append(",\"total_tokens\":");
  append_uint(out, usage.total_tokens);
  out.append("}");
}

void embeddings_response(std::string& out, std::string_view model,
                         const std::vector<std::string>& inputs, bool base64,
                         const aigw_usage& usage) {
  out.append("{\"object\":\"list\",\"data\":[");
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"object\":\"embedding\",\"index\":");
    append_uint(out, i);
    out.append(",\"embedding\":");
    Embedding e = embed(inputs[i]);
    if (base64) {
      auto bytes = to_le_bytes(e);
      out.push_back('"');
      append_base64(out, bytes);
      out.push_back('"');
    } else {
      out.push_back('[');
      for (size_t d = 0; d < e.size(); ++d) {
        if (d > 0) out.push_back(',');
        append_float(out, e[d]);
      }
      out.push_back(']');
    }
    out.push_back('}');
  }
  out.append("],\"model\":");
  sdk::append_json_string(out, model);
  out.append(",\"usage\":");
  append_usage(out, usage, false);
  out.append("}");
}

}  // namespace aigw::local_plugin
