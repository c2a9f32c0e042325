#include "openai_request.h"

#include <simdjson.h>

#include <cstring>
#include <string_view>

#include "text.h"

namespace aigw::local_plugin {
namespace {

using simdjson::error_code;
using simdjson::ondemand::json_type;
namespace od = simdjson::ondemand;

constexpr size_t kMaxEmbeddingInputs = 2048;

// Collects the first problem and stops the walk: every parse function
// returns false once `error` is set.
struct Ctx {
  ParsedRequest& out;
  std::string& error;

  bool fail(std::string message) {
    error = std::move(message);
    return false;
  }
  bool json(error_code e) {
    return fail(std::string("request body is not valid JSON: ") + simdjson::error_message(e));
  }
  // A getter failed: a wrong type is the client's shape error, anything else
  // is broken JSON.
  bool type_or_json(error_code e, std::string message) {
    return e == simdjson::INCORRECT_TYPE ? fail(std::move(message)) : json(e);
  }
};

std::string at(std::string_view name, size_t index) {
  return std::string(name) + "[" + std::to_string(index) + "]";
}

// Reads a value we do not use, so that On-Demand (which only checks what is
// read) still rejects malformed atoms inside it.
error_code skip(od::value v) {
  json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case json_type::array: {
      od::array arr;
      if (auto e = v.get_array().get(arr)) return e;
      for (auto item : arr) {
        od::value x;
        if (auto e = item.get(x)) return e;
        if (auto e = skip(x)) return e;
      }
      return simdjson::SUCCESS;
    }
    case json_type::object: {
      od::object obj;
      if (auto e = v.get_object().get(obj)) return e;
      for (auto field : obj) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        od::value x;
        if (auto e = field.value().get(x)) return e;
        if (auto e = skip(x)) return e;
      }
      return simdjson::SUCCESS;
    }
    case json_type::number: {
      double d;
      return v.get_double().get(d);
    }
    case json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

bool skip_or_fail(Ctx& c, od::value v) {
  if (auto e = skip(v)) return c.json(e);
  return true;
}

// Appends the text of a message's content (a string, an array of content
// parts whose "text" parts count, or null) to `text`; the pieces are joined
// with "\n" and counted one by one.
bool parse_content(Ctx& c, od::value v, const std::string& name, std::string& text) {
  json_type type;
  if (auto e = v.type().get(type)) return c.json(e);
  if (type == json_type::null) return skip_or_fail(c, v);
  if (type == json_type::string) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return c.json(e);
    text.assign(s);
    c.out.prompt_tokens += count_tokens(s);
    return true;
  }
  if (type != json_type::array) {
    return c.fail(name + " must be a string, an array of content parts or null");
  }
  od::array parts;
  if (auto e = v.get_array().get(parts)) return c.json(e);
  size_t index = 0;
  for (auto item : parts) {
    std::string part_name = at(name, index++);
    od::value part;
    if (auto e = item.get(part)) return c.json(e);
    od::object obj;
    if (auto e = part.get_object().get(obj)) {
      return c.type_or_json(e, part_name + " must be an object");
    }
    std::string part_type, part_text;
    bool has_type = false, has_text = false;
    for (auto field : obj) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return c.json(e);
      od::value x;
      if (auto e = field.value().get(x)) return c.json(e);
      std::string_view s;
      if (key == "type" || key == "text") {
        if (auto e = x.get_string().get(s)) {
          return c.type_or_json(e, part_name + "." + std::string(key) + " must be a string");
        }
        (key == "type" ? part_type : part_text).assign(s);
        (key == "type" ? has_type : has_text) = true;
      } else if (!skip_or_fail(c, x)) {
        return false;
      }
    }
    if (!has_type) return c.fail(part_name + ".type is required");
    if (part_type != "text") continue;  // images, audio: nothing to echo
    if (!has_text) return c.fail(part_name + ".text is required");
    if (!text.empty()) text.push_back('\n');
    text += part_text;
    c.out.prompt_tokens += count_tokens(part_text);
  }
  return true;
}

