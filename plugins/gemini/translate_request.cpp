#include "translate_request.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "aigw_plugin.hpp"
#include "tool_call_id.h"

namespace aigw::gemini_plugin {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Re-serialises a parsed value. Every string goes through the SDK's writer
// (so a client's invalid UTF-8 cannot make the upstream body invalid JSON),
// and doubles use the shortest form that reads back to the same value.
void write_value(std::string& out, element e) {
  switch (e.type()) {
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (element item : array(e)) {
        if (!first) out.push_back(',');
        first = false;
        write_value(out, item);
      }
      out.push_back(']');
      return;
    }
    case element_type::OBJECT: {
      out.push_back('{');
      bool first = true;
      for (auto field : object(e)) {
        if (!first) out.push_back(',');
        first = false;
        sdk::append_json_string(out, field.key);
        out.push_back(':');
        write_value(out, field.value);
      }
      out.push_back('}');
      return;
    }
    case element_type::INT64:
      append_int(out, int64_t(e));
      return;
    case element_type::UINT64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(e));
      out.append(buf, r.ptr);
      return;
    }
    case element_type::DOUBLE: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, double(e));
      out.append(buf, r.ptr);
      return;
    }
    case element_type::STRING:
      sdk::append_json_string(out, std::string_view(e));
      return;
    case element_type::BOOL:
      out.append(bool(e) ? "true" : "false");
      return;
    case element_type::NULL_VALUE:
      out.append("null");
      return;
  }
}

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

// An integer that fits `lo..hi` (a double with no fraction counts: JSON
// has one number type, and some clients write 100.0).
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

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

// Text of a message whose content may only be text: a string, or an array
// of {"type":"text","text":...} parts (OpenAI allows that form for system,
// developer and tool messages).
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

// One Gemini turn being built: consecutive messages of one role share it,
// because Gemini expects user and model turns to alternate.
struct Turn {
  std::string_view role;  // "user" or "model"
  std::string parts;      // the parts' JSON, comma-separated
};

class ChatBuilder {
 public:
  ChatBuilder(std::string& out, ChatRequestInfo& info, RequestError& error)
      : out_(out), info_(info), error_(error) {}

  bool build(element root);

 private:
  bool messages(element msgs);
  bool message(element msg, const std::string& param);
  bool user_content(element content, const std::string& param);
  bool image_part(element part, const std::string& param);
  bool audio_part(element part, const std::string& param);
  bool assistant(element msg, const std::string& param);
  bool tool_result(element msg, const std::string& param);
  bool tools(element list);
  bool tool_choice(element choice);
  bool generation_config(object root);

  std::string& part(std::string_view role) {
    if (turns_.empty() || turns_.back().role != role) {
      turns_.push_back({role, {}});
    } else {
      turns_.back().parts.push_back(',');
    }
    return turns_.back().parts;
  }
  void text_part(std::string_view role, std::string_view text) {
    std::string& p = part(role);
    p.append("{\"text\":");
    sdk::append_json_string(p, text);
    p.push_back('}');
  }

  std::string& out_;
  ChatRequestInfo& info_;
  RequestError& error_;
  std::vector<Turn> turns_;
  std::string system_parts_;
  // tool_call_id -> function name, from the assistant messages so far: a
  // tool message names only the id, a functionResponse needs the name.
  std::vector<std::pair<std::string_view, std::string_view>> call_names_;
  std::string tools_;        // the "tools" value, or empty
  std::string tool_config_;  // the "toolConfig" value, or empty
  // Arguments strings and tool results are JSON inside a JSON string: a
  // second parser, since parsing them with the first would invalidate the
  // document being walked.
  simdjson::dom::parser inner_;
};

bool ChatBuilder::user_content(element content, const std::string& param) {
  if (content.is_string()) {
    text_part("user", std::string_view(content));
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
      text_part("user", text);
    } else if (type == "image_url") {
      if (!image_part(item, p)) return false;
    } else if (type == "input_audio") {
      if (!audio_part(item, p)) return false;
    } else {
      return fail(error_, p + ".type",
                  p + ".type \"" + std::string(type).substr(0, 64) +
                      "\" is not supported by the gemini provider (text, image_url and "
                      "input_audio are)");
    }
  }
  return true;
}

