// The token estimate a request is charged before it runs (limits/limiter.h
// corrects it with the real usage when the response ends).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace aigw::limits {

// The top-level request fields the estimate reads.
struct CompletionFields {
  std::optional<uint64_t> max_completion_tokens;
  std::optional<uint64_t> max_tokens;
  uint64_t n = 1;  // choices
};

// ceil(body bytes / 4) for the prompt (about 4 bytes per token for English;
// it counts the JSON syntax too, which roughly pays for tokenisers that do
// worse on other languages), plus the completion budget: max_completion_tokens,
// else max_tokens, else `default_max_tokens`, times n when n > 1.
// Saturates instead of overflowing.
uint64_t estimate_tokens(uint64_t body_bytes, const CompletionFields& f, uint64_t default_max_tokens);

// The same, reading the fields from the JSON body with simdjson ondemand.
// Values that are not non-negative integers count as absent; a body that is
// not a JSON object gets the default. One short pass, with a reused
// per-thread parser (bodies over 1 MiB use a transient one, so a worker does
// not keep a large parser's buffers). A caller that already walks the body's
// top-level fields can fill CompletionFields itself and skip this pass.
uint64_t estimate_tokens(std::string_view body_json, uint64_t default_max_tokens);

}  // namespace aigw::limits
