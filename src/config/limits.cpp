// [limits]: how token limits estimate a request before it runs.
#include "config/sections.h"

namespace aigw::config {

void read_request_limits(TableReader r, LimitsConfig& out) {
  r.get_integer("default_max_tokens", {1, 10'000'000}, out.default_max_tokens);
  r.report_unknown_keys();
}

}  // namespace aigw::config
