// messages_to_chat: a client's /v1/messages body as a Chat Completions body.
// One pass over simdjson's DOM; the output is written as we go and thrown
// away on the first problem, whose sentence names the field's path.
#include <simdjson.h>

#include <string>
#include <vector>

#include "json/write.h"
#include "translate/json_value.h"
#include "translate/messages.h"

namespace aigw::translate {
namespace {

using detail::append_json;
using detail::element;
using detail::member;
using detail::string_member;

// Text blocks of one turn are joined with a blank line, as system blocks
// are: OpenAI content strings have no block boundaries to keep.
constexpr std::string_view kJoin = "\n\n";

struct Ctx {
  RequestError& err;
  bool fail(std::string message) {
    err.failed = true;
    err.message = std::move(message);
    return false;
  }
};

std::string at(std::string_view base, size_t i) {
  std::string p(base);
  p += '.';
  p += std::to_string(i);
  return p;
}

// Appends `,` before every item of a JSON array but the first.
void next_item(std::string& arr) {
  if (!arr.empty()) arr += ',';
}

bool block_type(Ctx& c, element block, const std::string& path, std::string_view& type) {
  if (!block.is_object()) return c.fail(path + ": must be an object");
  if (!string_member(block, "type", type)) return c.fail(path + ".type: required, a string");
  return true;
}

// A text block's text (system, user, assistant and tool_result blocks).
bool text_of(Ctx& c, element block, const std::string& path, std::string_view& text) {
  if (!string_member(block, "text", text)) return c.fail(path + ".text: required, a string");
  return true;
}

bool unsupported_block(Ctx& c, const std::string& path, std::string_view type) {
  return c.fail(path + ": block type '" + std::string(type) + "' is not supported for this provider");
}

// Calls visit(block, path, type) for each block of the array `content`
// (path "<base>.content.N"); stops at the first false.
template <typename Visit>
bool each_block(Ctx& c, element content, const std::string& base, Visit&& visit) {
  size_t j = 0;
  for (element block : simdjson::dom::array(content)) {
    const std::string path = at(base + ".content", j++);
    std::string_view type;
    if (!block_type(c, block, path, type) || !visit(block, path, type)) return false;
  }
  return true;
}

// system: a string or text blocks; cache_control and other block members
// are not OpenAI's and are left out.
bool system_text(Ctx& c, element sys, std::string& text) {
  std::string_view s;
  if (sys.get_string().get(s) == simdjson::SUCCESS) {
    text.assign(s);
    return true;
  }
  if (!sys.is_array()) return c.fail("system: must be a string or an array of text blocks");
  size_t i = 0;
  for (element block : simdjson::dom::array(sys)) {
    const std::string path = at("system", i++);
    std::string_view type, t;
    if (!block_type(c, block, path, type)) return false;
    if (type != "text") return c.fail(path + ": system blocks must be of type 'text', not '" + std::string(type) + "'");
    if (!text_of(c, block, path, t)) return false;
    if (i > 1) text += kJoin;
    text += t;
  }
  return true;
}

// An image block's source as the URL OpenAI takes: base64 data becomes a
// data: URL; a url source is passed on as it is (the gateway never
// fetches it, the provider does).
bool image_url(Ctx& c, element block, const std::string& path, std::string& url) {
  element source;
  if (!member(block, "source", source) || !source.is_object()) return c.fail(path + ".source: required, an object");
  std::string_view type;
  if (!string_member(source, "type", type)) return c.fail(path + ".source.type: required, a string");
  if (type == "base64") {
    std::string_view media, data;
    if (!string_member(source, "media_type", media)) return c.fail(path + ".source.media_type: required, a string");
    if (!string_member(source, "data", data)) return c.fail(path + ".source.data: required, a string");
    url = "data:";
    url += media;
    url += ";base64,";
    url += data;
    return true;
  }
  if (type == "url") {
    std::string_view u;
    if (!string_member(source, "url", u)) return c.fail(path + ".source.url: required, a string");
    url.assign(u);
    return true;
  }
  return c.fail(path + ".source: image source type '" + std::string(type) + "' is not supported for this provider");
}

// A tool_result's content as the one string an OpenAI tool message holds.
// is_error has no OpenAI field; the text (usually the error's own words) is
// what the model reads either way.
bool tool_result_text(Ctx& c, element block, const std::string& path, std::string& text) {
  element content;
  if (!member(block, "content", content) || content.is_null()) return true;
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    text.assign(s);
    return true;
  }
  if (!content.is_array()) return c.fail(path + ".content: must be a string or an array of blocks");
  bool any = false;
  const bool read = each_block(c, content, path, [&](element inner, const std::string& ipath, std::string_view type) {
    std::string_view t;
    if (type == "image") return c.fail(ipath + ": images inside a tool_result are not supported for this provider");
    if (type != "text") return unsupported_block(c, ipath, type);
    if (!text_of(c, inner, ipath, t)) return false;
    if (any) text += kJoin;
    text += t;
    any = true;
    return true;
  });
  if (!read) return false;
  element is_error;
  if (member(block, "is_error", is_error) && !is_error.is_bool() && !is_error.is_null())
    return c.fail(path + ".is_error: must be a boolean");
  return true;
}

// A user turn. OpenAI wants the tool messages right after the assistant
// message whose tool_calls they answer, so they are written first and the
// turn's other blocks follow as one user message.
bool user_blocks(Ctx& c, element content, const std::string& path, std::string& msgs) {
  struct Part {
    bool image;
    std::string value;  // text, or the image URL
  };
  std::vector<Part> parts;
  bool has_image = false;
  size_t blocks = 0;
  const bool read = each_block(c, content, path, [&](element block, const std::string& bpath, std::string_view type) {
    ++blocks;
    if (type == "text") {
      std::string_view t;
      if (!text_of(c, block, bpath, t)) return false;
      parts.push_back({false, std::string(t)});
    } else if (type == "image") {
      std::string url;
      if (!image_url(c, block, bpath, url)) return false;
      parts.push_back({true, std::move(url)});
      has_image = true;
    } else if (type == "tool_result") {
      std::string_view id;
      if (!string_member(block, "tool_use_id", id)) return c.fail(bpath + ".tool_use_id: required, a string");
      std::string text;
      if (!tool_result_text(c, block, bpath, text)) return false;
      next_item(msgs);
      msgs += R"({"role":"tool","tool_call_id":)";
      json::append_string(msgs, id);
      msgs += R"(,"content":)";
      json::append_string(msgs, text);
      msgs += '}';
    } else if (type == "tool_use" || type == "thinking" || type == "redacted_thinking") {
      return c.fail(bpath + ": block type '" + std::string(type) + "' is not allowed in a user message");
    } else {
      return unsupported_block(c, bpath, type);
    }
    return true;
  });
  if (!read) return false;
  // A turn of tool results only has nothing more to say; an empty turn is
  // kept as an empty user message so that the turns stay where they were.
  if (parts.empty() && blocks > 0) return true;
  next_item(msgs);
  msgs += R"({"role":"user","content":)";
  if (!has_image) {
    std::string text;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i) text += kJoin;
      text += parts[i].value;
    }
    json::append_string(msgs, text);
  } else {
    msgs += '[';
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i) msgs += ',';
      if (parts[i].image) {
        msgs += R"({"type":"image_url","image_url":{"url":)";
        json::append_string(msgs, parts[i].value);
        msgs += "}}";
      } else {
        msgs += R"({"type":"text","text":)";
        json::append_string(msgs, parts[i].value);
        msgs += '}';
      }
    }
    msgs += ']';
  }
  msgs += '}';
  return true;
}

