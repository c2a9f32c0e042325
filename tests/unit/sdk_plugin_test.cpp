// The plugin SDK header (plugins/sdk/aigw_plugin.hpp) on its own: built as
// C++17 with -pedantic, as an author outside the tree may build it, and
// against the shared fake host for the config reader.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "support/fake_host.h"

namespace {

namespace sdk = aigw::sdk;
using aigw::test::FakeConfig;
using aigw::test::FakeHost;

// --- set_error ------------------------------------------------------------------

TEST(PluginSdkError, WritesATerminatedMessage) {
  char buf[32];
  std::memset(buf, 'X', sizeof buf);
  aigw_errbuf err{buf, sizeof buf};
  sdk::set_error(&err, "bad key");
  EXPECT_STREQ(buf, "bad key");
  sdk::set_error(&err, "openai plugin", ": out of memory");
  EXPECT_STREQ(buf, "openai plugin: out of memory");
}

TEST(PluginSdkError, CutsToTheBufferAtACharacterBoundary) {
  char buf[8];
  aigw_errbuf err{buf, sizeof buf};
  sdk::set_error(&err, "abcdefghij");
  EXPECT_STREQ(buf, "abcdefg");
  // "abcde" + a 3-byte character that would need bytes 6..8: it goes whole.
  sdk::set_error(&err, "abcde\xE2\x82\xAC");
  EXPECT_STREQ(buf, "abcde");
  // The same when the character is the first of the second part.
  sdk::set_error(&err, "abcd", "e\xE2\x82\xAC!");
  EXPECT_STREQ(buf, "abcde");
  // A character that fits exactly stays.
  char small[4];
  aigw_errbuf err3{small, sizeof small};
  sdk::set_error(&err3, "\xE2\x82\xAC" "x");
  EXPECT_STREQ(small, "\xE2\x82\xAC");
}

TEST(PluginSdkError, IgnoresAMissingBuffer) {
  sdk::set_error(nullptr, "x");
  aigw_errbuf none{nullptr, 16};
  sdk::set_error(&none, "x");
  char buf[1] = {'X'};
  aigw_errbuf zero{buf, 0};
  sdk::set_error(&zero, "x");
  EXPECT_EQ(buf[0], 'X');
  aigw_errbuf one{buf, 1};
  sdk::set_error(&one, "x");
  EXPECT_EQ(buf[0], '\0');
}

// --- struct_size ------------------------------------------------------------------

TEST(PluginSdkStructSize, HasFieldOnlyWhenTheSizeCoversIt) {
  aigw_client_request c{};
  c.struct_size = offsetof(aigw_client_request, key_index);  // an ABI 1.0 host
  EXPECT_TRUE(sdk::has_field(c, &aigw_client_request::model_value_len));
  EXPECT_FALSE(sdk::has_field(c, &aigw_client_request::key_index));
  c.struct_size = offsetof(aigw_client_request, key_index) + sizeof(uint32_t);
  EXPECT_TRUE(sdk::has_field(c, &aigw_client_request::key_index));
  aigw_worker_info w{};
  w.struct_size = 8;
  EXPECT_TRUE(sdk::has_field(w, &aigw_worker_info::worker_index));
  EXPECT_FALSE(sdk::has_field(w, &aigw_worker_info::worker_count));
}

TEST(PluginSdkStructSize, RequireHostNamesTheVersionOfAnOldTable) {
  FakeHost fake;
  aigw_host host = *fake.table();
  char buf[128] = "";
  aigw_errbuf err{buf, sizeof buf};
  EXPECT_EQ(sdk::require_host(host, &aigw_host::process_kill, "x plugin", &err), AIGW_OK);
  EXPECT_STREQ(buf, "");

  host.struct_size = offsetof(aigw_host, spawn);
  host.abi_minor = 0;
  EXPECT_EQ(sdk::require_host(host, &aigw_host::process_kill, "x plugin", &err),
            AIGW_ERR_UNSUPPORTED);
  EXPECT_EQ(std::string(buf), "x plugin: host callback table too old (ABI 1.0, " +
                                  std::to_string(offsetof(aigw_host, spawn)) + " bytes)");
  // A plugin that needs less is content with less.
  EXPECT_EQ(sdk::require_host(host, &aigw_host::timer_start, "x plugin", &err), AIGW_OK);

  host = *fake.table();
  host.abi_major = AIGW_ABI_MAJOR + 1;
  EXPECT_EQ(sdk::require_host(host, &aigw_host::log, "x plugin", &err), AIGW_ERR_UNSUPPORTED);
}

// --- the exception barrier ----------------------------------------------------------

TEST(PluginSdkBarrier, GuardedTurnsExceptionsIntoStatuses) {
  char buf[64] = "";
  aigw_errbuf err{buf, sizeof buf};
  EXPECT_EQ(sdk::guarded("p", &err, [] { return AIGW_ERR_LIMIT; }), AIGW_ERR_LIMIT);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(sdk::guarded("p", &err, []() -> aigw_status { throw std::bad_alloc(); }),
            AIGW_ERR_NO_MEMORY);
  EXPECT_STREQ(buf, "p: out of memory");
  EXPECT_EQ(sdk::guarded("p", &err, []() -> aigw_status { throw std::runtime_error("x"); }),
            AIGW_ERR_INTERNAL);
  EXPECT_STREQ(buf, "p: internal error");
  EXPECT_EQ(sdk::guarded("p", nullptr, []() -> aigw_status { throw 7; }), AIGW_ERR_INTERNAL);
}

TEST(PluginSdkBarrier, GuardedEventEndsTheRequestOnce) {
  std::vector<aigw_status> failures;
  auto record = [&](aigw_status st) { failures.push_back(st); };
  sdk::guarded_event([] {}, record);
  EXPECT_TRUE(failures.empty());
  sdk::guarded_event([] { throw std::bad_alloc(); }, record);
  sdk::guarded_event([] { throw std::logic_error("x"); }, record);
  EXPECT_EQ(failures, (std::vector<aigw_status>{AIGW_ERR_NO_MEMORY, AIGW_ERR_INTERNAL}));
  // A failing failure handler stays inside the barrier too.
  sdk::guarded_event([] { throw 1; }, [](aigw_status) { throw 2; });
}

// --- new_config and destroy ------------------------------------------------------

struct Counted {
  static int alive;
  Counted() { ++alive; }
  ~Counted() { --alive; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  int value = 0;
};
int Counted::alive = 0;

TEST(PluginSdkHooks, NewConfigHandsOverOnlyWhatLoaded) {
  FakeHost host;
  char buf[128] = "";
  aigw_errbuf err{buf, sizeof buf};
  void* out = nullptr;
  auto load = [](Counted& c, std::string&) {
    c.value = 7;
    return AIGW_OK;
  };
  ASSERT_EQ(sdk::new_config<Counted>("p", host.table(), &aigw_host::process_kill, &out, &err, load),
            AIGW_OK);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(static_cast<Counted*>(out)->value, 7);
  sdk::destroy<Counted>(out);
  EXPECT_EQ(Counted::alive, 0);

  out = nullptr;
  auto refuse = [](Counted&, std::string& error) {
    error = "k must be a string";
    return AIGW_ERR_CONFIG;
  };
  EXPECT_EQ(sdk::new_config<Counted>("p", host.table(), &aigw_host::log, &out, &err, refuse),
            AIGW_ERR_CONFIG);
  EXPECT_STREQ(buf, "k must be a string");
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(Counted::alive, 0);

  auto throws = [](Counted&, std::string&) -> aigw_status { throw std::bad_alloc(); };
  EXPECT_EQ(sdk::new_config<Counted>("p", host.table(), &aigw_host::log, &out, &err, throws),
            AIGW_ERR_NO_MEMORY);
  EXPECT_STREQ(buf, "p: out of memory");
  EXPECT_EQ(Counted::alive, 0);

  aigw_host old = *host.table();
  old.struct_size = offsetof(aigw_host, spawn);
  EXPECT_EQ(sdk::new_config<Counted>("p", &old, &aigw_host::process_kill, &out, &err, load),
            AIGW_ERR_UNSUPPORTED);
  EXPECT_EQ(sdk::new_config<Counted>("p", nullptr, &aigw_host::log, &out, &err, load),
            AIGW_ERR_INVALID);
  EXPECT_EQ(sdk::new_config<Counted>("p", host.table(), &aigw_host::log, nullptr, &err, load),
            AIGW_ERR_INVALID);
  EXPECT_EQ(out, nullptr);
  EXPECT_EQ(Counted::alive, 0);
}

// --- ConfigReader ------------------------------------------------------------------

// Somewhere for each getter to write.
struct Outs {
  std::string s;
  int64_t i = 0;
  bool b = false;
  uint64_t d = 0;
  size_t n = 0;
  std::string item;
  std::string_view secret;
};

class PluginSdkConfig : public ::testing::Test {
 protected:
  sdk::ConfigReader reader(std::map<std::string, aigw::test::ConfigValue> values) {
    cfg_.values = std::move(values);
    return sdk::ConfigReader(host_.table(), cfg_.handle(), error_);
  }

