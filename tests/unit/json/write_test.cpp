// The one JSON string writer: escapes, control characters, and the UTF-8
// repair (each byte that does not start a well-formed sequence -> \ufffd).
#include "json/write.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "json/utf8.h"

namespace aigw::json {
namespace {

std::string w(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

// The output parses as one JSON string, and its value is `want`.
void expect_parses_to(std::string_view in, std::string_view want) {
  std::string doc = w(in);
  simdjson::dom::parser parser;
  std::string_view got;
  ASSERT_EQ(parser.parse(doc).get(got), simdjson::SUCCESS) << doc;
  EXPECT_EQ(got, want) << doc;
}

TEST(JsonWrite, PlainAsciiIsQuotedAndCopied) {
  EXPECT_EQ(w(""), "\"\"");
  EXPECT_EQ(w("hello world /v1/chat?x=1&y=~"), "\"hello world /v1/chat?x=1&y=~\"");
}

// Plain runs are found a register at a time (16 bytes with SSE2, else 8),
// the tail as overlapping reads: every byte value that needs escaping, at
// every position of strings of 1 to 20 bytes, must still be found, and the
// plain bytes around it copied as they are; plain() says whether nothing
// needed escaping. The expected output comes from escaping the one byte
// alone.
TEST(JsonWrite, EverySpecialByteAtEveryPositionOfTheWordScan) {
  for (int c = 0; c < 256; ++c) {
    const std::string alone = w(std::string(1, static_cast<char>(c)));
    const std::string_view escaped = std::string_view(alone).substr(1, alone.size() - 2);
    ASSERT_LE(escaped.size(), kMaxEscapedBytesPerByte) << "byte " << c;
    for (size_t len = 1; len <= 20; ++len) {  // every tail after the whole words
      for (size_t at = 0; at < len; ++at) {
        std::string in(len, 'a');
        in[at] = static_cast<char>(c);
        const std::string want =
            "\"" + std::string(at, 'a') + std::string(escaped) + std::string(len - 1 - at, 'a') + "\"";
        ASSERT_EQ(w(in), want) << "byte " << c << " at " << at << " of " << len;
        const bool is_plain = escaped == std::string(1, static_cast<char>(c));
        ASSERT_EQ(plain(in), is_plain) << "byte " << c << " at " << at << " of " << len;
        // copy_if_plain() says the same, and copies a plain string exactly,
        // touching nothing past it.
        std::string to(len + 1, '#');
        char* end = copy_if_plain(to.data(), in);
        ASSERT_EQ(end != nullptr, is_plain) << "byte " << c << " at " << at << " of " << len;
        if (end != nullptr) {
          ASSERT_EQ(end, to.data() + len);
          ASSERT_EQ(to, in + "#");
        }
      }
    }
    EXPECT_TRUE(plain(std::string(20, 'a')));
  }
  // Plain strings of every length to 64 (whole blocks and every tail).
  for (size_t len = 0; len <= 64; ++len) {
    std::string in;
    for (size_t i = 0; i < len; ++i) in += static_cast<char>(' ' + 1 + (i * 7) % 90);
    in.erase(std::remove_if(in.begin(), in.end(), [](char ch) { return ch == '"' || ch == '\\'; }), in.end());
    std::string to(in.size() + 1, '#');
    ASSERT_EQ(copy_if_plain(to.data(), in), to.data() + in.size()) << len;
    ASSERT_EQ(to, in + "#") << len;
  }
  // Bytes just beside the special ranges stay plain in a whole word.
  EXPECT_EQ(w(" !#[]~~~ !#[]~~~"), "\" !#[]~~~ !#[]~~~\"");
}

// After a special byte the scan starts again inside the string, so the
// register-sized reads begin at every offset: two special bytes at every
// pair of positions of strings up to 40 bytes, each escaped in its place.
TEST(JsonWrite, TwoSpecialBytesAtEveryPairOfPositions) {
  const char first = '"', second = '\x01';
  for (size_t len = 2; len <= 40; ++len) {
    for (size_t a = 0; a < len; ++a) {
      for (size_t b = a + 1; b < len; ++b) {
        std::string in(len, 'x');
        in[a] = first;
        in[b] = second;
        const std::string want = "\"" + std::string(a, 'x') + "\\\"" + std::string(b - a - 1, 'x') + "\\u0001" +
                                 std::string(len - 1 - b, 'x') + "\"";
        ASSERT_EQ(w(in), want) << "at " << a << " and " << b << " of " << len;
        ASSERT_FALSE(plain(in));
      }
    }
  }
}

TEST(JsonWrite, AppendsToWhatIsThere) {
  std::string out = "{\"a\":";
  append_string(out, "b");
  EXPECT_EQ(out, "{\"a\":\"b\"");
}

TEST(JsonWrite, QuoteAndBackslashAreEscaped) {
  EXPECT_EQ(w("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(w("\"}{\"injected\":1"), "\"\\\"}{\\\"injected\\\":1\"");
  EXPECT_EQ(w("/"), "\"/\"");  // JSON allows '/' as is
}

TEST(JsonWrite, EveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    std::string want;
    switch (c) {
      case '\b': want = "\\b"; break;
      case '\f': want = "\\f"; break;
      case '\n': want = "\\n"; break;
      case '\r': want = "\\r"; break;
      case '\t': want = "\\t"; break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        want = buf;
      }
    }
    const std::string in(1, static_cast<char>(c));
    EXPECT_EQ(w(in), "\"" + want + "\"") << "byte " << c;
    expect_parses_to(in, in);
  }
  EXPECT_EQ(w("\x7f"), "\"\\u007f\"");
  EXPECT_EQ(w(std::string_view("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(w("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
}

TEST(JsonWrite, ValidMultiByteIsCopiedUnchanged) {
  const std::string_view valid[] = {
      "caf\xC3\xA9",                    // 2 bytes: e-acute
      "\xC2\x80 \xDF\xBF",              // 2-byte extremes U+0080, U+07FF
      "\xE0\xA0\x80 \xEF\xBF\xBF",      // 3-byte extremes U+0800, U+FFFF
      "\xE4\xB8\x96\xE7\x95\x8C",       // CJK
      "\xED\x9F\xBF \xEE\x80\x80",      // either side of the surrogates
      "\xE2\x80\xA8",                   // U+2028, valid in JSON as is
      "\xF0\x90\x80\x80 \xF0\x9F\x8E\x89 \xF4\x8F\xBF\xBF",  // U+10000, emoji, U+10FFFF
      "\xEF\xBF\xBD",                   // U+FFFD itself
  };
  for (std::string_view s : valid) {
    EXPECT_EQ(w(s), "\"" + std::string(s) + "\"");
    expect_parses_to(s, s);
  }
}

// Each byte that does not start a well-formed sequence becomes one U+FFFD;
// scanning goes on at the next byte.
TEST(JsonWrite, InvalidUtf8IsRepairedByteByByte) {
  struct Case {
    std::string_view in, want;
  };
  const Case cases[] = {
      {"\x80", "\\ufffd"},                                  // lone continuation
      {"\xBF", "\\ufffd"},
      {"\xFF", "\\ufffd"},                                  // never in UTF-8
      {"\xFE", "\\ufffd"},
      {"\xC0\x80", "\\ufffd\\ufffd"},                      // overlong NUL
      {"\xC1\xBF", "\\ufffd\\ufffd"},                      // overlong 2-byte
      {"\xE0\x80\xAF", "\\ufffd\\ufffd\\ufffd"},           // overlong 3-byte '/'
      {"\xF0\x80\x80\xAF", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // overlong 4-byte
      {"\xED\xA0\x80", "\\ufffd\\ufffd\\ufffd"},           // high surrogate U+D800
      {"\xED\xBF\xBF", "\\ufffd\\ufffd\\ufffd"},           // low surrogate U+DFFF
      {"\xF4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // U+110000
      {"\xF5\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // lead byte past F4
      {"\xC3", "\\ufffd"},                                  // truncated at the end
      {"\xE2\x82", "\\ufffd\\ufffd"},
      {"\xF0\x9F\x8E", "\\ufffd\\ufffd\\ufffd"},
      {"a\xE2\x82z", "a\\ufffd\\ufffdz"},                  // truncated in the middle
      {"\xC3(", "\\ufffd("},                                // bad second byte is kept
      {"\xE2\x82\xAC\x80", "\xE2\x82\xAC\\ufffd"},         // valid euro, then a stray byte
      {"\"\xFF\n", "\\\"\\ufffd\\n"},                      // mixed with escapes
  };
  for (const Case& c : cases) {
    EXPECT_EQ(w(c.in), "\"" + std::string(c.want) + "\"") << c.want;
  }
  // And the repaired output is valid JSON: U+FFFD where the bad bytes were.
  expect_parses_to("x\xC0\x80y", "x\xEF\xBF\xBD\xEF\xBF\xBDy");
}

TEST(JsonUtf8, ValidRunStopsAtTheFirstBadByte) {
  EXPECT_EQ(utf8_valid_run("abc", 0), 3u);
  EXPECT_EQ(utf8_valid_run("ab\xC3\xA9\xFFz", 0), 4u);
  EXPECT_EQ(utf8_valid_run("ab\xC3\xA9\xFFz", 5), 1u);
  EXPECT_EQ(utf8_valid_run("\xE2\x82", 0), 0u);
  EXPECT_EQ(utf8_sequence_length("\xF4\x8F\xBF\xBF", 0), 4u);
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u);
}

}  // namespace
}  // namespace aigw::json
