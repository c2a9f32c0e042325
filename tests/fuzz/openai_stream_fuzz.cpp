// libFuzzer target for what the openai plugin reads of a provider's answer
// and writes of a client's body (plugins/openai/): the incremental JSON
// scanner that copies out usage, stream_options and finish reasons, the
// plugin SDK's SSE splitter that cuts a stream into events, and the splice
// that rewrites a body as views of the client's bytes. All three see bytes
// in pieces cut wherever the network cut them.
//
// The first input byte picks what the rest is (mode % 3); cut points come
// from a hash of the input, so every finding reproduces from the file alone.
//   0  a JSON document for JsonScanner, fed whole and cut into pieces;
//   1  an event stream for SseSplitter, fed whole and cut, with a cap on the
//      pending event taken from the hash;
//   2  a body cut into chunks and a list of edits taken from the hash, for
//      splice_chunks.
// Besides crashes and sanitizer reports it aborts when:
//   - a document the whole-answer reader (ValueParser::answer) reads, and
//     simdjson accepts, gives a usage report or a finish reason other than
//     the scanner and ValueParser::usage give for it (what the plugin
//     reports of a non-stream answer either way);
//   - likewise for a stream event's payload (ValueParser::event): its
//     usage, choices and last finish reason against the scanner's, and the
//     scanner must call what it reads complete; and it must read every
//     object simdjson accepts up to its size limit;
//   - the scanner's results (failure, completeness, captures) depend on how
//     the document was cut; or a document simdjson accepts as an object is
//     failed by the scanner, or its usage / stream_options / choices are not
//     found, or its member and choice counts or copied values differ from
//     simdjson's; or the stream events' shortcut (may_hold_usage_or_finish,
//     braced) skips a document the scanner finds a usage or finish reason
//     in, or calls a complete object unbraced, or may_hold_usage_or_finish
//     (its 16-wide search, and its 32-wide one where the CPU has AVX2)
//     differs from its definition done with string searches, or
//     carries_content differs from its own;
//   - the splitter's events depend on the cuts, or its events and tail are
//     not the input exactly, or the one-data-line shortcut (sse.h) reads an
//     event otherwise than sdk::for_each_sse_field, or the pending event outgrows the cap without
//     overflow being reported;
//   - the splice does not give the body with the edits applied, or accepts
//     edits that are unsorted, overlap or reach past the body.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aigw_plugin.hpp"
#include "json_scan.h"
#include "splice.h"
#include "sse.h"
#include "usage.h"

