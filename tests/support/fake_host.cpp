#include "support/fake_host.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <string_view>

namespace aigw::test {
namespace {

std::string text(aigw_plugin_str s) { return std::string(s.ptr ? s.ptr : "", s.ptr ? s.len : 0); }

FakeConfig& fake(aigw_config_source* src) { return *reinterpret_cast<FakeConfig*>(src); }
FakeRequest& fake(aigw_request* req) { return *reinterpret_cast<FakeRequest*>(req); }
FakeProcess& fake(aigw_process* proc) { return *reinterpret_cast<FakeProcess*>(proc); }

// The value of `key`, recorded as read; nullptr when absent (absent keys are
// not recorded: the host marks only keys that exist).
const ConfigValue* lookup(aigw_config_source* src, const char* callback, aigw_plugin_str key) {
  FakeConfig& cfg = fake(src);
  cfg.callbacks.insert(callback);
  std::string k = text(key);
  auto it = cfg.values.find(k);
  if (it == cfg.values.end()) return nullptr;
  cfg.read.insert(k);
  return &it->second;
}

// Missing key: NOT_FOUND; another type: INVALID, as the host answers.
template <typename T>
aigw_status typed(aigw_config_source* src, const char* callback, aigw_plugin_str key,
                  const T*& out) {
  const ConfigValue* v = lookup(src, callback, key);
  if (v == nullptr) return AIGW_ERR_NOT_FOUND;
  out = std::get_if<T>(v);
  return out == nullptr ? AIGW_ERR_INVALID : AIGW_OK;
}

aigw_status config_string(aigw_config_source* src, aigw_plugin_str key, aigw_host_str* out) {
  const std::string* s = nullptr;
  aigw_status st = typed(src, "config_string", key, s);
  if (st == AIGW_OK) *out = {s->data(), s->size()};
  return st;
}

aigw_status config_int(aigw_config_source* src, aigw_plugin_str key, int64_t* out) {
  const int64_t* i = nullptr;
  aigw_status st = typed(src, "config_int", key, i);
  if (st == AIGW_OK) *out = *i;
  return st;
}

aigw_status config_bool(aigw_config_source* src, aigw_plugin_str key, int32_t* out) {
  const bool* b = nullptr;
  aigw_status st = typed(src, "config_bool", key, b);
  if (st == AIGW_OK) *out = *b ? 1 : 0;
  return st;
}

// "250ms", "10s", "2m", "1h" like the real config.
aigw_status config_duration_ms(aigw_config_source* src, aigw_plugin_str key, uint64_t* out) {
  const std::string* s = nullptr;
  aigw_status st = typed(src, "config_duration_ms", key, s);
  if (st != AIGW_OK) return st;
  size_t digits = 0;
  while (digits < s->size() && std::isdigit(static_cast<unsigned char>((*s)[digits]))) ++digits;
  if (digits == 0) return AIGW_ERR_INVALID;
  uint64_t n = std::stoull(s->substr(0, digits));
  static const std::map<std::string, uint64_t> kUnits = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  auto unit = kUnits.find(s->substr(digits));
  if (unit == kUnits.end()) return AIGW_ERR_INVALID;
  *out = n * unit->second;
  return AIGW_OK;
}

aigw_status config_array_len(aigw_config_source* src, aigw_plugin_str key, size_t* out) {
  const std::vector<std::string>* a = nullptr;
  aigw_status st = typed(src, "config_array_len", key, a);
  if (st == AIGW_OK) *out = a->size();
  return st;
}

aigw_status config_array_string(aigw_config_source* src, aigw_plugin_str key, size_t index,
                                aigw_host_str* out) {
  const std::vector<std::string>* a = nullptr;
  aigw_status st = typed(src, "config_array_string", key, a);
  if (st != AIGW_OK) return st;
  if (index >= a->size()) return AIGW_ERR_NOT_FOUND;
  *out = {(*a)[index].data(), (*a)[index].size()};
  return AIGW_OK;
}

// Like the host: a string (index 0) or an array item, "env:NAME" resolved.
aigw_status config_secret(aigw_config_source* src, aigw_plugin_str key, size_t index,
                          aigw_host_str* out) {
  const ConfigValue* v = lookup(src, "config_secret", key);
  if (v == nullptr) return AIGW_ERR_NOT_FOUND;
  const std::string* raw = nullptr;
  if (auto s = std::get_if<std::string>(v)) {
    if (index != 0) return AIGW_ERR_NOT_FOUND;
    raw = s;
  } else if (auto a = std::get_if<std::vector<std::string>>(v)) {
    if (index >= a->size()) return AIGW_ERR_NOT_FOUND;
    raw = &(*a)[index];
  } else {
    return AIGW_ERR_INVALID;
  }
  FakeConfig& cfg = fake(src);
  if (raw->rfind("env:", 0) == 0) {
    const char* env = std::getenv(raw->c_str() + 4);
    if (env == nullptr) return AIGW_ERR_INVALID;
    cfg.secrets.emplace_back(env);
  } else {
    cfg.secrets.push_back(*raw);
  }
  *out = {cfg.secrets.back().data(), cfg.secrets.back().size()};
  return AIGW_OK;
}

void log(aigw_host_plugin* plugin, aigw_log_level, aigw_plugin_str msg) {
  if (plugin != nullptr) reinterpret_cast<FakeHost*>(plugin)->logs.push_back(text(msg));
}

uint64_t now_ns() { return FakeHost::clock_ns(); }

// Nothing may reach the host for a request after it finished.
void expect_open(const FakeRequest& fr, const char* what) {
  EXPECT_EQ(fr.finish_calls, 0) << what << " after finish";
}

void* arena_alloc(aigw_request* req, size_t size, size_t align) {
  EXPECT_LE(align, alignof(std::max_align_t));
  if (align > alignof(std::max_align_t)) return nullptr;
  FakeRequest& fr = fake(req);
  size_t n = (size + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t);
  fr.arena.push_back(std::make_unique<std::max_align_t[]>(n == 0 ? 1 : n));
  return fr.arena.back().get();
}

aigw_status respond_start(aigw_request* req, int32_t status, const aigw_plugin_header* headers,
                          size_t count) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "respond_start");
  EXPECT_EQ(fr.respond_calls, 0) << "respond_start twice";
  ++fr.respond_calls;
  fr.status = status;
  for (size_t i = 0; i < count; ++i) {
    fr.headers.emplace_back(text(headers[i].name), text(headers[i].value));
  }
  return AIGW_OK;
}

