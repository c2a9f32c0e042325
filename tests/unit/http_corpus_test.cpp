// Runs the request cases of llhttp's test suite (tests/fixtures/http/
// llhttp_cases.json, llhttp in strict mode) through our parser, the way the
// server would: head, then body, then the next pipelined request.
//
// llhttp's outcome "error" must be an error for us, "complete" and "partial"
// must not be. Where we deliberately differ, the case is named below with the
// reason; the test fails if a listed case stops differing, so the list cannot
// go stale.
//
// Most llhttp cases are HTTP/1.1 requests without a Host header: they test a
// parser, not a server. We answer those 400 (RFC 9112 3.2), which the test
// checks; so that the rest of each such case is still compared, the runner
// then adds `Host: corpus` after the request line and goes on. Listing them
// all as differences would bury the ones that matter.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace aigw::http {
namespace {

struct Difference {
  const char* name;
  const char* reason;
};

constexpr const char* kUpgrade = "we ignore Upgrade and serve plain HTTP/1.1; llhttp pauses (error)";
constexpr const char* kConnect = "CONNECT parses; the server answers 405. llhttp pauses (error)";
constexpr const char* kClosed = "after Connection: close (or HTTP/1.0) we close and never read the rest";
constexpr const char* kMethod = "any token is a method for us (router answers 405/501); llhttp knows a fixed list";
constexpr const char* kNotHttp = "only HTTP/ is a protocol for us: RTSP/ and ICE/ are 400";
constexpr const char* kNoVersion = "HTTP/0.9 request lines (no version) are 400";
constexpr const char* kCodings = "only Transfer-Encoding: chunked alone; any other coding list is 501";

// Cases where our outcome differs from llhttp's, with the reason. Three more
// Upgrade cases ("Multiple tokens with folding and LWS", "Upgrade GET
// request", "Upgrade POST request") and "PRI request HTTP2" agree only
// because the bytes after the head are then read as the next request and are
// not HTTP; the error is right for us, for another reason than llhttp's.
constexpr Difference kDifferences[] = {
    {"Setting a flag and pausing", kUpgrade},
    {"Emitting part of body and pausing", kUpgrade},
    {"CONNECT request", kConnect},
    {"CONNECT request with CAPS", kConnect},
    {"CONNECT with body", kConnect},
    {"Underscore in hostname", kConnect},
    {"No restart when keep-alive is off (1.0)", kClosed},
    {"CRLF between requests, explicit `close`", kClosed},
    {"CRLF between requests, explicit `close` followed by tab", kClosed},
    {"Invalid method", kMethod},
    {"HTTP protocol and ANNOUNCE method", kMethod},
    {"SOURCE request with ICE", kNotHttp},
    {"OPTIONS request with RTSP", kNotHttp},
    {"ANNOUNCE request with RTSP", kNotHttp},
    {"No HTTP version", kNoVersion},
    {"POST with `chunked` as last transfer-encoding", kCodings},
    {"POST with `chunked` as last transfer-encoding (multiple headers)", kCodings},
};

constexpr std::string_view kMissingHost = "HTTP/1.1 request without a Host header";

std::string from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

// llhttp's harness removes one trailing newline from each ```http block before
// turning newlines into CRLF. The conversion into llhttp_cases.json removed
// one more, so a raw that ends in CRLF came from a block ending in an empty
// line and lost exactly one CRLF (checked against the offsets in llhttp's
// logs, e.g. "Trailing headers" completes at 134 = 132 + 2). Putting it back
// gives the parser the bytes llhttp saw; without it most heads would stop one
// line short and never complete. A raw not ending in CRLF may also have lost
// one, but that cannot be told apart, so it is left as is.
std::string restore_dropped_crlf(std::string raw) {
  if (raw.size() >= 2 && raw.compare(raw.size() - 2, 2, "\r\n") == 0) raw += "\r\n";
  return raw;
}

struct RunResult {
  bool error = false;
  ParseError err;
  int requests = 0;         // complete heads
  int hosts_added = 0;
};

// What the server does with `raw` arriving on one connection.
RunResult run_connection(std::string raw, bool add_host) {
  RunResult r;
  const Limits limits;
  RequestHead head;
  ChunkedDecoder decoder;
  std::string body;
  size_t pos = 0;
  while (pos < raw.size()) {
    const std::string_view rest = std::string_view(raw).substr(pos);
    const ParseStatus st = parse_request_head(rest, limits, head, r.err);
    if (st == ParseStatus::incomplete) return r;
    if (st == ParseStatus::error) {
      if (add_host && r.err.status == 400 && r.err.message == kMissingHost && r.hosts_added < 16) {
        // The head is complete and well formed up to the blank line, so the
        // first CRLF after any leading empty lines ends the request line.
        size_t line = pos;
        while (raw.compare(line, 2, "\r\n") == 0) line += 2;
        line = raw.find("\r\n", line) + 2;
        raw.insert(line, "Host: corpus\r\n");
        ++r.hosts_added;
        continue;
      }
      r.error = true;
      return r;
    }
    ++r.requests;
    pos += head.head_bytes;
    if (head.body_kind == BodyKind::length) {
      if (raw.size() - pos < head.content_length) return r;  // body still arriving
      pos += head.content_length;
    } else if (head.body_kind == BodyKind::chunked) {
      decoder.reset();
      body.clear();
      size_t consumed = 0;
      const auto res = decoder.feed(std::string_view(raw).substr(pos), consumed, body, limits, r.err);
      if (res == ChunkedDecoder::Result::error) {
        r.error = true;
        return r;
      }
      if (res == ChunkedDecoder::Result::need_more) return r;
      pos += consumed;
    }
    if (!head.keep_alive) return r;
  }
  return r;
}

TEST(HttpCorpus, LlhttpRequestCases) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const std::string path = AIGW_FIXTURES_DIR "/http/llhttp_cases.json";
  ASSERT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  simdjson::dom::array cases;
  ASSERT_EQ(doc.get_array().get(cases), simdjson::SUCCESS);