bool ChatBuilder::image_part(element item, const std::string& p) {
  std::string param = p + ".image_url.url";
  std::string_view url;
  element iu;
  if (item["image_url"].get(iu) != simdjson::SUCCESS || !iu.is_object() ||
      iu["url"].get(url) != simdjson::SUCCESS) {
    return fail(error_, param, param + " must be a string");
  }
  // detail has no Gemini counterpart (Gemini picks the resolution itself);
  // OpenAI treats it as a hint, so it is ignored rather than refused.
  constexpr std::string_view kData = "data:";
  if (url.substr(0, 5) != kData) {
    if (url.substr(0, 7) == "http://" || url.substr(0, 8) == "https://") {
      return fail(error_, param,
                  param + ": image URLs are not fetched by the gateway (it never makes requests "
                          "to addresses a client chooses); send the image inline as a "
                          "data:<mime type>;base64,<data> URL");
    }
    return fail(error_, param, param + " must be a data:<mime type>;base64,<data> URL");
  }
  size_t comma = url.find(',');
  std::string_view meta = url.substr(kData.size(), comma == std::string_view::npos ? 0 : comma - kData.size());
  constexpr std::string_view kB64 = ";base64";
  if (comma == std::string_view::npos || meta.size() <= kB64.size() ||
      meta.substr(meta.size() - kB64.size()) != kB64 || comma + 1 == url.size()) {
    return fail(error_, param, param + " must be a data:<mime type>;base64,<data> URL");
  }
  std::string_view mime = meta.substr(0, meta.size() - kB64.size());
  std::string& out = part("user");
  out.append("{\"inlineData\":{\"mimeType\":");
  sdk::append_json_string(out, mime);
  out.append(",\"data\":");
  sdk::append_json_string(out, url.substr(comma + 1));
  out.append("}}");
  return true;
}

bool ChatBuilder::audio_part(element item, const std::string& p) {
  std::string param = p + ".input_audio";
  std::string_view data, format;
  element ia;
  if (item["input_audio"].get(ia) != simdjson::SUCCESS || !ia.is_object() ||
      ia["data"].get(data) != simdjson::SUCCESS || ia["format"].get(format) != simdjson::SUCCESS) {
    return fail(error_, param, param + " must have string data and format");
  }
  // OpenAI defines the two formats; Gemini names them by MIME type.
  std::string_view mime;
  if (format == "wav") {
    mime = "audio/wav";
  } else if (format == "mp3") {
    mime = "audio/mp3";
  } else {
    return fail(error_, param + ".format", param + ".format must be \"wav\" or \"mp3\"");
  }
  std::string& out = part("user");
  out.append("{\"inlineData\":{\"mimeType\":");
  sdk::append_json_string(out, mime);
  out.append(",\"data\":");
  sdk::append_json_string(out, data);
  out.append("}}");
  return true;
}

