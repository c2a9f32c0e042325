// libFuzzer target for the request head parser and the chunked decoder.
//
// The input is the byte stream of one client connection. It is handled as the
// server would: parse a head, read its body (length or chunked), go on with
// the next pipelined request. Besides crashes and sanitizer reports, it checks
// properties that must hold for every input:
//   - a prefix of a head that is complete or incomplete is never an error;
//   - every view lies inside the input, limits are respected;
//   - the chunked decoder gives the same result however the input is cut.
// Split points and a second set of tight limits are derived from a hash of
// the input, so every finding reproduces from the input file alone.
//
// Built with clang -fsanitize=fuzzer for fuzzing, and with corpus_main.cpp as
// a plain test that runs the seed corpus (see README.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "http/request.h"

namespace {

using aigw::http::BodyKind;
using aigw::http::ChunkedDecoder;
using aigw::http::Header;
using aigw::http::Limits;
using aigw::http::parse_request_head;
using aigw::http::ParseError;
using aigw::http::ParseStatus;
using aigw::http::RequestHead;

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
  FUZZ_CHECK(err.code != nullptr && err.code[0] != '\0');
  FUZZ_CHECK(err.message != nullptr && err.message[0] != '\0');
  const int s = err.status;
  FUZZ_CHECK(s == 400 || s == 413 || s == 414 || s == 417 || s == 431 || s == 501 || s == 505);
}

void check_head(std::string_view data, const Limits& limits, const RequestHead& h) {
  FUZZ_CHECK(h.head_bytes >= 4 && h.head_bytes <= data.size());
  FUZZ_CHECK(h.head_bytes <= limits.max_header_bytes);
  const std::string_view head = data.substr(0, h.head_bytes);
  FUZZ_CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  FUZZ_CHECK(!h.method_text.empty() && inside(head, h.method_text));
  FUZZ_CHECK(!h.target.empty() && inside(head, h.target));
  FUZZ_CHECK(h.target.size() <= limits.max_uri_bytes);
  FUZZ_CHECK(inside(h.target, h.path) && inside(h.target, h.query));
  FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
  FUZZ_CHECK(inside(head, h.host));
  FUZZ_CHECK(h.headers.size() <= limits.max_header_count);
  for (const Header& f : h.headers) {
    FUZZ_CHECK(!f.name.empty() && inside(head, f.name) && inside(head, f.value));
    for (char c : f.name) FUZZ_CHECK(c > 0x20 && c < 0x7f && c != ':');
    for (char c : f.value) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
    if (!f.value.empty()) FUZZ_CHECK(!is_ows(f.value.front()) && !is_ows(f.value.back()));
  }
  if (h.body_kind == BodyKind::length) FUZZ_CHECK(h.content_length <= limits.max_body_bytes);
  if (h.body_kind == BodyKind::chunked) FUZZ_CHECK(h.version_minor == 1);
  if (h.version_minor == 1) FUZZ_CHECK(!h.header("host").data() || h.header("host") == h.host);
}

// A prefix of an input that is not an error must be incomplete, or, once it
// covers the whole head, give the same head.
void check_prefix(std::string_view data, const Limits& limits, ParseStatus full_status,
                  const RequestHead& full, size_t k) {
  const std::string prefix(data.substr(0, k));  // own buffer: over-reads show under ASan
  RequestHead h;
  ParseError err;
  const ParseStatus s = parse_request_head(prefix, limits, h, err);
  if (full_status == ParseStatus::complete && k >= full.head_bytes) {
    FUZZ_CHECK(s == ParseStatus::complete);
    FUZZ_CHECK(h.head_bytes == full.head_bytes && h.headers.size() == full.headers.size());
    FUZZ_CHECK(h.body_kind == full.body_kind && h.content_length == full.content_length);
    FUZZ_CHECK(h.keep_alive == full.keep_alive && h.target == full.target);
  } else {
    FUZZ_CHECK(s == ParseStatus::incomplete);
  }
}

struct ChunkedOutcome {
  ChunkedDecoder::Result result = ChunkedDecoder::Result::need_more;
  size_t consumed = 0;
  std::string body;
  ParseError err;
};

