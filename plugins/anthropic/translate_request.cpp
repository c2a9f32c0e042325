#include "translate_request.h"

#include <charconv>
#include <utility>
#include <vector>

#include "aigw_plugin.hpp"
#include "json_value.h"
#include "thinking_carry.h"

namespace aigw::anthropic_plugin {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// Appends `,"key":` (or without the comma for the first member).
void key(std::string& out, bool& first, std::string_view k) {
  if (!first) out.push_back(',');
  first = false;
  sdk::append_json_string(out, k);
  out.push_back(':');
}

bool fail(RequestError& error, std::string param, std::string message) {
  error.param = std::move(param);
  error.message = std::move(message);
  return false;
}

// An integer in lo..hi (a double without fraction counts: some clients
// write 100.0).
bool get_int(element e, int64_t lo, int64_t hi, int64_t& v) {
  if (e.is_int64()) {
    v = int64_t(e);
  } else if (e.is_double()) {
    double d = double(e);
    if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) ||
        d != static_cast<double>(static_cast<int64_t>(d))) {
      return false;
    }
    v = static_cast<int64_t>(d);
  } else {
    return false;
  }
  return v >= lo && v <= hi;
}

// A member that is present and not null (null means "not given", as at
// OpenAI).
bool given(object o, std::string_view k, element& e) {
  return o[k].get(e) == simdjson::SUCCESS && !e.is_null();
}

void text_block(std::string& out, std::string_view text) {
  out.append("{\"type\":\"text\",\"text\":");
  sdk::append_json_string(out, text);
  out.push_back('}');
}

// Text of a message whose content may only be text: a string, or an array
// of {"type":"text","text":...} parts.
bool content_texts(element content, const std::string& param, std::vector<std::string_view>& texts,
                   RequestError& error) {
  if (content.is_string()) {
    texts.push_back(std::string_view(content));
    return true;
  }
  if (!content.is_array()) return fail(error, param, param + " must be a string or an array of text parts");
  size_t i = 0;
  for (element part : array(content)) {
    std::string p = param + "[" + std::to_string(i++) + "]";
    std::string_view type, text;
    if (!part.is_object() || part["type"].get(type) != simdjson::SUCCESS || type != "text" ||
        part["text"].get(text) != simdjson::SUCCESS) {
      return fail(error, p, p + " must be a text part ({\"type\":\"text\",\"text\":...}) here");
    }
    texts.push_back(text);
  }
  return true;
}

// One Anthropic message being built: consecutive OpenAI messages that map
// to one role share it, because Anthropic wants user and assistant turns to
// alternate.
struct Turn {
  std::string_view role;  // "user" or "assistant"
  std::string blocks;     // the content blocks' JSON, comma-separated
};

class ChatBuilder {
 public:
  ChatBuilder(std::string& out, ChatRequestInfo& info, RequestError& error)
      : out_(out), info_(info), error_(error) {}

  bool build(element root, std::string_view model);

 private:
  bool messages(element msgs);
  bool message(element msg, const std::string& param);
  bool user_content(element content, const std::string& param);
  bool image_block(element part, const std::string& param);
  bool assistant(element msg, const std::string& param);
  bool tool_result(element msg, const std::string& param);
  bool tools(element list);
  bool tool_choice(element choice, bool parallel);

  std::string& block(std::string_view role) {
    if (turns_.empty() || turns_.back().role != role) {
      turns_.push_back({role, {}});
    } else {
      turns_.back().blocks.push_back(',');
    }
    return turns_.back().blocks;
  }

  std::string& out_;
  ChatRequestInfo& info_;
  RequestError& error_;
  std::vector<Turn> turns_;
  std::string system_;       // text blocks, comma-separated
  std::string tools_;        // the "tools" value, or empty
  std::string tool_choice_;  // the "tool_choice" value, or empty
  // Arguments strings and carried thinking blocks are JSON inside a JSON
  // string: a second parser, since parsing them with the first would
  // invalidate the document being walked.
  simdjson::dom::parser inner_;
};

