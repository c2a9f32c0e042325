// The name rules that [[plugin]], [[provider]], [[route]] and [[key]] share.
#include <string>

#include "config/sections.h"

namespace aigw::config {

bool valid_model_name(std::string_view m) {
  if (m.empty() || m.size() > 256) return false;
  for (char c : m) {
    if (c <= ' ' || c >= 127 || c == '"' || c == '\\') return false;
  }
  return true;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

void require_name(TableReader& r, const toml::table& t, std::string& out) {
  if (const toml::node* node = r.get_string("name", out)) {
    if (!valid_name(out)) {
      r.error(*node, r.path_of("name"),
              "must be 1 to 64 characters of a-z, 0-9, '-' and '_', got " + quoted(out));
    }
  } else if (!t.contains("name")) {
    r.error_here(r.path_of("name"), "is required");
  }
}

}  // namespace aigw::config