// Feeds `in` cut at points from `rng` (or whole when rng is null).
ChunkedOutcome decode_chunked(std::string_view in, const Limits& limits, Rng* rng) {
  ChunkedOutcome out;
  ChunkedDecoder dec;
  size_t pos = 0;
  do {
    const size_t left = in.size() - pos;
    size_t n = left;
    if (rng != nullptr && left > 0) {
      // Mostly small pieces, so that every state gets cut somewhere.
      n = 1 + ((rng->next() & 3) == 0 ? rng->below(left) : rng->below(left < 8 ? left : 8));
    }
    const std::string piece(in.substr(pos, n));
    size_t consumed = 0;
    out.result = dec.feed(piece, consumed, out.body, limits, out.err);
    FUZZ_CHECK(consumed <= piece.size());
    out.consumed += consumed;
    if (out.result != ChunkedDecoder::Result::need_more) break;
    FUZZ_CHECK(consumed == piece.size());
    pos += n;
  } while (pos < in.size());
  FUZZ_CHECK(out.body.size() <= limits.max_body_bytes);
  if (out.result == ChunkedDecoder::Result::error) check_error(out.err);
  // Once finished, the decoder stays finished.
  if (out.result != ChunkedDecoder::Result::need_more) {
    size_t consumed = 1;
    std::string more;
    ParseError err;
    FUZZ_CHECK(dec.feed("0\r\n\r\n", consumed, more, limits, err) == out.result);
    FUZZ_CHECK(consumed == 0 && more.empty());
  }
  return out;
}

// Returns the bytes the body took, or npos when the connection stops here.
size_t run_chunked(std::string_view in, const Limits& limits, Rng& rng) {
  const ChunkedOutcome whole = decode_chunked(in, limits, nullptr);
  const ChunkedOutcome split = decode_chunked(in, limits, &rng);
  FUZZ_CHECK(whole.result == split.result);
  FUZZ_CHECK(whole.body == split.body);
  FUZZ_CHECK(whole.consumed == split.consumed);
  if (whole.result == ChunkedDecoder::Result::error) {
    FUZZ_CHECK(whole.err.status == split.err.status);
    FUZZ_CHECK(std::strcmp(whole.err.message, split.err.message) == 0);
  }
  if (whole.result != ChunkedDecoder::Result::done) return std::string_view::npos;
  return whole.consumed;
}

// One connection's worth of requests, as the server would read them.
void run_connection(std::string_view data, const Limits& limits, Rng& rng) {
  RequestHead head;
  ParseError err;
  size_t pos = 0;
  for (int requests = 0; requests < 8 && pos < data.size(); ++requests) {
    const std::string_view rest = data.substr(pos);
    const ParseStatus s = parse_request_head(rest, limits, head, err);
    if (s == ParseStatus::error) {
      check_error(err);
      return;
    }
    if (rest.size() > 0) check_prefix(rest, limits, s, head, rng.below(rest.size()));
    if (s == ParseStatus::incomplete) return;
    check_head(rest, limits, head);
    pos += head.head_bytes;
    if (head.body_kind == BodyKind::length) {
      if (data.size() - pos < head.content_length) return;
      pos += static_cast<size_t>(head.content_length);
    } else if (head.body_kind == BodyKind::chunked) {
      const size_t used = run_chunked(data.substr(pos), limits, rng);
      if (used == std::string_view::npos) return;
      pos += used;
    }
    if (!head.keep_alive) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Rng rng{fnv1a(data, size)};

  run_connection(in, Limits{}, rng);

  // Tight limits make 413/414/431 reachable with short inputs.
  Limits tight;
  tight.max_header_bytes = 8 + rng.below(256);
  tight.max_header_count = rng.below(6);
  tight.max_uri_bytes = rng.below(40);
  tight.max_body_bytes = rng.below(64);
  run_connection(in, tight, rng);

  // The head grammar rarely lets mutated bytes reach the decoder, so it also
  // gets the raw input as a body.
  run_chunked(in, Limits{}, rng);
  run_chunked(in, tight, rng);
  return 0;
}