aigw_status emit(aigw_request* req, const aigw_plugin_bytes* chunks, size_t count) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "emit");
  EXPECT_EQ(fr.respond_calls, 1) << "emit before respond_start";
  if (fr.client_closed) return AIGW_ERR_CLOSED;
  std::string bytes;
  for (size_t i = 0; i < count; ++i) {
    bytes.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
  }
  fr.emits.push_back(std::move(bytes));
  fr.emit_parts.push_back(count);
  return AIGW_OK;
}

aigw_status commit(aigw_request* req) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "commit");
  EXPECT_EQ(fr.respond_calls, 1) << "commit before respond_start";
  if (fr.client_closed) return AIGW_ERR_CLOSED;
  fr.commits.push_back(fr.emits.size());
  return AIGW_OK;
}

aigw_status finish(aigw_request* req, aigw_status status, aigw_plugin_str message) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "finish");
  ++fr.finish_calls;
  fr.finish_status = status;
  fr.finish_message = text(message);
  return AIGW_OK;
}

aigw_status report_usage(aigw_request* req, const aigw_usage* usage) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "report_usage");
  ++fr.usage_calls;
  fr.usage = *usage;
  return AIGW_OK;
}

aigw_status report_finish_reason(aigw_request* req, aigw_finish_reason reason) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "report_finish_reason");
  ++fr.reason_calls;
  fr.reason = reason;
  return AIGW_OK;
}

aigw_status timer_start(aigw_request* req, uint64_t delay_ns, uint64_t token) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "timer_start");
  fr.timers.push_back({delay_ns, token});
  return AIGW_OK;
}

