// How problem lines show the file's values: one printable line whatever the
// file held (found by tests/fuzz/config_fuzz.cpp: a name with a newline and a
// syntax error quoting a cut line both split check-config's output).
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "config/quote.h"

namespace aigw::config {
namespace {

TEST(ConfigQuote, EscapesWhatWouldBreakTheLine) {
  EXPECT_EQ(config::quoted("gpt-4o"), "\"gpt-4o\"");
  EXPECT_EQ(config::quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(config::quoted("a\nb\r\tc"), "\"a\\nb\\r\\tc\"");
  EXPECT_EQ(config::quoted(std::string("\x07\x1f\x7f", 3)), "\"\\u0007\\u001F\\u007F\"");
  EXPECT_EQ(config::quoted(std::string("nul\0", 4)), "\"nul\\u0000\"");
  EXPECT_EQ(config::quoted("mod\xc3\xa8le"), "\"mod\xc3\xa8le\"");  // UTF-8 as written
}

TEST(ConfigQuote, PrintableKeepsQuotesAndBackslashes) {
  EXPECT_EQ(printable("expected 'false', saw 'fal\n'"), "expected 'false', saw 'fal\\n'");
  EXPECT_EQ(printable("say \"x\" \\ y"), "say \"x\" \\ y");
}

bool one_printable_line(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

TEST(ConfigQuote, ProblemLinesStayOneLine) {
  LoadResult r = load_string("[[provider]]\nname = \"a\\u0007b\\nc\"\nplugin = \"local\"\nmodels = [\"m\"]\n",
                             "test.toml");
  ASSERT_FALSE(r.errors.empty());
  for (const std::string& e : r.errors) EXPECT_TRUE(one_printable_line(e)) << e;
  EXPECT_NE(r.errors[0].find("\"a\\u0007b\\nc\""), std::string::npos) << r.errors[0];

  r = load_string("[server]\nworkers = 2\nreuse_port = fal\n", "test.toml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(one_printable_line(r.errors[0])) << r.errors[0];
  EXPECT_NE(r.errors[0].find("test.toml:3:"), std::string::npos) << r.errors[0];
}

}  // namespace
}  // namespace aigw::config
