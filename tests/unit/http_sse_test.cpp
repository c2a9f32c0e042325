// Tests for src/http/sse.cpp: the text/event-stream reader (field rules,
// line-end variants, cut points, the size cap), the writer, and the recorded
// OpenAI streams in tests/fixtures/openai.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "http/sse.h"

#ifndef AIGW_FIXTURES_DIR
#error "AIGW_FIXTURES_DIR must be defined by the build"
#endif

namespace aigw::http {
namespace {

using namespace std::literals;

struct Ev {
  std::string event;
  std::string data;
  std::string id;
  size_t raw_bytes = 0;
  bool operator==(const Ev&) const = default;
};

void PrintTo(const Ev& e, std::ostream* os) {
  *os << "{event=" << testing::PrintToString(e.event) << " data=" << testing::PrintToString(e.data)
      << " id=" << testing::PrintToString(e.id) << " raw=" << e.raw_bytes << "}";
}

struct SseRun {
  std::vector<Ev> events;
  bool error = false;
  bool pending = false;
  bool saw_done = false;
};

// Feeds `stream` cut at `cuts` (increasing offsets), each piece from its own
// exact-size buffer so that ASan sees a view kept past its feed().
SseRun read_pieces(std::string_view stream, const std::vector<size_t>& cuts,
                size_t max_event = SseReader::kDefaultMaxEventBytes) {
  SseRun r;
  SseReader reader(max_event);
  size_t pos = 0;
  auto on_event = [&](const SseEvent& e) {
    r.events.push_back(Ev{std::string(e.event), std::string(e.data), std::string(e.id), e.raw_bytes});
  };
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t next = i < cuts.size() ? cuts[i] : stream.size();
    const std::vector<char> piece(stream.begin() + static_cast<long>(pos), stream.begin() + static_cast<long>(next));
    if (reader.feed(std::string_view(piece.data(), piece.size()), on_event) == SseReader::Status::error) {
      r.error = true;
    }
    pos = next;
  }
  EXPECT_EQ(r.error, reader.failed());
  EXPECT_EQ(r.events.size(), reader.events());
  r.pending = reader.pending();
  r.saw_done = reader.saw_done();
  return r;
}

SseRun read_whole(std::string_view stream, size_t max_event = SseReader::kDefaultMaxEventBytes) {
  return read_pieces(stream, {}, max_event);
}

SseRun read_bytewise(std::string_view stream, size_t max_event = SseReader::kDefaultMaxEventBytes) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  return read_pieces(stream, cuts, max_event);
}

void expect_same(const SseRun& a, const SseRun& b) {
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.pending, b.pending);
  EXPECT_EQ(a.saw_done, b.saw_done);
}

// Every way to cut `stream` in two and in three pieces, and byte by byte,
// gives what one feed gives.
void expect_split_invariant(std::string_view stream, size_t max_event = SseReader::kDefaultMaxEventBytes) {
  const SseRun whole = read_whole(stream, max_event);
  for (size_t i = 0; i <= stream.size(); ++i) {
    SCOPED_TRACE("cut at " + std::to_string(i));
    expect_same(whole, read_pieces(stream, {i}, max_event));
    if (testing::Test::HasFailure()) return;
  }
  if (stream.size() <= 200) {
    for (size_t i = 1; i < stream.size(); ++i) {
      for (size_t j = i; j < stream.size(); ++j) {
        SCOPED_TRACE("cut at " + std::to_string(i) + " and " + std::to_string(j));
        expect_same(whole, read_pieces(stream, {i, j}, max_event));
        if (testing::Test::HasFailure()) return;
      }
    }
  }
  expect_same(whole, read_bytewise(stream, max_event));
}

TEST(HttpSse, SingleEvent) {
  const SseRun r = read_whole("data: hello\n\n");
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0], (Ev{"", "hello", "", 13}));
  EXPECT_FALSE(r.pending);
  EXPECT_FALSE(r.error);
}

const std::string kMixed =
    ": this is a comment\n"
    "data: first\n"
    "\n"
    "event: delta\n"
    "data: line one\n"
    "data:line two\n"
    "data:  three (space kept)\n"
    "\n"
    "id: 42\n"
    "data\n"
    "\n"
    "retry: 1000\n"
    "unknown: field\n"
    "data: {\"a\":1}\n"
    "\n"
    ": keep-alive\n"
    "\n"
    "event: done\n"
    "id\n"
    "data: [DONE]\n"
    "\n";