aigw_status spawn(aigw_request* req, const aigw_spawn_options* options, aigw_process** out) {
  FakeRequest& fr = fake(req);
  expect_open(fr, "spawn");
  if (fr.spawn_result != AIGW_OK) return fr.spawn_result;
  auto proc = std::make_unique<FakeProcess>();
  EXPECT_GE(options->struct_size, sizeof(aigw_spawn_options));
  for (size_t i = 0; i < options->argc; ++i) proc->argv.push_back(text(options->argv[i]));
  proc->timeout_ms = options->timeout_ms;
  proc->inherit_env = options->env == nullptr;
  *out = proc->handle();
  fr.procs.push_back(std::move(proc));
  return AIGW_OK;
}

aigw_status process_write(aigw_process* proc, const aigw_plugin_bytes* chunks, size_t count) {
  FakeProcess& fp = fake(proc);
  EXPECT_FALSE(fp.stdin_closed) << "write after close";
  for (size_t i = 0; i < count; ++i) {
    fp.stdin_bytes.append(reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len);
  }
  return AIGW_OK;
}

aigw_status process_close_stdin(aigw_process* proc) {
  fake(proc).stdin_closed = true;
  return AIGW_OK;
}

aigw_status process_kill(aigw_process* proc) {
  ++fake(proc).kills;
  return AIGW_OK;
}

// HTTP mode: the host has no timers or processes to give.
aigw_status http_timer_start(aigw_request*, uint64_t, uint64_t) {
  ADD_FAILURE() << "timers are direct mode only";
  return AIGW_ERR_UNSUPPORTED;
}

aigw_status http_spawn(aigw_request*, const aigw_spawn_options*, aigw_process**) {
  ADD_FAILURE() << "spawn is direct mode only";
  return AIGW_ERR_UNSUPPORTED;
}

aigw_status http_process_write(aigw_process*, const aigw_plugin_bytes*, size_t) {
  return AIGW_ERR_UNSUPPORTED;
}
aigw_status http_process_close_stdin(aigw_process*) { return AIGW_ERR_UNSUPPORTED; }
aigw_status http_process_kill(aigw_process*) { return AIGW_ERR_UNSUPPORTED; }

}  // namespace

std::string FakeRequest::body() const {
  std::string all;
  for (const std::string& e : emits) all += e;
  return all;
}

std::string FakeRequest::header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "<none>";
}

void FakeHost::set_minor(uint16_t minor) {
  table_.struct_size = minor >= 2 ? sizeof table_ : offsetof(aigw_host, commit);
  table_.abi_minor = minor;
}

FakeHost::FakeHost(aigw_mode mode, uint16_t minor) {
  clock_ns() = 1'000'000'000;
  table_.abi_major = AIGW_ABI_MAJOR;
  set_minor(minor);
  table_.log = log;
  table_.now_ns = now_ns;
  table_.config_string = config_string;
  table_.config_int = config_int;
  table_.config_bool = config_bool;
  table_.config_duration_ms = config_duration_ms;
  table_.config_array_len = config_array_len;
  table_.config_array_string = config_array_string;
  table_.config_secret = config_secret;
  table_.arena_alloc = arena_alloc;
  table_.respond_start = respond_start;
  table_.emit = emit;
  table_.finish = finish;
  table_.report_usage = report_usage;
  table_.report_finish_reason = report_finish_reason;
  bool direct = mode == AIGW_MODE_DIRECT;
  table_.timer_start = direct ? timer_start : http_timer_start;
  table_.spawn = direct ? spawn : http_spawn;
  table_.process_write = direct ? process_write : http_process_write;
  table_.process_close_stdin = direct ? process_close_stdin : http_process_close_stdin;
  table_.process_kill = direct ? process_kill : http_process_kill;
  // Filled either way: a plugin that ignores struct_size would call it, and
  // the test sees that in `commits` rather than as a crash.
  table_.commit = commit;
}

uint64_t& FakeHost::clock_ns() {
  static uint64_t now = 1'000'000'000;
  return now;
}

}  // namespace aigw::test
