#include "translate_response.h"

#include <utility>

#include "aigw_plugin.hpp"
#include "json_value.h"
#include "thinking_carry.h"
#include "upstream_error.h"

namespace aigw::anthropic_plugin {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Blocks with a bound on what one block may hold: an answer is bounded by
// max_tokens, but a stream is untrusted bytes.
constexpr int64_t kMaxBlocks = 4096;

std::string_view string_field(element o, std::string_view key) {
  std::string_view s;
  if (o[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}

void append_thinking_block(std::string& carry, std::string_view thinking, std::string_view signature) {
  if (!carry.empty()) carry.push_back(',');
  carry.append("{\"type\":\"thinking\",\"thinking\":");
  sdk::append_json_string(carry, thinking);
  carry.append(",\"signature\":");
  sdk::append_json_string(carry, signature);
  carry.push_back('}');
}

void append_redacted_block(std::string& carry, std::string_view data) {
  if (!carry.empty()) carry.push_back(',');
  carry.append("{\"type\":\"redacted_thinking\",\"data\":");
  sdk::append_json_string(carry, data);
  carry.push_back('}');
}

// The OpenAI id of a tool call, carrying the thinking blocks gathered so
// far (and taking them: only the first call of a turn carries them).
std::string carried_id(std::string_view tool_use_id, std::string& carry) {
  if (carry.empty()) return std::string(tool_use_id);
  std::string blocks = "[" + carry + "]";
  carry.clear();
  return make_tool_call_id(tool_use_id, blocks);
}

void append_header(std::string& out, const ChatContext& ctx, std::string_view object_type) {
  out.append("{\"id\":");
  sdk::append_json_string(out, ctx.id);
  out.append(",\"object\":\"");
  out.append(object_type);
  out.append("\",\"created\":");
  out.append(std::to_string(ctx.created));
  out.append(",\"model\":");
  sdk::append_json_string(out, ctx.model);
}

}  // namespace

void read_usage(simdjson::dom::element u, Usage& usage) {
  if (!u.is_object()) return;
  uint64_t v = 0;
  auto take = [&](std::string_view k, uint64_t& field) {
    if (u[k].get(v) == simdjson::SUCCESS) {
      field = v;
      usage.present = true;
    }
  };
  take("input_tokens", usage.input);
  take("cache_creation_input_tokens", usage.cache_creation);
  take("cache_read_input_tokens", usage.cache_read);
  take("output_tokens", usage.output);
}

std::string_view finish_reason_for(std::string_view stop_reason, aigw_finish_reason& report) {
  if (stop_reason == "end_turn" || stop_reason == "stop_sequence") {
    report = AIGW_FINISH_STOP;
    return "stop";
  }
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    report = AIGW_FINISH_LENGTH;
    return "length";
  }
  if (stop_reason == "tool_use") {
    report = AIGW_FINISH_TOOL_CALLS;
    return "tool_calls";
  }
  if (stop_reason == "refusal") {
    report = AIGW_FINISH_CONTENT_FILTER;
    return "content_filter";
  }
  // pause_turn (a server-side tool loop paused: the turn may be sent back
  // to go on) and reasons added later have no OpenAI counterpart.
  report = AIGW_FINISH_UNKNOWN;
  return "stop";
}

void append_usage(std::string& out, const Usage& u) {
  uint64_t prompt = u.prompt();
  out.append("{\"prompt_tokens\":");
  out.append(std::to_string(prompt));
  out.append(",\"completion_tokens\":");
  out.append(std::to_string(u.output));
  out.append(",\"total_tokens\":");
  out.append(std::to_string(prompt + u.output));
  out.append(",\"prompt_tokens_details\":{\"cached_tokens\":");
  out.append(std::to_string(u.cache_read));
  out.append("}}");
}

void translate_chat_response(simdjson::dom::parser& parser, std::string_view json,
                             const ChatContext& ctx, std::string& out, Outcome& outcome) {
  out.clear();
  outcome = {};
  element root, content;
  auto bad = [&](std::string message) {
    outcome.error = true;
    outcome.status = 502;
    outcome.code = "bad_upstream_response";
    outcome.message = std::move(message);
    out.clear();
  };
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    bad("the Anthropic answer is not a JSON object");
    return;
  }
  if (string_field(root, "type") == "error") {
    element err;
    std::string_view type, message;
    if (root["error"].get(err) == simdjson::SUCCESS) {
      type = string_field(err, "type");
      message = string_field(err, "message");
    }
    outcome.error = true;
    outcome.status = status_for_error_type(type);
    outcome.code = std::string(type);
    outcome.message = message.empty() ? "the Anthropic API answered with an error" : std::string(message);
    return;
  }
  if (root["content"].get(content) != simdjson::SUCCESS || !content.is_array()) {
    bad("the Anthropic answer has no content array");
    return;
  }
  element usage;
  if (root["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome.usage);

  std::string text, reasoning, calls, carry;
  bool any_text = false, any_reasoning = false;
  uint32_t tool_index = 0;
  for (element b : array(content)) {
    std::string_view type = string_field(b, "type");
    if (type == "text") {
      text.append(string_field(b, "text"));
      any_text = true;
    } else if (type == "thinking") {
      std::string_view t = string_field(b, "thinking");
      reasoning.append(t);
      any_reasoning = true;
      append_thinking_block(carry, t, string_field(b, "signature"));
    } else if (type == "redacted_thinking") {
      append_redacted_block(carry, string_field(b, "data"));
    } else if (type == "tool_use") {
      element input;
      std::string args;
      if (b["input"].get(input) == simdjson::SUCCESS && input.is_object() &&
          simdjson::dom::object(input).size() > 0) {
        write_value(args, input);
      } else {
        args = "{}";
      }
      if (tool_index++ > 0) calls.push_back(',');
      calls.append("{\"id\":");
      sdk::append_json_string(calls, carried_id(string_field(b, "id"), carry));
      calls.append(",\"type\":\"function\",\"function\":{\"name\":");
      sdk::append_json_string(calls, string_field(b, "name"));
      calls.append(",\"arguments\":");
      sdk::append_json_string(calls, args);
      calls.append("}}");
    }
    // server_tool_use, *_tool_result and other blocks: Anthropic's own work.
  }
  std::string_view stop = string_field(root, "stop_reason");
  std::string_view finish = finish_reason_for(stop, outcome.finish);

  append_header(out, ctx, "chat.completion");
  out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  if (any_text || tool_index == 0) {
    sdk::append_json_string(out, text);
  } else {
    out.append("null");
  }
  if (any_reasoning) {
    out.append(",\"reasoning_content\":");
    sdk::append_json_string(out, reasoning);
  }
  if (tool_index > 0) {
    out.append(",\"tool_calls\":[");
    out.append(calls);
    out.push_back(']');
  }
  out.append("},\"finish_reason\":\"");
  out.append(finish);
  out.append("\"}],\"usage\":");
  append_usage(out, outcome.usage);
  out.push_back('}');
}

StreamTranslator::StreamTranslator(ChatContext ctx) : ctx_(std::move(ctx)) {}

StreamTranslator::Block* StreamTranslator::block(int64_t index) {
  if (index < 0 || index >= kMaxBlocks) return nullptr;
  if (static_cast<size_t>(index) >= blocks_.size()) blocks_.resize(static_cast<size_t>(index) + 1);
  return &blocks_[static_cast<size_t>(index)];
}

void StreamTranslator::chunk(std::string& out, std::string_view delta, std::string_view finish) {
  out.append("data: ");
  append_header(out, ctx_, "chat.completion.chunk");
  out.append(",\"choices\":[{\"index\":0,\"delta\":");
  out.append(delta);
  out.append(",\"finish_reason\":");
  if (finish.empty()) {
    out.append("null");
  } else {
    out.push_back('"');
    out.append(finish);
    out.push_back('"');
  }
  out.append("}]}\n\n");
}

bool StreamTranslator::fail(int status, std::string code, std::string message) {
  failed_ = true;
  outcome_.error = true;
  outcome_.status = status;
  outcome_.code = std::move(code);
  outcome_.message = std::move(message);
  outcome_.finish = AIGW_FINISH_ERROR;
  return false;
}

bool StreamTranslator::on_event(std::string_view data, std::string& out) {
  if (failed_ || ended_) return !failed_;
  element ev;
  if (parser_.parse(data.data(), data.size()).get(ev) != simdjson::SUCCESS || !ev.is_object()) {
    return fail(502, "bad_upstream_response", "the Anthropic stream sent an event that is not a JSON object");
  }
  std::string_view type = string_field(ev, "type");
  if (type == "ping") return true;
  if (type == "message_start") {
    element usage;
    if (ev["message"]["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome_.usage);
    if (!role_sent_) {
      role_sent_ = true;
      chunk(out, "{\"role\":\"assistant\",\"content\":\"\"}", {});
    }
    return true;
  }
  if (type == "content_block_start") {
    int64_t index = -1;
    element cb;
    Block* b = ev["index"].get(index) == simdjson::SUCCESS ? block(index) : nullptr;
    if (b == nullptr || ev["content_block"].get(cb) != simdjson::SUCCESS) {
      return fail(502, "bad_upstream_response", "the Anthropic stream sent a content block without an index");
    }
    std::string_view bt = string_field(cb, "type");
    *b = Block{};
    if (bt == "text") {
      b->kind = Kind::kText;
      std::string_view t = string_field(cb, "text");
      if (!t.empty()) {
        std::string delta = "{\"content\":";
        sdk::append_json_string(delta, t);
        delta.push_back('}');
        chunk(out, delta, {});
        content_started_ = true;
      }
    } else if (bt == "thinking") {
      b->kind = Kind::kThinking;
      b->thinking.assign(string_field(cb, "thinking"));
      b->signature.assign(string_field(cb, "signature"));
    } else if (bt == "redacted_thinking") {
      b->kind = Kind::kRedacted;
      b->data.assign(string_field(cb, "data"));
    } else if (bt == "tool_use") {
      b->kind = Kind::kToolUse;
      b->tool_index = next_tool_index_++;
      std::string delta = "{\"tool_calls\":[{\"index\":";
      delta.append(std::to_string(b->tool_index));
      delta.append(",\"id\":");
      sdk::append_json_string(delta, carried_id(string_field(cb, "id"), carry_));
      delta.append(",\"type\":\"function\",\"function\":{\"name\":");
      sdk::append_json_string(delta, string_field(cb, "name"));
      delta.append(",\"arguments\":\"\"}}]}");
      chunk(out, delta, {});
      content_started_ = true;
    }
    return true;
  }
  if (type == "content_block_delta") {
    int64_t index = -1;
    element d;
    Block* b = ev["index"].get(index) == simdjson::SUCCESS ? block(index) : nullptr;
    if (b == nullptr || ev["delta"].get(d) != simdjson::SUCCESS) {
      return fail(502, "bad_upstream_response", "the Anthropic stream sent a delta without an index");
    }
    std::string_view dt = string_field(d, "type");
    std::string delta;
    if (dt == "text_delta" && b->kind == Kind::kText) {
      std::string_view t = string_field(d, "text");
      if (t.empty()) return true;
      delta = "{\"content\":";
      sdk::append_json_string(delta, t);
    } else if (dt == "thinking_delta" && b->kind == Kind::kThinking) {
      std::string_view t = string_field(d, "thinking");
      if (t.empty()) return true;
      b->thinking.append(t);
      delta = "{\"reasoning_content\":";
      sdk::append_json_string(delta, t);
    } else if (dt == "signature_delta" && b->kind == Kind::kThinking) {
      b->signature.append(string_field(d, "signature"));
      return true;
    } else if (dt == "input_json_delta" && b->kind == Kind::kToolUse) {
      std::string_view j = string_field(d, "partial_json");
      if (j.empty()) return true;
      b->args_sent = true;
      delta = "{\"tool_calls\":[{\"index\":";
      delta.append(std::to_string(b->tool_index));
      delta.append(",\"function\":{\"arguments\":");
      sdk::append_json_string(delta, j);
      delta.append("}}]");
    } else {
      return true;  // citations and deltas of blocks left out
    }
    delta.push_back('}');
    chunk(out, delta, {});
    content_started_ = true;
    return true;
  }
  if (type == "content_block_stop") {
    int64_t index = -1;
    Block* b = ev["index"].get(index) == simdjson::SUCCESS ? block(index) : nullptr;
    if (b == nullptr) return true;
    if (b->kind == Kind::kThinking) {
      append_thinking_block(carry_, b->thinking, b->signature);
    } else if (b->kind == Kind::kRedacted) {
      append_redacted_block(carry_, b->data);
    } else if (b->kind == Kind::kToolUse && !b->args_sent) {
      // A call without input streams no JSON; OpenAI clients parse "{}".
      std::string delta = "{\"tool_calls\":[{\"index\":";
      delta.append(std::to_string(b->tool_index));
      delta.append(",\"function\":{\"arguments\":\"{}\"}}]}");
      chunk(out, delta, {});
    }
    *b = Block{};  // its text is out; only the kind mattered until now
    return true;
  }
  if (type == "message_delta") {
    element d, usage;
    std::string_view stop;
    if (ev["delta"].get(d) == simdjson::SUCCESS && d["stop_reason"].get(stop) == simdjson::SUCCESS) {
      stop_reason_.assign(stop);
    }
    if (ev["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome_.usage);
    return true;
  }
  if (type == "message_stop") {
    ended_ = true;
    std::string_view finish = finish_reason_for(stop_reason_, outcome_.finish);
    chunk(out, "{}", finish);
    if (ctx_.include_usage) {
      out.append("data: ");
      append_header(out, ctx_, "chat.completion.chunk");
      out.append(",\"choices\":[],\"usage\":");
      append_usage(out, outcome_.usage);
      out.append("}\n\n");
    }
    out.append("data: [DONE]\n\n");
    return true;
  }
  if (type == "error") {
    element err;
    std::string_view et, message;
    if (ev["error"].get(err) == simdjson::SUCCESS) {
      et = string_field(err, "type");
      message = string_field(err, "message");
    }
    return fail(status_for_error_type(et), std::string(et),
                message.empty() ? "the Anthropic stream ended with an error" : std::string(message));
  }
  return true;  // event types added later: nothing the client needs
}

}  // namespace aigw::anthropic_plugin