const std::vector<Ev> kMixedEvents = {
    {"", "first", "", 33},
    {"delta", "line one\nline two\n three (space kept)", "", 69},
    {"", "", "42", 13},
    {"", "{\"a\":1}", "42", 42},
    {"done", "[DONE]", "", 43},
};

TEST(HttpSse, FieldsCommentsAndMultiLineData) {
  const SseRun r = read_whole(kMixed);
  EXPECT_EQ(r.events, kMixedEvents);
  EXPECT_TRUE(r.saw_done);
  EXPECT_FALSE(r.pending);
  size_t total = 0;
  for (const Ev& e : r.events) total += e.raw_bytes;
  EXPECT_EQ(total, kMixed.size());
}

TEST(HttpSse, EverySplitGivesTheSameEvents) { expect_split_invariant(kMixed); }

std::string with_line_ends(std::string_view lf_text, std::string_view eol) {
  std::string out;
  for (char c : lf_text) {
    if (c == '\n') {
      out += eol;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<Ev> without_raw(std::vector<Ev> events) {
  for (Ev& e : events) e.raw_bytes = 0;
  return events;
}

TEST(HttpSse, LineEndVariants) {
  for (std::string_view eol : {"\r\n"sv, "\r"sv}) {
    SCOPED_TRACE(testing::PrintToString(std::string(eol)));
    const std::string stream = with_line_ends(kMixed, eol);
    const SseRun r = read_whole(stream);
    EXPECT_EQ(without_raw(r.events), without_raw(kMixedEvents));
    expect_split_invariant(stream);
  }
  // Mixed in one stream, and a CRLF cut between its CR and LF.
  const std::string mixed = "data: a\r\ndata: b\r\r\ndata: c\n\r\nevent: x\rdata: d\r\n\n";
  const SseRun r = read_whole(mixed);
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].data, "a\nb");
  EXPECT_EQ(r.events[1].data, "c");
  EXPECT_EQ(r.events[2].data, "d");
  EXPECT_EQ(r.events[2].event, "x");
  expect_split_invariant(mixed);
}

// An event framed by CRLF is dispatched at the CR of its blank line, without
// waiting to see whether an LF follows; the LF is then counted to the next.
TEST(HttpSse, CrlfEventIsDispatchedWithoutWaitingForTheLf) {
  SseReader reader;
  int n = 0;
  EXPECT_EQ(reader.feed("data: x\r\n\r", [&](const SseEvent& e) {
              ++n;
              EXPECT_EQ(e.data, "x");
              EXPECT_EQ(e.raw_bytes, 10u);
            }),
            SseReader::Status::ok);
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(reader.pending());
  reader.feed("\ndata: y\r\n\r\n", [&](const SseEvent& e) {
    ++n;
    EXPECT_EQ(e.data, "y");
    EXPECT_EQ(e.raw_bytes, 11u);
  });
  EXPECT_EQ(n, 2);
}

TEST(HttpSse, FieldRules) {
  auto data_of = [](std::string_view stream) {
    const SseRun r = read_whole(stream);
    std::vector<std::string> out;
    for (const Ev& e : r.events) out.push_back(e.data);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(data_of("data:x\n\n"), V{"x"});
  EXPECT_EQ(data_of("data: x\n\n"), V{"x"});
  EXPECT_EQ(data_of("data:  x \n\n"), V{" x "});  // one space removed, no trimming
  EXPECT_EQ(data_of("data\n\n"), V{""});          // no colon: empty value
  EXPECT_EQ(data_of("data:\n\n"), V{""});
  EXPECT_EQ(data_of("data:\ndata:\n\n"), V{"\n"});
  EXPECT_EQ(data_of("data: a:b: c\n\n"), V{"a:b: c"});
  EXPECT_EQ(data_of("Data: x\n\n"), V{});          // field names are case-sensitive
  EXPECT_EQ(data_of(" data: x\n\n"), V{});
  EXPECT_EQ(data_of("data : x\n\n"), V{});
  EXPECT_EQ(data_of("event: only\n\n"), V{});      // no data field: nothing dispatched
  EXPECT_EQ(data_of(":data: x\n\n"), V{});         // a comment
  EXPECT_EQ(data_of("data: x\n"), V{});            // no blank line yet
  EXPECT_EQ(data_of("data: caf\xc3\xa9 \xe2\x9c\x93\n\n"), V{"caf\xc3\xa9 \xe2\x9c\x93"});
  EXPECT_EQ(data_of("data: a\0b\n\n"s), V{"a\0b"s});

  // The event type applies to one event only; a dropped block resets it too.
  const SseRun r = read_whole("event: a\n\ndata: 1\n\nevent: b\ndata: 2\n\ndata: 3\n\n");
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].event, "");
  EXPECT_EQ(r.events[1].event, "b");
  EXPECT_EQ(r.events[2].event, "");
  // The last event type of a block wins.
  EXPECT_EQ(read_whole("event: a\nevent: b\ndata: 1\n\n").events[0].event, "b");
}

