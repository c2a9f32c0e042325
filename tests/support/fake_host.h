// A fake aigw_host for driving a plugin through its hook table in a unit
// test: config callbacks answer from a map, request callbacks record what
// the plugin sends (respond_start, emit, finish, usage, finish reason),
// timers and child processes are recorded and fire only when the test says
// so, which makes streaming deterministic. Misuse the real host would
// refuse (emit before respond_start, anything after finish, timers in HTTP
// mode) fails the test.
//
// The handles the host passes are opaque; the fakes are separate types that
// travel through them by reinterpret_cast (defining the opaque structs here
// could clash with the real host linked into the same test binary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "aigw_plugin.h"

namespace aigw::test {

// A TOML value as the plugin's config callbacks see it. Durations are
// strings ("250ms", "10s", "2m", "1h") as in a config file.
using ConfigValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

// One [[provider]] table.
struct FakeConfig {
  std::map<std::string, ConfigValue> values;
  std::set<std::string> read;       // keys read that were present
  std::set<std::string> callbacks;  // "config_secret", ...: which callbacks were called
  // Secret values handed out ("env:NAME" resolved), for leak checks. A deque
  // keeps each value where the plugin was pointed to.
  std::deque<std::string> secrets;

  aigw_config_source* handle() { return reinterpret_cast<aigw_config_source*>(this); }
};

struct FakeProcess {
  std::vector<std::string> argv;
  uint64_t timeout_ms = 0;
  bool inherit_env = false;
  std::string stdin_bytes;
  bool stdin_closed = false;
  int kills = 0;

  aigw_process* handle() { return reinterpret_cast<aigw_process*>(this); }
};

struct FakeTimer {
  uint64_t delay_ns;
  uint64_t token;
};

// One request: what the plugin did with it, and how the host answers.
struct FakeRequest {
  int respond_calls = 0;
  int32_t status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order given
  std::vector<std::string> emits;  // one entry per emit call
  std::vector<size_t> emit_parts;  // how many chunks each emit call gave
  bool client_closed = false;      // set by the test: emit answers AIGW_ERR_CLOSED
  int finish_calls = 0;
  aigw_status finish_status = -1;
  std::string finish_message;
  int usage_calls = 0;
  aigw_usage usage{};
  int reason_calls = 0;
  aigw_finish_reason reason = AIGW_FINISH_UNKNOWN;
  // aigw_host.commit (ABI 1.2): emits.size() at each call, so a test sees
  // which emitted event the plugin called content.
  std::vector<size_t> commits;
  std::vector<std::unique_ptr<std::max_align_t[]>> arena;  // one entry per arena_alloc
  std::vector<FakeTimer> timers;  // started, not yet fired, in order
  std::vector<std::unique_ptr<FakeProcess>> procs;
  aigw_status spawn_result = AIGW_OK;  // set by the test: what spawn answers

  aigw_request* handle() { return reinterpret_cast<aigw_request*>(this); }
  // Everything emitted, joined.
  std::string body() const;
  // The value of the response header `name` (exact case), or "<none>".
  std::string header(const std::string& name) const;
  bool finished() const { return finish_calls > 0; }
};

// The callback table. A direct-mode host has timers and processes; an
// HTTP-mode host fails the test when the plugin asks for them.
class FakeHost {
 public:
  // minor < 2 makes a host of that ABI minor: its table ends before commit
  // (a plugin must not call past struct_size).
  explicit FakeHost(aigw_mode mode = AIGW_MODE_DIRECT, uint16_t minor = AIGW_ABI_MINOR);
  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;

  const aigw_host* table() const { return &table_; }
  // Makes this a host of another ABI minor (before the plugin sees it).
  void set_minor(uint16_t minor);
  // What config_new receives as its aigw_host_plugin: log lines given it
  // are kept in logs.
  aigw_host_plugin* plugin() { return reinterpret_cast<aigw_host_plugin*>(this); }

  std::vector<std::string> logs;

  // now_ns takes no argument, so the clock is one for the process; each
  // FakeHost sets it back to 1 s when it is made.
  static uint64_t& clock_ns();

 private:
  aigw_host table_{};
};

}  // namespace aigw::test