namespace {

namespace o = aigw::openai_plugin;

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "openai_stream_fuzz: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// A cheap stream of numbers from the input's hash (xorshift64*).
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

std::vector<std::string_view> cut(std::string_view in, Rng& rng) {
  std::vector<std::string_view> pieces;
  size_t pos = 0;
  while (pos < in.size()) {
    const size_t left = in.size() - pos;
    const size_t n = 1 + rng.next() % (left < 17 ? left : 17);
    pieces.push_back(in.substr(pos, n));
    pos += n;
  }
  return pieces;
}

struct ScanResult {
  bool failed, complete;
  uint64_t root_open;
  uint32_t members, choices;
  bool usage_found, so_found, choices_found;
  std::string usage, so, first_finish, last_finish;
  bool operator==(const ScanResult&) const = default;
};

ScanResult scan(const std::vector<std::string_view>& pieces) {
  o::JsonScanner s(o::JsonScanner::kUsage | o::JsonScanner::kStreamOptions | o::JsonScanner::kFinishReasons);
  for (std::string_view p : pieces) s.feed(p);
  return {s.failed(), s.complete_object(), s.root_open_offset(), s.root_members(), s.choice_count(),
          s.usage_found(), s.stream_options_found(), s.choices_found(), std::string(s.usage()),
          std::string(s.stream_options()), std::string(s.first_finish_reason()), std::string(s.last_finish_reason())};
}

// The shortcut's definition, the slow way: some "finish_reason" or "usage"
// (quotes included) not followed right away by :null and then ',' or '}'.
bool any_marker_not_null(std::string_view in) {
  for (std::string_view marker : {std::string_view("\"finish_reason\""), std::string_view("\"usage\"")}) {
    for (size_t at = in.find(marker); at != std::string_view::npos; at = in.find(marker, at + 1)) {
      const std::string_view rest = in.substr(at + marker.size());
      if (!(rest.size() > 5 && rest.starts_with(":null") && (rest[5] == ',' || rest[5] == '}'))) return true;
    }
  }
  return false;
}

// carries_content's definition, the slow way: a text key right before a
// colon, then spaces or tabs and a string that is not empty; or a call key
// anywhere.
bool carries_content_slow(std::string_view in) {
  for (std::string_view key : {std::string_view("\"content\":"), std::string_view("\"text\":"),
                               std::string_view("\"refusal\":"), std::string_view("\"reasoning_content\":")}) {
    for (size_t at = in.find(key); at != std::string_view::npos; at = in.find(key, at + 1)) {
      size_t v = at + key.size();
      while (v < in.size() && (in[v] == ' ' || in[v] == '\t')) ++v;
      if (v + 1 < in.size() && in[v] == '"' && in[v + 1] != '"') return true;
    }
  }
  return in.find("\"tool_calls\"") != std::string_view::npos ||
         in.find("\"function_call\"") != std::string_view::npos;
}

void json_scanner(std::string_view in, Rng& rng) {
  const ScanResult whole = scan({in});
  const ScanResult pieces = scan(cut(in, rng));
  FUZZ_CHECK(whole == pieces);

  // The stream's shortcut: a payload it lets go unscanned is one the
  // scanner copies no usage but null and no finish reason out of, and it
  // counts no complete object as garbage.
  FUZZ_CHECK(o::may_hold_usage_or_finish(in) == any_marker_not_null(in));
  // Both searches, whichever this CPU's calls take.
  FUZZ_CHECK(o::detail::may_hold_16(in) == any_marker_not_null(in));
  if (o::detail::has_avx2()) FUZZ_CHECK(o::detail::may_hold_32(in) == any_marker_not_null(in));
  if (!o::may_hold_usage_or_finish(in)) {
    FUZZ_CHECK(whole.usage.empty() || whole.usage == "null");
    FUZZ_CHECK(whole.last_finish.empty());
    FUZZ_CHECK(whole.first_finish.empty() || whole.first_finish == "null");
  }
  if (whole.complete) FUZZ_CHECK(o::braced(in));
  // When content begins (the commit), found by byte patterns.
  FUZZ_CHECK(o::carries_content(in) == carries_content_slow(in));

  // A non-stream answer's report, read in one pass and by the scanner. The
  // one pass does not check brackets it skips, nor what follows the root;
  // where simdjson's full parse accepts the document the two must agree.
  static o::ValueParser values;
  o::AnswerFacts fast;
  const aigw_host_bytes chunk{reinterpret_cast<const uint8_t*>(in.data()), in.size()};
  const bool read_fast = values.answer(&chunk, 1, fast);
  const std::string fast_finish(fast.first_finish);
  o::AnswerFacts slow;
  slow.have_usage = whole.usage_found && values.usage(whole.usage, slow.usage);

  static simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const bool valid = !parser.parse(in.data(), in.size()).get(doc);
  // (The scanner drops a usage over 16 KiB, which a shorter document
  // cannot hold.)
  if (read_fast && valid && in.size() <= 16 * 1024) {
    FUZZ_CHECK(fast.have_usage == slow.have_usage);
    if (fast.have_usage) FUZZ_CHECK(std::memcmp(&fast.usage, &slow.usage, sizeof fast.usage) == 0);
    // Both give a string's raw text; another value the scanner copies whole
    // and the one pass gives by its first token, and either way it is
    // reported as an unknown reason.
    const std::string& slow_finish = whole.first_finish;
    FUZZ_CHECK(fast_finish.empty() == slow_finish.empty());
    FUZZ_CHECK((fast_finish == "null") == (slow_finish == "null"));
    FUZZ_CHECK(o::finish_reason_from(fast_finish) == o::finish_reason_from(slow_finish));
    if (!fast_finish.empty() && fast_finish.front() == '"') FUZZ_CHECK(fast_finish == slow_finish);
  }

  // A stream event's payload, read in one pass (ValueParser::event) and as
  // Request::on_event reads the scanner's results. The pass refuses
  // anything after the root, so where it reads a document simdjson's full
  // parse accepts, the scanner must call it complete and agree.
  o::EventFacts event;
  const bool read_event = values.event(in, event);
  const std::string event_finish(event.last_finish);
  if (read_event && valid && in.size() <= o::ValueParser::kMaxEvent) {
    FUZZ_CHECK(whole.complete);
    aigw_usage usage{};
    const bool have_usage = whole.usage_found && values.usage(whole.usage, usage);
    FUZZ_CHECK(event.have_usage == have_usage);
    if (have_usage) FUZZ_CHECK(std::memcmp(&event.usage, &usage, sizeof usage) == 0);
    FUZZ_CHECK(event.choices_found == whole.choices_found);
    FUZZ_CHECK(event.choice_count == whole.choices);
    const std::string& slow_finish = whole.last_finish;
    FUZZ_CHECK(event_finish.empty() == slow_finish.empty());
    FUZZ_CHECK(o::finish_reason_from(event_finish) == o::finish_reason_from(slow_finish));
    if (!event_finish.empty() && event_finish.front() == '"') FUZZ_CHECK(event_finish == slow_finish);
  }

  if (!valid) return;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return;
  FUZZ_CHECK(!whole.failed);
  FUZZ_CHECK(whole.complete);
  // Every object short enough is read by the one pass: the fast path is
  // the one taken, not a refusal that leaves every event to the scanner.
  if (in.size() <= o::ValueParser::kMaxEvent) FUZZ_CHECK(read_event);
  // Keys are compared as the scanner sees them, raw; simdjson unescapes.
  // Providers do not escape plain ASCII keys, so that difference is not
  // checked.
  if (in.find('\\') != std::string_view::npos) return;
  simdjson::dom::element v;
  if (!obj["usage"].get(v)) FUZZ_CHECK(whole.usage_found);
  if (!obj["stream_options"].get(v)) FUZZ_CHECK(whole.so_found);
  if (!obj["choices"].get(v) && v.is_array()) FUZZ_CHECK(whole.choices_found);

  // What the scanner counts and copies out is what simdjson reads: the
  // root's members, the choices, and (where a key is there once, and the
  // copy was kept) the values, compared minified. The scanner walks most
  // containers by their brackets alone, so this is where a wrong turn in
  // one would show.
  size_t members = 0;
  std::vector<simdjson::dom::element> usages, options, choices;
  for (simdjson::dom::key_value_pair field : obj) {
    ++members;
    if (field.key == "usage") usages.push_back(field.value);
    if (field.key == "stream_options") options.push_back(field.value);
    if (field.key == "choices") choices.push_back(field.value);
  }
  FUZZ_CHECK(whole.members == members);
  static simdjson::dom::parser copy_parser;
  // A copy is dropped (empty) only past the scanner's 16 KiB limit, which a
  // shorter document cannot reach.
  const bool may_drop = in.size() > 16 * 1024;
  auto same_value = [may_drop](const std::string& copied, simdjson::dom::element want) {
    FUZZ_CHECK(!copied.empty() || may_drop);
    if (copied.empty()) return;
    simdjson::dom::element got;
    FUZZ_CHECK(!copy_parser.parse(copied).get(got));
    FUZZ_CHECK(simdjson::minify(got) == simdjson::minify(want));
  };
  if (usages.size() == 1) same_value(whole.usage, usages[0]);
  if (options.size() == 1) same_value(whole.so, options[0]);
  simdjson::dom::array list;
  if (choices.size() != 1 || choices[0].get_array().get(list)) return;
  FUZZ_CHECK(whole.choices == list.size());
  simdjson::dom::object first;
  if (list.size() == 0 || list.at(0).get_object().get(first)) return;
  std::vector<simdjson::dom::element> reasons;
  for (simdjson::dom::key_value_pair field : first) {
    if (field.key == "finish_reason") reasons.push_back(field.value);
  }
  if (reasons.size() == 1) same_value(whole.first_finish, reasons[0]);
}

struct Split {
  std::vector<std::string> events;
  std::vector<size_t> lines;  // event_lines() during each event's call
  std::string tail;
  bool overflow = false;
};

Split split(const std::vector<std::string_view>& pieces, size_t cap) {
  aigw::sdk::SseSplitter splitter(cap);
  Split out;
  for (std::string_view p : pieces) {
    const bool ok = splitter.feed(p, [&](std::string_view e) {
      out.events.emplace_back(e);
      out.lines.push_back(splitter.event_lines());
      return true;
    });
    // What the splitter holds stays within its cap, overflow or not.
    FUZZ_CHECK(splitter.tail().size() <= cap);
    if (!ok) {
      FUZZ_CHECK(splitter.overflow());
      out.overflow = true;
      break;
    }
  }
  out.tail = std::string(splitter.tail());
  return out;
}

void sse_splitter(std::string_view in, Rng& rng) {
  const size_t cap = 1 + rng.next() % 256;
  const Split whole = split({in}, aigw::sdk::SseSplitter::kDefaultMaxEvent);
  FUZZ_CHECK(!whole.overflow);
  std::string joined;
  for (size_t k = 0; k < whole.events.size(); ++k) {
    const std::string& e = whole.events[k];
    FUZZ_CHECK(!e.empty() && e.back() == '\n');
    joined += e;
    // event_lines() is the number of lines with a byte other than CR.
    size_t lines = 0;
    for (size_t at = 0; at < e.size();) {
      const size_t nl = e.find('\n', at);
      if (e.find_first_not_of('\r', at) < nl) ++lines;
      at = nl + 1;
    }
    FUZZ_CHECK(whole.lines[k] == lines);
    // For a one-line event, the plugin takes the line's end from the
    // event's end, and must read what the search reads.
    std::string_view by_search;
    const bool searched = o::one_data_line(e, by_search);
    if (lines == 1) {
      std::string_view by_end;
      FUZZ_CHECK(o::one_line_data(e, by_end) == searched);
      FUZZ_CHECK(by_end == by_search);
    } else {
      FUZZ_CHECK(!searched);
    }
    // The plugin's one-data-line shortcut reads what the SDK's field
    // reader reads: a single data field with the same value.
    if (searched) {
      size_t fields = 0;
      std::string_view slow;
      aigw::sdk::for_each_sse_field(e, [&](std::string_view name, std::string_view value) {
        ++fields;
        if (name == "data") slow = value;
      });
      FUZZ_CHECK(fields == 1);
      FUZZ_CHECK(slow == by_search);
    }
  }
  FUZZ_CHECK(joined + whole.tail == in);

  const Split pieces = split(cut(in, rng), cap);
  if (!pieces.overflow) {
    FUZZ_CHECK(pieces.events == whole.events);
    FUZZ_CHECK(pieces.lines == whole.lines);
    FUZZ_CHECK(pieces.tail == whole.tail);
  } else {
    // Cut short by the cap: what came out before is the same.
    FUZZ_CHECK(pieces.events.size() <= whole.events.size());
    for (size_t i = 0; i < pieces.events.size(); ++i) {
      FUZZ_CHECK(pieces.events[i] == whole.events[i]);
      FUZZ_CHECK(pieces.lines[i] == whole.lines[i]);
    }
  }
}

void splice(std::string_view in, Rng& rng) {
  const std::vector<std::string_view> pieces = cut(in, rng);
  std::vector<aigw_host_bytes> body;
  for (std::string_view p : pieces) body.push_back({reinterpret_cast<const uint8_t*>(p.data()), p.size()});

  static const std::string_view kInserts[] = {"", "x", "\"gpt-4o-mini\"", "\"stream_options\":{}"};
  std::vector<o::Edit> edits(rng.next() % 5);
  bool valid = true;
  uint64_t at = 0;
  for (o::Edit& e : edits) {
    // Mostly in order and inside the body; sometimes not, on purpose.
    const uint64_t r = rng.next();
    e.offset = (r & 7) == 0 ? r % (in.size() + 4) : at + (r >> 8) % (in.size() / 4 + 2);
    e.remove = (r >> 20) % 6;
    e.insert = kInserts[(r >> 32) % 4];
    if (e.offset < at || e.offset + e.remove > in.size()) valid = false;
    at = e.offset + e.remove;
  }
  std::vector<aigw_plugin_bytes> out(o::max_spliced_chunks(body.size(), edits.size()));
  const size_t n = o::splice_chunks(body.data(), body.size(), edits.data(), edits.size(), out.data());
  if (!valid) {
    FUZZ_CHECK(n == SIZE_MAX);
    return;
  }
  FUZZ_CHECK(n != SIZE_MAX && n <= out.size());
  std::string want;
  uint64_t pos = 0;
  for (const o::Edit& e : edits) {
    want.append(in.substr(pos, e.offset - pos));
    want.append(e.insert);
    pos = e.offset + e.remove;
  }
  want.append(in.substr(pos));
  std::string got;
  for (size_t i = 0; i < n; ++i) {
    FUZZ_CHECK(out[i].len > 0);  // empty views are left out
    got.append(reinterpret_cast<const char*>(out[i].ptr), out[i].len);
  }
  FUZZ_CHECK(got == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Rng rng{fnv1a(in) | 1};
  switch (data[0] % 3) {
    case 0: json_scanner(in, rng); break;
    case 1: sse_splitter(in, rng); break;
    default: splice(in, rng); break;
  }
  return 0;
}