  std::set<std::string> differ_expected;
  for (const Difference& d : kDifferences) differ_expected.insert(d.name);
  std::set<std::string> differ_seen;
  int no_host = 0;

  // AIGW_CORPUS_VERBOSE=1 prints every case with both outcomes.
  const bool verbose = std::getenv("AIGW_CORPUS_VERBOSE") != nullptr;
  int ran = 0;
  int agree = 0;
  int skipped = 0;
  for (simdjson::dom::element c : cases) {
    std::string_view type;
    std::string_view name;
    std::string_view file;
    std::string_view outcome;
    std::string_view hex;
    ASSERT_EQ(c["type"].get(type), simdjson::SUCCESS);
    ASSERT_EQ(c["name"].get(name), simdjson::SUCCESS);
    ASSERT_EQ(c["file"].get(file), simdjson::SUCCESS);
    ASSERT_EQ(c["outcome"].get(outcome), simdjson::SUCCESS);
    ASSERT_EQ(c["raw"].get(hex), simdjson::SUCCESS);
    if (type != "request") {
      ++skipped;  // lenient modes and responses are out of scope
      continue;
    }
    ++ran;
    const std::string raw = restore_dropped_crlf(from_hex(hex));
    const std::string key(name);
    SCOPED_TRACE(std::string(file) + ": " + key + "\n" + testing::PrintToString(raw));

    const RunResult plain = run_connection(raw, false);
    const RunResult result = run_connection(raw, true);
    if (result.hosts_added > 0) {
      ++no_host;
      EXPECT_TRUE(plain.error && plain.err.message == kMissingHost) << "missing Host must be a 400";
    } else {
      EXPECT_EQ(plain.error, result.error);
    }

    const bool llhttp_error = outcome == "error";
    if (verbose) {
      std::string_view llhttp_reason;
      if (c["error"].get(llhttp_reason) != simdjson::SUCCESS) llhttp_reason = "-";  // null: no error
      std::printf("%-55.55s llhttp %-8.*s %-45.45s | ours %s%s\n", key.c_str(), static_cast<int>(outcome.size()),
                  outcome.data(), std::string(llhttp_reason).c_str(),
                  result.error ? (std::to_string(result.err.status) + " " + result.err.message).c_str() : "ok",
                  result.hosts_added ? " (Host added)" : "");
    }
    if (result.error == llhttp_error) {
      ++agree;
      EXPECT_FALSE(differ_expected.count(key)) << "listed in kDifferences but agrees with llhttp";
    } else {
      differ_seen.insert(key);
      EXPECT_TRUE(differ_expected.count(key))
          << "llhttp outcome " << outcome << ", ours "
          << (result.error ? std::to_string(result.err.status) + " " + result.err.message : "no error");
    }
  }

  for (const std::string& name : differ_expected) {
    EXPECT_TRUE(differ_seen.count(name)) << "kDifferences names an unknown or agreeing case: " << name;
  }
  EXPECT_GT(ran, 100);
  std::printf(
      "llhttp corpus: %d request cases ran, %d agree, %zu documented differences, "
      "%d lacked Host (400 for us; compared with Host added), %d non-request cases skipped\n",
      ran, agree, differ_seen.size(), no_host, skipped);
}

}  // namespace
}  // namespace aigw::http
