#include "log/log.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <string>

namespace {

// Runs `emit` with stderr redirected to a pipe and returns what it wrote.
template <class F>
std::string captured_stderr(F emit) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  emit();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

// Strings go through json::append_string: escaped, invalid UTF-8 repaired,
// so the line is always one valid JSON object.
TEST(LogWrite, LineIsValidJsonWhateverTheStrings) {
  std::string line = captured_stderr([] {
    aigw::log::error("bad \"thing\"\n", {{"path", "a\tb\xC0\x80" "c"}, {"n", 42}, {"ok", true}});
  });
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
  EXPECT_EQ(std::string_view(doc["level"]), "error");
  EXPECT_EQ(std::string_view(doc["msg"]), "bad \"thing\"\n");
  EXPECT_EQ(std::string_view(doc["path"]), "a\tb\xEF\xBF\xBD\xEF\xBF\xBD" "c");
  EXPECT_EQ(int64_t(doc["n"]), 42);
  EXPECT_EQ(bool(doc["ok"]), true);
}

// Over 4 KiB a line could tear on a pipe: it is replaced by a notice.
TEST(LogWrite, OverlongLineIsDropped) {
  const std::string big(5000, 'x');
  std::string line = captured_stderr([&] { aigw::log::error("big", {{"v", big}}); });
  EXPECT_NE(line.find("log line too long, dropped"), std::string::npos) << line.substr(0, 200);
  EXPECT_LT(line.size(), 200u);
}

TEST(LogLevel, Filtering) {
  aigw::log::set_level(aigw::log::Level::warn);
  EXPECT_FALSE(aigw::log::enabled(aigw::log::Level::info));
  EXPECT_TRUE(aigw::log::enabled(aigw::log::Level::error));
  aigw::log::set_level(aigw::log::Level::info);
  EXPECT_TRUE(aigw::log::enabled(aigw::log::Level::info));
  EXPECT_FALSE(aigw::log::enabled(aigw::log::Level::debug));
}

}  // namespace
