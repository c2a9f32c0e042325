// libFuzzer target for what aigw makes of Redis's replies (src/redis/reply.h):
// the bytes a server (or whatever answers on its port: a proxy, a wrong
// service, a failing network) sends, read by hiredis's reader with the cap
// Connection puts on it (no reply past kMaxReplyElements array elements),
// then interpreted as Connection, the lease source's background thread and
// the usage copy's reader do: a script's answer, a command's text, SCRIPT
// LOAD's sha, an array of strings (HGETALL), and a budget answer turned
// into leased units.
//
// The first byte sets how much each budget call asks for and, with a hash
// of the input, where the rest is cut; the rest is the byte stream. Besides
// crashes and sanitizer reports (a signed overflow turning an answer into a
// clock included) it aborts when:
//   - a reply is neither a result nor an error with a reason (script
//     answers: ok only for an array with one integer per element, NOSCRIPT
//     only for such an error reply; the text, sha and strings readers
//     likewise, strings byte for byte), or the reader fails with no message;
//   - a budget answer grants more than was asked (per call, and in sum over
//     the stream, as the pool would hold it), reads a negative count, or
//     gives a time until full outside 0 to a century;
//   - a usage copy field (usage_mirror.h) that parses does not write back
//     to one parsing the same, or three strings do not come back whole
//     through a field;
//   - the replies differ when the stream arrives cut in pieces (as TCP may
//     deliver it) from when it arrives whole.
#include <hiredis.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "redis/reply.h"
#include "redis/usage_mirror.h"
#include "state/store.h"