TEST(HttpSse, IdPersists) {
  const SseRun r = read_whole(
      "id: 1\ndata: a\n\n"
      "data: b\n\n"
      "id: 2\n\n"          // no data: not dispatched, but the id is kept
      "data: c\n\n"
      "id: x\0y\ndata: d\n\n"s  // an id with NUL is ignored
      "id\ndata: e\n\n");
  ASSERT_EQ(r.events.size(), 5u);
  EXPECT_EQ(r.events[0].id, "1");
  EXPECT_EQ(r.events[1].id, "1");
  EXPECT_EQ(r.events[2].id, "2");
  EXPECT_EQ(r.events[3].id, "2");
  EXPECT_EQ(r.events[4].id, "");
}

TEST(HttpSse, CommentsAndEmptyBlocksCountTowardsTheNextEvent) {
  const std::string stream = ": ping\n\n: ping\n\n\n\ndata: x\n\n";
  const SseRun r = read_whole(stream);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].raw_bytes, stream.size());
  const SseRun none = read_whole(": ping\n\n");
  EXPECT_TRUE(none.events.empty());
  EXPECT_FALSE(none.pending);
}

TEST(HttpSse, ByteOrderMark) {
  const std::string bom = "\xef\xbb\xbf";
  {
    const SseRun r = read_whole(bom + "data: x\n\n");
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0], (Ev{"", "x", "", 12}));
    expect_split_invariant(bom + "data: x\n\n");
  }
  // Only at the very start: later it is part of a field name.
  {
    const SseRun r = read_whole(bom + "data: x\n\n" + bom + "data: y\n\n");
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].data, "x");
  }
  // A second BOM at the start is not stripped either.
  EXPECT_TRUE(read_whole(bom + bom + "data: x\n\n").events.empty());
  // Bytes that start like a BOM but are not one stay in the first line.
  EXPECT_TRUE(read_whole("\xef\xbb" "data: x\n\n").events.empty());
  expect_split_invariant("\xef\xbb" "data: x\n\ndata: y\n\n");
  expect_split_invariant("\xef\n\ndata: y\n\n");
  EXPECT_EQ(read_whole("\xef\n\ndata: y\n\n").events.size(), 1u);
  {
    SseReader reader;
    reader.feed("\xef", [](const SseEvent&) {});
    EXPECT_TRUE(reader.pending());
  }
}

TEST(HttpSse, OversizedEventFails) {
  const std::string small = "data: ok\n\n";
  const std::string big = "data: " + std::string(100, 'x') + "\n\n";
  {
    const SseRun r = read_whole(small + big + small, 64);
    EXPECT_TRUE(r.error);
    ASSERT_EQ(r.events.size(), 1u);  // the events before it still come out
    EXPECT_EQ(r.events[0].data, "ok");
  }
  expect_split_invariant(small + big + small, 64);
  // Spread over lines, or never ending, it is caught all the same.
  std::string many_lines;
  for (int i = 0; i < 20; ++i) many_lines += "data: 0123456789\n";
  EXPECT_TRUE(read_whole(many_lines, 64).error);
  EXPECT_TRUE(read_bytewise(std::string(65, 'x'), 64).error);
  EXPECT_TRUE(read_whole(": " + std::string(100, 'c'), 64).error);
  // The cap is per event: many events add up to any size.
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += small;
  const SseRun r = read_whole(stream, 64);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.events.size(), 1000u);
  // An event of exactly the cap passes (its bytes, line ends included).
  const std::string exact = "data: " + std::string(56, 'x') + "\n\n";
  ASSERT_EQ(exact.size(), 64u);
  EXPECT_FALSE(read_whole(exact, 64).error);
  EXPECT_TRUE(read_whole("data: " + std::string(57, 'x') + "\n\n", 64).error);
}

