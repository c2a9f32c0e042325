// What an Anthropic error status means for routing, and its error body in
// the shape OpenAI clients parse. Pure functions, for unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "aigw_plugin.h"

namespace aigw::anthropic_plugin {

// The longest cool-down passed on: a provider asking for more is more
// likely confused than right, and the host re-probes anyway.
constexpr uint64_t kMaxRetryAfterMs = 3'600'000;

// 2xx: none; 401, 403: key invalid; 429: rate limited; 408, 5xx and 529
// (overloaded_error: Anthropic is short of capacity for everyone, not this
// key), and anything that is not a final answer (1xx, 3xx): retryable;
// other 4xx (400, 404, 413): the client's.
aigw_error_class classify_status(int32_t status);

// A retry-after header in delay-seconds form, in ms (capped); false for
// anything else.
bool parse_retry_after(std::string_view value, uint64_t& ms);

// The HTTP status Anthropic gives each error type, for an `error` event in
// a stream (which has no status of its own); 500 for a type it does not
// document.
int32_t status_for_error_type(std::string_view type);

// The status a failed stream finishes with, from the HTTP status of its
// error: 429 -> AIGW_ERR_LIMIT, other 4xx -> AIGW_ERR_INVALID, else
// AIGW_ERR_INTERNAL (which the host may retry on another channel before
// content reached the client).
aigw_status finish_status_for(int32_t http);

// An Anthropic error body ({"type":"error","error":{"type","message"}}) as
// {"error":{"message","type","code"}}: `type` from the HTTP status as OpenAI
// names its classes, `code` Anthropic's error type (overloaded_error), so a
// client sees why. A body that is not an Anthropic error (a proxy's HTML)
// is not quoted: the message names the HTTP status instead.
std::string openai_error_body(simdjson::dom::parser& parser, int32_t status, std::string_view body);

// The error object the plugin itself answers with.
std::string openai_error(int32_t status, std::string_view code, std::string_view message);

}  // namespace aigw::anthropic_plugin
