// libFuzzer target for the upstream side: the response head parser, chunked
// response bodies and the Server-Sent Events reader.
//
// The first input byte picks what the rest is (mode & 3):
//   0  the bytes of one upstream connection, read as the client would: head,
//      1xx skipped, body by length / chunked / until close, next response;
//      bit 2 of the mode byte says the request was HEAD;
//   1  the same with tight limits (derived from a hash of the input);
//   2  a text/event-stream body for SseReader;
//   3  a chunked body whose payload is an event stream: ChunkedDecoder into
//      SseReader, as a streamed completion is read.
// Besides crashes and sanitizer reports it aborts when a property breaks:
//   - a prefix of a head that is complete or incomplete is never an error;
//   - every view lies inside the input, limits and the framing rules hold;
//   - the decoder and the SSE reader give the same result however the input
//     is cut (cut points come from a hash of the input, so every finding
//     reproduces from the file alone);
//   - every event read back through append_sse_event gives the same event.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "http/response_parser.h"
#include "http/sse.h"

namespace {

using aigw::http::append_sse_event;
using aigw::http::ChunkedDecoder;
using aigw::http::DecodedBytes;
using aigw::http::Header;
using aigw::http::parse_response_head;
using aigw::http::ParseError;
using aigw::http::ParseStatus;
using aigw::http::ResponseBodyKind;
using aigw::http::ResponseHead;
using aigw::http::ResponseLimits;
using aigw::http::SseEvent;
using aigw::http::SseReader;
using aigw::http::to_upstream_error;

// Not assert(): must stay active in release builds.
#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz check failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

struct Rng {
  uint64_t state;
  uint64_t next() {  // splitmix64
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  // Mostly small pieces, so that every state gets cut somewhere.
  size_t piece(size_t left) {
    if (left == 0) return 0;
    return 1 + ((next() & 3) == 0 ? below(left) : below(left < 8 ? left : 8));
  }
};

uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
  return h;
}

bool inside(std::string_view outer, std::string_view inner) {
  if (inner.empty()) return true;  // an empty view may point anywhere
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

void check_error(const ParseError& err) {
  FUZZ_CHECK(err.status == 502);
  FUZZ_CHECK(std::strcmp(err.code, "bad_upstream_response") == 0 ||
             std::strcmp(err.code, "upstream_response_too_large") == 0);
  FUZZ_CHECK(err.message != nullptr && err.message[0] != '\0');
}

void check_head(std::string_view data, bool request_was_head, const ResponseLimits& limits,
                const ResponseHead& h) {
  FUZZ_CHECK(h.head_bytes >= 16 && h.head_bytes <= data.size());  // "HTTP/1.1 200\r\n\r\n"
  FUZZ_CHECK(h.head_bytes <= limits.max_header_bytes);
  const std::string_view head = data.substr(0, h.head_bytes);
  FUZZ_CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(h.status >= 100 && h.status <= 599 && h.status != 101);
  FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
  FUZZ_CHECK(inside(head, h.reason));
  for (char c : h.reason) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  FUZZ_CHECK(h.headers.size() <= limits.max_header_count);
  for (const Header& f : h.headers) {
    FUZZ_CHECK(!f.name.empty() && inside(head, f.name) && inside(head, f.value));
    for (char c : f.name) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != ':');
    for (char c : f.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    if (!f.value.empty()) FUZZ_CHECK(!is_ows(f.value.front()) && !is_ows(f.value.back()));
  }
  const bool no_body = h.status < 200 || h.status == 204 || h.status == 304 || request_was_head;
  FUZZ_CHECK(no_body == (h.body_kind == ResponseBodyKind::none));
  if (h.body_kind == ResponseBodyKind::length) FUZZ_CHECK(h.content_length <= limits.max_body_bytes);
  if (h.body_kind == ResponseBodyKind::chunked) FUZZ_CHECK(h.version_minor == 1);
  if (h.body_kind == ResponseBodyKind::until_close) FUZZ_CHECK(!h.keep_alive);
  FUZZ_CHECK(h.informational() == (h.status < 200));
}

// A prefix of an input that is not an error must be incomplete, or, once it
// covers the whole head, give the same head.
void check_prefix(std::string_view data, bool request_was_head, const ResponseLimits& limits,
                  ParseStatus full_status, const ResponseHead& full, size_t k) {
  const std::string prefix(data.substr(0, k));  // own buffer: over-reads show under ASan
  ResponseHead h;
  ParseError err;
  const ParseStatus s = parse_response_head(prefix, request_was_head, limits, h, err);
  if (full_status == ParseStatus::complete && k >= full.head_bytes) {
    FUZZ_CHECK(s == ParseStatus::complete);
    FUZZ_CHECK(h.head_bytes == full.head_bytes && h.headers.size() == full.headers.size());
    FUZZ_CHECK(h.status == full.status && h.body_kind == full.body_kind);
    FUZZ_CHECK(h.content_length == full.content_length && h.keep_alive == full.keep_alive);
  } else {
    FUZZ_CHECK(s == ParseStatus::incomplete);
  }
}

// ---- SSE ----

struct Event {
  std::string event;
  std::string data;
  std::string id;
  size_t raw_bytes;
  bool operator==(const Event&) const = default;
};

struct SseOutcome {
  std::vector<Event> events;
  bool failed = false;
  bool pending = false;
  bool saw_done = false;
};

class SseCollector {
 public:
  explicit SseCollector(size_t max_event) : reader_(max_event) {}
  void feed(std::string_view piece) {
    const std::string copy(piece);  // exact-size buffer: a view kept past feed() shows under ASan
    const auto st = reader_.feed(copy, [&](const SseEvent& e) {
      FUZZ_CHECK(e.raw_bytes > 0);
      FUZZ_CHECK(e.event.find_first_of("\r\n") == std::string_view::npos);
      FUZZ_CHECK(e.data.find('\r') == std::string_view::npos);
      out_.events.push_back(Event{std::string(e.event), std::string(e.data), std::string(e.id), e.raw_bytes});
    });
    FUZZ_CHECK((st == SseReader::Status::error) == reader_.failed());
  }
  SseOutcome finish() {
    out_.failed = reader_.failed();
    out_.pending = reader_.pending();
    out_.saw_done = reader_.saw_done();
    FUZZ_CHECK(reader_.events() == out_.events.size());
    return out_;
  }

 private:
  SseReader reader_;
  SseOutcome out_;
};

SseOutcome read_sse(std::string_view in, size_t max_event, Rng* rng) {
  SseCollector c(max_event);
  size_t pos = 0;
  do {
    const size_t n = rng != nullptr ? rng->piece(in.size() - pos) : in.size() - pos;
    c.feed(in.substr(pos, n));
    pos += n;
  } while (pos < in.size());
  return c.finish();
}

void check_same(const SseOutcome& a, const SseOutcome& b) {
  FUZZ_CHECK(a.events == b.events);
  FUZZ_CHECK(a.failed == b.failed && a.pending == b.pending && a.saw_done == b.saw_done);
}

void run_sse(std::string_view in, Rng& rng) {
  const size_t max_event = (rng.next() & 1) ? SseReader::kDefaultMaxEventBytes : 1 + rng.below(128);
  const SseOutcome whole = read_sse(in, max_event, nullptr);
  check_same(whole, read_sse(in, max_event, &rng));
  size_t raw = 0;
  for (const Event& e : whole.events) raw += e.raw_bytes;
  FUZZ_CHECK(raw <= in.size());

  // What the reader gave, written back, reads the same (the id is stream
  // state, not part of what append_sse_event writes).
  std::string written;
  for (const Event& e : whole.events) append_sse_event(written, e.data, e.event);
  const SseOutcome again = read_sse(written, SseReader::kDefaultMaxEventBytes, &rng);
  FUZZ_CHECK(!again.failed && !again.pending);
  FUZZ_CHECK(again.events.size() == whole.events.size());
  for (size_t i = 0; i < again.events.size(); ++i) {
    FUZZ_CHECK(again.events[i].data == whole.events[i].data);
    FUZZ_CHECK(again.events[i].event == whole.events[i].event);
  }
}

// ---- chunked bodies ----

struct ChunkedOutcome {
  ChunkedDecoder::Result result = ChunkedDecoder::Result::need_more;
  size_t consumed = 0;
  std::string body;
  ParseError err;
};

// Feeds `in` cut at points from `rng` (or whole when rng is null); the
// payload goes on into `sse` when given, piece by piece as it is decoded.
// Cut, it is read as the upstream client reads it (DecodedBytes: a view into
// each piece, joined only when a piece holds several runs of data), so
// comparing with the whole, appended form also checks the two forms agree.
ChunkedOutcome decode_chunked(std::string_view in, const ResponseLimits& limits, Rng* rng,
                              SseCollector* sse) {
  ChunkedOutcome out;
  ChunkedDecoder dec;
  size_t pos = 0;
  do {
    const size_t left = in.size() - pos;
    const size_t n = rng != nullptr ? rng->piece(left) : left;
    const std::string piece(in.substr(pos, n));
    size_t consumed = 0;
    const size_t before = out.body.size();
    if (rng != nullptr) {
      std::string spill;
      DecodedBytes got(spill);
      out.result = dec.feed(piece, consumed, got, limits.chunked_limits(), out.err);
      const std::string_view data = got.data();
      if (!got.spilled() && !data.empty()) {
        FUZZ_CHECK(data.data() >= piece.data() && data.data() + data.size() <= piece.data() + piece.size());
      }
      out.body.append(data);
    } else {
      out.result = dec.feed(piece, consumed, out.body, limits.chunked_limits(), out.err);
    }
    if (sse != nullptr && out.body.size() > before) sse->feed(std::string_view(out.body).substr(before));
    FUZZ_CHECK(consumed <= piece.size());
    out.consumed += consumed;
    if (out.result != ChunkedDecoder::Result::need_more) break;
    FUZZ_CHECK(consumed == piece.size());
    pos += n;
  } while (pos < in.size());
  FUZZ_CHECK(out.body.size() <= limits.max_body_bytes);
  if (out.result == ChunkedDecoder::Result::error) check_error(to_upstream_error(out.err));
  return out;
}

// Returns the bytes the body took, or npos when the connection stops here.
size_t run_chunked(std::string_view in, const ResponseLimits& limits, Rng& rng) {
  const ChunkedOutcome whole = decode_chunked(in, limits, nullptr, nullptr);
  const ChunkedOutcome split = decode_chunked(in, limits, &rng, nullptr);
  FUZZ_CHECK(whole.result == split.result && whole.body == split.body && whole.consumed == split.consumed);
  if (whole.result != ChunkedDecoder::Result::done) return std::string_view::npos;
  return whole.consumed;
}

void run_chunked_sse(std::string_view in, Rng& rng) {
  ResponseLimits limits;
  limits.max_body_bytes = 1 << 20;
  SseCollector a(SseReader::kDefaultMaxEventBytes);
  SseCollector b(SseReader::kDefaultMaxEventBytes);
  const ChunkedOutcome whole = decode_chunked(in, limits, nullptr, &a);
  const ChunkedOutcome split = decode_chunked(in, limits, &rng, &b);
  FUZZ_CHECK(whole.result == split.result && whole.body == split.body);
  check_same(a.finish(), b.finish());
}

// ---- one upstream connection ----

void run_connection(std::string_view data, bool request_was_head, const ResponseLimits& limits, Rng& rng) {
  ResponseHead head;
  ParseError err;
  size_t pos = 0;
  for (int heads = 0; heads < 8 && pos < data.size(); ++heads) {
    const std::string_view rest = data.substr(pos);
    const ParseStatus s = parse_response_head(rest, request_was_head, limits, head, err);
    if (s == ParseStatus::error) {
      check_error(err);
      return;
    }
    check_prefix(rest, request_was_head, limits, s, head, rng.below(rest.size()));
    if (s == ParseStatus::incomplete) return;
    check_head(rest, request_was_head, limits, head);
    pos += head.head_bytes;
    if (head.informational()) continue;
    switch (head.body_kind) {
      case ResponseBodyKind::none:
        break;
      case ResponseBodyKind::length:
        if (data.size() - pos < head.content_length) return;
        pos += static_cast<size_t>(head.content_length);
        break;
      case ResponseBodyKind::chunked: {
        const size_t used = run_chunked(data.substr(pos), limits, rng);
        if (used == std::string_view::npos) return;
        pos += used;
        break;
      }
      case ResponseBodyKind::until_close:
        return;
    }
    if (!head.keep_alive) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Rng rng{fnv1a(data, size)};

  switch (mode & 3) {
    case 0:
      run_connection(in, (mode & 4) != 0, ResponseLimits{}, rng);
      break;
    case 1: {
      // Tight limits make the too-large paths reachable with short inputs.
      ResponseLimits tight;
      tight.max_header_bytes = 8 + rng.below(256);
      tight.max_header_count = rng.below(6);
      tight.max_body_bytes = rng.below(64);
      run_connection(in, (mode & 4) != 0, tight, rng);
      run_chunked(in, tight, rng);
      break;
    }
    case 2:
      run_sse(in, rng);
      break;
    default:
      run_chunked_sse(in, rng);
      break;
  }
  return 0;
}
