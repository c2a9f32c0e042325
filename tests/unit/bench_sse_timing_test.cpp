// bench/load/stream_timing.cpp and response_reader.cpp: stream timing on
// scripted byte arrivals with fake timestamps (TTFB, first content, gaps,
// [DONE]), however the bytes are cut.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "histogram.h"
#include "load/response_reader.h"
#include "load/stream_timing.h"

namespace aigw::bench {
namespace {

const std::string kRole = R"({"choices":[{"index":0,"delta":{"role":"assistant"}}]})";
const std::string kHello = R"({"choices":[{"index":0,"delta":{"content":"Hello"}}]})";
const std::string kWorld = R"({"choices":[{"index":0,"delta":{"content":" world"}}]})";
const std::string kFinish = R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})";
const std::string kUsage =
    R"({"id":"x","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":7,"total_tokens":10}})";

std::string ev(const std::string& data) { return "data: " + data + "\n\n"; }

// Arrivals: (time, bytes). Origin 1000 ns, head at 1500.
struct Script {
  std::vector<std::pair<uint64_t, std::string>> arrivals;
};

Script chat_script() {
  return Script{{
      {2000, ev(kRole)},
      {3000, "data: " + kHello.substr(0, 20)},  // an event cut in the middle
      {3500, kHello.substr(20) + "\n\n"},
      {5000, ev(kWorld) + ev(kFinish) + ev(kUsage)},  // three events in one read
      {6000, "data: [DONE]\n\n"},
  }};
}

TEST(BenchSseTiming, TimesFirstByteFirstContentGapsAndDone) {
  EventJson json;
  Histogram gaps;
  StreamTiming s;
  s.start(1000, &json, &gaps);
  s.on_first_byte(1500);
  s.on_first_byte(1700);  // only the first counts
  for (const auto& [t, bytes] : chat_script().arrivals) s.feed(bytes, t);
  const StreamStats& st = s.stats();
  EXPECT_TRUE(st.first_byte_seen);
  EXPECT_EQ(st.ttfb_ns, 500u);
  EXPECT_TRUE(st.content_seen);
  EXPECT_EQ(st.first_content_ns, 2500u);  // the hello event completed at 3500
  EXPECT_EQ(st.events, 6u);               // role, hello, world, finish, usage, [DONE]
  EXPECT_EQ(st.content_events, 2u);
  EXPECT_TRUE(st.usage_seen);
  EXPECT_EQ(st.tokens(), 7u);  // usage wins over counting content events
  EXPECT_TRUE(st.done);
  // Gaps between consecutive events: 1500 (role->hello), 1500 (hello->world),
  // 0, 0 (same read), 1000 (usage->[DONE]).
  EXPECT_EQ(gaps.count(), 5u);
  EXPECT_EQ(gaps.min(), 0u);
  EXPECT_EQ(gaps.max(), 1500u);
  EXPECT_EQ(gaps.percentile(50), 1000u);
  EXPECT_DOUBLE_EQ(gaps.mean(), 4000.0 / 5);
}

TEST(BenchSseTiming, ByteAtATimeGivesTheSameEvents) {
  EventJson json;
  Histogram gaps;
  StreamTiming s;
  s.start(0, &json, &gaps);
  uint64_t t = 10;
  for (const auto& [when, bytes] : chat_script().arrivals) {
    (void)when;
    for (char c : bytes) s.feed(std::string_view(&c, 1), t++);
  }
  const StreamStats& st = s.stats();
  EXPECT_EQ(st.events, 6u);
  EXPECT_EQ(st.content_events, 2u);
  EXPECT_EQ(st.tokens(), 7u);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(gaps.count(), 5u);
  EXPECT_FALSE(st.first_byte_seen);  // on_first_byte was never called
}

