// StreamToMessages: Chat Completions SSE in, Messages SSE out.
//
// The input is split into lines by hand (not by an SSE library) so that the
// output depends only on the bytes, never on where the transport cut them:
// a line is acted on once its '\n' has arrived, an event once its blank line
// has. A lone '\r' is not taken as a line end (no OpenAI-dialect server
// sends one), which keeps "\r\n" cut between its two bytes unambiguous.
#include <simdjson.h>

#include <map>

#include "json/write.h"
#include "translate/answer.h"
#include "translate/json_value.h"
#include "translate/messages.h"

namespace aigw::translate {
namespace {

using detail::element;
using detail::member;
using detail::string_member;

// What the translator buffers of one upstream event (its data lines so far
// and the line being read) may not pass this: a server that never ends its
// event or line cannot make the gateway buffer without bound. Comment and
// other field lines are not buffered, so they do not count.
constexpr size_t kMaxEvent = 1 << 20;

enum class Block { none, thinking, text, tool };

struct Tool {
  std::string id, name;
  std::string pending;  // arguments that came before the name
  bool started = false;
  bool sent_args = false;
};

}  // namespace

struct StreamToMessages::Impl {
  std::string model, message_id;
  uint64_t estimate = 0;

  // SSE framing.
  std::string line;        // the line not yet ended by '\n'
  std::string data;        // the current event's data lines, '\n'-joined
  bool has_data = false;

  // The Messages side.
  bool started = false;  // message_start written
  bool ended = false;    // message_stop or error written: nothing more
  bool content = false;  // content_started()
  uint64_t start_input = 0;
  Block open = Block::none;
  int64_t open_tool = 0;  // the OpenAI tool index of the open tool block
  uint64_t next_index = 0;
  std::map<int64_t, Tool> tools;
  std::string_view stop = "end_turn";
  bool called_tool = false;  // a tool_use block was opened
  detail::Usage usage;
  bool usage_seen = false;
  simdjson::dom::parser parser;

  void event_head(std::string& out, std::string_view type) {
    out += "event: ";
    out += type;
    out += "\ndata: ";
  }

  void error_event(std::string& out, int status, std::string_view message) {
    event_head(out, "error");
    out += error_body(status, message);
    out += "\n\n";
    ended = true;
    content = true;
    open = Block::none;
  }

  void start_message(std::string& out, std::string_view openai_id, uint64_t input) {
    started = true;
    start_input = input;
    event_head(out, "message_start");
    out += R"({"type":"message_start","message":{"id":)";
    detail::append_message_id(out, openai_id, message_id);
    out += R"(,"type":"message","role":"assistant","model":)";
    json::append_string(out, model);
    out += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":)";
    out += std::to_string(input);
    out += R"(,"output_tokens":0}}})";
    out += "\n\n";
    // As Anthropic does: some clients wait for it before reading on.
    out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
  }

  void tool_delta(std::string& out, std::string_view piece) {
    event_head(out, "content_block_delta");
    out += R"({"type":"content_block_delta","index":)";
    out += std::to_string(next_index - 1);
    out += R"(,"delta":{"type":"input_json_delta","partial_json":)";
    json::append_string(out, piece);
    out += "}}\n\n";
  }

  void close_block(std::string& out) {
    if (open == Block::none) return;
    if (open == Block::tool) {
      // Anthropic sends one empty input_json_delta for a tool without
      // arguments (see the recording llm-anthropic_test_stream_events_
      // tool_calls.json); SDKs then parse the input as {}.
      Tool& t = tools[open_tool];
      if (!t.sent_args) tool_delta(out, "");
    }
    event_head(out, "content_block_stop");
    out += R"({"type":"content_block_stop","index":)";
    out += std::to_string(next_index - 1);
    out += "}\n\n";
    open = Block::none;
  }

  // Closes the open block and starts one; `block_json` is content_block.
  void open_block(std::string& out, Block kind, const std::string& block_json) {
    close_block(out);
    event_head(out, "content_block_start");
    out += R"({"type":"content_block_start","index":)";
    out += std::to_string(next_index++);
    out += R"(,"content_block":)";
    out += block_json;
    out += "}\n\n";
    open = kind;
    content = true;
  }