bool ChatBuilder::assistant(element msg, const std::string& param) {
  element content;
  if (msg["content"].get(content) == simdjson::SUCCESS && !content.is_null()) {
    if (content.is_string()) {
      std::string_view text(content);
      // An assistant turn that only called tools often carries "" here.
      if (!text.empty()) text_part("model", text);
    } else if (content.is_array()) {
      size_t i = 0;
      for (element item : array(content)) {
        std::string p = param + ".content[" + std::to_string(i++) + "]";
        std::string_view type, text;
        if (!item.is_object() || item["type"].get(type) != simdjson::SUCCESS) {
          return fail(error_, p, p + " must be an object with a \"type\"");
        }
        // A refusal the model gave earlier is what it said: history as text.
        std::string_view field = type == "refusal" ? "refusal" : "text";
        if ((type != "text" && type != "refusal") || item[field].get(text) != simdjson::SUCCESS) {
          return fail(error_, p, p + " must be a text or refusal part");
        }
        text_part("model", text);
      }
    } else {
      return fail(error_, param + ".content", param + ".content must be a string, an array or null");
    }
  }
  element calls;
  if (msg["tool_calls"].get(calls) != simdjson::SUCCESS || calls.is_null()) return true;
  if (!calls.is_array()) return fail(error_, param + ".tool_calls", param + ".tool_calls must be an array");
  size_t i = 0;
  for (element call : array(calls)) {
    std::string p = param + ".tool_calls[" + std::to_string(i++) + "]";
    std::string_view id, type = "function", name, arguments;
    element fn;
    if (!call.is_object() || call["id"].get(id) != simdjson::SUCCESS) {
      return fail(error_, p + ".id", p + ".id must be a string");
    }
    if (call["type"].error() == simdjson::SUCCESS && call["type"].get(type) != simdjson::SUCCESS) {
      return fail(error_, p + ".type", p + ".type must be \"function\"");
    }
    if (type != "function") return fail(error_, p + ".type", p + ".type must be \"function\"");
    if (call["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
        fn["name"].get(name) != simdjson::SUCCESS) {
      return fail(error_, p + ".function.name", p + ".function.name must be a string");
    }
    if (fn["arguments"].error() == simdjson::SUCCESS &&
        fn["arguments"].get(arguments) != simdjson::SUCCESS) {
      return fail(error_, p + ".function.arguments", p + ".function.arguments must be a string");
    }
    // Gemini wants args as an object; OpenAI carries it as JSON text.
    element args;
    std::string args_json = "{}";
    if (!arguments.empty()) {
      if (inner_.parse(arguments.data(), arguments.size()).get(args) != simdjson::SUCCESS ||
          !args.is_object()) {
        return fail(error_, p + ".function.arguments",
                    p + ".function.arguments must be a JSON object in a string");
      }
      args_json.clear();
      write_value(args_json, args);
    }
    std::string& out = part("model");
    out.append("{\"functionCall\":{\"name\":");
    sdk::append_json_string(out, name);
    out.append(",\"args\":");
    out.append(args_json);
    out.push_back('}');
    // Gemini refuses a later turn that lacks the signature it gave with the
    // call; the id is the only thing of the call an OpenAI client keeps.
    std::string signature = signature_from_tool_call_id(id);
    if (!signature.empty()) {
      out.append(",\"thoughtSignature\":");
      sdk::append_json_string(out, signature);
    }
    out.push_back('}');
    call_names_.emplace_back(id, name);
  }
  return true;
}

bool ChatBuilder::tool_result(element msg, const std::string& param) {
  std::string_view id;
  if (msg["tool_call_id"].get(id) != simdjson::SUCCESS) {
    return fail(error_, param + ".tool_call_id", param + ".tool_call_id must be a string");
  }
  std::string_view name;
  for (auto it = call_names_.rbegin(); it != call_names_.rend(); ++it) {
    if (it->first == id) {
      name = it->second;
      break;
    }
  }
  if (name.empty()) {
    return fail(error_, param + ".tool_call_id",
                param + ".tool_call_id matches no tool call of an earlier assistant message "
                        "(Gemini needs the function's name, which only that call gives)");
  }
  element content;
  std::vector<std::string_view> texts;
  if (msg["content"].get(content) != simdjson::SUCCESS ||
      !content_texts(content, param + ".content", texts, error_)) {
    if (error_.message.empty()) fail(error_, param + ".content", param + ".content must be a string or an array of text parts");
    return false;
  }
  std::string text;
  for (std::string_view t : texts) text.append(t);
  // FunctionResponse.response must be a JSON object. A tool that returned
  // one is passed on as it is (Gemini reads its "output" and "error" keys,
  // or the whole object as the output); anything else is text, put under
  // "output", the key the Gemini reference names for a function's output.
  std::string& out = part("user");
  out.append("{\"functionResponse\":{\"name\":");
  sdk::append_json_string(out, name);
  out.append(",\"response\":");
  element parsed;
  if (!text.empty() && inner_.parse(text).get(parsed) == simdjson::SUCCESS && parsed.is_object()) {
    write_value(out, parsed);
  } else {
    out.append("{\"output\":");
    sdk::append_json_string(out, text);
    out.push_back('}');
  }
  out.append("}}");
  return true;
}

bool ChatBuilder::message(element msg, const std::string& param) {
  std::string_view role;
  if (!msg.is_object() || msg["role"].get(role) != simdjson::SUCCESS) {
    return fail(error_, param + ".role", param + " must be an object with a string role");
  }
  // "name" (a participant's name) has no Gemini counterpart; OpenAI itself
  // uses it only as a hint, so it is dropped.
  if (role == "system" || role == "developer") {
    element content;
    std::vector<std::string_view> texts;
    if (msg["content"].get(content) != simdjson::SUCCESS) {
      return fail(error_, param + ".content", param + ".content must be a string or an array of text parts");
    }
    if (!content_texts(content, param + ".content", texts, error_)) return false;
    for (std::string_view t : texts) {
      if (!system_parts_.empty()) system_parts_.push_back(',');
      system_parts_.append("{\"text\":");
      sdk::append_json_string(system_parts_, t);
      system_parts_.push_back('}');
    }
    return true;
  }
  if (role == "user") {
    element content;
    if (msg["content"].get(content) != simdjson::SUCCESS) {
      return fail(error_, param + ".content", param + ".content is required");
    }
    return user_content(content, param + ".content");
  }
  if (role == "assistant") return assistant(msg, param);
  if (role == "tool") return tool_result(msg, param);
  if (role == "function") {
    return fail(error_, param + ".role",
                param + ".role \"function\" (deprecated) is not supported: use tools and tool "
                        "messages");
  }
  return fail(error_, param + ".role", param + ".role \"" + std::string(role).substr(0, 64) + "\" is not a chat role");
}

bool ChatBuilder::messages(element msgs) {
  if (!msgs.is_array()) return fail(error_, "messages", "messages must be an array");
  size_t i = 0;
  for (element msg : array(msgs)) {
    if (!message(msg, "messages[" + std::to_string(i++) + "]")) return false;
  }
  if (turns_.empty()) {
    return fail(error_, "messages", "messages must hold at least one user or assistant message");
  }
  return true;
}

bool ChatBuilder::tools(element list) {
  if (list.is_null()) return true;
  if (!list.is_array()) return fail(error_, "tools", "tools must be an array");
  std::string decls;
  size_t i = 0;
  for (element tool : array(list)) {
    std::string p = "tools[" + std::to_string(i++) + "]";
    std::string_view type, name, description;
    element fn, params;
    if (!tool.is_object() || tool["type"].get(type) != simdjson::SUCCESS || type != "function") {
      return fail(error_, p + ".type", p + ".type must be \"function\" (the only kind the gemini provider serves)");
    }
    if (tool["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
        fn["name"].get(name) != simdjson::SUCCESS) {
      return fail(error_, p + ".function.name", p + ".function.name must be a string");
    }
    if (!decls.empty()) decls.push_back(',');
    decls.append("{\"name\":");
    sdk::append_json_string(decls, name);
    if (fn["description"].get(description) == simdjson::SUCCESS) {
      decls.append(",\"description\":");
      sdk::append_json_string(decls, description);
    }
    // parametersJsonSchema, not parameters: `parameters` is Gemini's own
    // Schema type (an OpenAPI 3.0 subset) that refuses JSON Schema
    // keywords OpenAI clients send every day (additionalProperties,
    // $schema, type lists such as ["string","null"]); parametersJsonSchema
    // takes JSON Schema as it is, so the client's schema goes through
    // unchanged. The two are mutually exclusive. `strict` has no Gemini
    // counterpart and is dropped.
    if (fn["parameters"].get(params) == simdjson::SUCCESS && !params.is_null()) {
      if (!params.is_object()) {
        return fail(error_, p + ".function.parameters", p + ".function.parameters must be an object");
      }
      decls.append(",\"parametersJsonSchema\":");
      write_value(decls, params);
    }
    decls.push_back('}');
  }
  // One Tool with every declaration: Gemini's Tool groups declarations, and
  // OpenAI has no grouping to keep.
  if (!decls.empty()) tools_ = "[{\"functionDeclarations\":[" + decls + "]}]";
  return true;
}

bool ChatBuilder::tool_choice(element choice) {
  if (choice.is_null()) return true;
  std::string_view mode;
  std::string_view only;
  if (choice.is_string()) {
    std::string_view s(choice);
    if (s == "auto") {
      mode = "AUTO";
    } else if (s == "none") {
      mode = "NONE";
    } else if (s == "required") {
      mode = "ANY";
    } else {
      return fail(error_, "tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}");
    }
  } else {
    std::string_view type;
    element fn;
    if (!choice.is_object() || choice["type"].get(type) != simdjson::SUCCESS || type != "function" ||
        choice["function"].get(fn) != simdjson::SUCCESS || !fn.is_object() ||
        fn["name"].get(only) != simdjson::SUCCESS) {
      return fail(error_, "tool_choice", "tool_choice must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}");
    }
    // ANY restricted to one name: Gemini must call a function, and only
    // that one.
    mode = "ANY";
  }
  tool_config_ = "{\"functionCallingConfig\":{\"mode\":\"";
  tool_config_.append(mode);
  tool_config_.push_back('"');
  if (!only.empty()) {
    tool_config_.append(",\"allowedFunctionNames\":[");
    sdk::append_json_string(tool_config_, only);
    tool_config_.push_back(']');
  }
  tool_config_.append("}}");
  return true;
}

// A field that is there and not null (OpenAI treats null as "not given").
bool given(object root, std::string_view k, element& e) {
  return root[k].get(e) == simdjson::SUCCESS && !e.is_null();
}

bool ChatBuilder::generation_config(object root) {
  std::string& out = out_;
  out.append("\"generationConfig\":{");
  bool first = true;
  element e;
  auto number = [&](std::string_view from, std::string_view to) {
    if (!given(root, from, e)) return true;
    if (!e.is_number()) return fail(error_, std::string(from), std::string(from) + " must be a number");
    key(out, first, to);
    write_value(out, e);
    return true;
  };
  if (!number("temperature", "temperature") || !number("top_p", "topP") ||
      !number("presence_penalty", "presencePenalty") ||
      !number("frequency_penalty", "frequencyPenalty")) {
    return false;
  }
  // max_completion_tokens replaced max_tokens at OpenAI; the newer wins.
  std::string_view max_name = given(root, "max_completion_tokens", e) ? "max_completion_tokens" : "max_tokens";
  if (given(root, max_name, e)) {
    int64_t v = 0;
    if (!get_int(e, 1, kInt32Max, v)) return fail(error_, std::string(max_name), std::string(max_name) + " must be a positive integer");
    key(out, first, "maxOutputTokens");
    append_int(out, v);
  }
  if (given(root, "n", e)) {
    int64_t v = 0;
    if (!get_int(e, 1, kInt32Max, v)) return fail(error_, "n", "n must be a positive integer");
    key(out, first, "candidateCount");
    append_int(out, v);
  }
  if (given(root, "seed", e)) {
    int64_t v = 0;
    // Gemini's seed is an int32; a wider one cannot mean the same thing.
    if (!get_int(e, kInt32Min, kInt32Max, v)) return fail(error_, "seed", "seed must be an integer that fits in 32 bits (Gemini's seed is an int32)");
    key(out, first, "seed");
    append_int(out, v);
  }
  if (given(root, "stop", e)) {
    if (e.is_string()) {
      key(out, first, "stopSequences");
      out.push_back('[');
      sdk::append_json_string(out, std::string_view(e));
      out.push_back(']');
    } else if (e.is_array()) {
      std::string list;
      for (element s : array(e)) {
        if (!s.is_string()) return fail(error_, "stop", "stop must be a string or an array of strings");
        if (!list.empty()) list.push_back(',');
        sdk::append_json_string(list, std::string_view(s));
      }
      if (!list.empty()) {
        key(out, first, "stopSequences");
        out.push_back('[');
        out.append(list);
        out.push_back(']');
      }
    } else {
      return fail(error_, "stop", "stop must be a string or an array of strings");
    }
  }
  if (given(root, "response_format", e)) {
    std::string_view type;
    if (!e.is_object() || e["type"].get(type) != simdjson::SUCCESS) {
      return fail(error_, "response_format", "response_format must be an object with a type");
    }
    if (type == "json_object") {
      key(out, first, "responseMimeType");
      out.append("\"application/json\"");
    } else if (type == "json_schema") {
      element js, schema;
      if (e["json_schema"].get(js) != simdjson::SUCCESS || !js.is_object()) {
        return fail(error_, "response_format.json_schema", "response_format.json_schema must be an object");
      }
      key(out, first, "responseMimeType");
      out.append("\"application/json\"");
      // responseJsonSchema takes JSON Schema as it is (responseSchema is
      // the OpenAPI subset); name, description and strict have no
      // counterpart.
      if (js["schema"].get(schema) == simdjson::SUCCESS && !schema.is_null()) {
        if (!schema.is_object()) {
          return fail(error_, "response_format.json_schema.schema", "response_format.json_schema.schema must be an object");
        }
        key(out, first, "responseJsonSchema");
        write_value(out, schema);
      }
    } else if (type != "text") {
      return fail(error_, "response_format.type", "response_format.type must be \"text\", \"json_object\" or \"json_schema\"");
    }
  }
  if (given(root, "reasoning_effort", e)) {
    std::string_view effort;
    int budget = 0;
    if (!e.is_string() || !thinking_budget_for(effort = std::string_view(e), budget)) {
      return fail(error_, "reasoning_effort", "reasoning_effort must be \"none\", \"minimal\", \"low\", \"medium\" or \"high\"");
    }
    key(out, first, "thinkingConfig");
    out.append("{\"thinkingBudget\":");
    append_int(out, budget);
    out.push_back('}');
  }
  out.push_back('}');
  return true;
}

// Parameters OpenAI defines that Gemini cannot honour: refused, because
// dropping them would change what the client asked for.
constexpr std::string_view kRefused[] = {
    "logit_bias", "top_logprobs", "functions", "function_call", "audio", "prediction",
    "web_search_options", "verbosity"};
// Parameters that change nothing about the answer, or only OpenAI's own
// bookkeeping (abuse monitoring, stored completions, caching hints, tiers):
// ignored, as an OpenAI-compatible server without those features does.
constexpr std::string_view kIgnored[] = {"model", "user", "store", "metadata", "service_tier",
                                         "safety_identifier", "prompt_cache_key"};
// Read by the builder.
constexpr std::string_view kHandled[] = {
    "messages", "stream", "stream_options", "temperature", "top_p", "presence_penalty",
    "frequency_penalty", "max_tokens", "max_completion_tokens", "n", "seed", "stop",
    "response_format", "reasoning_effort", "tools", "tool_choice", "parallel_tool_calls",
    "logprobs", "modalities"};

template <size_t N>
bool listed(const std::string_view (&list)[N], std::string_view k) {
  for (std::string_view s : list) {
    if (s == k) return true;
  }
  return false;
}

bool ChatBuilder::build(element root_el) {
  if (!root_el.is_object()) return fail(error_, "", "the request body must be a JSON object");
  object root(root_el);
  for (auto field : root) {
    std::string_view k = field.key;
    if (listed(kHandled, k) || listed(kIgnored, k)) continue;
    if (listed(kRefused, k)) {
      if (field.value.is_null()) continue;
      return fail(error_, std::string(k), std::string(k) + " is not supported by the gemini provider (Gemini has no equivalent)");
    }
    return fail(error_, std::string(k), "unknown parameter: " + std::string(k).substr(0, 64));
  }
  element e;
  if (given(root, "logprobs", e) && (!e.is_bool() || bool(e))) {
    return fail(error_, "logprobs", "logprobs is not supported by the gemini provider");
  }
  // OpenAI's default lets the model call several tools at once; Gemini
  // cannot be told not to, so only the default can be honoured.
  if (given(root, "parallel_tool_calls", e) && (!e.is_bool() || !bool(e))) {
    return fail(error_, "parallel_tool_calls", "parallel_tool_calls: false is not supported by the gemini provider");
  }
  if (given(root, "modalities", e)) {
    bool text_only = e.is_array();
    if (text_only) {
      for (element m : array(e)) text_only = text_only && m.is_string() && std::string_view(m) == "text";
    }
    if (!text_only) return fail(error_, "modalities", "modalities other than [\"text\"] are not supported by the gemini provider");
  }
  if (given(root, "stream", e)) {
    if (!e.is_bool()) return fail(error_, "stream", "stream must be true or false");
    info_.stream = bool(e);
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
  if (given(root, "tool_choice", e) && !tool_choice(e)) return false;

  out_.clear();
  out_.append("{\"contents\":[");
  for (size_t i = 0; i < turns_.size(); ++i) {
    if (i > 0) out_.push_back(',');
    out_.append("{\"role\":\"");
    out_.append(turns_[i].role);
    out_.append("\",\"parts\":[");
    out_.append(turns_[i].parts);
    out_.append("]}");
  }
  out_.append("],");
  if (!system_parts_.empty()) {
    out_.append("\"systemInstruction\":{\"parts\":[");
    out_.append(system_parts_);
    out_.append("]},");
  }
  if (!tools_.empty()) {
    out_.append("\"tools\":");
    out_.append(tools_);
    out_.push_back(',');
  }
  if (!tool_config_.empty()) {
    out_.append("\"toolConfig\":");
    out_.append(tool_config_);
    out_.push_back(',');
  }
  if (!generation_config(root)) return false;
  out_.push_back('}');
  return true;
}

}  // namespace

bool thinking_budget_for(std::string_view effort, int& budget) {
  // Gemini 2.5 takes a token budget; OpenAI gives a level. low, medium and
  // high use the budgets Google's own OpenAI-compatible endpoint documents
  // for them; minimal is the smallest budget every 2.5 model accepts
  // (Flash-Lite's floor), none turns thinking off (models that cannot,
  // such as 2.5 Pro, answer 400, which the client then sees).
  if (effort == "none") {
    budget = 0;
  } else if (effort == "minimal") {
    budget = 512;
  } else if (effort == "low") {
    budget = 1024;
  } else if (effort == "medium") {
    budget = 8192;
  } else if (effort == "high") {
    budget = 24576;
  } else {
    return false;
  }
  return true;
}

bool translate_chat_request(simdjson::dom::parser& parser, std::string_view openai_json,
                            std::string& out, ChatRequestInfo& info, RequestError& error) {
  element root;
  if (parser.parse(openai_json.data(), openai_json.size()).get(root) != simdjson::SUCCESS) {
    return fail(error, "", "the request body is not valid JSON");
  }
  info = {};
  ChatBuilder b(out, info, error);
  return b.build(root);
}

bool translate_embeddings_request(simdjson::dom::parser& parser, std::string_view openai_json,
                                  std::string_view upstream_model, std::string& out,
                                  RequestError& error, EmbedApi api) {
  element root_el;
  if (parser.parse(openai_json.data(), openai_json.size()).get(root_el) != simdjson::SUCCESS) {
    return fail(error, "", "the request body is not valid JSON");
  }
  if (!root_el.is_object()) return fail(error, "", "the request body must be a JSON object");
  object root(root_el);
  for (auto field : root) {
    std::string_view k = field.key;
    // encoding_format: the answer is always a float array. The OpenAI SDKs
    // that ask for base64 by default decode only answers that are strings,
    // so floats reach them intact.
    if (k == "model" || k == "input" || k == "dimensions" || k == "encoding_format" || k == "user") continue;
    return fail(error, std::string(k), "unknown parameter: " + std::string(k).substr(0, 64));
  }
  element input, e;
  std::vector<std::string_view> texts;
  if (!given(root, "input", input)) return fail(error, "input", "input is required");
  if (input.is_string()) {
    texts.push_back(std::string_view(input));
  } else if (input.is_array()) {
    for (element item : array(input)) {
      if (!item.is_string()) {
        return fail(error, "input",
                    "input must be a string or an array of strings (token arrays are not "
                    "supported by the gemini provider)");
      }
      texts.push_back(std::string_view(item));
    }
  } else {
    return fail(error, "input", "input must be a string or an array of strings");
  }
  if (texts.empty()) return fail(error, "input", "input must not be empty");
  int64_t dims = 0;
  if (given(root, "dimensions", e) && !get_int(e, 1, kInt32Max, dims)) {
    return fail(error, "dimensions", "dimensions must be a positive integer");
  }
  out.clear();
  if (api == EmbedApi::vertex_predict) {
    // One instance per text; Vertex's gemini-embedding-001 takes one per
    // call and answers a longer list with a 400, which the client gets.
    out.append("{\"instances\":[");
    for (size_t i = 0; i < texts.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append("{\"content\":");
      sdk::append_json_string(out, texts[i]);
      out.push_back('}');
    }
    out.push_back(']');
    if (dims > 0) {
      out.append(",\"parameters\":{\"outputDimensionality\":");
      append_int(out, dims);
      out.push_back('}');
    }
    out.push_back('}');
    return true;
  }
  std::string model = "models/";
  model.append(upstream_model);
  out.append("{\"requests\":[");
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"model\":");
    sdk::append_json_string(out, model);
    out.append(",\"content\":{\"parts\":[{\"text\":");
    sdk::append_json_string(out, texts[i]);
    out.append("}]}");
    if (dims > 0) {
      out.append(",\"outputDimensionality\":");
      append_int(out, dims);
    }
    out.push_back('}');
  }
  out.append("]}");
  return true;
}

}  // namespace aigw::gemini_plugin
