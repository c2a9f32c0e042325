// libFuzzer target for the one JSON string writer (src/json/write.cpp) and
// the access-log line built with it (src/metrics/access_log.cpp). Their
// input is whatever a client or provider put in a model name, a path, an
// error message: bytes that must never break a log line or an error body.
//
// The input is split at 0xFF bytes into up to eight strings (0xFF never
// occurs in UTF-8, so it cannot hide a case). Besides crashes and sanitizer
// reports it aborts when:
//   - append_string's output is not one JSON string (simdjson, which also
//     checks UTF-8), or holds a raw control character;
//   - it does not read back as the input where the input was valid UTF-8,
//     or as the input with each bad byte turned into U+FFFD otherwise
//     (checked by length and by the valid input's bytes);
//   - plain() disagrees with append_string about whether a string needed
//     escaping, or copy_if_plain() with plain() (or copies other bytes);
//   - the access-log line built from those strings is not one line of one
//     JSON object with the same strings in its fields.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "json/utf8.h"
#include "json/write.h"
#include "metrics/access_log.h"

namespace {

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "json_write_fuzz: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

simdjson::dom::parser& parser() {
  static simdjson::dom::parser p;
  return p;
}

bool valid_utf8(std::string_view s) { return aigw::json::utf8_valid_run(s, 0) == s.size(); }

void check_string(std::string_view s) {
  std::string out;
  aigw::json::append_string(out, s);
  for (unsigned char c : out) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  // plain() (the access log's shortcut: the string copied between quotes)
  // is true exactly when every byte is printable ASCII other than the two
  // metacharacters, and then append_string copied it as it is.
  bool printable = true;
  for (unsigned char c : s) printable = printable && c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  FUZZ_CHECK(aigw::json::plain(s) == printable);
  if (printable) FUZZ_CHECK(out.size() == s.size() + 2 && std::string_view(out).substr(1, s.size()) == s);
  // copy_if_plain() agrees with plain() and copies exactly: into a heap
  // block of exactly s.size() bytes (ASan sees a store past it).
  auto block = std::make_unique<char[]>(s.size());
  char* end = aigw::json::copy_if_plain(block.get(), s);
  FUZZ_CHECK((end != nullptr) == printable);
  if (end != nullptr) FUZZ_CHECK(end == block.get() + s.size() && std::string_view(block.get(), s.size()) == s);
  simdjson::dom::element e;
  FUZZ_CHECK(!parser().parse(out).get(e));
  std::string_view back;
  FUZZ_CHECK(!e.get_string().get(back));
  if (valid_utf8(s)) {
    FUZZ_CHECK(back == s);
  } else {
    // Each byte that starts no well-formed sequence became U+FFFD (3 bytes).
    FUZZ_CHECK(back.size() >= s.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < 8) {
    const size_t cut = in.find('\xff', start);
    parts.push_back(in.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start));
    if (cut == std::string_view::npos) break;
    start = cut + 1;
  }
  for (std::string_view p : parts) check_string(p);

  parts.resize(8);
  aigw::metrics::RequestRecord r;
  r.request_id = parts[0];
  r.method = parts[1];
  r.path = parts[2];
  // The client is a Peer, not a string: its family, port and address bytes
  // from the fourth part (the text is the gateway's own, never escaped).
  const std::string_view peer_bytes = parts[3];
  if (!peer_bytes.empty()) {
    r.peer.family = (peer_bytes[0] & 1) ? 6 : 4;
    r.peer.port = static_cast<uint16_t>(peer_bytes.size() * 257);
    std::memcpy(r.peer.addr, peer_bytes.data() + 1, std::min(peer_bytes.size() - 1, sizeof r.peer.addr));
  }
  r.key = parts[4];
  r.model = parts[5];
  r.provider = parts[6];
  r.error = parts[7];
  // Every reason, a value past the enum's end (written as null) and none.
  const size_t pick = size % (static_cast<size_t>(aigw::metrics::FinishReason::count_) + 2);
  if (pick <= static_cast<size_t>(aigw::metrics::FinishReason::count_)) {
    r.finish_reason = static_cast<aigw::metrics::FinishReason>(pick);
  }

  // Numbers of every width (the line's room is reserved for the widest):
  // from the input's first bytes.
  uint64_t x = 0;
  if (size > 0) std::memcpy(&x, data, size < sizeof x ? size : sizeof x);
  r.prompt_tokens = x;
  r.completion_tokens = x >> 17;
  r.total_tokens = ~x;
  // Times of every width and sign, the clock's offset too: the line takes
  // their sums and differences modulo 2^64 (UBSan would report overflow).
  r.start_ns = static_cast<int64_t>(x * 0x9e3779b97f4a7c15ull);
  r.first_byte_ns = (x & 2) != 0 ? 0 : static_cast<int64_t>(x >> 3);
  r.end_ns = static_cast<int64_t>(~x);
  const int64_t wall_minus_mono_ns = static_cast<int64_t>(x << 7);
  r.attempts = static_cast<uint32_t>(x);
  // Statuses of three digits and anything else an int holds.
  r.status = (x & 1) != 0 ? static_cast<int>(x % 1000) : static_cast<int>(static_cast<int32_t>(x >> 32));
  // Into a heap block of exactly the bound: format_to() checks no room per
  // piece, so a short bound is a write past the block, which ASan reports.
  const size_t bound = aigw::metrics::max_line_size(r);
  auto block = std::make_unique<char[]>(bound);
  const char* end = aigw::metrics::format_to(r, wall_minus_mono_ns, block.get());
  FUZZ_CHECK(static_cast<size_t>(end - block.get()) <= bound);
  const std::string line(static_cast<const char*>(block.get()), end);
  FUZZ_CHECK(!line.empty() && line.back() == '\n');
  FUZZ_CHECK(line.find('\n') == line.size() - 1);
  simdjson::dom::element e;
  FUZZ_CHECK(!parser().parse(std::string_view(line).substr(0, line.size() - 1)).get(e));
  FUZZ_CHECK(e.is_object());
  auto same = [&](const char* field, std::string_view want) {
    if (!valid_utf8(want)) return;
    simdjson::dom::element v;
    FUZZ_CHECK(!e[field].get(v));
    if (v.is_null()) {
      FUZZ_CHECK(want.empty());
      return;
    }
    std::string_view got;
    FUZZ_CHECK(!v.get_string().get(got));
    FUZZ_CHECK(got == want);
  };
  // The numbers read back as written (json/number.h's own digits).
  auto number = [&](const char* field, uint64_t want) {
    uint64_t got = 0;
    FUZZ_CHECK(!e[field].get_uint64().get(got));
    FUZZ_CHECK(got == want);
  };
  number("prompt_tokens", r.prompt_tokens);
  number("completion_tokens", r.completion_tokens);
  number("total_tokens", r.total_tokens);
  number("attempts", r.attempts);
  {
    int64_t got = 0;
    FUZZ_CHECK(!e["status"].get_int64().get(got));
    FUZZ_CHECK(got == r.status);
    std::string_view reason;
    simdjson::dom::element v;
    FUZZ_CHECK(!e["finish_reason"].get(v));
    if (!r.finish_reason || *r.finish_reason == aigw::metrics::FinishReason::count_) {
      FUZZ_CHECK(v.is_null());
    } else {
      FUZZ_CHECK(!v.get_string().get(reason));
      FUZZ_CHECK(reason == aigw::metrics::label(*r.finish_reason));
    }
  }
  {
    aigw::metrics::Peer::Text text;
    std::string_view got;
    FUZZ_CHECK(!e["client"].get_string().get(got));
    FUZZ_CHECK(got == r.peer.format(text));
  }
  same("model", parts[5]);
  same("provider", parts[6]);
  same("error", r.status >= 400 ? parts[7] : std::string_view());
  return 0;
}
