#include "log/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string>

#include "json/write.h"

namespace aigw::log {
namespace {

// Read on every call from every thread; written once at start-up and on
// reload. A relaxed atomic is enough: a log line at the old level is harmless.
std::atomic<int> g_level{static_cast<int>(Level::info)};

// A line longer than this is dropped (and said so): a single write(2) of up
// to PIPE_BUF bytes is atomic on a pipe, which is what keeps lines from
// different threads whole when stderr is one.
constexpr size_t kMaxLine = 4096;

void number(std::string& out, const char* f, auto v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, f, v);
  if (n > 0) out.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char when[64];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ts.tv_nsec / 1000000));

  // One buffer per thread, reused: logging allocates only while a thread's
  // longest line so far grows.
  thread_local std::string line;
  line.clear();
  line += "{\"ts\":\"";
  line += when;
  line += "\",\"level\":\"";
  line += config::log_level_name(level);
  line += "\",\"msg\":";
  json::append_string(line, msg);
  for (const Field& f : fields) {
    line += ',';
    json::append_string(line, f.key);
    line += ':';
    switch (f.kind) {
      case Field::Kind::str: json::append_string(line, f.s); break;
      case Field::Kind::i64: number(line, "%lld", static_cast<long long>(f.i)); break;
      case Field::Kind::u64: number(line, "%llu", static_cast<unsigned long long>(f.u)); break;
      case Field::Kind::f64: number(line, "%.6g", f.d); break;
      case Field::Kind::boolean: line += f.b ? "true" : "false"; break;
    }
  }
  line += '}';
  if (line.size() >= kMaxLine) {
    // Say so rather than emit a line that might be torn.
    line.clear();
    line += "{\"ts\":\"";
    line += when;
    line += "\",\"level\":\"error\",\"msg\":\"log line too long, dropped\"}";
  }
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t w = ::write(STDERR_FILENO, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing stderr
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace aigw::log
