// Tests for src/http/chunked.cpp: the Transfer-Encoding: chunked decoder.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "http/chars.h"
#include "http/request.h"

namespace aigw::http {
namespace {

using namespace std::string_literals;
using Result = ChunkedDecoder::Result;

struct Decoded {
  Result result = Result::need_more;
  size_t consumed = 0;  // over all feeds
  std::string body;
  ParseError err;
};

// Feeds `in` in pieces cut at `cuts` (ascending offsets), as a connection
// would: the unconsumed tail of one read is never re-fed because the decoder
// always takes everything until it is done.
Decoded decode(std::string_view in, const std::vector<size_t>& cuts = {}, const Limits& limits = {}) {
  Decoded d;
  ChunkedDecoder dec;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(in.size());
  for (size_t end : ends) {
    // A private copy per piece so ASan catches any read past what was fed.
    const std::string piece(in.substr(start, end - start));
    size_t consumed = 0;
    d.result = dec.feed(piece, consumed, d.body, limits, d.err);
    EXPECT_LE(consumed, piece.size());
    d.consumed += consumed;
    if (d.result != Result::need_more) return d;
    EXPECT_EQ(consumed, piece.size());
    start = end;
  }
  return d;
}

Decoded decode_limits(std::string_view in, const Limits& limits) { return decode(in, {}, limits); }

// Expects the whole input to be the chunked body.
void expect_done(std::string_view in, std::string_view body) {
  const size_t consumed = in.size();
  Decoded d = decode(in);
  ASSERT_EQ(d.result, Result::done) << d.err.message << "\ninput: " << testing::PrintToString(std::string(in));
  EXPECT_EQ(d.body, body);
  EXPECT_EQ(d.consumed, consumed);
}

void expect_error(std::string_view in, int status, std::string_view code, const Limits& limits = {}) {
  Decoded d = decode(in, {}, limits);
  ASSERT_EQ(d.result, Result::error) << "input: " << testing::PrintToString(std::string(in));
  EXPECT_EQ(d.err.status, status) << d.err.message;
  EXPECT_EQ(std::string_view(d.err.code), code);
  ASSERT_NE(d.err.message, nullptr);
  EXPECT_GT(std::strlen(d.err.message), 0u);
}

void expect_400(std::string_view in) { expect_error(in, 400, "bad_request"); }

TEST(HttpChunked, Basic) {
  const std::string in = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  expect_done(in, "hello world");
}

TEST(HttpChunked, HexSizesAnyCase) {
  const std::string data(26, 'x');
  expect_done("1a\r\n" + data + "\r\n0\r\n\r\n", data);
  expect_done("1A\r\n" + data + "\r\n000\r\n\r\n", data);
  expect_done("000000000000001A\r\n" + data + "\r\n0\r\n\r\n", data);
}

// The size line's digits are read through a table: every byte value
// against the definition.
TEST(HttpChunked, HexDigitTableMatchesItsDefinition) {
  for (int c = 0; c < 256; ++c) {
    int want = -1;
    if (c >= '0' && c <= '9') want = c - '0';
    if (c >= 'a' && c <= 'f') want = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') want = c - 'A' + 10;
    EXPECT_EQ(aigw::http::chars::hex_digit(static_cast<char>(c)), want) << c;
  }
}

TEST(HttpChunked, EmptyBody) { expect_done("0\r\n\r\n", ""); }

TEST(HttpChunked, StopsAtTheNextRequest) {
  const std::string body = "3\r\nabc\r\n0\r\n\r\n";
  Decoded d = decode(body + "GET / HTTP/1.1\r\n");
  ASSERT_EQ(d.result, Result::done);
  EXPECT_EQ(d.consumed, body.size());
  EXPECT_EQ(d.body, "abc");
}

TEST(HttpChunked, ExtensionsAreIgnored) {
  expect_done("5;foo=bar\r\nhello\r\n0\r\n\r\n", "hello");
  expect_done("5;a;b;c=d\r\nhello\r\n0;last\r\n\r\n", "hello");
  const std::string quoted =
      "5;ilovew3=\"I \\\"love\\\"; \\\\extensions\\\\\";somuchlove=\"aretheseparametersfor\";blah;foo=bar\r\n"
      "hello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n";
  expect_done(quoted, "hello world");
  expect_done("2;x=\"\"\r\nab\r\n0\r\n\r\n", "ab");
  expect_done("2;x=\"\t\xff\"\r\nab\r\n0\r\n\r\n", "ab");
}

TEST(HttpChunked, BadExtensions) {
  expect_400("2;\r\naa\r\n0\r\n\r\n");             // no name
  expect_400("2;=v\r\naa\r\n0\r\n\r\n");
  expect_400("2;a=\r\naa\r\n0\r\n\r\n");            // no value
  expect_400("2;a= b\r\naa\r\n0\r\n\r\n");          // BWS not accepted (strict)
  expect_400("2 ;a\r\naa\r\n0\r\n\r\n");
  expect_400("2; a\r\naa\r\n0\r\n\r\n");
  expect_400("2;a =b\r\naa\r\n0\r\n\r\n");
  expect_400("2;a=b c\r\naa\r\n0\r\n\r\n");
  expect_400("2;a=\"b\r\naa\r\n0\r\n\r\n");         // unterminated quote
  expect_400("5;a=\"abc\";b=\"def; ghi\r\nhello\r\n0\r\n\r\n");
  expect_400("2;a=\"b\"c\r\naa\r\n0\r\n\r\n");      // junk after the quote
  expect_400("2;a=\"\x01\"\r\naa\r\n0\r\n\r\n");
  expect_400("2;a=\"\\\x01\"\r\naa\r\n0\r\n\r\n");  // bad escaped byte
  expect_400("2;a\nb\r\naa\r\n0\r\n\r\n");
  expect_400("2;a@\r\naa\r\n0\r\n\r\n");
}

TEST(HttpChunked, ExtensionLineLimit) {
  const std::string ext = ";" + std::string(4000, 'e');
  expect_done("2" + ext + "\r\nab\r\n0\r\n\r\n", "ab");
  const std::string long_ext = ";" + std::string(4200, 'e');
  expect_400("2" + long_ext + "\r\nab\r\n0\r\n\r\n");
  // Refused before the line ends, so an endless extension costs nothing.
  expect_400("2" + long_ext);
}

TEST(HttpChunked, Trailers) {
  const std::string in = "5\r\nhello\r\n0\r\nVary: *\r\nContent-Type: text/plain\r\nX-Empty:\r\n\r\n";
  expect_done(in, "hello");
}

TEST(HttpChunked, BadTrailers) {
  expect_400("0\r\n folded: x\r\n\r\n");
  expect_400("0\r\nA: b\r\n\tfolded\r\n\r\n");
  expect_400("0\r\nNoColon\r\n\r\n");
  expect_400("0\r\n: empty\r\n\r\n");
  expect_400("0\r\nA : b\r\n\r\n");
  expect_400("0\r\nA: b\nC: d\r\n\r\n");
  expect_400("0\r\nA: b\rC: d\r\n\r\n");
  expect_400("0\r\nA: b\x01\r\n\r\n");
  expect_400("0\r\nA@: b\r\n\r\n");
  expect_400("0\r\n\n");
  expect_400("0\r\n\rX");
}

TEST(HttpChunked, TrailerSectionLimit) {
  Limits limits;
  limits.max_header_bytes = 64;
  const std::string ok_trailer = "X: " + std::string(57, 'v') + "\r\n\r\n";  // exactly 64
  ASSERT_EQ(ok_trailer.size(), 64u);
  Decoded d = decode_limits("0\r\n" + ok_trailer, limits);
  EXPECT_EQ(d.result, Result::done) << d.err.message;
  expect_error("0\r\nX: " + std::string(58, 'v') + "\r\n\r\n", 431, "request_header_fields_too_large",
               limits);
  expect_error("0\r\nX: " + std::string(500, 'v'), 431, "request_header_fields_too_large", limits);
}

TEST(HttpChunked, BadSizeLines) {
  expect_400("\r\nabc\r\n0\r\n\r\n");          // no size
  expect_400("x\r\n");
  expect_400("-5\r\nhello\r\n0\r\n\r\n");
  expect_400("+5\r\nhello\r\n0\r\n\r\n");
  expect_400("0x5\r\nhello\r\n0\r\n\r\n");
  expect_400("5 \r\nhello\r\n0\r\n\r\n");       // space after the size (strict)
  expect_400("5\t\r\nhello\r\n0\r\n\r\n");
  expect_400(" 5\r\nhello\r\n0\r\n\r\n");
  expect_400("2 erfrferferf\r\naa\r\n0 rrrr\r\n");
  expect_400("3 \n  \r\nfoo\r\n");
  expect_400("5\nhello\r\n0\r\n\r\n");           // bare LF
  expect_400("5\rXhello\r\n0\r\n\r\n");          // CR without LF
  expect_400("5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n");
  expect_400("\n");
}

TEST(HttpChunked, BadDataTerminators) {
  expect_400("5\r\nhelloX\r\n0\r\n\r\n");
  expect_400("5\r\nhello\n0\r\n\r\n");
  expect_400("5\r\nhello\rX0\r\n\r\n");
  expect_400("5\r\nABCDE0\r\n\r\n");
  expect_400("5\r\nhello\r\r\n0\r\n\r\n");
}

TEST(HttpChunked, SizeOverflow) {
  Limits unlimited;
  unlimited.max_body_bytes = UINT64_MAX;
  // 16 digits are fine (the value meets the body limit later).
  Decoded d = decode_limits("ffffffffffffffff\r\nab", unlimited);
  EXPECT_EQ(d.result, Result::need_more) << d.err.message;
  // The whole-chunk step must not take size + 2 (wrapped to 1) as in view.
  d = decode_limits("ffffffffffffffff\r\nab\r\n", unlimited);
  EXPECT_EQ(d.result, Result::need_more) << d.err.message;
  EXPECT_EQ(d.body, "ab\r\n");
  // 17 digits: refused even if they are leading zeros.
  d = decode_limits("00000000000000001\r\na\r\n0\r\n\r\n", unlimited);
  EXPECT_EQ(d.result, Result::error);
  EXPECT_EQ(d.err.status, 400);
  d = decode_limits("10000000000000000\r\n", unlimited);
  EXPECT_EQ(d.result, Result::error);
  EXPECT_EQ(d.err.status, 400);
}

TEST(HttpChunked, BodyLimit) {
  Limits limits;
  limits.max_body_bytes = 10;
  Decoded d = decode_limits("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", limits);
  EXPECT_EQ(d.result, Result::done);
  EXPECT_EQ(d.body, "helloworld");
  expect_error("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 413, "request_too_large", limits);
  expect_error("b\r\nhello world\r\n0\r\n\r\n", 413, "request_too_large", limits);
  // Refused at the size, before any of the data arrives.
  expect_error("ffffffff\r\n", 413, "request_too_large", limits);
  // Also when a total across chunks would wrap around 2^64.
  Limits big;
  big.max_body_bytes = UINT64_MAX - 1;
  expect_error("1\r\na\r\nffffffffffffffff\r\n", 413, "request_too_large", big);
}

TEST(HttpChunked, DoneAndFailedAreSticky) {
  ChunkedDecoder dec;
  std::string body;
  ParseError err;
  size_t consumed = 99;
  ASSERT_EQ(dec.feed("0\r\n\r\n", consumed, body, Limits{}, err), Result::done);
  EXPECT_EQ(consumed, 5u);
  EXPECT_EQ(dec.feed("1\r\na\r\n", consumed, body, Limits{}, err), Result::done);
  EXPECT_EQ(consumed, 0u);

  dec.reset();
  ASSERT_EQ(dec.feed("z", consumed, body, Limits{}, err), Result::error);
  const char* msg = err.message;
  err = ParseError{};
  EXPECT_EQ(dec.feed("0\r\n\r\n", consumed, body, Limits{}, err), Result::error);
  EXPECT_EQ(consumed, 0u);
  EXPECT_EQ(err.message, msg);

  dec.reset();
  EXPECT_EQ(dec.feed("2\r\nab\r\n0\r\n\r\n", consumed, body, Limits{}, err), Result::done);
  EXPECT_EQ(body, "ab");
}

TEST(HttpChunked, EmptyFeed) {
  ChunkedDecoder dec;
  std::string body;
  ParseError err;
  size_t consumed = 7;
  EXPECT_EQ(dec.feed("", consumed, body, Limits{}, err), Result::need_more);
  EXPECT_EQ(consumed, 0u);
}

TEST(HttpChunked, AppendsToExistingBody) {
  ChunkedDecoder dec;
  std::string body = "prefix:";
  ParseError err;
  size_t consumed = 0;
  EXPECT_EQ(dec.feed("3\r\nabc\r\n0\r\n\r\n", consumed, body, Limits{}, err), Result::done);
  EXPECT_EQ(body, "prefix:abc");
}

// Feeding the input cut at any one point, or byte by byte, must give exactly
// what feeding it whole gives, errors included.
TEST(HttpChunked, EverySplitPoint) {
  const std::vector<std::string> inputs = {
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT",
      "5;ilovew3=\"I \\\"love\\\"\";x=y;z\r\nhello\r\n0;e=\"q\"\r\nVary: *\r\nX-T: a b\r\n\r\nGET",
      "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
      "5\r\nhelloX\r\n0\r\n\r\n",           // error inside
      "5\r\nhello\r\n0\r\nBad Name: x\r\n\r\n",
      "2;a=\"b\r\naa\r\n0\r\n\r\n",
      "00000000000000001\r\na\r\n",
      // Whole size lines take a shortcut (digits and CRLF read at once);
      // these sit on its edges and must end as the byte path ends them.
      "0000000000000005\r\nhello\r\n0000000000000000\r\n\r\n",
      "FFFFFFFFFFFFFFFFF\r\n",
      "5\rXhello\r\n0\r\n\r\n",
      "5 \r\nhello\r\n0\r\n\r\n",
      "5\r\nhello\r0\r\n\r\n",
      "5\r\nhello\r\n\r\n",
      "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n",
      // A whole chunk (size line, data, CRLF) is taken in one step too.
      "3\r\nabc\r\n3\r\ndef\n\n0\r\n\r\n",
      "3\r\nabc\r\n3\r\ndef\r\r\n0\r\n\r\n",
      "3\r\nabc\r\n3\r\ndefg\r\n0\r\n\r\n",
  };
  for (const std::string& in : inputs) {
    SCOPED_TRACE(testing::PrintToString(in));
    const Decoded whole = decode(in);
    for (size_t k = 0; k <= in.size(); ++k) {
      const Decoded split = decode(in, {k});
      ASSERT_EQ(split.result, whole.result) << "split at " << k;
      EXPECT_EQ(split.body, whole.body) << "split at " << k;
      if (whole.result == Result::error) {
        EXPECT_EQ(split.err.message, whole.err.message) << "split at " << k;
      } else {
        EXPECT_EQ(split.consumed, whole.consumed) << "split at " << k;
      }
    }
    std::vector<size_t> every;
    for (size_t k = 1; k < in.size(); ++k) every.push_back(k);
    const Decoded bytewise = decode(in, every);
    EXPECT_EQ(bytewise.result, whole.result);
    EXPECT_EQ(bytewise.body, whole.body);
    if (whole.result != Result::error) {
      EXPECT_EQ(bytewise.consumed, whole.consumed);
    }
  }
}

}  // namespace
}  // namespace aigw::http