TEST(BenchSseTiming, WithoutDoneOrUsage) {
  EventJson json;
  StreamTiming s;
  s.start(100, &json, nullptr);  // a warm-up stream: no gap histogram
  s.feed(ev(kRole) + ev(kHello) + ev(kWorld), 400);
  s.feed("data: [DO", 500);  // cut: never completed
  const StreamStats& st = s.stats();
  EXPECT_FALSE(st.done);
  EXPECT_FALSE(st.usage_seen);
  EXPECT_EQ(st.tokens(), 2u);  // one per content event
  EXPECT_EQ(st.first_content_ns, 300u);
}

TEST(BenchSseTiming, ContentRules) {
  EventJson json;
  StreamTiming s;
  s.start(0, &json, nullptr);
  // Empty or null content, no choices, not JSON, comments: no content.
  s.feed(ev(R"({"choices":[{"delta":{"content":""}}]})"), 1);
  s.feed(ev(R"({"choices":[{"delta":{"content":null}}]})"), 2);
  s.feed(ev(R"({"choices":[]})"), 3);
  s.feed(ev("not json"), 4);
  s.feed(": keep-alive comment\n\n", 5);
  s.feed("event: ping\n\n", 6);  // no data: no event
  EXPECT_EQ(s.stats().events, 4u);
  EXPECT_FALSE(s.stats().content_seen);
  // Legacy completions: choices[0].text; CRLF line ends; no space after the colon.
  s.feed("data:" + std::string(R"({"choices":[{"text":"Hi","index":0}]})") + "\r\n\r\n", 7);
  EXPECT_TRUE(s.stats().content_seen);
  EXPECT_EQ(s.stats().first_content_ns, 7u);
  // Only choices[0] counts; escaped content counts as content.
  s.feed(ev(R"({"choices":[{"delta":{}},{"delta":{"content":"x"}}]})"), 8);
  s.feed(ev(R"({"choices":[{"delta":{"content":"\n"}}]})"), 9);
  EXPECT_EQ(s.stats().content_events, 2u);
  s.feed("data:[DONE]\r\n\r\n", 10);
  EXPECT_TRUE(s.stats().done);
}

// Anthropic's Messages stream (/v1/messages, as the native pass-through and
// the translation send it): event lines, content in content_block_delta,
// the count in message_delta's usage, the end at message_stop (no [DONE]).
TEST(BenchSseTiming, AnthropicMessagesStream) {
  auto aev = [](const std::string& type, const std::string& data) {
    return "event: " + type + "\ndata: " + data + "\n\n";
  };
  EventJson json;
  StreamTiming s;
  s.start(0, &json, nullptr);
  s.feed(aev("message_start", R"({"type":"message_start","message":{"id":"msg_1","content":[],)"
                              R"("usage":{"input_tokens":9,"output_tokens":1}}})") +
             aev("content_block_start", R"({"type":"content_block_start","index":0,)"
                                        R"("content_block":{"type":"text","text":""}})") +
             aev("ping", R"({"type":"ping"})"),
         10);
  EXPECT_FALSE(s.stats().content_seen);
  s.feed(aev("content_block_delta", R"({"type":"content_block_delta","index":0,)"
                                    R"("delta":{"type":"text_delta","text":"Hi"}})"),
         20);
  s.feed(aev("content_block_delta", R"({"type":"content_block_delta","index":0,)"
                                    R"("delta":{"type":"thinking_delta","thinking":""}})") +
             aev("content_block_delta", R"({"type":"content_block_delta","index":1,)"
                                        R"("delta":{"type":"input_json_delta","partial_json":"{\"a\""}})"),
         30);
  EXPECT_EQ(s.stats().first_content_ns, 20u);
  EXPECT_EQ(s.stats().content_events, 2u);  // the empty thinking delta is none
  EXPECT_FALSE(s.stats().done);
  s.feed(aev("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn",)"
                              R"("stop_sequence":null},"usage":{"output_tokens":12}})"),
         40);
  EXPECT_FALSE(s.stats().done);
  s.feed(aev("message_stop", R"({"type":"message_stop"})"), 50);
  const StreamStats& st = s.stats();
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.events, 8u);
  EXPECT_TRUE(st.usage_seen);
  EXPECT_EQ(st.tokens(), 12u);  // message_delta's count, the last one
}