// An assistant turn: its text as content, its tool_use blocks as
// tool_calls. Thinking blocks are dropped: their signatures only mean
// something to Anthropic, and no other provider takes reasoning back.
bool assistant_blocks(Ctx& c, element content, const std::string& path, std::string& msgs) {
  std::string text, calls;
  bool has_text = false;
  const bool read = each_block(c, content, path, [&](element block, const std::string& bpath, std::string_view type) {
    if (type == "text") {
      std::string_view t;
      if (!text_of(c, block, bpath, t)) return false;
      if (has_text) text += kJoin;
      text += t;
      has_text = true;
    } else if (type == "tool_use") {
      std::string_view id, name;
      if (!string_member(block, "id", id)) return c.fail(bpath + ".id: required, a string");
      if (!string_member(block, "name", name)) return c.fail(bpath + ".name: required, a string");
      std::string args = "{}";
      element input;
      if (member(block, "input", input) && !input.is_null()) {
        if (!input.is_object()) return c.fail(bpath + ".input: must be an object");
        args.clear();
        append_json(args, input);
      }
      next_item(calls);
      calls += R"({"id":)";
      json::append_string(calls, id);
      calls += R"(,"type":"function","function":{"name":)";
      json::append_string(calls, name);
      calls += R"(,"arguments":)";
      json::append_string(calls, args);
      calls += "}}";
    } else if (type == "image" || type == "tool_result") {
      return c.fail(bpath + ": block type '" + std::string(type) + "' is not allowed in an assistant message");
    } else if (type != "thinking" && type != "redacted_thinking") {
      return unsupported_block(c, bpath, type);
    }
    return true;
  });
  if (!read) return false;
  next_item(msgs);
  msgs += R"({"role":"assistant","content":)";
  if (has_text || calls.empty()) {
    json::append_string(msgs, text);
  } else {
    msgs += "null";  // OpenAI's way of saying "only tool calls"
  }
  if (!calls.empty()) {
    msgs += R"(,"tool_calls":[)";
    msgs += calls;
    msgs += ']';
  }
  msgs += '}';
  return true;
}

