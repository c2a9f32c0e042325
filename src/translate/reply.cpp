// chat_to_message: a whole Chat Completions answer as a Messages answer.
#include <simdjson.h>

#include "json/write.h"
#include "translate/answer.h"
#include "translate/json_value.h"
#include "translate/messages.h"

namespace aigw::translate {
namespace {

using detail::element;
using detail::member;
using detail::string_member;

// A tool call's arguments as the object Anthropic's `input` must be. The
// model may write broken or non-object JSON; the client still gets a
// well-formed tool_use (with {}), and the model's mistake shows as a tool
// error on the next turn rather than as a failed answer.
void append_input(std::string& out, element function) {
  element args;
  if (member(function, "arguments", args)) {
    std::string_view text;
    if (args.get_string().get(text) == simdjson::SUCCESS) {
      simdjson::dom::parser parser;
      element parsed;
      if (parser.parse(text.data(), text.size()).get(parsed) == simdjson::SUCCESS && parsed.is_object()) {
        detail::append_json(out, parsed);
        return;
      }
    } else if (args.is_object()) {  // some compatible servers send the object itself
      detail::append_json(out, args);
      return;
    }
  }
  out += "{}";
}

void next_block(std::string& out, bool& first) {
  if (!first) out += ',';
  first = false;
}

}  // namespace

bool chat_to_message(std::string_view openai_json, std::string_view model, std::string_view message_id,
                     std::string& out) {
  out.clear();
  simdjson::dom::parser parser;
  element root, choices, choice, msg;
  if (parser.parse(openai_json.data(), openai_json.size()).get(root) != simdjson::SUCCESS) return false;
  if (!member(root, "choices", choices) || !choices.is_array()) return false;
  if (simdjson::dom::array(choices).at(0).get(choice) != simdjson::SUCCESS) return false;
  if (!member(choice, "message", msg) || !msg.is_object()) return false;

  std::string o = R"({"id":)";
  std::string_view id;
  if (!string_member(root, "id", id)) id = {};
  detail::append_message_id(o, id, message_id);
  o += R"(,"type":"message","role":"assistant","model":)";
  json::append_string(o, model);
  o += R"(,"content":[)";

  bool first = true;
  std::string_view reasoning, content, refusal;
  if (!string_member(msg, "reasoning_content", reasoning) || reasoning.empty()) {
    if (!string_member(msg, "reasoning", reasoning)) reasoning = {};
  }
  if (!reasoning.empty()) {
    // No signature: the reasoning did not come from Anthropic, and a client
    // that sends it back gets it dropped by messages_to_chat anyway.
    next_block(o, first);
    o += R"({"type":"thinking","thinking":)";
    json::append_string(o, reasoning);
    o += R"(,"signature":""})";
  }
  if (!string_member(msg, "content", content)) content = {};
  if (content.empty() && string_member(msg, "refusal", refusal) && !refusal.empty()) content = refusal;
  if (!content.empty()) {
    next_block(o, first);
    o += R"({"type":"text","text":)";
    json::append_string(o, content);
    o += '}';
  }
  element calls;
  bool called_tool = false;
  if (member(msg, "tool_calls", calls) && calls.is_array()) {
    size_t i = 0;
    for (element call : simdjson::dom::array(calls)) {
      const size_t k = i++;
      element function;
      if (!member(call, "function", function) || !function.is_object()) continue;
      std::string_view call_id, name;
      next_block(o, first);
      called_tool = true;
      o += R"({"type":"tool_use","id":)";
      if (string_member(call, "id", call_id) && !call_id.empty()) {
        json::append_string(o, call_id);
      } else {
        // Anthropic requires an id to answer with tool_result.
        json::append_string(o, "call_" + std::to_string(k));
      }
      o += R"(,"name":)";
      if (!string_member(function, "name", name)) name = {};
      json::append_string(o, name);
      o += R"(,"input":)";
      append_input(o, function);
      o += '}';
    }
  }
  std::string_view finish;
  if (!string_member(choice, "finish_reason", finish)) finish = {};
  o += R"(],"stop_reason":)";
  std::string_view reason = detail::stop_reason(finish);
  // Some OpenAI-compatible servers finish a turn of tool calls with "stop";
  // agent loops wait for tool_use before they run the tools.
  if (called_tool && reason == "end_turn") reason = "tool_use";
  json::append_string(o, reason);
  element usage_el;
  detail::Usage usage;
  if (member(root, "usage", usage_el)) usage = detail::read_usage(usage_el);
  o += R"(,"stop_sequence":null,"usage":{"input_tokens":)";
  o += std::to_string(usage.input());
  o += R"(,"cache_creation_input_tokens":0,"cache_read_input_tokens":)";
  o += std::to_string(usage.cached);
  o += R"(,"output_tokens":)";
  o += std::to_string(usage.completion);
  o += "}}";
  out = std::move(o);
  return true;
}

}  // namespace aigw::translate