// The whole path a stream takes in a worker: raw HTTP bytes (chunked), the
// response reader, the stream timing, cut at every possible point.
TEST(BenchSseTiming, ChunkedResponseThroughTheReaderCutAnywhere) {
  std::string body = ev(kRole) + ev(kHello) + ev(kWorld) + ev(kUsage) + "data: [DONE]\n\n";
  std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 37) {
    std::string piece = body.substr(off, 37);
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    wire += size + piece + "\r\n";
  }
  wire += "0\r\n\r\n";
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    EventJson json;
    StreamTiming s;
    ResponseReader r;
    r.reset();
    s.start(0, &json, nullptr);
    std::string stream_body;
    ResponseReader::Result res = ResponseReader::Result::need_more;
    size_t pos = 0;
    uint64_t t = 100;
    for (std::string_view part : {std::string_view(wire).substr(0, cut),
                                  std::string_view(wire).substr(cut)}) {
      size_t used = 0;
      res = r.feed(part, used, stream_body);
      pos += used;
      s.feed(stream_body, t);
      stream_body.clear();
      t += 100;
      if (res != ResponseReader::Result::need_more) break;
    }
    ASSERT_EQ(res, ResponseReader::Result::done) << "cut at " << cut;
    ASSERT_EQ(pos, wire.size()) << "cut at " << cut;
    EXPECT_TRUE(r.info().event_stream);
    EXPECT_EQ(r.info().status, 200);
    EXPECT_TRUE(r.info().keep_alive);
    EXPECT_EQ(s.stats().events, 5u) << "cut at " << cut;
    EXPECT_EQ(s.stats().content_events, 2u) << "cut at " << cut;
    EXPECT_TRUE(s.stats().done) << "cut at " << cut;
  }
}

TEST(BenchSseTiming, ReaderFramings) {
  std::string body;
  size_t used = 0;
  ResponseReader r;
  r.reset();
  // Content-Length, then the next response's bytes are left alone.
  std::string two = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1";
  EXPECT_EQ(r.feed(two, used, body), ResponseReader::Result::done);
  EXPECT_EQ(used, two.size() - 8);
  EXPECT_TRUE(body.empty());  // not an event stream: not kept
  // A 100 Continue before the answer is skipped.
  r.reset();
  EXPECT_EQ(r.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", used, body),
            ResponseReader::Result::done);
  EXPECT_EQ(r.info().status, 204);
  // Close-delimited: ends at EOF; the connection cannot be reused.
  r.reset();
  EXPECT_EQ(r.feed("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n", used, body),
            ResponseReader::Result::need_more);
  EXPECT_EQ(body, "data: x\n\n");
  EXPECT_FALSE(r.info().keep_alive);
  EXPECT_EQ(r.on_eof(), ResponseReader::Result::done);
  // Cut short.
  r.reset();
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", used, body),
            ResponseReader::Result::need_more);
  EXPECT_EQ(r.on_eof(), ResponseReader::Result::error);
  // Garbage.
  r.reset();
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", used, body),
            ResponseReader::Result::error);
  r.reset();
  EXPECT_EQ(r.feed("SSH-2.0-OpenSSH\r\n\r\n", used, body), ResponseReader::Result::error);
  // A head in many pieces.
  r.reset();
  std::string head = "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
  ResponseReader::Result res = ResponseReader::Result::need_more;
  for (char c : head) {
    res = r.feed(std::string_view(&c, 1), used, body);
    ASSERT_EQ(used, 1u);
  }
  EXPECT_EQ(res, ResponseReader::Result::done);
  EXPECT_EQ(r.info().status, 503);
  EXPECT_FALSE(r.info().keep_alive);
}

}  // namespace
}  // namespace aigw::bench
