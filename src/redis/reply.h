// What aigw makes of the replies Redis sends: pure functions over hiredis
// reply trees and over the integers of a script's answer, shared by
// Connection, the background thread of RedisLeaseSource and the
// redis_reply fuzz target (tests/fuzz), so that what is fuzzed is what runs.
//
// A reply comes from the network, so nothing here trusts its shape: any
// tree gives either a result or a failure with a reason (which the caller
// counts as a Redis error and answers by reconnecting).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

struct redisReader;
struct redisReply;

namespace aigw::redis {

// How many array elements one reply may hold, all its arrays together.
// hiredis allocates an array as soon as it reads the count
// ("*100000000\r\n" is 13 bytes and 800 MB, and nesting multiplies it), so
// the reader refuses a reply past this as its out-of-memory error, which
// fails the command. The scripts answer 3 integers; an HGETALL of a day's
// usage (usage_mirror.h) is two per field, far below this.
inline constexpr long long kMaxReplyElements = 1 << 20;  // 8 MiB of pointers

// What one reader has left of kMaxReplyElements for the reply it reads.
// Owned beside the reader (hiredis passes it to each array it allocates).
struct ReplyBudget {
  long long left = kMaxReplyElements;
};

// Makes `reader` (one created with hiredis's default reply functions, as
// every redisContext's is) hold each reply to kMaxReplyElements, counted in
// `budget`, which must outlive the reader.
void cap_arrays(redisReader* reader, ReplyBudget& budget);

// An EVAL/EVALSHA reply. ok: an array, its integers in `out` (any other
// element reads as 0, as the scripts only answer integers). noscript: the
// server lacks the script (EVAL it instead). error: anything else, with
// `why` set.
enum class ScriptReply : uint8_t { ok, noscript, error };
ScriptReply read_script_reply(const redisReply* r, std::vector<int64_t>& out, std::string& why);

// A reply as text: "" for nil, integers as digits, an array as its elements
// one per line. False with `why` for an error reply.
bool read_text_reply(const redisReply* r, std::string& out, std::string& why);

// SCRIPT LOAD's reply: the script's sha in `sha`, or false with `why`.
bool read_sha_reply(const redisReply* r, std::string& sha, std::string& why);

// A reply that must be an array of strings (HGETALL, KEYS): its elements,
// whole (they may hold any byte), or false with `why`.
bool read_strings_reply(const redisReply* r, std::vector<std::string>& out, std::string& why);

// What a budget or slots script answered (scripts.h: {granted, remaining,
// microseconds until full}), bounded so that no answer can lease more
// than was asked or overflow a clock.
struct BudgetAnswer {
  uint64_t granted = 0;  // at most what was asked
  bool has_remaining = false;
  uint64_t remaining = 0;
  bool has_until_full = false;
  int64_t until_full_ns = 0;  // 0 to kMaxUntilFullNs
};
// A century: far beyond any real debt of a bucket, far below where adding
// it to a monotonic clock could overflow.
inline constexpr int64_t kMaxUntilFullNs = int64_t{100} * 366 * 86400 * 1'000'000'000;
BudgetAnswer read_budget_answer(std::span<const int64_t> out, uint64_t asked);

}  // namespace aigw::redis