  void text_like(std::string& out, Block kind, std::string_view piece) {
    const bool thinking = kind == Block::thinking;
    if (open != kind) {
      open_block(out, kind, thinking ? R"({"type":"thinking","thinking":"","signature":""})"
                                     : R"({"type":"text","text":""})");
    }
    event_head(out, "content_block_delta");
    out += R"({"type":"content_block_delta","index":)";
    out += std::to_string(next_index - 1);
    out += thinking ? R"(,"delta":{"type":"thinking_delta","thinking":)" : R"(,"delta":{"type":"text_delta","text":)";
    json::append_string(out, piece);
    out += "}}\n\n";
  }

  void tool_call(std::string& out, element call, size_t position) {
    int64_t index = int64_t(position);
    element v;
    int64_t given = 0;
    if (member(call, "index", v) && v.get_int64().get(given) == simdjson::SUCCESS) index = given;
    Tool& t = tools[index];
    std::string_view id, name, args;
    element function;
    const bool has_function = member(call, "function", function);
    if (!t.started) {
      if (string_member(call, "id", id) && !id.empty()) t.id.assign(id);
      if (has_function && string_member(function, "name", name) && !name.empty()) t.name.assign(name);
    }
    if (!has_function || !string_member(function, "arguments", args)) args = {};
    if (!t.started) {
      // Arguments before the name wait for it, up to one event's worth.
      if (t.pending.size() + args.size() <= kMaxEvent) t.pending += args;
      if (t.name.empty()) return;
      std::string block = R"({"type":"tool_use","id":)";
      json::append_string(block, t.id.empty() ? "call_" + std::to_string(index) : t.id);
      block += R"(,"name":)";
      json::append_string(block, t.name);
      block += R"(,"input":{}})";
      open_block(out, Block::tool, block);
      open_tool = index;
      t.started = true;
      called_tool = true;
      if (!t.pending.empty()) {
        tool_delta(out, t.pending);
        t.sent_args = true;
        t.pending.clear();
        t.pending.shrink_to_fit();
      }
      return;
    }
    // A block cannot reopen once stopped: arguments for a tool call whose
    // block was closed by another one are dropped (OpenAI streams one tool
    // call after the other, so this takes a misbehaving server).
    if (open == Block::tool && open_tool == index && !args.empty()) {
      tool_delta(out, args);
      t.sent_args = true;
    }
  }

  void chunk(std::string& out, element root) {
    element u;
    bool prompt_here = false;
    if (member(root, "usage", u) && u.is_object()) {
      usage = detail::read_usage(u);
      element p;
      prompt_here = member(u, "prompt_tokens", p);
      // A usage object without the prompt count does not replace the
      // estimate message_delta repeats.
      usage_seen = usage_seen || prompt_here;
    }
    if (!started) {
      std::string_view id;
      if (!string_member(root, "id", id)) id = {};
      start_message(out, id, prompt_here ? usage.input() : estimate);
    }
    element choices, choice, delta;
    if (!member(root, "choices", choices) || !choices.is_array()) return;
    if (simdjson::dom::array(choices).at(0).get(choice) != simdjson::SUCCESS) return;
    if (member(choice, "delta", delta) && delta.is_object()) {
      std::string_view reasoning, text;
      if (!string_member(delta, "reasoning_content", reasoning) || reasoning.empty()) {
        if (!string_member(delta, "reasoning", reasoning)) reasoning = {};
      }
      if (!reasoning.empty()) text_like(out, Block::thinking, reasoning);
      if (string_member(delta, "content", text) && !text.empty()) text_like(out, Block::text, text);
      element calls;
      if (member(delta, "tool_calls", calls) && calls.is_array()) {
        size_t k = 0;
        for (element call : simdjson::dom::array(calls)) {
          if (call.is_object()) tool_call(out, call, k);
          ++k;
        }
      }
    }
    std::string_view finish;
    if (string_member(choice, "finish_reason", finish)) stop = detail::stop_reason(finish);
  }

  void end_message(std::string& out) {
    if (ended) return;
    if (!started) start_message(out, {}, estimate);
    close_block(out);
    // Some OpenAI-compatible servers finish a turn of tool calls with
    // "stop"; agent loops wait for tool_use before they run the tools.
    if (called_tool && stop == "end_turn") stop = "tool_use";
    event_head(out, "message_delta");
    out += R"({"type":"message_delta","delta":{"stop_reason":)";
    json::append_string(out, stop);
    out += R"(,"stop_sequence":null},"usage":{"input_tokens":)";
    // Without a usage chunk the estimate stands: SDKs overwrite
    // message_start's count with this one.
    out += std::to_string(usage_seen ? usage.input() : start_input);
    out += R"(,"output_tokens":)";
    out += std::to_string(usage.completion);
    out += R"(,"cache_read_input_tokens":)";
    out += std::to_string(usage.cached);
    out += "}}\n\n";
    event_head(out, "message_stop");
    out += "{\"type\":\"message_stop\"}\n\n";
    ended = true;
    content = true;
  }

