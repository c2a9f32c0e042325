// What a worker hands the state writer about one finished request: plain,
// fixed-size data (names are copied, truncated at their cap), so it travels
// through an io::SpscRing by copy with no allocation on the request path.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace aigw::state {

// A name of at most N-1 bytes. Key and provider names are at most 64 bytes
// (config::valid_name); route names longer than the cap are cut, which only
// merges their rows.
template <size_t N>
struct Name {
  uint8_t len = 0;
  char text[N - 1];  // only len bytes are meaningful; not zeroed, for speed

  void set(std::string_view s) {
    len = static_cast<uint8_t>(s.size() < N - 1 ? s.size() : N - 1);
    if (len != 0) std::memcpy(text, s.data(), len);  // an empty view may have a null data()
  }
  std::string_view view() const { return {text, len}; }
};

// The most tokens one request counts for in the store. Token counts are
// what a provider reported (any 64-bit number a JSON body can hold); the
// store keeps SQLite integers (signed 64-bit) and sums them, and SQLite
// refuses a SUM past 2^63, which would fail every report over that range
// and the quota sums that aigw reads at start (so it would not start). At
// 2^32 a request (a thousand times the largest context window), 2^31 such
// requests fit in one sum.
inline constexpr uint64_t kMaxRequestTokens = uint64_t{1} << 32;
inline uint64_t stored_tokens(uint64_t reported) { return reported < kMaxRequestTokens ? reported : kMaxRequestTokens; }

struct UsageRecord {
  int64_t wall_ms = 0;  // UTC, when the request ended: picks its day
  Name<65> key;         // key name ("" when none: open gateway, refused)
  Name<129> model;      // route name ("" when no route matched)
  Name<65> provider;    // provider of the last attempt ("" when none)
  Name<129> request_id;  // ids are at most 128 characters (docs/config.md)
  Name<33> error;       // error code when status >= 400
  uint16_t status = 0;
  bool stream = false;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;
  uint64_t cached_tokens = 0;     // part of prompt_tokens
  uint64_t reasoning_tokens = 0;  // part of completion_tokens
  uint32_t latency_ms = 0;  // request complete -> response ended
  uint32_t ttft_ms = 0;     // request complete -> first response byte; 0: none
  bool has_ttft = false;
};

}  // namespace aigw::state