  FakeHost host_;
  FakeConfig cfg_;
  std::string error_;
};

TEST_F(PluginSdkConfig, ReadsEachTypeAndTellsAbsentFromWrong) {
  auto r = reader({{"s", std::string("text")},
                   {"i", int64_t{-3}},
                   {"b", true},
                   {"d", std::string("2m")},
                   {"a", std::vector<std::string>{"x", "y"}}});
  Outs o;
  EXPECT_TRUE(r.string("s", o.s));
  EXPECT_TRUE(r.integer("i", o.i));
  EXPECT_TRUE(r.boolean("b", o.b));
  EXPECT_TRUE(r.duration_ms("d", o.d));
  EXPECT_TRUE(r.array_len("a", o.n));
  EXPECT_TRUE(r.array_string("a", 1, o.item));
  EXPECT_EQ(o.s, "text");
  EXPECT_EQ(o.i, -3);
  EXPECT_TRUE(o.b);
  EXPECT_EQ(o.d, 120'000u);
  EXPECT_EQ(o.n, 2u);
  EXPECT_EQ(o.item, "y");
  // Absent: false, and no error.
  EXPECT_FALSE(r.string("nope", o.s));
  EXPECT_FALSE(r.failed());
  EXPECT_EQ(o.s, "text");
}

struct WrongType {
  const char* what;
  std::string message;
};

TEST_F(PluginSdkConfig, AWrongTypeSaysWhatTheKeyMustBe) {
  const std::vector<WrongType> cases = {
      {"string", "k must be a string"},
      {"integer", "k must be an integer"},
      {"boolean", "k must be true or false"},
      {"duration", "k must be a duration such as \"250ms\" or \"10s\""},
      {"array", "k must be an array of strings"},
      {"secret", "k must be a string, or \"env:NAME\" naming a set environment variable"},
  };
  for (const WrongType& c : cases) {
    error_.clear();
    // A bool is the wrong type for every getter but boolean, a string for boolean.
    std::string w = c.what;
    auto r = reader({{"k", w == "boolean" ? aigw::test::ConfigValue(std::string("yes"))
                                          : aigw::test::ConfigValue(true)}});
    Outs o;
    bool got = w == "string"     ? r.string("k", o.s)
               : w == "integer"  ? r.integer("k", o.i)
               : w == "boolean"  ? r.boolean("k", o.b)
               : w == "duration" ? r.duration_ms("k", o.d)
               : w == "array"    ? r.array_len("k", o.n)
                                 : r.secret("k", 0, "k", false, o.secret);
    EXPECT_FALSE(got) << w;
    EXPECT_TRUE(r.failed()) << w;
    EXPECT_EQ(error_, c.message) << w;
  }
}

TEST_F(PluginSdkConfig, KeepsTheFirstErrorOnly) {
  auto r = reader({{"a", true}, {"b", true}});
  std::string s;
  r.string("a", s);
  r.string("b", s);
  r.fail("later");
  EXPECT_EQ(error_, "a must be a string");
}

TEST_F(PluginSdkConfig, AMissingArrayItemIsAnError) {
  auto r = reader({{"cmd", std::vector<std::string>{"x"}}});
  std::string item;
  EXPECT_FALSE(r.array_string("cmd", 1, item));
  EXPECT_EQ(error_, "cmd[1] is missing");
}

TEST_F(PluginSdkConfig, SecretsStayInHostMemory) {
  auto r = reader({{"keys", std::vector<std::string>{"k0", "k1"}}});
  std::string_view v;
  ASSERT_TRUE(r.secret("keys", 1, "keys[1]", true, v));
  EXPECT_EQ(v, "k1");
  EXPECT_EQ(v.data(), cfg_.secrets.back().data());
  EXPECT_FALSE(r.secret("keys", 2, "keys[2]", true, v));
  EXPECT_EQ(error_, "keys[2] is missing");
}

TEST_F(PluginSdkConfig, RangeChecksInOneWording) {
  auto r = reader({{"n", int64_t{0}}, {"ok", int64_t{5}}});
  int64_t n = 42;
  EXPECT_FALSE(r.integer_in("n", 1, 10, n));
  EXPECT_EQ(n, 42);  // unchanged: it holds the default
  EXPECT_EQ(error_, "n must be between 1 and 10, got 0");
  EXPECT_TRUE(r.integer_in("ok", 1, 10, n));
  EXPECT_EQ(n, 5);

  error_.clear();
  auto r2 = reader({{"t", std::string("2h")}});
  uint64_t t = 7;
  EXPECT_FALSE(r2.duration_in("t", 1, 3'600'000, t));
  EXPECT_EQ(t, 7u);
  EXPECT_EQ(error_, "t must be between 1ms and 1h, got 2h");
}

TEST_F(PluginSdkConfig, PresentCountsAWrongTypeAsSet) {
  auto r = reader({{"timeout", int64_t{5}}});
  using Kind = sdk::ConfigReader::Kind;
  EXPECT_TRUE(r.present("timeout", Kind::duration));
  EXPECT_FALSE(r.present("command", Kind::array));
  EXPECT_FALSE(r.failed());
}

TEST(PluginSdkConfigText, DurationsReadLikeTheConfig) {
  EXPECT_EQ(sdk::format_duration_ms(0), "0ms");
  EXPECT_EQ(sdk::format_duration_ms(250), "250ms");
  EXPECT_EQ(sdk::format_duration_ms(1500), "1500ms");
  EXPECT_EQ(sdk::format_duration_ms(30'000), "30s");
  EXPECT_EQ(sdk::format_duration_ms(120'000), "2m");
  EXPECT_EQ(sdk::format_duration_ms(7'200'000), "2h");
  EXPECT_EQ(sdk::item_name("command", 3), "command[3]");
}

// --- UTF-8 and JSON ------------------------------------------------------------------

TEST(PluginSdkUtf8, FollowsRfc3629) {
  EXPECT_TRUE(sdk::is_valid_utf8(""));
  EXPECT_TRUE(sdk::is_valid_utf8("h\xC3\xA9 \xE4\xB8\x96 \xF0\x9F\x8E\x89"));
  EXPECT_FALSE(sdk::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(sdk::is_valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(sdk::is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(sdk::is_valid_utf8("\xE4\xB8"));          // cut short
  EXPECT_FALSE(sdk::is_valid_utf8("\x80"));

  auto seq = [](std::string_view s) {
    return sdk::utf8_sequence(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  };
  EXPECT_EQ(seq("\xE4\xB8").kind, sdk::Utf8Kind::incomplete);
  EXPECT_EQ(seq("\xE4\xB8").len, 2u);
  EXPECT_EQ(seq("\xE4" "A").kind, sdk::Utf8Kind::invalid);
  EXPECT_EQ(seq("\xE4" "A").len, 1u);
  EXPECT_EQ(seq("\xF0\x9F\x8E" "A").len, 3u);  // the maximal subpart
}

std::string json(std::string_view s) {
  std::string out = "prefix:";
  sdk::append_json_string(out, s);
  return out;
}

TEST(PluginSdkJson, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(json(""), "prefix:\"\"");
  EXPECT_EQ(json("say \"hi\" \\ now"), "prefix:\"say \\\"hi\\\" \\\\ now\"");
  EXPECT_EQ(json("a\nb\rc\td"), "prefix:\"a\\nb\\rc\\td\"");
  EXPECT_EQ(json(std::string("\x01\x08\x0c\x1f\x7f", 5)),
            "prefix:\"\\u0001\\u0008\\u000c\\u001f\x7f\"");
  EXPECT_EQ(json(std::string("a\0b", 3)), "prefix:\"a\\u0000b\"");
  std::string inside;
  sdk::append_json_escaped(inside, "x\"y");
  EXPECT_EQ(inside, "x\\\"y");
}

TEST(PluginSdkJson, ValidUtf8PassesAndInvalidBecomesReplacementCharacters) {
  EXPECT_EQ(json("h\xC3\xA9 \xF0\x9F\x8E\x89"), "prefix:\"h\xC3\xA9 \xF0\x9F\x8E\x89\"");
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(json("a\xFF" "b"), "prefix:\"a" + fffd + "b\"");
  EXPECT_EQ(json("\xC0\xAF"), "prefix:\"" + fffd + fffd + "\"");
  // A broken 4-byte start is one replacement; the character after it stays.
  EXPECT_EQ(json("\xF0\x9F\x8E" "A"), "prefix:\"" + fffd + "A\"");
  // Cut short at the end of the string.
  EXPECT_EQ(json("ok\xE4\xB8"), "prefix:\"ok" + fffd + "\"");
}

// --- SSE ------------------------------------------------------------------------------

std::vector<std::string> split(sdk::SseSplitter& sse, const std::vector<std::string>& pieces) {
  std::vector<std::string> events;
  for (const std::string& p : pieces) {
    EXPECT_TRUE(sse.feed(p, [&](std::string_view e) {
      events.emplace_back(e);
      return true;
    }));
  }
  return events;
}

TEST(PluginSdkSse, EventsComeWholeHoweverTheBytesAreCut) {
  const std::string stream = "data: 1\n\ndata: 2\r\n\r\n: ping\n\ndata: 3\n\n";
  const std::vector<std::string> want = {"data: 1\n\n", "data: 2\r\n\r\n", ": ping\n\n",
                                         "data: 3\n\n"};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    sdk::SseSplitter sse;
    EXPECT_EQ(split(sse, {stream.substr(0, cut), stream.substr(cut)}), want) << cut;
    EXPECT_TRUE(sse.tail().empty());
  }
  sdk::SseSplitter bytewise;
  std::vector<std::string> pieces;
  for (char c : stream) pieces.emplace_back(1, c);
  EXPECT_EQ(split(bytewise, pieces), want);
}

// event_lines() counts the lines before the blank one, comments included,
// however the bytes are cut (a line cut in two is one line).
TEST(PluginSdkSse, EachEventSaysHowManyLinesItHas) {
  const std::string stream =
      "data: 1\n\ndata: 2\r\n\r\n: ping\nevent: x\ndata: 3\n\n\r\ndata: 4\n\r\r\n";
  const std::vector<size_t> want = {1, 1, 3, 0, 1};
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    sdk::SseSplitter sse;
    std::vector<size_t> lines;
    for (std::string piece : {stream.substr(0, cut), stream.substr(cut)}) {
      EXPECT_TRUE(sse.feed(piece, [&](std::string_view) {
        lines.push_back(sse.event_lines());
        return true;
      }));
    }
    EXPECT_EQ(lines, want) << cut;
  }
}

TEST(PluginSdkSse, ALineOfCarriageReturnsIsBlankAndTheRestWaits) {
  sdk::SseSplitter sse;
  EXPECT_EQ(split(sse, {"data: a\n\r", "\r\ndata: b\n"}),
            (std::vector<std::string>{"data: a\n\r\r\n"}));
  EXPECT_EQ(sse.tail(), "data: b\n");
}

TEST(PluginSdkSse, AnEventPastTheLimitEndsTheStream) {
  sdk::SseSplitter sse(8);
  EXPECT_TRUE(sse.feed("data: ", [](std::string_view) { return true; }));
  EXPECT_FALSE(sse.feed("123", [](std::string_view) { return true; }));
  EXPECT_TRUE(sse.overflow());
}

TEST(PluginSdkSse, StopsWhenTheHandlerSaysSo) {
  sdk::SseSplitter sse;
  int calls = 0;
  EXPECT_FALSE(sse.feed("data: 1\n\ndata: 2\n\n", [&](std::string_view) {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(sse.overflow());
}

TEST(PluginSdkSse, FieldsAsTheSpecReadsThem) {
  std::vector<std::string> fields;
  sdk::for_each_sse_field(
      ": comment\r\nevent: delta\r\ndata:x\ndata:  two\nid\n\n",
      [&](std::string_view name, std::string_view value) {
        fields.push_back(std::string(name) + "=" + std::string(value));
      });
  EXPECT_EQ(fields, (std::vector<std::string>{"event=delta", "data=x", "data= two", "id="}));
}

// --- the rest ----------------------------------------------------------------------------

TEST(PluginSdkMisc, HeaderNamesCompareWithoutCase) {
  EXPECT_TRUE(sdk::iequals("Content-Type", "content-TYPE"));
  EXPECT_TRUE(sdk::iequals("", ""));
  EXPECT_FALSE(sdk::iequals("Content-Type", "Content-Typ"));
  EXPECT_FALSE(sdk::iequals("a-b", "a_b"));
  EXPECT_FALSE(sdk::iequals("a-b", "a\rb"));  // 0x2d == 0x0d | 0x20: not a letter
  EXPECT_FALSE(sdk::iequals("a@", "a`"));     // 0x40 | 0x20 == 0x60
  EXPECT_FALSE(sdk::iequals("\xc3", "\xe3"));
}

// Word by word, it answers as a byte-by-byte fold does: every pair of byte
// values at every position of names from 1 to 20 bytes, among bytes that
// differ in case and among bytes that are the same.
TEST(PluginSdkMisc, HeaderNamesCompareAsTheByteDefinitionAtEveryPosition) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; };
  for (const char other : {'Q', 'q'}) {
    for (size_t n = 1; n <= 20; ++n) {
      for (size_t at = 0; at < n; ++at) {
        std::string a(n, 'q');
        std::string b(n, other);
        for (int x = 0; x < 256; ++x) {
          for (int y = 0; y < 256; ++y) {
            a[at] = static_cast<char>(x);
            b[at] = static_cast<char>(y);
            const bool want = lower(static_cast<unsigned char>(x)) == lower(static_cast<unsigned char>(y));
            if (sdk::iequals(a, b) != want) {
              ADD_FAILURE() << "n " << n << " at " << at << " bytes " << x << " " << y;
              return;
            }
          }
        }
      }
    }
  }
}

TEST(PluginSdkMisc, WipeZeroesInPlace) {
  std::string s = "sk-secret-value-longer-than-sso";
  const char* before = s.data();
  sdk::wipe(s);
  EXPECT_EQ(s.data(), before);
  EXPECT_EQ(s, std::string(s.size(), '\0'));
}

TEST(PluginSdkMisc, StringsConvertWithoutCopies) {
  std::string_view v = "abc";
  aigw_plugin_str p = sdk::str(v);
  EXPECT_EQ(p.ptr, v.data());
  EXPECT_EQ(p.len, 3u);
  EXPECT_EQ(sdk::view(aigw_host_str{nullptr, 5}), "");
  EXPECT_EQ(sdk::view(aigw_host_str{"xyz", 2}), "xy");
  aigw_plugin_bytes b = sdk::bytes(v);
  EXPECT_EQ(sdk::view(aigw_host_bytes{b.ptr, b.len}), "abc");
}

// --- HttpRequestHooks -------------------------------------------------------

struct ToyInstance {
  int made = 0;
};

// Records what the hooks asked of it; throws where a test says so.
struct ToyRequest {
  ToyRequest(ToyInstance& i, aigw_request*, const aigw_client_request& c) : instance(i), client(c) { ++i.made; }
  aigw_status admit(std::string& error) {
    if (sdk::view(client.model) == "refused") {
      error = "no such model here";
      return AIGW_ERR_NOT_FOUND;
    }
    return AIGW_OK;
  }
  aigw_status build_upstream(aigw_upstream_request&, std::string&) { throw std::bad_alloc(); }
  aigw_status on_head(int32_t status, const aigw_host_header*, size_t, aigw_upstream_verdict&) {
    heads.push_back(status);
    return AIGW_OK;
  }
  void on_body(const aigw_host_bytes*, size_t, bool) { throw std::runtime_error("bug"); }
  void fail(aigw_status st, std::string_view message) { failures.emplace_back(st, std::string(message)); }
  void client_gone() { gone = true; }

  ToyInstance& instance;
  const aigw_client_request& client;
  std::vector<int32_t> heads;
  std::vector<std::pair<aigw_status, std::string>> failures;
  bool gone = false;
};

struct ToyWho {
  static constexpr std::string_view name = "toy plugin";
};
using ToyHooks = sdk::HttpRequestHooks<ToyRequest, ToyInstance, ToyWho>;

aigw_client_request toy_client(const char* model) {
  aigw_client_request c{};
  c.struct_size = sizeof c;
  c.model = {model, std::strlen(model)};
  return c;
}

TEST(PluginSdkHttpHooks, RequestNewMakesAdmitsOrRefuses) {
  ToyInstance inst;
  char buf[128] = {0};
  aigw_errbuf err{buf, sizeof buf};
  void* ctx = nullptr;
  aigw_client_request ok = toy_client("m");
  ASSERT_EQ(ToyHooks::request_new(&inst, nullptr, &ok, &ctx, &err), AIGW_OK);
  ASSERT_NE(ctx, nullptr);
  sdk::destroy<ToyRequest>(ctx);

  aigw_client_request refused = toy_client("refused");
  ctx = nullptr;
  EXPECT_EQ(ToyHooks::request_new(&inst, nullptr, &refused, &ctx, &err), AIGW_ERR_NOT_FOUND);
  EXPECT_EQ(ctx, nullptr);  // nothing handed over: request_destroy is not owed
  EXPECT_STREQ(buf, "no such model here");

  aigw_client_request old = toy_client("m");
  old.struct_size = 8;  // a table too short to hold the model
  EXPECT_EQ(ToyHooks::request_new(&inst, nullptr, &old, &ctx, &err), AIGW_ERR_INVALID);
  EXPECT_STREQ(buf, "toy plugin: malformed client request");
  EXPECT_EQ(inst.made, 2);
}

TEST(PluginSdkHttpHooks, ExceptionsStayInsideThePlugin) {
  ToyInstance inst;
  aigw_client_request c = toy_client("m");
  ToyRequest r(inst, nullptr, c);
  char buf[128] = {0};
  aigw_errbuf err{buf, sizeof buf};
  aigw_upstream_request up{};
  EXPECT_EQ(ToyHooks::build_upstream(&r, &up, &err), AIGW_ERR_NO_MEMORY);
  EXPECT_STREQ(buf, "toy plugin: out of memory");

  aigw_upstream_verdict v{};
  EXPECT_EQ(ToyHooks::on_upstream_head(&r, 200, nullptr, 0, &v), AIGW_OK);
  EXPECT_EQ(r.heads, std::vector<int32_t>{200});
  EXPECT_EQ(ToyHooks::on_upstream_head(&r, 200, nullptr, 0, nullptr), AIGW_ERR_INVALID);

  // A body hook has no errbuf: the request ends through fail().
  EXPECT_EQ(ToyHooks::on_upstream_body(&r, nullptr, 0, 1), AIGW_OK);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_EQ(r.failures[0].first, AIGW_ERR_INTERNAL);
  EXPECT_EQ(r.failures[0].second, "toy plugin: internal error");
  EXPECT_EQ(ToyHooks::on_upstream_body(&r, nullptr, 2, 0), AIGW_ERR_INVALID);

  ToyHooks::on_client_gone(&r);
  EXPECT_TRUE(r.gone);
  ToyHooks::on_client_gone(nullptr);
}

}  // namespace
