// The query of a request target, as application/x-www-form-urlencoded:
// `name=value` parts separated by '&', '+' for a space, %XX escapes. One
// walker for every endpoint that takes parameters (/admin/usage,
// /admin/keys), so they agree on what a malformed query is.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace aigw::http {

// Percent- and plus-decodes `in` into `out`. False on a '%' not followed by
// two hex digits.
bool query_decode(std::string_view in, std::string& out);

// Calls `each(name, value)` for every non-empty part of `query`, decoded, in
// order (a part without '=' has an empty value). Stops at the first part
// `each` refuses (returns false; it sets `why`) or whose encoding is
// malformed (why: "malformed percent-encoding in the query").
bool for_each_query_param(std::string_view query,
                          const std::function<bool(const std::string& name, const std::string& value)>& each,
                          std::string& why);

}  // namespace aigw::http