  void upstream_error(std::string& out, element error) {
    std::string_view message;
    if (!string_member(error, "message", message) && error.get_string().get(message) != simdjson::SUCCESS) message = {};
    int status = 500;  // api_error unless the error carries an HTTP status code
    element code;
    int64_t n = 0;
    if (member(error, "code", code) && code.get_int64().get(n) == simdjson::SUCCESS && n >= 400 && n <= 599)
      status = int(n);
    error_event(out, status, message.empty() ? std::string_view("the provider reported an error") : message);
  }

  void dispatch(std::string& out) {
    if (!has_data) return;
    has_data = false;
    if (data == "[DONE]") {
      end_message(out);
    } else {
      element root, error;
      // Not JSON (a proxy's keep-alive text, a cut line): skipped.
      if (parser.parse(data.data(), data.size()).get(root) == simdjson::SUCCESS && root.is_object()) {
        if (member(root, "error", error) && (error.is_object() || error.is_string())) {
          upstream_error(out, error);
        } else {
          chunk(out, root);
        }
      }
    }
    data.clear();
  }

  // One line, its '\n' (and a '\r' before it) taken off.
  void take_line(std::string& out, std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      dispatch(out);
      return;
    }
    if (l.front() == ':') return;  // a comment (keep-alive)
    const size_t colon = l.find(':');
    const std::string_view field = l.substr(0, colon);
    if (field != "data") return;  // event:, id:, retry: mean nothing here
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (has_data) data += '\n';
    data += value;
    has_data = true;
  }

  void too_large(std::string& out) {
    line.clear();
    data.clear();
    error_event(out, 502, "upstream event too large");
  }

  void feed(std::string_view bytes, std::string& out) {
    size_t pos = 0;
    while (!ended && pos < bytes.size()) {
      const size_t nl = bytes.find('\n', pos);
      const size_t end = nl == std::string_view::npos ? bytes.size() : nl;
      // The same sum whether a line comes whole or in pieces, so the cut
      // cannot change where (or whether) the limit is hit.
      if (data.size() + line.size() + (end - pos) + (nl == std::string_view::npos ? 0 : 1) > kMaxEvent) {
        too_large(out);
        return;
      }
      if (nl == std::string_view::npos) {
        line.append(bytes.substr(pos));
        return;
      }
      if (line.empty()) {
        take_line(out, bytes.substr(pos, nl - pos));
      } else {
        line.append(bytes.substr(pos, nl - pos));
        std::string whole;
        whole.swap(line);
        take_line(out, whole);
      }
      pos = nl + 1;
    }
  }
};

StreamToMessages::StreamToMessages(std::string_view model, std::string_view message_id,
                                   uint64_t input_tokens_estimate)
    : impl_(std::make_unique<Impl>()) {
  impl_->model.assign(model);
  impl_->message_id.assign(message_id);
  impl_->estimate = input_tokens_estimate;
}

StreamToMessages::~StreamToMessages() = default;

void StreamToMessages::feed(std::string_view bytes, std::string& out) {
  if (!impl_->ended) impl_->feed(bytes, out);
}

void StreamToMessages::finish(std::string& out) {
  Impl& s = *impl_;
  if (s.ended) return;
  // A last event without its blank line (the connection closed right after
  // it) still counts.
  if (!s.line.empty()) {
    std::string last;
    last.swap(s.line);
    s.take_line(out, last);
  }
  if (!s.ended) s.dispatch(out);
  s.end_message(out);
}

void StreamToMessages::fail(int status, std::string_view message, std::string& out) {
  if (!impl_->ended) impl_->error_event(out, status, message);
}

bool StreamToMessages::content_started() const { return impl_->content; }
uint64_t StreamToMessages::prompt_tokens() const { return impl_->usage.prompt; }
uint64_t StreamToMessages::completion_tokens() const { return impl_->usage.completion; }

}  // namespace aigw::translate
