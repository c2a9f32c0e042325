// Usage reports, shared by GET /admin/usage and `aigw usage`: the question
// read from a URL query or from command-line options (validated against
// fixed lists, so nothing of a request reaches SQL but bound values), and
// the answer as JSON, CSV or a text table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "state/store.h"

namespace aigw::state {

// Sets one parameter of `q` (from, to, group_by, key, model, provider).
// False with `why` when the name is unknown or the value invalid.
bool set_param(UsageQuery& q, std::string_view name, std::string_view value, std::string& why);

// Fills in what was not given: to = today, from = the first day of to's
// month, group_by = key,model. Checks from <= to. `today` is "YYYY-MM-DD".
bool finish(UsageQuery& q, const std::string& today, std::string& why);

// "from=2026-12-01&to=2026-12-04&group_by=key,model" (percent-decoded).
bool parse_url_query(std::string_view query, const std::string& today, UsageQuery& q, std::string& why);

// The days from q.from to q.to, both included ("YYYY-MM-DD"); false with
// `why` when there are more than `max_days`.
bool days_of(const UsageQuery& q, size_t max_days, std::vector<std::string>& out, std::string& why);

// Rows of full detail (day, key, model and provider all set) filtered and
// summed as `q` asks, in the order the store answers: what the store's SQL
// does, for usage that comes from elsewhere (the Redis copy).
void group_rows(const UsageQuery& q, const std::vector<UsageRow>& detail, std::vector<UsageRow>& out);

void format_json(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out);
void format_csv(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out);
void format_table(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out);

}  // namespace aigw::state