bool message(Ctx& c, element m, size_t i, std::string& msgs) {
  const std::string path = at("messages", i);
  if (!m.is_object()) return c.fail(path + ": must be an object");
  std::string_view role;
  if (!string_member(m, "role", role) || (role != "user" && role != "assistant"))
    return c.fail(path + ".role: must be 'user' or 'assistant'");
  element content;
  if (!member(m, "content", content)) return c.fail(path + ".content: required");
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) {
    next_item(msgs);
    msgs += R"({"role":)";
    json::append_string(msgs, role);
    msgs += R"(,"content":)";
    json::append_string(msgs, s);
    msgs += '}';
    return true;
  }
  if (!content.is_array()) return c.fail(path + ".content: must be a string or an array of content blocks");
  return role == "user" ? user_blocks(c, content, path, msgs) : assistant_blocks(c, content, path, msgs);
}

// tools: only custom (client-run) tools have an OpenAI equivalent; a server
// tool would run at Anthropic, which this provider is not.
bool tools(Ctx& c, element list, std::string& out, size_t& count) {
  if (!list.is_array()) return c.fail("tools: must be an array");
  size_t i = 0;
  for (element tool : simdjson::dom::array(list)) {
    const std::string path = at("tools", i++);
    if (!tool.is_object()) return c.fail(path + ": must be an object");
    std::string_view type, name, description;
    if (string_member(tool, "type", type) && type != "custom")
      return c.fail(path + ": server tool '" + std::string(type) + "' is not available through this provider");
    if (!string_member(tool, "name", name)) return c.fail(path + ".name: required, a string");
    element schema;
    if (!member(tool, "input_schema", schema) || !schema.is_object())
      return c.fail(path + ".input_schema: required, an object");
    next_item(out);
    out += R"({"type":"function","function":{"name":)";
    json::append_string(out, name);
    if (string_member(tool, "description", description)) {
      out += R"(,"description":)";
      json::append_string(out, description);
    }
    out += R"(,"parameters":)";
    append_json(out, schema);
    out += "}}";
    ++count;
  }
  return true;
}

bool tool_choice(Ctx& c, element choice, std::string& out, bool& no_parallel) {
  if (!choice.is_object()) return c.fail("tool_choice: must be an object");
  std::string_view type;
  if (!string_member(choice, "type", type)) return c.fail("tool_choice.type: required, a string");
  if (type == "auto") {
    out = R"("auto")";
  } else if (type == "any") {
    out = R"("required")";
  } else if (type == "none") {
    out = R"("none")";
  } else if (type == "tool") {
    std::string_view name;
    if (!string_member(choice, "name", name)) return c.fail("tool_choice.name: required, a string");
    out = R"({"type":"function","function":{"name":)";
    json::append_string(out, name);
    out += "}}";
  } else {
    return c.fail("tool_choice.type: must be 'auto', 'any', 'tool' or 'none'");
  }
  element flag;
  no_parallel = member(choice, "disable_parallel_tool_use", flag) && flag.is_bool() && bool(flag);
  return true;
}

// A number member copied as it is (temperature, top_p); null is absent.
bool copy_number(Ctx& c, element root, std::string_view key, std::string& out) {
  element v;
  if (!member(root, key, v) || v.is_null()) return true;
  if (!v.is_number()) return c.fail(std::string(key) + ": must be a number");
  out += ",\"";
  out += key;
  out += "\":";
  append_json(out, v);
  return true;
}

