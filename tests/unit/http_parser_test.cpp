// Tests for src/http/request_parser.cpp: one test per rule of the strict
// request-head grammar, plus pipelining and split-point properties.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "http/scan.h"

namespace aigw::http {
namespace {

using namespace std::string_literals;

struct Parsed {
  ParseStatus status = ParseStatus::incomplete;
  RequestHead head;
  ParseError err;
};

Parsed parse(std::string_view data, const Limits& limits = {}) {
  Parsed r;
  r.status = parse_request_head(data, limits, r.head, r.err);
  return r;
}

// A request that parses cleanly; the head must be the whole input. The
// returned views point into a copy kept for the rest of the test program, so
// callers may pass temporaries.
RequestHead parse_ok(std::string_view input, const Limits& limits = {}) {
  static std::deque<std::string> keep;
  const std::string_view data = keep.emplace_back(input);
  Parsed r = parse(data, limits);
  EXPECT_EQ(r.status, ParseStatus::complete) << "input: " << data << "\nerror: " << r.err.message;
  if (r.status == ParseStatus::complete) {
    EXPECT_EQ(r.head.head_bytes, data.size());
  }
  return r.head;
}

void expect_error(std::string_view data, int status, std::string_view code,
                  const Limits& limits = {}) {
  Parsed r = parse(data, limits);
  ASSERT_EQ(r.status, ParseStatus::error) << "input: " << testing::PrintToString(std::string(data));
  EXPECT_EQ(r.err.status, status) << r.err.message;
  EXPECT_EQ(std::string_view(r.err.code), code);
  ASSERT_NE(r.err.message, nullptr);
  EXPECT_GT(std::strlen(r.err.message), 0u);
}

void expect_400(std::string_view data) { expect_error(data, 400, "bad_request"); }

// The head the OpenAI python SDK sends for a chat completion (shape only).
const std::string kChatHead =
    "POST /v1/chat/completions HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: OpenAI/Python 1.51.0\r\n"
    "Authorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH\r\n"
    "Content-Type: application/json\r\n"
    "Accept: application/json\r\n"
    "Content-Length: 123\r\n"
    "X-Stainless-Lang: python\r\n"
    "X-Stainless-Package-Version: 1.51.0\r\n"
    "X-Stainless-Retry-Count: 0\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

TEST(HttpParser, TypicalChatCompletion) {
  RequestHead h = parse_ok(kChatHead);
  EXPECT_EQ(h.method, Method::post);
  EXPECT_EQ(h.method_text, "POST");
  EXPECT_EQ(h.target, "/v1/chat/completions");
  EXPECT_EQ(h.path, "/v1/chat/completions");
  EXPECT_EQ(h.query, "");
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.headers.size(), 10u);
  EXPECT_EQ(h.headers[0].name, "Host");
  EXPECT_EQ(h.headers[0].value, "api.example.com");
  EXPECT_EQ(h.host, "api.example.com");
  EXPECT_EQ(h.body_kind, BodyKind::length);
  EXPECT_EQ(h.content_length, 123u);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.expect_continue);
  EXPECT_EQ(h.header("content-type"), "application/json");
  EXPECT_EQ(h.header("AUTHORIZATION"),
            "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH");
  EXPECT_EQ(h.header("x-missing"), "");
}

TEST(HttpParser, ViewsPointIntoInput) {
  Parsed r = parse(kChatHead);
  ASSERT_EQ(r.status, ParseStatus::complete);
  const char* b = kChatHead.data();
  const char* e = b + kChatHead.size();
  auto inside = [&](std::string_view v) { return v.data() >= b && v.data() + v.size() <= e; };
  EXPECT_TRUE(inside(r.head.method_text));
  EXPECT_TRUE(inside(r.head.target));
  EXPECT_TRUE(inside(r.head.host));
  for (const Header& h : r.head.headers) {
    EXPECT_TRUE(inside(h.name));
    EXPECT_TRUE(inside(h.value));
  }
}

