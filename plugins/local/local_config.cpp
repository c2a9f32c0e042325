#include "local_config.h"

#include <string_view>

#include "text.h"

namespace aigw::local_plugin {
namespace {

constexpr uint32_t kMaxChunkWords = 1000;
constexpr uint64_t kMaxChunkIntervalMs = 10'000;
constexpr size_t kMaxReplyPrefix = 4096;
constexpr size_t kMaxCommandArgs = 256;
constexpr uint64_t kMaxTimeoutMs = 3'600'000;
constexpr int64_t kMaxProcesses = 1024;

aigw_plugin_str key_str(std::string_view key) { return {key.data(), key.size()}; }

class Reader {
 public:
  Reader(const aigw_host* host, aigw_config_source* src, std::string& error)
      : host_(host), src_(src), error_(error) {}

  // Each getter returns true when the key was read, false when it is absent;
  // on any other outcome it sets the error (failed_ becomes true).
  bool string(std::string_view key, std::string& out) {
    aigw_host_str s{};
    if (!check(host_->config_string(src_, key_str(key), &s), key, "a string")) return false;
    out.assign(s.ptr ? s.ptr : "", s.len);
    return true;
  }
  bool integer(std::string_view key, int64_t& out) {
    return check(host_->config_int(src_, key_str(key), &out), key, "an integer");
  }
  bool duration(std::string_view key, uint64_t& out) {
    return check(host_->config_duration_ms(src_, key_str(key), &out), key,
                 "a duration such as \"250ms\" or \"10s\"");
  }
  bool array_len(std::string_view key, size_t& out) {
    return check(host_->config_array_len(src_, key_str(key), &out), key,
                 "an array of strings");
  }
  bool array_string(std::string_view key, size_t index, std::string& out) {
    aigw_host_str s{};
    aigw_status st = host_->config_array_string(src_, key_str(key), index, &s);
    std::string name = std::string(key) + "[" + std::to_string(index) + "]";
    if (!check(st, name, "a string")) {
      if (!failed_) fail(name + " is missing");
      return false;
    }
    out.assign(s.ptr ? s.ptr : "", s.len);
    return true;
  }

  bool fail(std::string message) {
    if (!failed_) error_ = std::move(message);
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_; }

 private:
  bool check(aigw_status st, std::string_view key, const char* expected) {
    if (st == AIGW_OK) return true;
    if (st == AIGW_ERR_NOT_FOUND) return false;
    if (st == AIGW_ERR_INVALID) return fail(std::string(key) + " must be " + expected);
    return fail("reading " + std::string(key) + " failed (status " + std::to_string(st) + ")");
  }

  const aigw_host* host_;
  aigw_config_source* src_;
  std::string& error_;
  bool failed_ = false;
};

bool in_range(Reader& r, std::string_view key, int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return true;
  return r.fail(std::string(key) + " must be between " + std::to_string(lo) + " and " +
                std::to_string(hi) + ", got " + std::to_string(v));
}

bool duration_in_range(Reader& r, std::string_view key, uint64_t v, uint64_t lo, uint64_t hi) {
  if (v >= lo && v <= hi) return true;
  return r.fail(std::string(key) + " must be between " + format_ms(lo) + " and " + format_ms(hi) +
                ", got " + format_ms(v));
}

void read_demo(Reader& r, Config& c) {
  int64_t words = 0;
  if (r.integer("chunk_words", words) && in_range(r, "chunk_words", words, 1, kMaxChunkWords)) {
    c.chunk_words = static_cast<uint32_t>(words);
  }
  uint64_t interval = 0;
  if (r.duration("chunk_interval", interval) &&
      duration_in_range(r, "chunk_interval", interval, 0, kMaxChunkIntervalMs)) {
    c.chunk_interval_ms = interval;
  }
  std::string prefix;
  if (r.string("reply_prefix", prefix)) {
    if (prefix.size() > kMaxReplyPrefix) {
      r.fail("reply_prefix must be at most " + std::to_string(kMaxReplyPrefix) +
             " bytes, got " + std::to_string(prefix.size()));
    } else if (!is_valid_utf8(prefix)) {
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
    std::string name = "command[" + std::to_string(i) + "]";
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
  uint64_t timeout = 0;
  if (r.duration("timeout", timeout) &&
      duration_in_range(r, "timeout", timeout, 1, kMaxTimeoutMs)) {
    c.timeout_ms = timeout;
  }
  int64_t cap = 0;
  if (r.integer("max_processes", cap) && in_range(r, "max_processes", cap, 1, kMaxProcesses)) {
    c.max_processes = static_cast<uint32_t>(cap);
  }
}

// A key of the other mode that is present is a mistake worth reporting: it
// would otherwise be silently ignored. Read with the type the key would have;
// a wrong type still means "present".
void reject_other_mode(const aigw_host* host, aigw_config_source* src, Reader& r, Mode mode) {
  aigw_host_str s{};
  int64_t i = 0;
  uint64_t d = 0;
  size_t n = 0;
  auto present = [&](std::string_view key, aigw_status st) {
    if (st != AIGW_ERR_NOT_FOUND) {
      r.fail(std::string(key) + (mode == Mode::process ? " is only used with mode = \"demo\""
                                                       : " is only used with mode = \"process\""));
    }
  };
  if (mode == Mode::process) {
    present("chunk_words", host->config_int(src, key_str("chunk_words"), &i));
    present("chunk_interval", host->config_duration_ms(src, key_str("chunk_interval"), &d));
    present("reply_prefix", host->config_string(src, key_str("reply_prefix"), &s));
  } else {
    present("command", host->config_array_len(src, key_str("command"), &n));
    present("timeout", host->config_duration_ms(src, key_str("timeout"), &d));
    present("max_processes", host->config_int(src, key_str("max_processes"), &i));
  }
}

}  // namespace

std::string format_ms(uint64_t ms) {
  // The largest unit that divides evenly, matching the config syntax.
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

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
    reject_other_mode(host, src, r, out.mode);
    if (out.mode == Mode::demo) {
      read_demo(r, out);
    } else {
      read_process(r, out);
    }
  }
  return r.failed() ? AIGW_ERR_CONFIG : AIGW_OK;
}

}  // namespace aigw::local_plugin
