// src/config/schema_reader: the one reader of a TOML table against the keys
// a schema knows, for the host's sections and a plugin's provider keys.
// Every problem of a table is recorded, each with its line and column; a
// key nobody asked for is unknown, with a "did you mean" when one is close.
#include "config/schema_reader.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

namespace aigw::config {
namespace {

using Lines = std::vector<std::string>;

class SchemaReaderTest : public ::testing::Test {
 protected:
  TableReader parse(std::string_view text) {
    root_ = toml::parse(text, std::string("t.toml"));
    return TableReader::root(root_, problems_);
  }

  toml::table root_;
  Problems problems_{"t.toml"};
};

TEST_F(SchemaReaderTest, UnknownKeyGetsTheNearestKnownKey) {
  TableReader top = parse("[server]\nworkers = 2\nwrokers = 1\nthreads = 4\n");
  TableReader server = top.table("server");
  uint64_t workers = 0;
  bool pin = false;
  server.get_integer("workers", {0, 1024}, workers);
  server.get_bool("pin_workers", pin);  // asked for, absent
  server.report_unknown_keys();
  top.report_unknown_keys();
  EXPECT_EQ(workers, 2u);
  EXPECT_EQ(problems_.take_sorted(),
            (Lines{
                "t.toml:3:1: server.wrokers: unknown key \"server.wrokers\" (did you mean "
                "\"server.workers\"?)",
                // Nothing near: no suggestion rather than a wild one.
                "t.toml:4:1: server.threads: unknown key \"server.threads\"",
            }));
}

TEST_F(SchemaReaderTest, AbsentKeysAreSuggestedToo) {
  // pin_workers is not in the file; the schema asked for it, so it is the
  // key the typo most likely meant.
  TableReader top = parse("pin_worker = true\n");
  bool pin = false;
  top.get_bool("pin_workers", pin);
  top.report_unknown_keys();
  EXPECT_FALSE(pin);
  EXPECT_EQ(problems_.take(),
            (Lines{"t.toml:1:1: pin_worker: unknown key \"pin_worker\" (did you mean "
                   "\"pin_workers\"?)"}));
}

TEST_F(SchemaReaderTest, WrongTypeNamesBothTypesAtTheValuesLineAndColumn) {
  TableReader top = parse("name = 1\n[server]\n  workers = \"two\"\n");
  std::string name = "default";
  uint64_t workers = 7;
  EXPECT_EQ(top.get_string("name", name), nullptr);
  EXPECT_EQ(top.table("server").get_integer("workers", {0, 1024}, workers), nullptr);
  // The defaults stay.
  EXPECT_EQ(name, "default");
  EXPECT_EQ(workers, 7u);
  EXPECT_EQ(problems_.take_sorted(),
            (Lines{
                "t.toml:1:8: name: expected a string, got an integer",
                "t.toml:3:13: server.workers: expected an integer, got a string",
            }));
}

TEST_F(SchemaReaderTest, EveryProblemIsReportedNotJustTheFirst) {
  TableReader top = parse(
      "a = \"x\"\n"         // wrong type
      "b = 5000\n"          // out of range
      "c = \"5\"\n"         // not a duration
      "d = 10\n"            // a duration without a unit
      "e = \"1TB\"\n"       // not a size we take
      "f = true\n"          // fine
      "g = 1\n"             // nobody asked
      "[h]\n"
      "i = 1\n");           // nobody asked, one table down
  uint64_t a = 0, b = 0, e = 0;
  Duration c{}, d{};
  bool f = false;
  // Read out of file order: the report is still top to bottom.
  top.get_duration("d", {Duration{0}, Duration{60'000}}, d);
  top.get_integer("a", {0, 10}, a);
  top.get_integer("b", {0, 1000}, b);
  top.get_duration("c", {Duration{0}, Duration{60'000}}, c);
  top.get_size("e", {0, 1024}, e);
  top.get_bool("f", f);
  top.table("h").report_unknown_keys();
  top.report_unknown_keys();
  EXPECT_TRUE(f);
  const Lines got = problems_.take_sorted();
  ASSERT_EQ(got.size(), 7u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], "t.toml:1:5: a: expected an integer, got a string");
  EXPECT_EQ(got[1], "t.toml:2:5: b: must be between 0 and 1000, got 5000");
  EXPECT_EQ(got[2].rfind("t.toml:3:5: c: invalid duration \"5\": ", 0), 0u) << got[2];
  EXPECT_EQ(got[3], "t.toml:4:5: d: expected a duration string, got an integer (write \"10s\" or "
                    "\"10ms\")");
  EXPECT_EQ(got[4].rfind("t.toml:5:5: e: invalid size \"1TB\": ", 0), 0u) << got[4];
  EXPECT_EQ(got[5], "t.toml:7:1: g: unknown key \"g\"");
  EXPECT_EQ(got[6], "t.toml:9:1: h.i: unknown key \"h.i\"");
  EXPECT_TRUE(problems_.empty());
}

TEST_F(SchemaReaderTest, AKeyWithAWrongValueIsNotAlsoUnknown) {
  TableReader top = parse("workers = \"two\"\n");
  uint64_t workers = 0;
  top.get_integer("workers", {0, 1024}, workers);
  top.report_unknown_keys();
  EXPECT_EQ(problems_.take(), (Lines{"t.toml:1:11: workers: expected an integer, got a string"}));
}

TEST_F(SchemaReaderTest, AnAbsentTableReadsAsEmptyAndPointsAtItsParent) {
  TableReader top = parse("x = 1\n[server]\nworkers = 1\n");
  TableReader tls = top.table("server").table("tls");
  std::string cert;
  EXPECT_FALSE(tls.has("cert_file"));
  EXPECT_EQ(tls.get_string("cert_file", cert), nullptr);
  tls.error_here(tls.path_of("key_file"), "is required");
  tls.report_unknown_keys();  // nothing to report in a table that is not there
  EXPECT_EQ(problems_.take(), (Lines{"t.toml:2:1: server.tls.key_file: is required"}));
}

TEST_F(SchemaReaderTest, ATableThatIsNotOneIsReported) {
  TableReader top = parse("server = 3\n");
  TableReader server = top.table("server");
  uint64_t workers = 0;
  EXPECT_EQ(server.get_integer("workers", {0, 1}, workers), nullptr);
  top.report_unknown_keys();
  EXPECT_EQ(problems_.take(), (Lines{"t.toml:1:10: server: expected a table, got an integer"}));
}

TEST_F(SchemaReaderTest, SignedIntegersAndArrays) {
  TableReader top = parse("n = -3\nlist = [1, \"a\"]\nnot_list = 1\n");
  int64_t n = 0;
  ASSERT_NE(top.get_signed("n", n), nullptr);
  EXPECT_EQ(n, -3);
  uint64_t u = 9;
  EXPECT_EQ(top.get_integer("n", {0, 10}, u), nullptr);  // the unsigned getter refuses it
  EXPECT_EQ(u, 9u);
  const toml::array* list = top.get_array("list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->size(), 2u);
  EXPECT_EQ(top.get_array("not_list"), nullptr);
  EXPECT_EQ(top.get_array("absent"), nullptr);
  EXPECT_EQ(problems_.take(), (Lines{
                                  "t.toml:1:5: n: must be between 0 and 10, got -3",
                                  "t.toml:3:12: not_list: expected an array, got an integer",
                              }));
}

TEST_F(SchemaReaderTest, KnownListsTheKeysAskedForInOrder) {
  TableReader top = parse("b = 1\n");
  uint64_t v = 0;
  top.get_integer("b", {0, 9}, v);
  top.get_node("a");
  top.table("c");
  EXPECT_EQ(top.known(), (Lines{"b", "a", "c"}));
}

// A [[provider]] table as its plugin reads it: the host's keys count as
// known, and unknown keys are the plugin's.
class PluginKeysTest : public SchemaReaderTest {
 protected:
  void SetUp() override {
    root_ = toml::parse("[[provider]]\nname = \"p\"\nchunk_words = 2\nchunk_wrods = 3\n"
                        "wieght = 2\ncolour = \"blue\"\n",
                        std::string("t.toml"));
    const toml::table* t = root_["provider"][0].as_table();
    ASSERT_NE(t, nullptr);
    reader_.emplace(t, "provider[0]", t->source(), problems_);
    const std::vector<std::string> host_keys = {"name", "weight"};
    reader_->mark_known(host_keys);
    int64_t words = 0;
    reader_->get_signed("chunk_words", words);
  }

  std::optional<TableReader> reader_;
};

TEST_F(PluginKeysTest, UnknownKeysNameThePluginAndSuggestHostAndPluginKeys) {
  reader_->report_unknown_plugin_keys("local", true);
  EXPECT_EQ(problems_.take_sorted(),
            (Lines{
                "t.toml:4:1: provider[0].chunk_wrods: unknown key for plugin \"local\" (did you "
                "mean \"provider[0].chunk_words\"?)",
                "t.toml:5:1: provider[0].wieght: unknown key for plugin \"local\" (did you mean "
                "\"provider[0].weight\"?)",
                "t.toml:6:1: provider[0].colour: unknown key for plugin \"local\"",
            }));
}

TEST_F(PluginKeysTest, APluginThatGaveUpGetsOnlyTheNearMisses) {
  reader_->report_unknown_plugin_keys("local", false);
  const Lines got = problems_.take_sorted();
  ASSERT_EQ(got.size(), 2u) << ::testing::PrintToString(got);
  EXPECT_NE(got[0].find("provider[0].chunk_wrods: unknown key"), std::string::npos);
  EXPECT_NE(got[1].find("provider[0].wieght: unknown key"), std::string::npos);
}

TEST(ProblemLine, IsTheFormInFileOrderReadsBack) {
  toml::source_region where;
  where.begin = {12, 3};
  EXPECT_EQ(problem_line("a.toml", where, "server.workers", "bad"),
            "a.toml:12:3: server.workers: bad");
  EXPECT_EQ(problem_line("a.toml", where, "", "bad"), "a.toml:12:3: bad");
  std::vector<std::string> lines = {"a.toml: no position", problem_line("a.toml", where, "k", "m"),
                                    problem_line("a.toml", {{2, 9}, {2, 9}, nullptr}, "k", "m")};
  in_file_order(lines, "a.toml");
  EXPECT_EQ(lines, (Lines{"a.toml:2:9: k: m", "a.toml:12:3: k: m", "a.toml: no position"}));
}

}  // namespace
}  // namespace aigw::config