TEST(HttpParser, HeadersVectorIsReusedNotShrunk) {
  RequestHead head;
  ParseError err;
  head.headers.reserve(64);
  const size_t cap = head.headers.capacity();
  ASSERT_EQ(parse_request_head(kChatHead, Limits{}, head, err), ParseStatus::complete);
  EXPECT_EQ(head.headers.size(), 10u);
  EXPECT_EQ(head.headers.capacity(), cap);
  ASSERT_EQ(parse_request_head("GET / HTTP/1.1\r\nHost: a\r\n\r\n", Limits{}, head, err),
            ParseStatus::complete);
  EXPECT_EQ(head.headers.size(), 1u);
  EXPECT_EQ(head.headers.capacity(), cap);
  // State from the previous request must not leak into the next one.
  EXPECT_EQ(head.body_kind, BodyKind::none);
  EXPECT_EQ(head.content_length, 0u);
}

TEST(HttpParser, TargetPathAndQuery) {
  RequestHead h = parse_ok("GET /v1/models?limit=5&after=x?y HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.target, "/v1/models?limit=5&after=x?y");
  EXPECT_EQ(h.path, "/v1/models");
  EXPECT_EQ(h.query, "limit=5&after=x?y");
  h = parse_ok("GET /x? HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.path, "/x");
  EXPECT_EQ(h.query, "");
  h = parse_ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.target, "*");
  EXPECT_EQ(h.method, Method::options);
  h = parse_ok("GET http://example.com:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  EXPECT_EQ(h.path, "http://example.com:8080/a");
  EXPECT_EQ(h.query, "b");
}

TEST(HttpParser, Methods) {
  struct Case {
    const char* text;
    Method m;
  } cases[] = {{"GET", Method::get},         {"HEAD", Method::head},   {"POST", Method::post},
               {"PUT", Method::put},         {"DELETE", Method::del},  {"OPTIONS", Method::options},
               {"PATCH", Method::patch},     {"TRACE", Method::trace}, {"CONNECT", Method::connect},
               {"get", Method::other},       {"PROPFIND", Method::other},
               {"M-SEARCH", Method::other},  {"X~!#$%&'*+.^_`|", Method::other}};
  for (const Case& c : cases) {
    RequestHead h = parse_ok(std::string(c.text) + " /x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(h.method, c.m) << c.text;
    EXPECT_EQ(h.method_text, c.text);
    if (c.m != Method::other) {
      EXPECT_EQ(method_name(c.m), c.text);
    }
  }
  EXPECT_EQ(method_name(Method::other), "");
}

TEST(HttpParser, ConnectParsesFine) {
  RequestHead h = parse_ok("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n");
  EXPECT_EQ(h.method, Method::connect);
  EXPECT_EQ(h.target, "api.example.com:443");
}

TEST(HttpParser, UpgradeIsIgnored) {
  RequestHead h = parse_ok(
      "GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(h.body_kind, BodyKind::none);
  EXPECT_EQ(h.header("upgrade"), "websocket");
}

TEST(HttpParser, LeadingEmptyLinesAreSkippedAndCounted) {
  const std::string req = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestHead h = parse_ok(req);
  EXPECT_EQ(h.head_bytes, req.size());
  EXPECT_EQ(h.method, Method::get);
  EXPECT_EQ(parse("\r\n").status, ParseStatus::incomplete);
  EXPECT_EQ(parse("\r").status, ParseStatus::incomplete);
  EXPECT_EQ(parse("").status, ParseStatus::incomplete);
  expect_400("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  expect_400("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  expect_400("\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpParser, RequestLineSyntax) {
  expect_400("GET  / HTTP/1.1\r\nHost: a\r\n\r\n");   // two spaces
  expect_400("GET /  HTTP/1.1\r\nHost: a\r\n\r\n");
  expect_400("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n");   // HTAB is not SP
  expect_400("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n");
  expect_400(" GET / HTTP/1.1\r\nHost: a\r\n\r\n");   // no method
  expect_400("G(T / HTTP/1.1\r\nHost: a\r\n\r\n");    // non-token method
  expect_400("GET\r\nHost: a\r\n\r\n");
  expect_400("GET /\r\nHost: a\r\n\r\n");             // HTTP/0.9 style
  expect_400("GET / \r\nHost: a\r\n\r\n");            // empty version
  expect_400("GET / HTTP/1.1 \r\nHost: a\r\n\r\n");   // trailing space
  expect_400("GET / HTTP/1.10\r\nHost: a\r\n\r\n");
  expect_400("GET / HTTP/1\r\nHost: a\r\n\r\n");
  expect_400("GET / HTTP/11.1\r\nHost: a\r\n\r\n");
  expect_400("GET / HTTP/1.x\r\nHost: a\r\n\r\n");
  expect_400("GET / http/1.1\r\nHost: a\r\n\r\n");    // HTTP-name is case-sensitive
  expect_400("GET / RTSP/1.0\r\nHost: a\r\n\r\n");
  expect_400("SOURCE / ICE/1.0\r\nHost: a\r\n\r\n");
  expect_400("GET / HTTP/1.1\nHost: a\r\n\r\n");      // bare LF
  expect_400("GET / HTTP/1.1\rHost: a\r\n\r\n");      // CR without LF
  expect_400("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n");
}

TEST(HttpParser, RequestTargetBytes) {
  expect_400("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"s);
  expect_400("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s);
  expect_400("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n"s);
  expect_400("GET /\xce\xb4 HTTP/1.1\r\nHost: a\r\n\r\n"s);  // raw UTF-8: must be percent-encoded
  expect_400("GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n"s);
  parse_ok("GET /%CE%B4?q=\"x\"|{}[]^` HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(HttpParser, Versions) {
  RequestHead h = parse_ok("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(h.version_minor, 0);
  h = parse_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(h.version_minor, 1);
  for (const char* v : {"HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"}) {
    expect_error("GET / "s + v + "\r\nHost: a\r\n\r\n", 505, "http_version_not_supported");
    // Certain as soon as the version is there: no need to wait for CRLF.
    expect_error("GET / "s + v, 505, "http_version_not_supported");
  }
}

TEST(HttpParser, UriTooLong) {
  Limits limits;
  limits.max_uri_bytes = 64;
  const std::string ok_target = "/" + std::string(63, 'a');
  parse_ok("GET " + ok_target + " HTTP/1.1\r\nHost: a\r\n\r\n", limits);
  const std::string long_target = "/" + std::string(64, 'a');
  expect_error("GET " + long_target + " HTTP/1.1\r\nHost: a\r\n\r\n", 414, "uri_too_long", limits);
  // Still no SP or line end, but already past the limit.
  expect_error("GET " + long_target, 414, "uri_too_long", limits);
  EXPECT_EQ(parse("GET " + ok_target, limits).status, ParseStatus::incomplete);
}

TEST(HttpParser, HeaderLineSyntax) {
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n");   // bare LF
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\rY: 2\r\n\r\n");   // CR without LF
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\n");           // bare LF as blank line
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\rZ");          // CR + junk as blank line
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s);     // NUL
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0c b\r\n\r\n"s);  // form feed
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n"s);    // DEL
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX\0: a\r\n\r\n"s);      // NUL in name
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n");   // obs-fold SP
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n");   // obs-fold HTAB
  expect_400("GET / HTTP/1.1\r\n Host: a\r\n\r\n");                // whitespace before first header
  expect_400("GET / HTTP/1.1\r\nHost : a\r\n\r\n");                // SP before colon
  expect_400("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n");               // HTAB before colon
  expect_400("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n");      // empty name
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nFo@: x\r\n\r\n");       // non-token name
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nFo\"o: x\r\n\r\n");
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n");
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX-A\r\x1b" "B: c\r\n\r\n");
}

TEST(HttpParser, HeaderValues) {
  RequestHead h = parse_ok(
      "GET / HTTP/1.1\r\nHost: a\r\nA:   x y \t\r\nB:\r\nC: \t \r\nD:\tq\tr\r\n"
      "E: D\xc3\xbcsseldorf\xff\r\n\r\n");
  ASSERT_EQ(h.headers.size(), 6u);
  EXPECT_EQ(h.header("a"), "x y");
  EXPECT_EQ(h.header("b"), "");
  EXPECT_EQ(h.header("c"), "");
  EXPECT_EQ(h.header("d"), "q\tr");
  EXPECT_EQ(h.header("e"), "D\xc3\xbcsseldorf\xff");
  // First of a repeated field wins in header().
  h = parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\n\r\n");
  EXPECT_EQ(h.header("X"), "1");
  EXPECT_EQ(h.headers.size(), 3u);
}

TEST(HttpParser, LongValueCrossesVectorPaths) {
  // Values of every length around 16-byte boundaries, with a tab or a bad byte
  // at every position, so both the wide and the byte-wise scan are covered.
  for (size_t len = 0; len < 40; ++len) {
    std::string v(len, 'v');
    parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX: " + v + "\r\n\r\n");
    for (size_t i = 0; i < len; ++i) {
      std::string t = v;
      t[i] = '\t';
      RequestHead h = parse_ok("GET / HTTP/1.1\r\nHost: a\r\nX: z" + t + "z\r\n\r\n");
      EXPECT_EQ(h.header("x"), "z" + t + "z");
      std::string b = v;
      b[i] = '\x01';
      expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: z" + b + "z\r\n\r\n");
      b[i] = '\x7f';
      expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: z" + b + "z\r\n\r\n");
      std::string tgt = "/" + v;
      tgt[i + 1] = '\x80';
      expect_400("GET " + tgt + " HTTP/1.1\r\nHost: a\r\n\r\n");
    }
  }
}

// Every byte value at every position of a 16-byte block, in each part of the
// head, against the RFC character classes written out independently here.
TEST(HttpParser, EveryByteInEveryPart) {
  auto is_tchar = [](unsigned c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  };
  auto is_vchar = [](unsigned c) { return c >= 0x21 && c <= 0x7e; };
  auto is_field_char = [&](unsigned c) { return is_vchar(c) || c >= 0x80 || c == ' ' || c == '\t'; };
  const std::string filler = "abcdefghijklmnopqrstuvwxyz";
  for (unsigned b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    for (size_t pos : {size_t{0}, size_t{1}, size_t{7}, size_t{15}, size_t{16}, size_t{20}}) {
      SCOPED_TRACE("byte " + std::to_string(b) + " at " + std::to_string(pos));
      const std::string part = filler.substr(0, pos) + byte + filler.substr(pos);
      Parsed m = parse(part + " / HTTP/1.1\r\nHost: a\r\n\r\n");
      EXPECT_EQ(m.status, is_tchar(b) ? ParseStatus::complete : ParseStatus::error);
      Parsed n = parse("GET / HTTP/1.1\r\nHost: a\r\n" + part + ": v\r\n\r\n");
      // A colon inside just ends the name early: "ab:cd: v" is name "ab".
      const bool name_ok = is_tchar(b) || (b == ':' && pos > 0);
      EXPECT_EQ(n.status, name_ok ? ParseStatus::complete : ParseStatus::error);
      Parsed v = parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + part + "\r\n\r\n");
      EXPECT_EQ(v.status, is_field_char(b) ? ParseStatus::complete : ParseStatus::error);
      Parsed t = parse("GET /" + part + " HTTP/1.1\r\nHost: a\r\n\r\n");
      EXPECT_EQ(t.status, is_vchar(b) ? ParseStatus::complete : ParseStatus::error);
    }
  }
}

TEST(HttpParser, HeaderSectionTooLarge) {
  Limits limits;
  limits.max_header_bytes = 256;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  const std::string tail = "\r\n\r\n";
  // Exactly at the limit is fine.
  std::string exact = req + std::string(limits.max_header_bytes - req.size() - tail.size(), 'x') + tail;
  ASSERT_EQ(exact.size(), limits.max_header_bytes);
  parse_ok(exact, limits);
  // A head that would end one byte past the limit.
  std::string over = req + std::string(limits.max_header_bytes - req.size() - tail.size() + 1, 'x') + tail;
  expect_error(over, 431, "request_header_fields_too_large", limits);
  // Incomplete but already past the limit: refuse now rather than buffer more.
  expect_error(req + std::string(300, 'x'), 431, "request_header_fields_too_large", limits);
  EXPECT_EQ(parse(req + std::string(100, 'x'), limits).status, ParseStatus::incomplete);
  // A complete head followed by body bytes beyond the limit is fine.
  RequestHead h = parse(exact + std::string(1000, 'b'), limits).head;
  EXPECT_EQ(h.head_bytes, exact.size());
  // Leading empty lines count too.
  std::string crlfs;
  for (int i = 0; i < 200; ++i) crlfs += "\r\n";
  expect_error(crlfs + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 431, "request_header_fields_too_large",
               limits);
}

TEST(HttpParser, TooManyHeaders) {
  Limits limits;
  limits.max_header_count = 5;
  std::string req = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 4; ++i) req += "X" + std::to_string(i) + ": v\r\n";
  parse_ok(req + "\r\n", limits);
  expect_error(req + "Y: v\r\n\r\n", 431, "request_header_fields_too_large", limits);
  expect_error(req + "Y:", 431, "request_header_fields_too_large", limits);
}

TEST(HttpParser, ContentLength) {
  const std::string pre = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:";
  RequestHead h = parse_ok(pre + " 003\r\n\r\n");
  EXPECT_EQ(h.body_kind, BodyKind::length);
  EXPECT_EQ(h.content_length, 3u);
  h = parse_ok(pre + "\t 42 \t\r\n\r\n");
  EXPECT_EQ(h.content_length, 42u);
  h = parse_ok(pre + " 0\r\n\r\n");
  EXPECT_EQ(h.body_kind, BodyKind::length);
  EXPECT_EQ(h.content_length, 0u);
  h = parse_ok("POST / HTTP/1.1\r\nHost: a\r\ncONTENT-lENGTH: 7\r\n\r\n");
  EXPECT_EQ(h.content_length, 7u);

  for (const char* v : {"", " ", "+5", "-1", "1 2", "4\t2", "0x10", "1.0", "1,1", "5, 5", "abc", "5a"}) {
    expect_400(pre + " " + v + "\r\n\r\n");
  }
  expect_400(pre + " 99999999999999999999\r\n\r\n");
  expect_400(pre + " 18446744073709551616\r\n\r\n");

  // Near the overflow bound: 2^63-1 parses (then meets the body limit), 2^63 does not.
  Limits huge;
  huge.max_body_bytes = UINT64_MAX;
  h = parse_ok(pre + " 9223372036854775807\r\n\r\n", huge);
  EXPECT_EQ(h.content_length, 9223372036854775807ull);
  expect_400(pre + " 9223372036854775808\r\n\r\n");
  expect_error(pre + " 9223372036854775807\r\n\r\n", 413, "request_too_large");
  h = parse_ok(pre + " 000000000000000000000000000001\r\n\r\n");
  EXPECT_EQ(h.content_length, 1u);
}

TEST(HttpParser, ContentLengthDuplicatesAreRejected) {
  // Even equal duplicates (RFC 9112 6.3 would allow folding them): strictness
  // here costs nothing with real clients and closes a smuggling vector.
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\n");
}

TEST(HttpParser, ContentLengthErrorsBeforeTheLineEnds) {
  const std::string pre = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ";
  expect_400(pre + "1x");
  expect_400(pre + "1 2");
  expect_400(pre + "100000000000000000000000");
  expect_400(pre + "5\r\nContent-Length:");
  EXPECT_EQ(parse(pre + "12 ").status, ParseStatus::incomplete);
  EXPECT_EQ(parse(pre).status, ParseStatus::incomplete);
  EXPECT_EQ(parse(pre + "12\r").status, ParseStatus::incomplete);
}

TEST(HttpParser, BodyTooLarge) {
  Limits limits;
  limits.max_body_bytes = 1000;
  parse_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n", limits);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", 413,
               "request_too_large", limits);
}

TEST(HttpParser, TransferEncoding) {
  RequestHead h = parse_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(h.body_kind, BodyKind::chunked);
  h = parse_ok("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  ChUnKeD \r\n\r\n");
  EXPECT_EQ(h.body_kind, BodyKind::chunked);

  for (const char* v : {"gzip, chunked", "chunked, gzip", "identity", "chunkedx", "xchunked",
                        "chunked, chunked", "chunked;q=1", "", "deflate"}) {
    expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "s + v + "\r\n\r\n", 501,
                 "not_implemented");
  }
  // Two fields form a list of codings.
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
      501, "not_implemented");
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      501, "not_implemented");
}

TEST(HttpParser, TransferEncodingWithContentLength) {
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  // The conflict wins over a bad coding value: it is found at the name.
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\n");
  Parsed r = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_STREQ(r.err.message, "Content-Length and Transfer-Encoding together are not allowed");
}

TEST(HttpParser, TransferEncodingOnHttp10) {
  expect_400("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(HttpParser, Connection) {
  EXPECT_TRUE(parse_ok("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: ,,close ,\r\n\r\n").keep_alive);
  EXPECT_FALSE(
      parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nConnection: close\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, xclose\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
  EXPECT_TRUE(parse_ok("GET / HTTP/1.0\r\nConnection: Upgrade,  KEEP-ALIVE\t\r\n\r\n").keep_alive);
  EXPECT_FALSE(parse_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
}

TEST(HttpParser, Expect) {
  EXPECT_TRUE(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").expect_continue);
  EXPECT_TRUE(parse_ok("POST / HTTP/1.1\r\nHost: a\r\nexpect: 100-Continue\r\n\r\n").expect_continue);
  // RFC 9110 10.1.1: ignored for HTTP/1.0 clients.
  EXPECT_FALSE(parse_ok("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417, "expectation_failed");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n", 417,
               "expectation_failed");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", 417, "expectation_failed");
}

TEST(HttpParser, Host) {
  EXPECT_EQ(parse_ok("GET / HTTP/1.1\r\nhost: example.com:8080\r\n\r\n").host, "example.com:8080");
  EXPECT_EQ(parse_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, "");  // allowed (RFC 9112 3.2)
  EXPECT_EQ(parse_ok("GET / HTTP/1.0\r\n\r\n").host, "");
  expect_400("GET / HTTP/1.1\r\n\r\n");
  expect_400("GET / HTTP/1.1\r\nX: y\r\n\r\n");
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
  expect_400("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n");
  Parsed r = parse("GET / HTTP/1.1\r\n\r\n");
  EXPECT_STREQ(r.err.message, "HTTP/1.1 request without a Host header");
}

TEST(HttpParser, ErrorsAreReportedBeforeTheHeadEnds) {
  // Certain errors must not wait for the blank line.
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01");
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb");
  expect_400("GET / HTTP/1.1\r\nHost: a\r\nHost:");
  expect_400("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding:");
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n", 501, "not_implemented");
  expect_400("GET /a\x01");
  expect_400("GET / RTSP");
}

TEST(HttpParser, IequalsDoesNotFoldNonLetters) {
  EXPECT_TRUE(iequals("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("a-b", "a\rb"));  // 0x2d == 0x0d | 0x20: a naive fold would match
  EXPECT_FALSE(iequals("a@", "a`"));     // 0x40 | 0x20 == 0x60
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("\xc3", "\xe3"));
}

// Eight bytes per step (four from 4 to 7) must answer as a byte-by-byte
// fold does: every pair of byte values, at every position of names from 1
// to 24 bytes (the last step overlapping the one before it), among bytes
// that differ in case and among bytes that are the same (the words equal
// but for the pair).
TEST(HttpParser, IequalsMatchesTheByteDefinitionAtEveryPosition) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
  for (const char other : {'K', 'k'}) {
    for (size_t n = 1; n <= 24; ++n) {
      for (size_t at = 0; at < n; ++at) {
        std::string a(n, 'k');
        std::string b(n, other);
        for (int x = 0; x < 256; ++x) {
          for (int y = 0; y < 256; ++y) {
            a[at] = static_cast<char>(x);
            b[at] = static_cast<char>(y);
            const bool want = lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
            if (iequals(a, b) != want) {
              ADD_FAILURE() << "n " << n << " at " << at << " bytes " << x << " " << y;
              return;
            }
          }
        }
      }
    }
  }
}

// The parsers classify header names (tokens) against lower-case names a
// word at a time with a fold that is exact only among tchars: every tchar
// at every position of each name they look for must answer as the byte
// definition does, and so must every other length.
TEST(HttpParser, TokenNamesCompareAsTheByteDefinition) {
  std::string tchars = "!#$%&'*+-.^_`|~";
  for (char c = '0'; c <= '9'; ++c) tchars += c;
  for (char c = 'a'; c <= 'z'; ++c) tchars += {c, static_cast<char>(c - 'a' + 'A')};
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (const std::string_view name : {"te", "host", "expect", "upgrade", "connection", "content-length",
                                      "transfer-encoding", "proxy-authorization"}) {
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    EXPECT_TRUE(aigw::http::scan::token_iequals_lower(upper, name)) << name;
    EXPECT_FALSE(aigw::http::scan::token_iequals_lower(upper.substr(1), name)) << name;
    for (size_t at = 0; at < name.size(); ++at) {
      for (const char x : tchars) {
        std::string token = upper;
        token[at] = x;
        ASSERT_EQ(aigw::http::scan::token_iequals_lower(token, name), lower(x) == name[at])
            << name << " at " << at << " byte " << int(x);
      }
    }
  }
}

// The header-line checks, sixteen bytes per step (eight without SSE2),
// must answer as the byte definition does: every byte value at every
// position of fields from 1 to 40 bytes (each tail form: 4-byte and 8-byte
// halves, the last 16 overlapping), in a field otherwise clean, and beside
// a second bad byte.
TEST(HttpParser, SafeFieldChecksMatchTheByteDefinitionAtEveryPosition) {
  auto bad_name = [](unsigned char c) { return c <= ' ' || c == ':' || c == 0x7f; };
  auto bad_value = [](unsigned char c) { return c == 0 || c == '\r' || c == '\n'; };
  for (size_t n = 1; n <= 40; ++n) {
    for (size_t at = 0; at < n; ++at) {
      for (int x = 0; x < 256; ++x) {
        std::string field(n, 'k');
        field[at] = static_cast<char>(x);
        const auto c = static_cast<unsigned char>(x);
        ASSERT_EQ(safe_field_name(field), !bad_name(c)) << "n " << n << " at " << at << " byte " << x;
        ASSERT_EQ(safe_field_value(field), !bad_value(c)) << "n " << n << " at " << at << " byte " << x;
        // Non-ASCII bytes around it must not hide it or stand in for it.
        std::string high(n, '\xff');
        high[at] = static_cast<char>(x);
        ASSERT_EQ(safe_field_name(high), !bad_name(c)) << "n " << n << " at " << at << " byte " << x;
        ASSERT_EQ(safe_field_value(high), !bad_value(c)) << "n " << n << " at " << at << " byte " << x;
        if (n > 1) {  // a second bad byte elsewhere: still bad
          field[(at + 1) % n] = '\n';
          EXPECT_FALSE(safe_field_value(field));
          field[(at + 1) % n] = ':';
          EXPECT_FALSE(safe_field_name(field));
        }
      }
    }
  }
  EXPECT_FALSE(safe_field_name(""));
  EXPECT_TRUE(safe_field_value(""));
}

TEST(HttpParser, Pipelined) {
  const std::string first = "POST /v1/embeddings HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  const std::string second = "\r\nGET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n";
  const std::string third = "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
  const std::string all = first + second + third;

  RequestHead head;
  ParseError err;
  std::string_view rest = all;
  std::vector<std::string> paths;
  while (!rest.empty()) {
    ASSERT_EQ(parse_request_head(rest, Limits{}, head, err), ParseStatus::complete) << err.message;
    paths.emplace_back(head.path);
    const size_t body = head.body_kind == BodyKind::length ? head.content_length : 0;
    ASSERT_LE(head.head_bytes + body, rest.size());
    rest.remove_prefix(head.head_bytes + body);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"/v1/embeddings", "/v1/models", "/v1/chat/completions"}));
}

// Compares everything a parse reports, string views by content.
void expect_same(const RequestHead& a, const RequestHead& b) {
  EXPECT_EQ(a.method_text, b.method_text);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.query, b.query);
  EXPECT_EQ(a.version_minor, b.version_minor);
  ASSERT_EQ(a.headers.size(), b.headers.size());
  for (size_t i = 0; i < a.headers.size(); ++i) {
    EXPECT_EQ(a.headers[i].name, b.headers[i].name);
    EXPECT_EQ(a.headers[i].value, b.headers[i].value);
  }
  EXPECT_EQ(a.body_kind, b.body_kind);
  EXPECT_EQ(a.content_length, b.content_length);
  EXPECT_EQ(a.keep_alive, b.keep_alive);
  EXPECT_EQ(a.expect_continue, b.expect_continue);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.head_bytes, b.head_bytes);
}

TEST(HttpParser, EverySplitPointIsIncomplete) {
  const std::vector<std::string> requests = {
      kChatHead,
      kChatHead + "{\"model\":\"m\"}",  // body bytes after the head
      "\r\n\r\nGET /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "PUT /u HTTP/1.1\r\nHost:\r\nX:\t\r\nY: a\tb \r\nContent-Length: 0012\r\n\r\n",
      "PATCH /" + std::string(100, 'p') + " HTTP/1.1\r\nHost: h\r\nZ: " + std::string(100, 'z') + "\r\n\r\n",
  };
  for (const std::string& req : requests) {
    SCOPED_TRACE(req);
    Parsed full = parse(req);
    ASSERT_EQ(full.status, ParseStatus::complete) << full.err.message;
    for (size_t k = 0; k < req.size(); ++k) {
      // Own copy of the prefix so a read past k would show up under ASan.
      const std::string prefix = req.substr(0, k);
      Parsed part = parse(prefix);
      if (k < full.head.head_bytes) {
        ASSERT_EQ(part.status, ParseStatus::incomplete) << "split at " << k << ": " << part.err.message;
      } else {
        ASSERT_EQ(part.status, ParseStatus::complete) << "split at " << k;
        expect_same(part.head, full.head);
      }
    }
    // The same limits applied through a tight window must not change the result.
    Limits exact;
    exact.max_header_bytes = full.head.head_bytes;
    Parsed tight = parse(req, exact);
    ASSERT_EQ(tight.status, ParseStatus::complete) << tight.err.message;
    expect_same(tight.head, full.head);
  }
}

}  // namespace
}  // namespace aigw::http