bool ChatBuilder::user_content(element content, const std::string& param) {
  if (content.is_string()) {
    text_block(block("user"), std::string_view(content));
    return true;
  }
  if (!content.is_array()) return fail(error_, param, param + " must be a string or an array of parts");
  size_t i = 0;
  for (element item : array(content)) {
    std::string p = param + "[" + std::to_string(i++) + "]";
    std::string_view type;
    if (!item.is_object() || item["type"].get(type) != simdjson::SUCCESS) {
      return fail(error_, p, p + " must be an object with a \"type\"");
    }
    if (type == "text") {
      std::string_view text;
      if (item["text"].get(text) != simdjson::SUCCESS) return fail(error_, p + ".text", p + ".text must be a string");
      text_block(block("user"), text);
    } else if (type == "image_url") {
      if (!image_block(item, p)) return false;
    } else {
      return fail(error_, p + ".type",
                  p + ".type \"" + std::string(type).substr(0, 64) +
                      "\" is not supported by the anthropic provider (text and image_url are)");
    }
  }
  return true;
}

// The image media types Anthropic's base64 source accepts.
bool known_image_type(std::string_view m) {
  return m == "image/jpeg" || m == "image/png" || m == "image/gif" || m == "image/webp";
}

bool ChatBuilder::image_block(element item, const std::string& p) {
  std::string param = p + ".image_url.url";
  std::string_view url;
  element iu;
  if (item["image_url"].get(iu) != simdjson::SUCCESS || !iu.is_object() ||
      iu["url"].get(url) != simdjson::SUCCESS) {
    return fail(error_, param, param + " must be a string");
  }
  // detail has no Anthropic counterpart (a hint; Claude sizes images
  // itself): ignored rather than refused.
  std::string& out = block("user");
  if (url.substr(0, 8) == "https://" || url.substr(0, 7) == "http://") {
    // A URL source: Anthropic fetches it; the gateway never does.
    out.append("{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":");
    sdk::append_json_string(out, url);
    out.append("}}");
    return true;
  }
  constexpr std::string_view kData = "data:";
  constexpr std::string_view kBase64 = ";base64,";
  size_t comma = url.find(kBase64);
  if (url.substr(0, kData.size()) != kData || comma == std::string_view::npos) {
    return fail(error_, param, param + " must be an http(s) URL or a data:<type>;base64,<data> URL");
  }
  std::string_view mime = url.substr(kData.size(), comma - kData.size());
  std::string_view data = url.substr(comma + kBase64.size());
  if (!known_image_type(mime)) {
    return fail(error_, param,
                param + ": image type \"" + std::string(mime).substr(0, 64) +
                    "\" is not supported by Anthropic (image/jpeg, image/png, image/gif, image/webp are)");
  }
  if (data.empty()) return fail(error_, param, param + " holds no data");
  out.append("{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":");
  sdk::append_json_string(out, mime);
  out.append(",\"data\":");
  sdk::append_json_string(out, data);
  out.append("}}");
  return true;
}

bool ChatBuilder::assistant(element msg, const std::string& param) {
  element content, calls;
  std::string blocks;  // text first, then tool_use, as Claude writes them
  std::string thinking;  // carried blocks: they must come first
  if (msg["content"].get(content) == simdjson::SUCCESS && !content.is_null()) {
    if (content.is_string()) {
      // Anthropic refuses empty text blocks; an empty string says nothing.
      if (!std::string_view(content).empty()) text_block(blocks, std::string_view(content));
    } else if (content.is_array()) {
      size_t i = 0;
      for (element part : array(content)) {
        std::string p = param + ".content[" + std::to_string(i++) + "]";
        std::string_view type, text;
        if (!part.is_object() || part["type"].get(type) != simdjson::SUCCESS) {
          return fail(error_, p, p + " must be an object with a \"type\"");
        }
        // A refusal part is what the model said: it goes back as text.
        std::string_view field = type == "refusal" ? "refusal" : "text";
        if ((type != "text" && type != "refusal") || part[field].get(text) != simdjson::SUCCESS) {
          return fail(error_, p, p + " must be a text or refusal part");
        }
        if (text.empty()) continue;
        if (!blocks.empty()) blocks.push_back(',');
        text_block(blocks, text);
      }
    } else {
      return fail(error_, param + ".content", param + ".content must be a string, an array or null");
    }
  }
  if (msg["tool_calls"].get(calls) == simdjson::SUCCESS && !calls.is_null()) {
    if (!calls.is_array()) return fail(error_, param + ".tool_calls", param + ".tool_calls must be an array");
    size_t i = 0;
    for (element call : array(calls)) {
      std::string p = param + ".tool_calls[" + std::to_string(i++) + "]";
      std::string_view id, type, name, args;
      element fn;
      if (!call.is_object() || call["id"].get(id) != simdjson::SUCCESS || id.empty()) {
        return fail(error_, p + ".id", p + ".id must be a non-empty string");
      }
      if (call["type"].get(type) == simdjson::SUCCESS && type != "function") {
        return fail(error_, p + ".type", p + ".type must be \"function\"");
      }
      if (call["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
          fn["name"].get(name) != simdjson::SUCCESS || name.empty()) {
        return fail(error_, p + ".function.name", p + ".function.name must be a non-empty string");
      }
      if (fn["arguments"].get(args) != simdjson::SUCCESS) args = {};
      std::string_view tool_use_id;
      std::string carried;
      if (!split_tool_call_id(id, tool_use_id, carried) || tool_use_id.empty()) {
        return fail(error_, p + ".id", p + ".id was changed on its way back (its thinking part is not base64url)");
      }
      if (!carried.empty()) {
        // The thinking blocks Claude wrote before this call, as it wrote them.
        element arr;
        if (inner_.parse(carried).get(arr) != simdjson::SUCCESS || !arr.is_array()) {
          return fail(error_, p + ".id", p + ".id carries thinking blocks that do not parse");
        }
        for (element b : array(arr)) {
          std::string_view bt, s1, s2;
          bool ok = b.is_object() && b["type"].get(bt) == simdjson::SUCCESS &&
                    ((bt == "thinking" && b["thinking"].get(s1) == simdjson::SUCCESS &&
                      b["signature"].get(s2) == simdjson::SUCCESS) ||
                     (bt == "redacted_thinking" && b["data"].get(s1) == simdjson::SUCCESS));
          if (!ok) return fail(error_, p + ".id", p + ".id carries a block that is not a thinking block");
          if (!thinking.empty()) thinking.push_back(',');
          write_value(thinking, b);
        }
      }
      if (!blocks.empty()) blocks.push_back(',');
      blocks.append("{\"type\":\"tool_use\",\"id\":");
      sdk::append_json_string(blocks, tool_use_id);
      blocks.append(",\"name\":");
      sdk::append_json_string(blocks, name);
      blocks.append(",\"input\":");
      // Arguments are a JSON object in a string; empty means no arguments.
      element parsed;
      if (args.empty()) {
        blocks.append("{}");
      } else if (inner_.parse(args).get(parsed) != simdjson::SUCCESS || !parsed.is_object()) {
        return fail(error_, p + ".function.arguments", p + ".function.arguments must be a JSON object in a string");
      } else {
        write_value(blocks, parsed);
      }
      blocks.push_back('}');
    }
  }
  if (thinking.empty() && blocks.empty()) return true;  // nothing said: no turn
  std::string& out = block("assistant");
  out.append(thinking);
  if (!thinking.empty() && !blocks.empty()) out.push_back(',');
  out.append(blocks);
  return true;
}

bool ChatBuilder::tool_result(element msg, const std::string& param) {
  std::string_view id;
  if (msg["tool_call_id"].get(id) != simdjson::SUCCESS || id.empty()) {
    return fail(error_, param + ".tool_call_id", param + ".tool_call_id must be a non-empty string");
  }
  std::string_view tool_use_id;
  std::string carried;
  if (!split_tool_call_id(id, tool_use_id, carried) || tool_use_id.empty()) {
    return fail(error_, param + ".tool_call_id", param + ".tool_call_id was changed on its way back");
  }
  element content;
  std::vector<std::string_view> texts;
  if (msg["content"].get(content) != simdjson::SUCCESS ||
      !content_texts(content, param + ".content", texts, error_)) {
    if (error_.message.empty()) fail(error_, param + ".content", param + ".content is required");
    return false;
  }
  // tool_result blocks go in a user turn, all results of one step in one
  // turn (the merge in block() does that), before any text that follows.
  std::string& out = block("user");
  out.append("{\"type\":\"tool_result\",\"tool_use_id\":");
  sdk::append_json_string(out, tool_use_id);
  out.append(",\"content\":");
  if (texts.size() == 1) {
    sdk::append_json_string(out, texts[0]);
  } else {
    out.push_back('[');
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i > 0) out.push_back(',');
      text_block(out, texts[i]);
    }
    out.push_back(']');
  }
  out.push_back('}');
  return true;
}

bool ChatBuilder::message(element msg, const std::string& param) {
  std::string_view role;
  if (!msg.is_object() || msg["role"].get(role) != simdjson::SUCCESS) {
    return fail(error_, param + ".role", param + " must be an object with a role");
  }
  element content;
  bool has_content = msg["content"].get(content) == simdjson::SUCCESS && !content.is_null();
  if (role == "system" || role == "developer") {
    std::vector<std::string_view> texts;
    if (!has_content) return fail(error_, param + ".content", param + ".content is required");
    if (!content_texts(content, param + ".content", texts, error_)) return false;
    for (std::string_view t : texts) {
      if (t.empty()) continue;
      if (!system_.empty()) system_.push_back(',');
      text_block(system_, t);
    }
    return true;
  }
  if (role == "user") {
    if (!has_content) return fail(error_, param + ".content", param + ".content is required");
    return user_content(content, param + ".content");
  }
  if (role == "assistant") return assistant(msg, param);
  if (role == "tool") return tool_result(msg, param);
  return fail(error_, param + ".role",
              param + ".role \"" + std::string(role).substr(0, 32) +
                  "\" is not supported by the anthropic provider (system, developer, user, "
                  "assistant and tool are)");
}

bool ChatBuilder::messages(element msgs) {
  if (!msgs.is_array()) return fail(error_, "messages", "messages must be an array");
  size_t i = 0;
  for (element m : array(msgs)) {
    if (!message(m, "messages[" + std::to_string(i++) + "]")) return false;
  }
  if (turns_.empty()) return fail(error_, "messages", "messages must hold at least one user or assistant message");
  return true;
}

bool ChatBuilder::tools(element list) {
  if (!list.is_array()) return fail(error_, "tools", "tools must be an array");
  std::string& out = tools_;
  out.push_back('[');
  size_t i = 0;
  for (element t : array(list)) {
    std::string p = "tools[" + std::to_string(i) + "]";
    std::string_view type, name, desc;
    element fn, params;
    if (!t.is_object() || t["type"].get(type) != simdjson::SUCCESS || type != "function") {
      return fail(error_, p + ".type", p + ".type must be \"function\" (the anthropic provider takes function tools)");
    }
    if (t["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
        fn["name"].get(name) != simdjson::SUCCESS || name.empty()) {
      return fail(error_, p + ".function.name", p + ".function.name must be a non-empty string");
    }
    if (i++ > 0) out.push_back(',');
    out.append("{\"name\":");
    sdk::append_json_string(out, name);
    if (fn["description"].get(desc) == simdjson::SUCCESS) {
      out.append(",\"description\":");
      sdk::append_json_string(out, desc);
    }
    // input_schema is required; a function without parameters takes none.
    out.append(",\"input_schema\":");
    if (fn["parameters"].get(params) == simdjson::SUCCESS && !params.is_null()) {
      if (!params.is_object()) return fail(error_, p + ".function.parameters", p + ".function.parameters must be an object");
      write_value(out, params);
    } else {
      out.append("{\"type\":\"object\",\"properties\":{}}");
    }
    out.push_back('}');
  }
  out.push_back(']');
  if (i == 0) tools_.clear();  // an empty list means no tools
  return true;
}

bool ChatBuilder::tool_choice(element c, bool parallel) {
  std::string& out = tool_choice_;
  std::string_view mode;
  if (c.is_string()) {
    mode = std::string_view(c);
    if (mode == "auto") {
      out = "{\"type\":\"auto\"";
    } else if (mode == "required") {
      out = "{\"type\":\"any\"";
    } else if (mode == "none") {
      out = "{\"type\":\"none\"}";
      return true;  // "none" takes no disable_parallel_tool_use
    } else {
      return fail(error_, "tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or a named function");
    }
  } else {
    std::string_view type, name;
    element fn;
    if (!c.is_object() || c["type"].get(type) != simdjson::SUCCESS || type != "function" ||
        c["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
        fn["name"].get(name) != simdjson::SUCCESS || name.empty()) {
      return fail(error_, "tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}");
    }
    out = "{\"type\":\"tool\",\"name\":";
    sdk::append_json_string(out, name);
  }
  if (!parallel) out.append(",\"disable_parallel_tool_use\":true");
  out.push_back('}');
  return true;
}

// OpenAI parameters Anthropic cannot honour: refused, because dropping them
// would change what the client asked for.
constexpr std::string_view kRefused[] = {
    "logit_bias", "top_logprobs", "functions", "function_call", "audio", "prediction",
    "web_search_options", "verbosity", "seed"};
// OpenAI's own bookkeeping (abuse monitoring, stored completions, caching
// hints, tiers): ignored, as an OpenAI-compatible server without those
// features does.
constexpr std::string_view kIgnored[] = {"model", "user", "store", "metadata", "service_tier",
                                         "safety_identifier", "prompt_cache_key"};
constexpr std::string_view kHandled[] = {
    "messages", "stream", "stream_options", "temperature", "top_p", "presence_penalty",
    "frequency_penalty", "max_tokens", "max_completion_tokens", "n", "stop", "response_format",
    "reasoning_effort", "tools", "tool_choice", "parallel_tool_calls", "logprobs", "modalities"};

template <size_t N>
bool listed(const std::string_view (&list)[N], std::string_view k) {
  for (std::string_view s : list) {
    if (s == k) return true;
  }
  return false;
}

bool ChatBuilder::build(element root_el, std::string_view model) {
  if (!root_el.is_object()) return fail(error_, "", "the request body must be a JSON object");
  object root(root_el);
  for (auto field : root) {
    std::string_view k = field.key;
    if (listed(kHandled, k) || listed(kIgnored, k)) continue;
    if (listed(kRefused, k)) {
      if (field.value.is_null()) continue;
      return fail(error_, std::string(k), std::string(k) + " is not supported by the anthropic provider (Anthropic has no equivalent)");
    }
    return fail(error_, std::string(k), "unknown parameter: " + std::string(k).substr(0, 64));
  }
  element e;
  if (given(root, "logprobs", e) && (!e.is_bool() || bool(e))) {
    return fail(error_, "logprobs", "logprobs is not supported by the anthropic provider");
  }
  if (given(root, "modalities", e)) {
    bool text_only = e.is_array();
    if (text_only) {
      for (element m : array(e)) text_only = text_only && m.is_string() && std::string_view(m) == "text";
    }
    if (!text_only) return fail(error_, "modalities", "modalities other than [\"text\"] are not supported by the anthropic provider");
  }
  int64_t n = 1;
  if (given(root, "n", e) && (!get_int(e, 1, 1, n))) {
    return fail(error_, "n", "n must be 1: Anthropic writes one answer per request");
  }
  // Anthropic has no penalties; 0 is OpenAI's default and means none.
  for (std::string_view p : {std::string_view("presence_penalty"), std::string_view("frequency_penalty")}) {
    if (given(root, p, e) && (!e.is_number() || double(e) != 0.0)) {
      return fail(error_, std::string(p), std::string(p) + " is not supported by the anthropic provider (only 0)");
    }
  }
  bool parallel = true;
  if (given(root, "parallel_tool_calls", e)) {
    if (!e.is_bool()) return fail(error_, "parallel_tool_calls", "parallel_tool_calls must be true or false");
    parallel = bool(e);
  }
  bool stream_given = false;
  if (given(root, "stream", e)) {
    if (!e.is_bool()) return fail(error_, "stream", "stream must be true or false");
    info_.stream = bool(e);
    stream_given = true;
  }
  if (given(root, "stream_options", e)) {
    element iu;
    if (!e.is_object()) return fail(error_, "stream_options", "stream_options must be an object");
    if (e["include_usage"].get(iu) == simdjson::SUCCESS && !iu.is_null()) {
      if (!iu.is_bool()) return fail(error_, "stream_options.include_usage", "stream_options.include_usage must be true or false");
      info_.include_usage = bool(iu);
    }
  }
  if (!given(root, "messages", e)) return fail(error_, "messages", "messages is required");
  if (!messages(e)) return false;
  if (given(root, "tools", e) && !tools(e)) return false;
  if (given(root, "tool_choice", e)) {
    if (!tool_choice(e, parallel)) return false;
  } else if (!parallel && !tools_.empty()) {
    tool_choice_ = "{\"type\":\"auto\",\"disable_parallel_tool_use\":true}";
  }

  // max_tokens: the first of max_completion_tokens, max_tokens.
  int64_t max_tokens = 0;
  const char* max_name = nullptr;
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (given(root, k, e)) {
      if (!get_int(e, 1, int64_t{1} << 31, max_tokens)) return fail(error_, k, std::string(k) + " must be a positive integer");
      max_name = k;
      break;
    }
  }
  int64_t budget = 0;
  std::string_view effort;
  if (given(root, "reasoning_effort", e)) {
    if (!e.is_string() || !thinking_budget_for(effort = std::string_view(e), budget)) {
      return fail(error_, "reasoning_effort", "reasoning_effort must be \"none\", \"minimal\", \"low\", \"medium\" or \"high\"");
    }
  }
  if (max_name == nullptr) {
    max_tokens = kDefaultMaxTokens + budget;
  } else if (budget > 0 && max_tokens <= budget) {
    return fail(error_, max_name,
                std::string(max_name) + " must be larger than the thinking budget of reasoning_effort \"" +
                    std::string(effort) + "\" (" + std::to_string(budget) +
                    " tokens): Anthropic counts thinking against it");
  }

  out_.clear();
  out_.push_back('{');
  bool first = true;
  key(out_, first, "model");
  sdk::append_json_string(out_, model);
  key(out_, first, "max_tokens");
  out_.append(std::to_string(max_tokens));
  key(out_, first, "messages");
  out_.push_back('[');
  for (size_t i = 0; i < turns_.size(); ++i) {
    if (i > 0) out_.push_back(',');
    out_.append("{\"role\":\"");
    out_.append(turns_[i].role);
    out_.append("\",\"content\":[");
    out_.append(turns_[i].blocks);
    out_.append("]}");
  }
  out_.push_back(']');
  if (!system_.empty()) {
    key(out_, first, "system");
    out_.push_back('[');
    out_.append(system_);
    out_.push_back(']');
  }
  if (!tools_.empty()) {
    key(out_, first, "tools");
    out_.append(tools_);
  }
  if (!tool_choice_.empty()) {
    key(out_, first, "tool_choice");
    out_.append(tool_choice_);
  }
  if (given(root, "temperature", e)) {
    // OpenAI's range is 0..2, Anthropic's 0..1: above 1 has no counterpart.
    if (!e.is_number() || !(double(e) >= 0.0 && double(e) <= 1.0)) {
      return fail(error_, "temperature", "temperature must be a number from 0 to 1 for Anthropic models");
    }
    key(out_, first, "temperature");
    write_value(out_, e);
  }
  if (given(root, "top_p", e)) {
    if (!e.is_number() || !(double(e) >= 0.0 && double(e) <= 1.0)) {
      return fail(error_, "top_p", "top_p must be a number from 0 to 1");
    }
    key(out_, first, "top_p");
    write_value(out_, e);
  }
  if (given(root, "stop", e)) {
    std::string list;
    if (e.is_string()) {
      sdk::append_json_string(list, std::string_view(e));
    } else if (e.is_array()) {
      for (element s : array(e)) {
        if (!s.is_string()) return fail(error_, "stop", "stop must be a string or an array of strings");
        if (!list.empty()) list.push_back(',');
        sdk::append_json_string(list, std::string_view(s));
      }
    } else {
      return fail(error_, "stop", "stop must be a string or an array of strings");
    }
    if (!list.empty()) {
      key(out_, first, "stop_sequences");
      out_.push_back('[');
      out_.append(list);
      out_.push_back(']');
    }
  }
  if (budget > 0) {
    key(out_, first, "thinking");
    out_.append("{\"type\":\"enabled\",\"budget_tokens\":");
    out_.append(std::to_string(budget));
    out_.push_back('}');
  }
  if (given(root, "response_format", e)) {
    std::string_view type;
    if (!e.is_object() || e["type"].get(type) != simdjson::SUCCESS) {
      return fail(error_, "response_format", "response_format must be an object with a type");
    }
    if (type == "json_schema") {
      element js, schema;
      if (e["json_schema"].get(js) != simdjson::SUCCESS || !js.is_object() ||
          js["schema"].get(schema) != simdjson::SUCCESS || !schema.is_object()) {
        return fail(error_, "response_format.json_schema.schema", "response_format.json_schema.schema must be an object");
      }
      if (!supports_structured_output(model)) {
        return fail(error_, "response_format",
                    "response_format json_schema needs a model with Anthropic's structured outputs "
                    "(Claude Opus 4.5 and later, Sonnet 4.5 and later, Haiku 4.5); \"" +
                        std::string(model).substr(0, 64) + "\" has none");
      }
      key(out_, first, "output_config");
      out_.append("{\"format\":{\"type\":\"json_schema\",\"schema\":");
      write_value(out_, schema);
      out_.append("}}");
    } else if (type == "json_object") {
      return fail(error_, "response_format",
                  "response_format json_object is not supported by the anthropic provider "
                  "(Anthropic constrains output to a schema: use json_schema)");
    } else if (type != "text") {
      return fail(error_, "response_format.type", "response_format.type must be \"text\", \"json_object\" or \"json_schema\"");
    }
  }
  if (stream_given) {
    key(out_, first, "stream");
    out_.append(info_.stream ? "true" : "false");
  }
  out_.push_back('}');
  return true;
}

}  // namespace

bool thinking_budget_for(std::string_view effort, int64_t& budget) {
  // Anthropic takes a token budget of at least 1024 (its documented floor);
  // OpenAI gives a level. minimal is the floor; medium and high are the
  // budgets the gemini plugin uses for the same levels, so one effort costs
  // about the same on either provider.
  if (effort == "none") {
    budget = 0;
  } else if (effort == "minimal") {
    budget = 1024;
  } else if (effort == "low") {
    budget = 2048;
  } else if (effort == "medium") {
    budget = 8192;
  } else if (effort == "high") {
    budget = 24576;
  } else {
    return false;
  }
  return true;
}

bool supports_structured_output(std::string_view model) {
  // Anthropic's structured-outputs page lists Claude Opus 4.5/4.6, Sonnet
  // 4.5/4.6 and Haiku 4.5 (generally available); Opus 4.7 is listed by the
  // cloud platforms that resell it. Names are matched by family prefix so
  // that dated ids (claude-sonnet-4-5-20250929) match too.
  constexpr std::string_view kFamilies[] = {"claude-opus-4-5",   "claude-opus-4-6", "claude-opus-4-7",
                                            "claude-sonnet-4-5", "claude-sonnet-4-6", "claude-haiku-4-5"};
  for (std::string_view f : kFamilies) {
    if (model.substr(0, f.size()) == f) return true;
  }
  return false;
}

bool translate_chat_request(simdjson::dom::parser& parser, std::string_view openai_json,
                            std::string_view upstream_model, std::string& out,
                            ChatRequestInfo& info, RequestError& error) {
  element root;
  if (parser.parse(openai_json.data(), openai_json.size()).get(root) != simdjson::SUCCESS) {
    return fail(error, "", "the request body is not valid JSON");
  }
  info = {};
  ChatBuilder b(out, info, error);
  return b.build(root, upstream_model);
}

}  // namespace aigw::anthropic_plugin
