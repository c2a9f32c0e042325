// What an upstream status means for routing, and how long a rate-limited
// key should rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aigw_plugin.h"

namespace aigw::openai_plugin {

// The longest cool-down we pass on: a provider asking for more is more
// likely confused than right, and the host re-probes anyway.
constexpr uint64_t kMaxRetryAfterMs = 3'600'000;

// 2xx: none; 401, 403: key invalid; 429: rate limited; 408, 409, 5xx, and
// anything that is not a final answer to a POST (1xx, 3xx): retryable;
// other 4xx: the client's fault.
aigw_error_class classify_status(int32_t status);

// The cool-down a 429 asks for, in ms (capped at kMaxRetryAfterMs), from
// the first usable header of: retry-after-ms (Azure, OpenAI), Retry-After
// (delay-seconds or an IMF-fixdate), x-ratelimit-reset-requests (a Go
// duration such as "1s", "6m0s", "250ms"). 0 when none is usable (the host's
// default applies). now_unix_s is the wall clock, for HTTP dates.
uint64_t retry_after_ms(const aigw_host_header* headers, size_t count, int64_t now_unix_s);

// The parsers behind it; false when the value is not in that form.
bool parse_delay_seconds(std::string_view v, uint64_t& ms);
bool parse_decimal_ms(std::string_view v, uint64_t& ms);
bool parse_http_date(std::string_view v, int64_t& unix_s);
bool parse_go_duration(std::string_view v, uint64_t& ms);

}  // namespace aigw::openai_plugin