bool parse_messages(Ctx& c, od::value v) {
  od::array messages;
  if (auto e = v.get_array().get(messages)) {
    return c.type_or_json(e, "messages must be an array");
  }
  size_t index = 0;
  for (auto item : messages) {
    std::string name = at("messages", index++);
    od::value message;
    if (auto e = item.get(message)) return c.json(e);
    od::object obj;
    if (auto e = message.get_object().get(obj)) {
      return c.type_or_json(e, name + " must be an object");
    }
    std::string role, text;
    bool has_role = false;
    for (auto field : obj) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return c.json(e);
      od::value x;
      if (auto e = field.value().get(x)) return c.json(e);
      if (key == "role") {
        std::string_view s;
        if (auto e = x.get_string().get(s)) {
          return c.type_or_json(e, name + ".role must be a string");
        }
        role.assign(s);
        has_role = true;
      } else if (key == "content") {
        text.clear();
        if (!parse_content(c, x, name + ".content", text)) return false;
      } else if (!skip_or_fail(c, x)) {
        return false;
      }
    }
    if (!has_role) return c.fail(name + ".role is required");
    c.out.transcript += role;
    c.out.transcript += ": ";
    c.out.transcript += text;
    c.out.transcript += '\n';
    if (role == "user") c.out.user_text = std::move(text);
  }
  if (index == 0) return c.fail("messages must not be empty");
  return true;
}

// A string or an array of strings, for "prompt" and "input". Calls
// `each(index, text)` per string.
template <typename Each>
bool parse_strings(Ctx& c, od::value v, const char* name, Each each) {
  std::string shape = std::string(name) +
                      " must be a string or an array of strings (token arrays are not supported)";
  json_type type;
  if (auto e = v.type().get(type)) return c.json(e);
  std::string_view s;
  if (type == json_type::string) {
    if (auto e = v.get_string().get(s)) return c.json(e);
    each(size_t{0}, s);
    return true;
  }
  if (type != json_type::array) return c.fail(shape);
  od::array arr;
  if (auto e = v.get_array().get(arr)) return c.json(e);
  size_t index = 0;
  for (auto item : arr) {
    od::value x;
    if (auto e = item.get(x)) return c.json(e);
    if (auto e = x.get_string().get(s)) return c.type_or_json(e, shape);
    each(index++, s);
  }
  return true;
}

bool parse_stream_options(Ctx& c, od::value v) {
  json_type type;
  if (auto e = v.type().get(type)) return c.json(e);
  if (type == json_type::null) return skip_or_fail(c, v);
  od::object obj;
  if (auto e = v.get_object().get(obj)) {
    return c.type_or_json(e, "stream_options must be an object");
  }
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return c.json(e);
    od::value x;
    if (auto e = field.value().get(x)) return c.json(e);
    if (key != "include_usage") {
      if (!skip_or_fail(c, x)) return false;
      continue;
    }
    bool include = false;
    if (auto e = x.get_bool().get(include)) {
      return c.type_or_json(e, "stream_options.include_usage must be a boolean");
    }
    c.out.include_usage = include;
  }
  return true;
}

bool parse_encoding_format(Ctx& c, od::value v) {
  json_type type;
  if (auto e = v.type().get(type)) return c.json(e);
  if (type == json_type::null) return skip_or_fail(c, v);
  std::string_view s;
  if (auto e = v.get_string().get(s)) {
    return c.type_or_json(e, "encoding_format must be \"float\" or \"base64\"");
  }
  if (s != "float" && s != "base64") {
    return c.fail("encoding_format must be \"float\" or \"base64\"");
  }
  c.out.base64 = s == "base64";
  return true;
}

