// estimate_input_tokens: about four characters a token, the usual rule of
// thumb for English text and JSON; good enough for count_tokens and for
// message_start before the provider reports usage.
#include <simdjson.h>

#include "translate/json_value.h"
#include "translate/messages.h"

namespace aigw::translate {
namespace {

using detail::element;
using detail::member;
using detail::string_member;

// Characters, not bytes: a UTF-8 continuation byte does not start one.
uint64_t chars(std::string_view s) {
  uint64_t n = 0;
  for (unsigned char b : s) n += (b & 0xC0) != 0x80;
  return n;
}

uint64_t string_chars(element obj, std::string_view key) {
  std::string_view s;
  return string_member(obj, key, s) ? chars(s) : 0;
}

// A schema or a tool input counts as the JSON the provider will be sent.
uint64_t json_chars(element v) {
  std::string compact;
  detail::append_json(compact, v);
  return chars(compact);
}

// A string, or blocks whose text counts (text blocks, and the text of
// tool_result blocks); tool_use counts its name and input.
uint64_t content_chars(element content) {
  std::string_view s;
  if (content.get_string().get(s) == simdjson::SUCCESS) return chars(s);
  if (!content.is_array()) return 0;
  uint64_t n = 0;
  for (element block : simdjson::dom::array(content)) {
    std::string_view type;
    if (!string_member(block, "type", type)) continue;
    if (type == "text") {
      n += string_chars(block, "text");
    } else if (type == "tool_use") {
      n += string_chars(block, "name");
      element input;
      if (member(block, "input", input)) n += json_chars(input);
    } else if (type == "tool_result") {
      element inner;
      if (member(block, "content", inner)) n += content_chars(inner);
    }
  }
  return n;
}

uint64_t tokens(uint64_t characters) {
  const uint64_t t = (characters + 3) / 4;
  return t ? t : 1;
}

}  // namespace

uint64_t estimate_input_tokens(std::string_view anthropic_json) {
  simdjson::dom::parser parser;
  element root;
  if (parser.parse(anthropic_json.data(), anthropic_json.size()).get(root) != simdjson::SUCCESS ||
      !root.is_object()) {
    return tokens(anthropic_json.size());
  }
  uint64_t n = 0;
  element v;
  if (member(root, "system", v)) n += content_chars(v);
  if (member(root, "messages", v) && v.is_array()) {
    for (element m : simdjson::dom::array(v)) {
      element content;
      if (member(m, "content", content)) n += content_chars(content);
    }
  }
  if (member(root, "tools", v) && v.is_array()) {
    for (element tool : simdjson::dom::array(v)) {
      n += string_chars(tool, "name") + string_chars(tool, "description");
      element schema;
      if (member(tool, "input_schema", schema)) n += json_chars(schema);
    }
  }
  return tokens(n);
}

}  // namespace aigw::translate