TEST(HttpSse, StaysFailedUntilReset) {
  SseReader reader(16);
  int n = 0;
  auto count = [&](const SseEvent&) { ++n; };
  EXPECT_EQ(reader.feed("data: " + std::string(32, 'x'), count), SseReader::Status::error);
  EXPECT_TRUE(reader.failed());
  EXPECT_GT(std::string_view(reader.error_message()).size(), 0u);
  EXPECT_EQ(reader.feed("\n\ndata: a\n\n", count), SseReader::Status::error);
  EXPECT_EQ(n, 0);
  reader.reset();
  EXPECT_FALSE(reader.failed());
  EXPECT_EQ(reader.feed("data: a\n\n", count), SseReader::Status::ok);
  EXPECT_EQ(n, 1);
}

TEST(HttpSse, PendingMeansCutMidEvent) {
  EXPECT_TRUE(read_whole("data: x\n").pending);
  EXPECT_TRUE(read_whole("data: x\n\ndata").pending);
  EXPECT_FALSE(read_whole("data: x\n\n").pending);
  EXPECT_FALSE(read_whole("data: x\r\n\r\n").pending);
  EXPECT_FALSE(read_whole("event: x\n").pending);  // would not be dispatched anyway
}

// Events wholly inside one feed() point into its input; the rest are
// assembled and still come out right once their last piece arrives.
TEST(HttpSse, ZeroCopyWithinOneFeed) {
  const std::string input = "event: e\ndata: in place\n\ndata: cut";
  SseReader reader;
  int n = 0;
  reader.feed(input, [&](const SseEvent& e) {
    ++n;
    EXPECT_GE(e.data.data(), input.data());
    EXPECT_LE(e.data.data() + e.data.size(), input.data() + input.size());
    EXPECT_GE(e.event.data(), input.data());
    EXPECT_LE(e.event.data() + e.event.size(), input.data() + input.size());
  });
  EXPECT_EQ(n, 1);
  std::string second = " here\n\n";
  reader.feed(second, [&](const SseEvent& e) {
    ++n;
    EXPECT_EQ(e.data, "cut here");
  });
  EXPECT_EQ(n, 2);
}

TEST(HttpSse, DoneMarker) {
  EXPECT_TRUE(is_sse_done("[DONE]"));
  EXPECT_FALSE(is_sse_done(" [DONE]"));
  EXPECT_FALSE(is_sse_done("[DONE]\n"));
  EXPECT_FALSE(is_sse_done("[done]"));
  EXPECT_FALSE(read_whole("data: {}\n\n").saw_done);
  EXPECT_TRUE(read_whole("data: [DONE]\n\n").saw_done);
  EXPECT_FALSE(read_whole("data: [DONE]\n").saw_done);  // not dispatched yet
}

TEST(HttpSse, Writer) {
  std::string out;
  append_sse_event(out, "{\"a\":1}");
  EXPECT_EQ(out, "data: {\"a\":1}\n\n");
  out.clear();
  append_sse_event(out, "a\nb\r\nc\rd");
  EXPECT_EQ(out, "data: a\ndata: b\ndata: c\ndata: d\n\n");
  out.clear();
  append_sse_event(out, "");
  EXPECT_EQ(out, "data: \n\n");
  out.clear();
  append_sse_event(out, "x", "error");
  EXPECT_EQ(out, "event: error\ndata: x\n\n");
  out.clear();
  append_sse_event(out, "x", "bad\r\ndata: injected");
  EXPECT_EQ(out, "event: bad\ndata: x\n\n");

  // Whatever is written reads back as written (line ends made LF).
  const std::vector<std::string> payloads = {
      "", "x", " lead", "trail ", "a\nb", "\n", "\n\n", "a\n", "[DONE]", ":colon", "data: nested\n\n",
      "a\r\nb", "a\rb", "\r\n", "caf\xc3\xa9"};
  std::string stream;
  std::vector<std::string> expected;
  for (const std::string& p : payloads) {
    append_sse_event(stream, p, p.empty() ? "" : "ev");
    std::string normalized;
    for (size_t i = 0; i < p.size(); ++i) {
      if (p[i] == '\r') {
        normalized += '\n';
        if (i + 1 < p.size() && p[i + 1] == '\n') ++i;
      } else {
        normalized += p[i];
      }
    }
    expected.push_back(normalized);
  }
  const SseRun r = read_whole(stream);
  ASSERT_EQ(r.events.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(r.events[i].data, expected[i]) << i;
    EXPECT_EQ(r.events[i].event, payloads[i].empty() ? "" : "ev");
  }
  expect_same(r, read_bytewise(stream));
}

