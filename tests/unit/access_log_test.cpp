#include "metrics/access_log.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <memory>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "metrics/log_buffer.h"
#include "metrics/record.h"

namespace {

using namespace aigw::metrics;

// The line of `r` with the wall clock's offset 0: end_ns is the line's time.
void format(const RequestRecord& r, std::string& out) { aigw::metrics::format(r, 0, out); }
char* format_to(const RequestRecord& r, char* to) { return aigw::metrics::format_to(r, 0, to); }

RequestRecord sample_record() {
  RequestRecord r;
  r.end_ns = 1738324800123'000'000;  // 2025-01-31T12:00:00.123Z
  r.start_ns = r.end_ns - 912'004'000;
  r.first_byte_ns = r.start_ns + 180'250'000;
  r.request_id = "9f2c41d07ab35e18";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.peer.family = 4;
  r.peer.port = 50312;
  r.peer.addr[0] = 127;
  r.peer.addr[3] = 1;
  r.key = "team-a";
  r.model = "gpt-4o";
  r.provider = "openai";
  r.status = 200;
  r.prompt_tokens = 12;
  r.completion_tokens = 40;
  r.total_tokens = 52;
  r.attempts = 1;
  r.stream = true;
  return r;
}

TEST(AccessLogFormat, OneJsonLineWithNumbersAsNumbers) {
  std::string out = "previous line\n";
  format(sample_record(), out);
  const std::string expected =
      "previous line\n"
      R"({"ts":"2025-01-31T12:00:00.123Z","request_id":"9f2c41d07ab35e18","method":"POST",)"
      R"("path":"/v1/chat/completions","client":"127.0.0.1:50312","key":"team-a",)"
      R"("model":"gpt-4o","provider":"openai","status":200,"prompt_tokens":12,)"
      R"("completion_tokens":40,"total_tokens":52,"ttfb_ms":180.250,"duration_ms":912.004,)"
      R"("attempts":1,"stream":true,"error":null,"finish_reason":null})"
      "\n";
  EXPECT_EQ(out, expected);
  RequestRecord stopped = sample_record();
  stopped.finish_reason = FinishReason::length;
  out.clear();
  format(stopped, out);
  EXPECT_NE(out.find(R"("error":null,"finish_reason":"length"})"), std::string::npos) << out;
  // Every reason ends the line with its label; a value past the enum's end
  // (never made, but a byte could hold one) with null.
  for (size_t i = 0; i <= static_cast<size_t>(FinishReason::count_); ++i) {
    const auto reason = static_cast<FinishReason>(i);
    stopped.finish_reason = reason;
    out.clear();
    format(stopped, out);
    const std::string want = reason == FinishReason::count_
                                 ? std::string(R"(,"finish_reason":null})")
                                 : R"(,"finish_reason":")" + std::string(label(reason)) + "\"}";
    EXPECT_TRUE(out.ends_with(want + "\n")) << out;
  }
  // Statuses are three digits, whatever else is there is written as is.
  for (const int status : {100, 200, 404, 999, 0, 99, 1000, -5}) {
    RequestRecord odd = sample_record();
    odd.status = status;
    out.clear();
    format(odd, out);
    EXPECT_NE(out.find(",\"status\":" + std::to_string(status) + ","), std::string::npos) << out;
  }
}

