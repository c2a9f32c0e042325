#include "local_config.h"

#include <string_view>

#include "aigw_plugin.hpp"

namespace aigw::local_plugin {
namespace {

constexpr uint32_t kMaxChunkWords = 1000;
constexpr uint64_t kMaxChunkIntervalMs = 10'000;
constexpr size_t kMaxReplyPrefix = 4096;
constexpr size_t kMaxCommandArgs = 256;
constexpr uint64_t kMaxTimeoutMs = 3'600'000;
constexpr int64_t kMaxProcesses = 1024;

using Reader = sdk::ConfigReader;

void read_demo(Reader& r, Config& c) {
  int64_t words = c.chunk_words;
  r.integer_in("chunk_words", 1, kMaxChunkWords, words);
  c.chunk_words = static_cast<uint32_t>(words);
  r.duration_in("chunk_interval", 0, kMaxChunkIntervalMs, c.chunk_interval_ms);
  std::string prefix;
  if (r.string("reply_prefix", prefix)) {
    if (prefix.size() > kMaxReplyPrefix) {
      r.fail("reply_prefix must be at most " + std::to_string(kMaxReplyPrefix) +
             " bytes, got " + std::to_string(prefix.size()));
    } else if (!sdk::is_valid_utf8(prefix)) {
      r.fail("reply_prefix must be valid UTF-8");
    } else {
      c.reply_prefix = std::move(prefix);
    }
  }
}

void read_process(Reader& r, Config& c) {
  size_t argc = 0;
  if (!r.array_len("command", argc)) {
    if (!r.failed()) r.fail("command is required with mode = \"process\"");
    return;
  }
  if (argc == 0) {
    r.fail("command must not be empty: give the program and its arguments");
    return;
  }
  if (argc > kMaxCommandArgs) {
    r.fail("command must have at most " + std::to_string(kMaxCommandArgs) + " items, got " +
           std::to_string(argc));
    return;
  }
  for (size_t i = 0; i < argc; ++i) {
    std::string arg;
    if (!r.array_string("command", i, arg)) return;
    std::string name = sdk::item_name("command", i);
    // argv entries are C strings: a NUL would silently cut the argument.
    if (arg.find('\0') != std::string::npos) {
      r.fail(name + " must not contain NUL characters");
      return;
    }
    if (i == 0 && arg.empty()) {
      r.fail(name + " (the program) must not be empty");
      return;
    }
    c.command.push_back(std::move(arg));
  }
  r.duration_in("timeout", 1, kMaxTimeoutMs, c.timeout_ms);
  int64_t cap = c.max_processes;
  r.integer_in("max_processes", 1, kMaxProcesses, cap);
  c.max_processes = static_cast<uint32_t>(cap);
}

// A key of the other mode that is present is a mistake worth reporting: it
// would otherwise be silently ignored.
void reject_other_mode(Reader& r, Mode mode) {
  using Kind = Reader::Kind;
  auto present = [&](std::string_view key, Kind kind) {
    if (r.present(key, kind)) {
      r.fail(std::string(key) + (mode == Mode::process ? " is only used with mode = \"demo\""
                                                       : " is only used with mode = \"process\""));
    }
  };
  if (mode == Mode::process) {
    present("chunk_words", Kind::integer);
    present("chunk_interval", Kind::duration);
    present("reply_prefix", Kind::string);
  } else {
    present("command", Kind::array);
    present("timeout", Kind::duration);
    present("max_processes", Kind::integer);
  }
}

}  // namespace

aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error) {
  Reader r(host, src, error);
  std::string mode;
  if (r.string("mode", mode)) {
    if (mode == "demo") {
      out.mode = Mode::demo;
    } else if (mode == "process") {
      out.mode = Mode::process;
    } else {
      r.fail("mode must be \"demo\" or \"process\", got \"" + mode + "\"");
    }
  }
  if (!r.failed()) {
    reject_other_mode(r, out.mode);
    if (out.mode == Mode::demo) {
      read_demo(r, out);
    } else {
      read_process(r, out);
    }
  }
  return r.failed() ? AIGW_ERR_CONFIG : AIGW_OK;
}

}  // namespace aigw::local_plugin