// The recorded OpenAI streams: every body with Content-Type text/event-stream
// reads to the same events whole, byte by byte and cut at pseudo-random
// points; each event but the last is a JSON object, the last is [DONE].
TEST(HttpSse, RecordedOpenAiStreams) {
  namespace fs = std::filesystem;
  simdjson::dom::parser parser;
  simdjson::dom::parser chunk_parser;
  int streams = 0;
  size_t total_events = 0;
  for (const auto& entry : fs::directory_iterator(AIGW_FIXTURES_DIR "/openai")) {
    if (entry.path().extension() != ".json") continue;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.load(entry.path().string()).get(doc), simdjson::SUCCESS) << entry.path();
    simdjson::dom::array interactions;
    ASSERT_EQ(doc["interactions"].get(interactions), simdjson::SUCCESS) << entry.path();
    for (simdjson::dom::element it : interactions) {
      simdjson::dom::element headers;
      ASSERT_EQ(it["response"]["headers"].get(headers), simdjson::SUCCESS);
      bool sse = false;
      simdjson::dom::object hobj;
      ASSERT_EQ(headers.get(hobj), simdjson::SUCCESS);
      for (auto [key, value] : hobj) {
        if (key != "Content-Type" && key != "content-type") continue;
        simdjson::dom::array values;
        if (value.get(values) != simdjson::SUCCESS) continue;
        for (simdjson::dom::element v : values) {
          std::string_view s;
          if (v.get(s) == simdjson::SUCCESS && s.substr(0, 17) == "text/event-stream") sse = true;
        }
      }
      if (!sse) continue;
      std::string_view body_view;
      ASSERT_EQ(it["response"]["body"].get(body_view), simdjson::SUCCESS);
      const std::string body(body_view);
      SCOPED_TRACE(entry.path().filename().string());
      ++streams;

      const SseRun whole = read_whole(body);
      ASSERT_FALSE(whole.error);
      EXPECT_FALSE(whole.pending);
      ASSERT_GE(whole.events.size(), 2u);
      EXPECT_TRUE(whole.saw_done);
      EXPECT_EQ(whole.events.back().data, "[DONE]");
      size_t raw = 0;
      size_t data_lines = 0;
      for (size_t pos = body.find("data:"); pos != std::string::npos; pos = body.find("data:", pos + 1)) {
        if (pos == 0 || body[pos - 1] == '\n') ++data_lines;
      }
      EXPECT_EQ(whole.events.size(), data_lines);
      for (size_t i = 0; i < whole.events.size(); ++i) {
        raw += whole.events[i].raw_bytes;
        if (i + 1 == whole.events.size()) break;
        simdjson::dom::element chunk;
        ASSERT_EQ(chunk_parser.parse(whole.events[i].data).get(chunk), simdjson::SUCCESS)
            << whole.events[i].data;
        EXPECT_TRUE(chunk.is_object());
      }
      EXPECT_EQ(raw, body.size());
      total_events += whole.events.size();

      expect_same(whole, read_bytewise(body));
      uint64_t seed = body.size();
      for (int round = 0; round < 20; ++round) {
        std::vector<size_t> cuts;
        for (size_t pos = 0;;) {
          seed = seed * 6364136223846793005ull + 1442695040888963407ull;
          pos += 1 + (seed >> 33) % 300;
          if (pos >= body.size()) break;
          cuts.push_back(pos);
        }
        expect_same(whole, read_pieces(body, cuts));
      }
      // The same stream framed with CRLF reads to the same data.
      const SseRun crlf = read_whole(with_line_ends(body, "\r\n"));
      EXPECT_EQ(without_raw(crlf.events), without_raw(whole.events));
    }
  }
  EXPECT_GE(streams, 4);
  std::printf("openai fixtures: %d SSE streams, %zu events\n", streams, total_events);
}

}  // namespace
}  // namespace aigw::http
