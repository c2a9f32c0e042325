#include "translate/json_value.h"

#include "json/write.h"

namespace aigw::translate::detail {

void append_json(std::string& out, element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::OBJECT: {
      out += '{';
      bool first = true;
      for (auto field : simdjson::dom::object(v)) {
        if (!first) out += ',';
        first = false;
        json::append_string(out, field.key);
        out += ':';
        append_json(out, field.value);  // depth is bounded by simdjson's parser
      }
      out += '}';
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      out += '[';
      bool first = true;
      for (element item : simdjson::dom::array(v)) {
        if (!first) out += ',';
        first = false;
        append_json(out, item);
      }
      out += ']';
      return;
    }
    case simdjson::dom::element_type::STRING:
      json::append_string(out, std::string_view(v));
      return;
    case simdjson::dom::element_type::INT64:
      out += std::to_string(int64_t(v));
      return;
    case simdjson::dom::element_type::UINT64:
      out += std::to_string(uint64_t(v));
      return;
    case simdjson::dom::element_type::DOUBLE:
      // simdjson's own number writer: shortest text that reads back the same.
      out += simdjson::minify(v);
      return;
    case simdjson::dom::element_type::BOOL:
      out += bool(v) ? "true" : "false";
      return;
    case simdjson::dom::element_type::NULL_VALUE:
      out += "null";
      return;
  }
  out += "null";
}

bool member(element obj, std::string_view key, element& out) {
  if (!obj.is_object()) return false;
  return obj.at_key(key).get(out) == simdjson::SUCCESS;
}

bool string_member(element obj, std::string_view key, std::string_view& out) {
  element v;
  return member(obj, key, v) && v.get_string().get(out) == simdjson::SUCCESS;
}

uint64_t count_member(element obj, std::string_view key) {
  element v;
  if (!member(obj, key, v)) return 0;
  uint64_t n = 0;
  if (v.get_uint64().get(n) == simdjson::SUCCESS) return n;
  return 0;
}

}  // namespace aigw::translate::detail
