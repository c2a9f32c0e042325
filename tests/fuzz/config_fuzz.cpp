// libFuzzer target for the configuration loader (src/config/): TOML from an
// operator, a deployment template or a reload, through toml++ and aigw's
// own checks of every section. A bad file must give messages, never a crash,
// an exception or a half-built config.
//
// The input is the file's text. Besides crashes and sanitizer reports it
// aborts when:
//   - the result is not exactly one of: a config, or one or more problems;
//   - a problem does not start with the file name (operators find it by its
//     "file:line:column:" prefix) or holds a control character (each problem
//     is one printable line, whatever bytes the file quoted);
//   - loading the same text twice gives different problems (no state may
//     carry from one load to the next: reloads rely on it).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "config_fuzz: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

constexpr std::string_view kSource = "fuzz.toml";

bool printable_line(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Keep inputs file-sized: the loader's cost is linear, and libFuzzer's
  // time goes further on many small files than on a few huge ones.
  if (size > 64 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const aigw::config::LoadResult r = aigw::config::load_string(text, kSource);
  FUZZ_CHECK((r.config != nullptr) == r.errors.empty());
  for (const std::string& e : r.errors) {
    FUZZ_CHECK(std::string_view(e).starts_with(kSource));
    if (!printable_line(e)) {
      std::fprintf(stderr, "config_fuzz: problem is not one printable line: %s\n", e.c_str());
      std::abort();
    }
  }
  const aigw::config::LoadResult again = aigw::config::load_string(text, kSource);
  FUZZ_CHECK(again.errors == r.errors);
  return 0;
}