// Milliseconds with three decimals from whole microseconds: leading zeros
// of the fraction kept, no rounding (nanoseconds below a microsecond are
// dropped), negative as null.
TEST(AccessLogFormat, MicrosecondsAsMillisecondsWithThreeDecimals) {
  const struct {
    int64_t ns;
    const char* want;
  } cases[] = {{0, "0.000"},         {999, "0.000"},          {5'000, "0.005"},
               {70'000, "0.070"},    {999'000, "0.999"},      {1'000'000, "1.000"},
               {1'000'001'000, "1000.001"}, {INT64_MAX, "9223372036854.775"}, {-1'000, "null"}};
  for (const auto& c : cases) {
    RequestRecord r = sample_record();
    r.start_ns = 0;
    r.end_ns = c.ns;
    std::string out;
    format(r, out);
    EXPECT_NE(out.find(std::string(",\"duration_ms\":") + c.want + ","), std::string::npos) << c.ns << ": " << out;
  }
}

TEST(AccessLogPeer, AddressesAndPortsAsWritten) {
  Peer::Text buf;
  Peer p;
  EXPECT_EQ(p.format(buf), "");  // unknown
  p.family = 4;
  const uint8_t v4[][4] = {{0, 0, 0, 0}, {10, 0, 0, 7}, {127, 0, 0, 1}, {255, 255, 255, 255}};
  const char* want[] = {"0.0.0.0:0", "10.0.0.7:51234", "127.0.0.1:80", "255.255.255.255:65535"};
  const uint16_t ports[] = {0, 51234, 80, 65535};
  for (size_t i = 0; i < 4; ++i) {
    std::memcpy(p.addr, v4[i], 4);
    p.port = ports[i];
    EXPECT_EQ(p.format(buf), want[i]);
  }
  // Every octet value, in every place (the zeros inside 100..109 and 200..209).
  for (unsigned v = 0; v < 256; ++v) {
    const std::string o = std::to_string(v);
    std::memset(p.addr, static_cast<int>(v), 4);
    p.port = static_cast<uint16_t>(v);
    ASSERT_EQ(p.format(buf), o + "." + o + "." + o + "." + o + ":" + o);
  }
  // Every port, each width of it.
  std::memcpy(p.addr, v4[2], 4);
  for (unsigned port = 0; port <= 65535; ++port) {
    p.port = static_cast<uint16_t>(port);
    ASSERT_EQ(p.format(buf), "127.0.0.1:" + std::to_string(port));
  }
  p.family = 6;
  std::memset(p.addr, 0, sizeof p.addr);
  p.addr[15] = 1;
  p.port = 51234;
  EXPECT_EQ(p.format(buf), "[::1]:51234");
  std::memset(p.addr, 0xff, sizeof p.addr);  // the longest form
  p.port = 65535;
  EXPECT_EQ(p.format(buf), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  // write_to() stays within kMaxTextBytes, whatever it writes past the
  // text's end: into heap blocks of exactly that size (ASan sees a byte
  // past one), for the longest text of each family.
  for (const uint8_t family : {uint8_t{4}, uint8_t{6}}) {
    p.family = family;
    auto block = std::make_unique<char[]>(Peer::kMaxTextBytes);
    const char* end = p.write_to(block.get());
    ASSERT_LE(static_cast<size_t>(end - block.get()), Peer::kMaxTextBytes);
    EXPECT_EQ(std::string_view(block.get(), static_cast<size_t>(end - block.get())),
              family == 4 ? "255.255.255.255:65535" : "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  }
}

TEST(AccessLogFormat, EmptyAndUnknownValuesAreNull) {
  RequestRecord r;
  r.end_ns = 1'234'000'000;
  r.first_byte_ns = 0;  // nothing sent
  r.status = 401;
  r.error = "invalid_api_key";
  std::string out;
  format(r, out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  EXPECT_EQ(std::string_view(doc["ts"]), "1970-01-01T00:00:01.234Z");
  EXPECT_TRUE(doc["key"].is_null());
  EXPECT_TRUE(doc["model"].is_null());
  EXPECT_TRUE(doc["ttfb_ms"].is_null());
  EXPECT_EQ(std::string_view(doc["request_id"]), "");
  EXPECT_EQ(std::string_view(doc["error"]), "invalid_api_key");
  EXPECT_EQ(int64_t(doc["status"]), 401);
}

TEST(AccessLogFormat, HostileStringsStillParse) {
  // Quotes, backslashes, every control byte, DEL, and malformed UTF-8: a
  // stray continuation byte, 0xFF, an overlong NUL, a surrogate, a cut
  // sequence at the very end.
  std::string controls;
  for (int c = 0; c < 0x20; ++c) controls += static_cast<char>(c);
  controls += '\x7f';
  const std::string hostile[] = {
      "\"}{\"injected\":1,\"x\":\"",
      "back\\slash\\",
      controls,
      "\x80 \xFF \xC0\x80 \xED\xA0\x80 caf\xC3\xA9 \xE2\x82",
  };
  for (const std::string& h : hostile) {
    RequestRecord r = sample_record();
    r.status = 502;  // the error is written only on an error status
    r.path = h;
    r.error = h;
    r.key = h;
    std::string out;
    format(r, out);
    ASSERT_EQ(out.back(), '\n');
    ASSERT_EQ(out.find('\n'), out.size() - 1) << "one line only";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
    simdjson::dom::object obj;
    ASSERT_EQ(doc.get(obj), simdjson::SUCCESS);
    EXPECT_EQ(obj.size(), 18u) << "no key injected";
    EXPECT_EQ(int64_t(doc["status"]), 502);
  }
  // Valid text survives exactly; each bad byte becomes one U+FFFD.
  RequestRecord r = sample_record();
  r.status = 502;
  r.path = hostile[0];
  r.error = hostile[3];
  r.key = controls;
  std::string out;
  format(r, out);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS);
  EXPECT_EQ(std::string_view(doc["path"]), hostile[0]);
  EXPECT_EQ(std::string_view(doc["key"]), controls);
  EXPECT_EQ(std::string_view(doc["error"]),
            "\xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            " caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD");
}

// format_to() writes with no check per piece, trusting max_line_size():
// the widest line there is (every string of bytes that escape to six, every
// number at its longest, both ends of the clock) must fit, and is written
// into a heap block of exactly that size (ASan sees one byte past it).
TEST(AccessLogFormat, TheWidestLineFitsItsBound) {
  const std::string controls(40, '\x01');  // \u0001 each
  const std::string bad(40, '\xFF');       // \ufffd each
  for (const int64_t end_ns : {INT64_MIN, int64_t{-1}, int64_t{0}, INT64_MAX}) {
    for (const std::string* s : {&controls, &bad}) {
      for (const int status : {INT_MIN, INT_MAX}) {  // the longest, and the longest with an error
        RequestRecord r;
        r.end_ns = end_ns;
        // Both times INT64_MAX nanoseconds (modulo 2^64, as the line takes
        // them), the longest there are.
        r.start_ns = static_cast<int64_t>(static_cast<uint64_t>(end_ns) - static_cast<uint64_t>(INT64_MAX));
        r.first_byte_ns = end_ns == 0 ? 1 : end_ns;
        r.request_id = r.method = r.path = r.key = r.model = r.provider = r.error = *s;
        r.finish_reason = FinishReason::content_filter;  // the longest label
        // The longest address text: IPv6 with no zero group to shorten.
        r.peer.family = 6;
        std::memset(r.peer.addr, 0xff, sizeof r.peer.addr);
        r.peer.port = 65535;
        r.status = status;
        r.prompt_tokens = r.completion_tokens = r.total_tokens = UINT64_MAX;
        r.attempts = UINT32_MAX;
        r.stream = false;
        const size_t bound = max_line_size(r);
        auto block = std::make_unique<char[]>(bound);
        const char* end = format_to(r, block.get());
        ASSERT_LE(static_cast<size_t>(end - block.get()), bound);
        const std::string_view line(block.get(), static_cast<size_t>(end - block.get()));
        ASSERT_EQ(line.back(), '\n');
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        ASSERT_EQ(parser.parse(std::string(line)).get(doc), simdjson::SUCCESS) << line;
        EXPECT_EQ(uint64_t(doc["total_tokens"]), UINT64_MAX);
        EXPECT_EQ(std::string_view(doc["client"]), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
        std::string appended = "before";
        format(r, appended);
        EXPECT_EQ(appended, "before" + std::string(line)) << "format() and format_to() agree";
      }
    }
  }
  // The bound is the same arithmetic for an ordinary line: never short.
  RequestRecord r = sample_record();
  std::string out;
  format(r, out);
  EXPECT_LE(out.size(), max_line_size(r));
}

TEST(AccessLogSample, RatesAndErrorsAlwaysLogged) {
  uint64_t rng = 0;
  int hits = 0;
  for (int i = 0; i < 100000; ++i) hits += sample(0.25, rng);
  EXPECT_GT(hits, 24000);
  EXPECT_LT(hits, 26000);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(sample(1.0, rng));
    EXPECT_FALSE(sample(0.0, rng));
    EXPECT_TRUE(should_log(500, 0.0, rng));
    EXPECT_TRUE(should_log(400, 0.0, rng));
    EXPECT_FALSE(should_log(399, 0.0, rng));
  }
}

TEST(AccessLogRequestId, GeneratedIdsAreHexUniqueAndValid) {
  uint64_t a = request_id_seed(0), b = request_id_seed(1);
  std::set<std::string> ids;
  for (int i = 0; i < 50000; ++i) {
    for (uint64_t* s : {&a, &b}) {
      std::string id(make_request_id(*s).view());
      ASSERT_EQ(id.size(), 16u);
      ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
      ASSERT_TRUE(valid_request_id(id));
      ASSERT_TRUE(ids.insert(id).second) << "repeated " << id;
    }
  }
  // The worker index survives the counter wrapping.
  uint64_t s = (uint64_t{7} << 48) | ((uint64_t{1} << 48) - 1);
  make_request_id(s);
  EXPECT_EQ(s, uint64_t{7} << 48);
}

// The digits in printf's order, every nibble value in every position.
TEST(AccessLogRequestId, HexTextIsPrintfs) {
  std::vector<uint64_t> values = {0, 1, 0xf, 0x10, 0x9a, 0xa9, UINT64_MAX, 0x0123456789abcdefull,
                                  0xfedcba9876543210ull, 0x8000000000000000ull};
  for (int pos = 0; pos < 16; ++pos) {
    for (uint64_t n = 0; n < 16; ++n) values.push_back(n << (4 * pos));
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 10000; ++i) values.push_back(x = x * 6364136223846793005ull + 1442695040888963407ull);
  for (uint64_t v : values) {
    char want[17];
    std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(v));
    ASSERT_EQ(std::string(hex_id(v).view()), std::string(want));
  }
}

TEST(AccessLogRequestId, ClientIdsAreCheckedStrictly) {
  EXPECT_TRUE(valid_request_id("a"));
  EXPECT_TRUE(valid_request_id("req-123_abc.DEF:9"));
  EXPECT_TRUE(valid_request_id(std::string(128, 'x')));
  EXPECT_FALSE(valid_request_id(""));
  EXPECT_FALSE(valid_request_id(std::string(129, 'x')));
  EXPECT_FALSE(valid_request_id("a b"));
  EXPECT_FALSE(valid_request_id("a\"b"));
  EXPECT_FALSE(valid_request_id("a\r\nX-Evil: 1"));
  EXPECT_FALSE(valid_request_id("caf\xC3\xA9"));
  EXPECT_FALSE(valid_request_id("a/b"));
  EXPECT_FALSE(valid_request_id(std::string_view("a\0b", 3)));
}

TEST(AccessLogBuffer, ShortWritesKeepTheRestInOrder) {
  LogBuffer buf;
  ASSERT_TRUE(buf.append("line one\n"));
  ASSERT_TRUE(buf.append("line two\n"));
  std::string written;
  std::string_view w = buf.take();
  EXPECT_EQ(w, "line one\nline two\n");
  EXPECT_TRUE(buf.take().empty()) << "one write in flight at a time";
  ASSERT_TRUE(buf.append("line three\n"));  // fills the other buffer meanwhile
  written.append(w.substr(0, 5));
  buf.done(5);
  w = buf.take();
  EXPECT_EQ(w, "one\nline two\n") << "the rest goes before newer lines";
  buf.done(-EAGAIN);  // nothing written: kept
  w = buf.take();
  EXPECT_EQ(w, "one\nline two\n");
  written.append(w);
  buf.done(static_cast<int>(w.size()));
  w = buf.take();
  EXPECT_EQ(w, "line three\n");
  written.append(w);
  buf.done(static_cast<int>(w.size()));
  EXPECT_EQ(buf.pending(), 0u);
  EXPECT_TRUE(buf.take().empty());
  EXPECT_EQ(written, "line one\nline two\nline three\n");
  EXPECT_EQ(buf.dropped(), 0u);
}

TEST(AccessLogBuffer, CapDropsAndCountsLines) {
  LogBuffer buf(100);
  const std::string line(29, 'x');
  const std::string nl = line + "\n";  // 30 bytes
  EXPECT_TRUE(buf.append(nl));
  EXPECT_TRUE(buf.append(nl));
  EXPECT_TRUE(buf.append(nl));
  EXPECT_FALSE(buf.append(nl));  // 120 > 100
  EXPECT_FALSE(buf.append("0123456789\n"));  // 101 > 100
  EXPECT_TRUE(buf.append("012345678\n"));   // exactly 100
  EXPECT_EQ(buf.dropped(), 2u);
  std::string_view w = buf.take();
  EXPECT_EQ(w.size(), 100u);
  EXPECT_FALSE(buf.append(nl)) << "bytes in flight still count against the cap";
  buf.done(60);
  EXPECT_TRUE(buf.append(nl));
  EXPECT_EQ(buf.pending(), 70u);
  EXPECT_EQ(buf.dropped(), 3u);
  EXPECT_FALSE(buf.append(std::string(200, 'y'))) << "a line bigger than the cap";
  EXPECT_EQ(buf.dropped(), 4u);
}

// The worker formats each line straight into the buffer's pending bytes:
// the cap holds as with append(), a line over it leaves nothing behind, and
// the buffer grows with what it holds (a line at a time), not by doubling
// per line.
TEST(AccessLogBuffer, FormattedInPlaceUnderTheCap) {
  std::string one;
  format(sample_record(), one);
  const size_t cap = 2000 * one.size();
  LogBuffer buf(cap);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(buf.append_with(max_line_size(sample_record()), [](char* to) { return format_to(sample_record(), to); })) << i;
  }
  EXPECT_EQ(buf.pending(), cap);
  EXPECT_FALSE(buf.append_with(max_line_size(sample_record()), [](char* to) { return format_to(sample_record(), to); }));
  EXPECT_EQ(buf.pending(), cap) << "the line over the cap was cut off again";
  EXPECT_EQ(buf.dropped(), 1u);
  const std::string_view all = buf.take();
  ASSERT_EQ(all.size(), cap);
  for (size_t at = 0; at < all.size(); at += one.size()) ASSERT_EQ(all.substr(at, one.size()), one) << at;
  buf.done(static_cast<int>(all.size()));
  EXPECT_TRUE(buf.append_with(max_line_size(sample_record()), [](char* to) { return format_to(sample_record(), to); }));
}

// record() reads no clock per line: the line's time is the request's
// monotonic end plus the wall clock's offset the worker read at its tick.
TEST(AccessLogRecord, StampedFromTheMonotonicEndAndTheOffset) {
  WorkerMetrics m;
  LogBuffer buf;
  aigw::config::AccessLogConfig cfg;
  uint64_t rng = 0;
  RequestRecord r;
  r.request_id = "abc";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.status = 200;
  r.start_ns = 4'000'000'000;
  r.end_ns = 5'000'000'000;  // 5 s after the monotonic clock's start
  const int64_t offset = 1738324800123'456'789 - r.end_ns;  // the end is 2025-01-31T12:00:00.123456789Z
  record(r, m, &buf, &cfg, rng, offset);
  r.end_ns += 1'000'000'000;  // and a second later
  record(r, m, &buf, &cfg, rng, offset - 2);
  const std::string lines(buf.take());
  simdjson::dom::parser parser;
  size_t at = 0;
  for (const char* want : {"2025-01-31T12:00:00.123Z", "2025-01-31T12:00:01.123Z"}) {
    const size_t nl = lines.find('\n', at);
    ASSERT_NE(nl, std::string::npos);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(lines.substr(at, nl - at)).get(doc), simdjson::SUCCESS);
    EXPECT_EQ(std::string_view(doc["ts"]), want);
    EXPECT_EQ(double(doc["duration_ms"]), at == 0 ? 1000.0 : 2000.0);
    at = nl + 1;
  }
}

TEST(AccessLogBuffer, BrokenDestinationDiscardsAndCounts) {
  LogBuffer buf;
  buf.append("a\n");
  buf.append("b\n");
  buf.append("c\n");
  buf.take();
  buf.done(3);  // "a\nb" written: the cut line b and line c are lost
  buf.take();
  buf.done(-EBADF);
  EXPECT_EQ(buf.dropped(), 2u);
  EXPECT_EQ(buf.write_errors(), 1u);
  EXPECT_EQ(buf.last_error(), -EBADF);
  EXPECT_EQ(buf.pending(), 0u);
  EXPECT_FALSE(buf.in_flight());
  EXPECT_TRUE(buf.append("d\n"));
  EXPECT_EQ(buf.take(), "d\n");
}

// The same through a real io_uring and a pipe, with the helper's offset -1.
TEST(AccessLogBuffer, WritesThroughIoUring) {
  io_uring ring;
  int rc = io_uring_queue_init(8, &ring, 0);
  if (rc < 0) GTEST_SKIP() << "io_uring unavailable: " << std::strerror(-rc);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LogBuffer buf;
  std::string line;
  format(sample_record(), line);
  std::string expected;
  for (int i = 0; i < 3; ++i) {
    buf.append(line);
    expected += line;
  }
  while (buf.pending() > 0) {
    ASSERT_FALSE(buf.take().empty());
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    buf.prep_write(sqe, fds[1]);
    ASSERT_EQ(io_uring_submit(&ring), 1);
    io_uring_cqe* cqe;
    ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
    buf.done(cqe->res);
    ASSERT_GT(cqe->res, 0) << std::strerror(-cqe->res);
    io_uring_cqe_seen(&ring, cqe);
  }
  close(fds[1]);
  std::string got(expected.size() + 1, '\0');
  ssize_t n = read(fds[0], got.data(), got.size());
  close(fds[0]);
  io_uring_queue_exit(&ring);
  ASSERT_EQ(n, static_cast<ssize_t>(expected.size()));
  got.resize(static_cast<size_t>(n));
  EXPECT_EQ(got, expected);
}

}  // namespace