bool translate(Ctx& c, element root, std::string& out) {
  if (!root.is_object()) return c.fail("the request body must be a JSON object");
  std::string_view model;
  if (!string_member(root, "model", model)) return c.fail("model: required, a string");
  element messages;
  if (!member(root, "messages", messages) || !messages.is_array()) return c.fail("messages: required, an array");
  element max_tokens;
  uint64_t max = 0;
  if (!member(root, "max_tokens", max_tokens) || max_tokens.get_uint64().get(max) != simdjson::SUCCESS || max == 0)
    return c.fail("max_tokens: required, a positive integer");

  // Tools first: a server tool is the reason a request cannot be served
  // here, whatever its messages hold (they usually hold its results too).
  std::string tools_json;
  element list;
  if (member(root, "tools", list) && !list.is_null()) {
    std::string t;
    size_t count = 0;
    if (!tools(c, list, t, count)) return false;
    element choice;
    std::string choice_json;
    bool no_parallel = false;
    if (member(root, "tool_choice", choice) && !choice.is_null() && !tool_choice(c, choice, choice_json, no_parallel))
      return false;
    // OpenAI rejects tool_choice and parallel_tool_calls without tools.
    if (count > 0) {
      tools_json = R"(,"tools":[)" + t + "]";
      if (!choice_json.empty()) tools_json += R"(,"tool_choice":)" + choice_json;
      if (no_parallel) tools_json += R"(,"parallel_tool_calls":false)";
    }
  } else {
    element choice;
    std::string ignored;
    bool no_parallel = false;
    if (member(root, "tool_choice", choice) && !choice.is_null() && !tool_choice(c, choice, ignored, no_parallel))
      return false;
  }

  std::string msgs;
  element sys;
  if (member(root, "system", sys) && !sys.is_null()) {
    std::string text;
    if (!system_text(c, sys, text)) return false;
    if (!text.empty()) {
      msgs += R"({"role":"system","content":)";
      json::append_string(msgs, text);
      msgs += '}';
    }
  }
  size_t i = 0;
  for (element m : simdjson::dom::array(messages)) {
    if (!message(c, m, i++, msgs)) return false;
  }
  if (i == 0) return c.fail("messages: must hold at least one message");

  out = R"({"model":)";
  json::append_string(out, model);
  out += R"(,"messages":[)";
  out += msgs;
  out += R"(],"max_tokens":)";
  out += std::to_string(max);
  if (!copy_number(c, root, "temperature", out) || !copy_number(c, root, "top_p", out)) return false;

  element stops;
  if (member(root, "stop_sequences", stops) && !stops.is_null()) {
    if (!stops.is_array()) return c.fail("stop_sequences: must be an array of strings");
    std::string list;
    size_t k = 0;
    for (element s : simdjson::dom::array(stops)) {
      std::string_view sv;
      if (s.get_string().get(sv) != simdjson::SUCCESS) return c.fail(at("stop_sequences", k) + ": must be a string");
      ++k;
      next_item(list);
      json::append_string(list, sv);
    }
    if (!list.empty()) out += R"(,"stop":[)" + list + "]";
  }

  element stream;
  if (member(root, "stream", stream) && !stream.is_null()) {
    if (!stream.is_bool()) return c.fail("stream: must be a boolean");
    // Usage is asked for so that message_delta can carry the counts.
    if (bool(stream)) out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  }

  element metadata;
  std::string_view user;
  if (member(root, "metadata", metadata) && string_member(metadata, "user_id", user)) {
    out += R"(,"user":)";
    json::append_string(out, user);
  }

  out += tools_json;
  out += '}';
  return true;
}

}  // namespace

RequestError messages_to_chat(std::string_view anthropic_json, std::string& openai_json) {
  RequestError err;
  Ctx c{err};
  openai_json.clear();
  simdjson::dom::parser parser;
  element root;
  // parse() copies the bytes into its own padded buffer.
  if (parser.parse(anthropic_json.data(), anthropic_json.size()).get(root) != simdjson::SUCCESS) {
    c.fail("the request body is not valid JSON");
    return err;
  }
  std::string out;
  if (translate(c, root, out)) openai_json = std::move(out);
  return err;
}

}  // namespace aigw::translate
