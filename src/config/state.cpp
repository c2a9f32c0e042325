// [state]: the usage store (src/state). Its [state.redis] sub-table belongs
// to the Redis feature and is read by that feature's own reader: here it is
// only accepted, so both can be merged without touching each other.
#include <string>

#include "config/quote.h"
#include "config/sections.h"

namespace aigw::config {
namespace {

// "30d" as well as the usual units: request rows are kept for days.
bool parse_keep(std::string_view text, Duration& out, std::string& why) {
  if (text.size() >= 2 && text.back() == 'd') {
    uint64_t days = 0;
    for (char c : text.substr(0, text.size() - 1)) {
      if (c < '0' || c > '9' || days > 100000) {
        why = "expected a whole number of days such as \"30d\", or a duration such as \"12h\"";
        return false;
      }
      days = days * 10 + static_cast<uint64_t>(c - '0');
    }
    out = Duration(static_cast<int64_t>(days) * 24 * 3600 * 1000);
    return true;
  }
  return parse_duration(text, out, why);
}

}  // namespace

void read_state(TableReader r, StateConfig& out) {
  r.get_bool("enabled", out.enabled);
  if (const toml::node* node = r.get_string("path", out.path); node && out.path.empty()) {
    r.error(*node, r.path_of("path"), "must not be empty (leave it out for the default)");
  }
  r.get_duration("flush_interval", {Duration(10), Duration(60'000)}, out.flush_interval);
  r.get_bool("requests", out.requests);
  if (const toml::node* node = r.get_node("keep")) {
    std::string why;
    Duration d{};
    if (!node->is_string()) {
      r.error(*node, r.path_of("keep"), type_error("a duration string such as \"30d\"", *node));
    } else if (!parse_keep(node->as_string()->get(), d, why)) {
      r.error(*node, r.path_of("keep"), "invalid duration " + quoted(node->as_string()->get()) + ": " + why);
    } else if (d < Duration(3600 * 1000)) {
      r.error(*node, r.path_of("keep"), "must be at least \"1h\"");
    } else {
      out.keep = d;
    }
  }
  // [state.redis] is parsed by the Redis feature's reader, not here.
  r.get_node("redis");
  r.report_unknown_keys();
}

}  // namespace aigw::config