bool parse_root(Ctx& c, od::document& doc) {
  od::object root;
  if (auto e = doc.get_object().get(root)) {
    return c.type_or_json(e, "request body must be a JSON object");
  }
  aigw_endpoint ep = c.out.endpoint;
  bool has_main = false;
  for (auto field : root) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return c.json(e);
    od::value v;
    if (auto e = field.value().get(v)) return c.json(e);
    bool ok;
    if (ep == AIGW_ENDPOINT_CHAT_COMPLETIONS && key == "messages") {
      c.out.transcript.clear();
      c.out.user_text.clear();
      c.out.prompt_tokens = 0;
      ok = has_main = parse_messages(c, v);
    } else if (ep == AIGW_ENDPOINT_COMPLETIONS && key == "prompt") {
      c.out.user_text.clear();
      ok = has_main = parse_strings(c, v, "prompt", [&](size_t i, std::string_view s) {
        // Only the first prompt is answered, so only it is counted.
        if (i == 0) c.out.user_text.assign(s);
      });
      c.out.transcript = c.out.user_text;
      c.out.prompt_tokens = count_tokens(c.out.user_text);
    } else if (ep == AIGW_ENDPOINT_EMBEDDINGS && key == "input") {
      c.out.inputs.clear();
      c.out.prompt_tokens = 0;
      ok = has_main = parse_strings(c, v, "input", [&](size_t, std::string_view s) {
        c.out.inputs.emplace_back(s);
        c.out.prompt_tokens += count_tokens(s);
      });
      if (ok && c.out.inputs.empty()) return c.fail("input must not be an empty array");
      if (ok && c.out.inputs.size() > kMaxEmbeddingInputs) {
        return c.fail("input must have at most " + std::to_string(kMaxEmbeddingInputs) +
                      " items, got " + std::to_string(c.out.inputs.size()));
      }
    } else if (ep == AIGW_ENDPOINT_EMBEDDINGS && key == "encoding_format") {
      ok = parse_encoding_format(c, v);
    } else if (ep != AIGW_ENDPOINT_EMBEDDINGS && key == "stream_options") {
      ok = parse_stream_options(c, v);
    } else {
      ok = skip_or_fail(c, v);
    }
    if (!ok) return false;
  }
  // Anything after the top-level object ("{} {}") is not one JSON document.
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
    return c.json(simdjson::TRAILING_CONTENT);
  }
  if (!has_main) {
    const char* name = ep == AIGW_ENDPOINT_CHAT_COMPLETIONS ? "messages"
                       : ep == AIGW_ENDPOINT_COMPLETIONS    ? "prompt"
                                                            : "input";
    return c.fail(std::string(name) + " is required");
  }
  return true;
}

}  // namespace

struct RequestParser::Impl {
  simdjson::ondemand::parser parser;
};

RequestParser::RequestParser() : impl_(std::make_unique<Impl>()) {}
RequestParser::~RequestParser() = default;

aigw_status RequestParser::parse(aigw_endpoint endpoint, const aigw_host_bytes* body,
                                 size_t body_count, ParsedRequest& out, std::string& error) {
  out = ParsedRequest{};
  out.endpoint = endpoint;
  Ctx c{out, error};
  size_t total = 0;
  for (size_t i = 0; i < body_count; ++i) total += body[i].len;
  if (total == 0) {
    c.fail("request body is empty");
    return AIGW_ERR_INVALID;
  }
  // On-Demand reads a few bytes past the end, so the body is copied into a
  // padded buffer; it also joins the chunks.
  simdjson::padded_string json(total);
  size_t at_byte = 0;
  for (size_t i = 0; i < body_count; ++i) {
    if (body[i].len == 0) continue;
    std::memcpy(json.data() + at_byte, body[i].ptr, body[i].len);
    at_byte += body[i].len;
  }
  od::document doc;
  if (auto e = impl_->parser.iterate(json).get(doc)) {
    c.json(e);
    return AIGW_ERR_INVALID;
  }
  return parse_root(c, doc) ? AIGW_OK : AIGW_ERR_INVALID;
}

}  // namespace aigw::local_plugin
