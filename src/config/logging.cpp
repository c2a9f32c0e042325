// [log] and [access_log]: what aigw writes about itself and about requests.
#include <string>

#include "config/sections.h"

namespace aigw::config {

void read_log(TableReader r, LogConfig& out) {
  std::string text;
  if (const toml::node* node = r.get_string("level", text)) {
    std::string why;
    if (!parse_log_level(text, out.level, why)) r.error(*node, r.path_of("level"), why);
  }
  r.report_unknown_keys();
}

void read_access_log(TableReader r, AccessLogConfig& out) {
  r.get_bool("enabled", out.enabled);
  r.get_string("path", out.path);
  if (const toml::node* node = r.get_node("sample")) {
    double v = -1;
    if (node->is_floating_point()) v = node->as_floating_point()->get();
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    if (!(v >= 0.0 && v <= 1.0)) {
      r.error(*node, r.path_of("sample"), "expected a number from 0 to 1 (the share of requests logged)");
    } else {
      out.sample = v;
    }
  }
  r.report_unknown_keys();
}

}  // namespace aigw::config
