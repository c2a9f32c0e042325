#include "json_value.h"

#include <charconv>

#include "aigw_plugin.hpp"

namespace aigw::anthropic_plugin {

void write_value(std::string& out, simdjson::dom::element e) {
  using simdjson::dom::element_type;
  char buf[32];
  switch (e.type()) {
    case element_type::ARRAY: {
      out.push_back('[');
      bool first = true;
      for (simdjson::dom::element item : simdjson::dom::array(e)) {
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
      for (auto field : simdjson::dom::object(e)) {
        if (!first) out.push_back(',');
        first = false;
        sdk::append_json_string(out, field.key);
        out.push_back(':');
        write_value(out, field.value);
      }
      out.push_back('}');
      return;
    }
    case element_type::INT64: {
      auto r = std::to_chars(buf, buf + sizeof buf, int64_t(e));
      out.append(buf, r.ptr);
      return;
    }
    case element_type::UINT64: {
      auto r = std::to_chars(buf, buf + sizeof buf, uint64_t(e));
      out.append(buf, r.ptr);
      return;
    }
    case element_type::DOUBLE: {
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

}  // namespace aigw::anthropic_plugin
