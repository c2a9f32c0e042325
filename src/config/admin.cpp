// [admin]: the operator listener and its key.
#include <string>

#include "config/sections.h"

namespace aigw::config {

void read_admin(TableReader r, AdminConfig& out) {
  if (const toml::node* node = r.get_node("listen")) {
    auto one = [&](const toml::node& n, const std::string& dotted) {
      read_listen_entry(r, n, dotted, out.listen);
    };
    if (const toml::array* list = node->as_array()) {
      for (size_t i = 0; i < list->size(); ++i) {
        one(*list->get(i), r.path_of("listen") + "[" + std::to_string(i) + "]");
      }
    } else {
      one(*node, r.path_of("listen"));
    }
  }
  std::string key;
  if (const toml::node* node = r.get_string("api_key", key)) {
    std::string why;
    if (!resolve_secret(key, out.api_key, why)) r.error(*node, r.path_of("api_key"), why);
  }
  r.report_unknown_keys();
}

}  // namespace aigw::config