namespace {

using namespace aigw::redis;

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

// What the stream gave, to compare a cut reading with a whole one.
struct Reading {
  std::vector<std::string> replies;  // one fingerprint per reply
  bool failed = false;               // the reader refused the bytes
  uint64_t asked = 0, granted = 0;   // budget units, summed as the pool would
  uint64_t results = 0, errors = 0;  // script answers, as the Link counts them
};

// A monotonic clock far into a process's life: adding a time until full to
// it must not overflow (lease_source.cpp keeps now + until_full_ns).
constexpr int64_t kLateMonoNs = int64_t{10} * 366 * 86400 * 1'000'000'000;

// An HGETALL of a day's usage copy: each field names a row and a column
// (usage_mirror.h). Whatever the field, a parse that succeeds must give
// names that write back to a field parsing to the same; and any three
// strings must come back whole through a field.
void check_usage_fields(const std::vector<std::string>& strings) {
  std::string key, model, provider, k2, m2, p2;
  size_t column = 0, c2 = 0;
  for (const std::string& f : strings) {
    if (!aigw::redis::parse_usage_field(f, key, model, provider, column)) continue;
    FUZZ_CHECK(column < std::size(aigw::state::kTotalColumns));
    const std::string again = usage_field(key, model, provider, aigw::state::kTotalColumns[column].name);
    FUZZ_CHECK(parse_usage_field(again, k2, m2, p2, c2) && k2 == key && m2 == model && p2 == provider && c2 == column);
  }
  for (size_t i = 0; i + 2 < strings.size(); i += 3) {
    const std::string f = usage_field(strings[i], strings[i + 1], strings[i + 2], "total_tokens");
    const bool back = parse_usage_field(f, k2, m2, p2, c2);
    // Names longer than the count's six digits allow are not written by
    // the store (names are at most 128 bytes); shorter ones must come back.
    if (strings[i].size() < 1000000 && strings[i + 1].size() < 1000000 && strings[i + 2].size() < 1000000) {
      FUZZ_CHECK(back && k2 == strings[i] && m2 == strings[i + 1] && p2 == strings[i + 2]);
    }
  }
}

void check_reply(const redisReply* r, uint64_t ask, Reading& reading) {
  std::string fp = std::to_string(r->type) + ":";

  std::vector<int64_t> out;
  std::string why;
  const ScriptReply kind = read_script_reply(r, out, why);
  switch (kind) {
    case ScriptReply::ok:
      FUZZ_CHECK(r->type == REDIS_REPLY_ARRAY && out.size() == r->elements && why.empty());
      ++reading.results;
      break;
    case ScriptReply::noscript:
      FUZZ_CHECK(r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT"));
      ++reading.errors;  // Connection retries with EVAL; a second one is an error
      break;
    case ScriptReply::error:
      FUZZ_CHECK(r->type != REDIS_REPLY_ARRAY && !why.empty() && out.empty());
      ++reading.errors;
      break;
  }
  fp += std::to_string(static_cast<int>(kind));
  for (int64_t v : out) fp += "," + std::to_string(v);

  if (kind == ScriptReply::ok) {
    for (uint64_t asked : {uint64_t{0}, uint64_t{1}, ask}) {
      const BudgetAnswer a = read_budget_answer(out, asked);
      FUZZ_CHECK(a.granted <= asked);
      FUZZ_CHECK(a.has_remaining == (out.size() >= 2) && a.has_until_full == (out.size() >= 3));
      FUZZ_CHECK(a.remaining <= static_cast<uint64_t>(INT64_MAX));
      FUZZ_CHECK(a.until_full_ns >= 0 && a.until_full_ns <= kMaxUntilFullNs);
      FUZZ_CHECK(a.until_full_ns <= INT64_MAX - kLateMonoNs);  // now + until_full_ns, as lease_source.cpp keeps it
      if (!out.empty() && out[0] >= 0 && static_cast<uint64_t>(out[0]) <= asked) {
        FUZZ_CHECK(a.granted == static_cast<uint64_t>(out[0]));  // a sound answer is taken as it is
      }
    }
    const BudgetAnswer a = read_budget_answer(out, ask);
    reading.asked += ask;
    reading.granted += a.granted;
    FUZZ_CHECK(reading.granted <= reading.asked);
  }

  std::string text;
  why.clear();
  const bool text_ok = read_text_reply(r, text, why);
  FUZZ_CHECK(text_ok == (r->type != REDIS_REPLY_ERROR));
  FUZZ_CHECK(text_ok || !why.empty());
  fp += "|" + (text_ok ? text : why);

  std::string sha;
  why.clear();
  const bool sha_ok = read_sha_reply(r, sha, why);
  FUZZ_CHECK(sha_ok == (r->type == REDIS_REPLY_STRING));
  if (sha_ok) {
    FUZZ_CHECK(sha == std::string_view(r->str, r->len));
  } else {
    FUZZ_CHECK(why.starts_with("SCRIPT LOAD: ") && why.size() > 13);
  }
  std::vector<std::string> strings;
  why.clear();
  const bool strings_ok = read_strings_reply(r, strings, why);
  if (strings_ok) {
    FUZZ_CHECK(r->type == REDIS_REPLY_ARRAY && strings.size() == r->elements);
    for (size_t i = 0; i < strings.size(); ++i) {
      FUZZ_CHECK(strings[i] == std::string_view(r->element[i]->str, r->element[i]->len));
    }
  } else {
    FUZZ_CHECK(!why.empty() && strings.empty());
  }
  fp += strings_ok ? "|s" : "|-";
  if (strings_ok) check_usage_fields(strings);

  reading.replies.push_back(std::move(fp));
}

// Reads every reply of `stream`, fed in the pieces that `cuts` (ascending
// offsets) make, with the reader Connection uses.
Reading read_stream(std::string_view stream, const std::vector<size_t>& cuts, uint64_t ask) {
  Reading reading;
  std::unique_ptr<redisReader, ReaderFree> reader(redisReaderCreate());
  FUZZ_CHECK(reader);
  ReplyBudget budget;
  cap_arrays(reader.get(), budget);
  size_t from = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t to = k < cuts.size() ? cuts[k] : stream.size();
    if (to > from) FUZZ_CHECK(redisReaderFeed(reader.get(), stream.data() + from, to - from) == REDIS_OK);
    from = std::max(from, to);
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(reader.get(), &reply) != REDIS_OK) {
        FUZZ_CHECK(reader->err != 0 && reader->errstr[0] != '\0');  // a counted error with its reason
        reading.failed = true;
        return reading;
      }
      if (reply == nullptr) break;  // needs more bytes
      std::unique_ptr<redisReply, ReplyFree> owned(static_cast<redisReply*>(reply));
      check_reply(owned.get(), ask, reading);
    }
  }
  return reading;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  // What each budget call asked for: small batches as a pool asks, and the
  // edges (0 never grants, a 48-bit pool word's whole count).
  static const uint64_t kAsks[] = {0, 1, 2, 3, 8, 16, 100, 4096, (uint64_t{1} << 48) - 1};
  const uint64_t ask = kAsks[data[0] % std::size(kAsks)];

  const Reading whole = read_stream(stream, {}, ask);
  FUZZ_CHECK(whole.results + whole.errors == whole.replies.size());

  // The same stream as it might arrive: cut at up to three points.
  std::vector<size_t> cuts;
  if (!stream.empty()) {
    uint64_t h = fuzz_fnv1a(stream) ^ data[0];
    size_t n = 1 + (data[0] >> 4) % 3;
    for (size_t i = 0; i < n; ++i) {
      h = h * 6364136223846793005ull + 1442695040888963407ull;
      cuts.push_back((h >> 33) % (stream.size() + 1));
    }
    std::sort(cuts.begin(), cuts.end());
  }
  const Reading cut = read_stream(stream, cuts, ask);
  FUZZ_CHECK(cut.failed == whole.failed);
  FUZZ_CHECK(cut.replies == whole.replies);
  // Byte by byte, the way a slow link delivers it (short streams only: each
  // byte is one feed).
  if (stream.size() <= 256) {
    std::vector<size_t> every;
    for (size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    const Reading drip = read_stream(stream, every, ask);
    FUZZ_CHECK(drip.failed == whole.failed && drip.replies == whole.replies);
  }
  return 0;
}
