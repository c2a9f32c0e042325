// What a Gemini error status means for routing, and its error body in the
// shape OpenAI clients parse. Pure functions, for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "aigw_plugin.h"

namespace aigw::gemini_plugin {

// The longest cool-down passed on: a provider asking for more is more
// likely confused than right, and the host re-probes anyway.
constexpr uint64_t kMaxRetryAfterMs = 3'600'000;

// 2xx: none; 401, 403 (PERMISSION_DENIED): key invalid; 429
// (RESOURCE_EXHAUSTED): rate limited; 408, 5xx and anything that is not a
// final answer (1xx, 3xx): retryable; other 4xx: the client's fault.
// Gemini answers a key it does not know with 400 INVALID_ARGUMENT, which
// the status alone cannot tell from a bad request: that stays CLIENT.
aigw_error_class classify_status(int32_t status);

// A Retry-After header in delay-seconds form, in ms (capped); false for
// anything else (Google sends delay-seconds when it sends the header).
bool parse_retry_after(std::string_view value, uint64_t& ms);

// The google.rpc.RetryInfo retryDelay of an error body ("30s", "1.5s"), in
// ms (capped); false when the body has none.
bool retry_delay_ms(simdjson::dom::parser& parser, std::string_view body, uint64_t& ms);

// A Gemini error body ({"error":{"code","message","status","details"}})
// as {"error":{"message","type","code"}}: `type` from the HTTP status as
// OpenAI names its classes, `code` Gemini's status string (lowercased), so
// a client sees why without knowing Gemini. A body that is not a Gemini
// error (an HTML page from a proxy) is not quoted: the message names the
// HTTP status instead.
std::string openai_error_body(simdjson::dom::parser& parser, int32_t status, std::string_view body);

// The error object the plugin itself answers with (Outcome.error).
std::string openai_error(int32_t status, std::string_view code, std::string_view message);

}  // namespace aigw::gemini_plugin
