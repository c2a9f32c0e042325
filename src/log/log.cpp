#include "log/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>

namespace aigw::log {
namespace {

// Read on every call from every thread; written once at start-up and on
// reload. A relaxed atomic is enough: a log line at the old level is harmless.
std::atomic<int> g_level{static_cast<int>(Level::info)};

struct Out {
  char* p;
  char* end;
  bool ok = true;
  void put(std::string_view s) {
    if (static_cast<size_t>(end - p) < s.size()) { ok = false; return; }
    for (char c : s) *p++ = c;
  }
  void str(std::string_view s) {
    put("\"");
    size_t n = json_escape(s, p, static_cast<size_t>(end - p));
    if (n == 0 && !s.empty()) { ok = false; return; }
    p += n;
    put("\"");
  }
  void fmt(const char* f, auto v) {
    int n = std::snprintf(p, static_cast<size_t>(end - p), f, v);
    if (n < 0 || n >= end - p) { ok = false; return; }
    p += n;
  }
};

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

size_t json_escape(std::string_view s, char* out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  for (unsigned char c : s) {
    const char* rep = nullptr;
    char buf[6];
    size_t len = 1;
    switch (c) {
      case '"': rep = "\\\""; len = 2; break;
      case '\\': rep = "\\\\"; len = 2; break;
      case '\n': rep = "\\n"; len = 2; break;
      case '\r': rep = "\\r"; len = 2; break;
      case '\t': rep = "\\t"; len = 2; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          buf[0] = '\\'; buf[1] = 'u'; buf[2] = '0'; buf[3] = '0';
          buf[4] = hex[c >> 4]; buf[5] = hex[c & 15];
          rep = buf; len = 6;
        }
    }
    if (n + len > cap) return 0;
    if (rep) {
      for (size_t i = 0; i < len; ++i) out[n++] = rep[i];
    } else {
      out[n++] = static_cast<char>(c);
    }
  }
  return n;
}

void write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  char buf[4096];
  Out o{buf, buf + sizeof(buf) - 1};

  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  char when[64];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(ts.tv_nsec / 1000000));

  o.put("{\"ts\":\"");
  o.put(when);
  o.put("\",\"level\":\"");
  o.put(config::log_level_name(level));
  o.put("\",\"msg\":");
  o.str(msg);
  for (const Field& f : fields) {
    o.put(",");
    o.str(f.key);
    o.put(":");
    switch (f.kind) {
      case Field::Kind::str: o.str(f.s); break;
      case Field::Kind::i64: o.fmt("%lld", static_cast<long long>(f.i)); break;
      case Field::Kind::u64: o.fmt("%llu", static_cast<unsigned long long>(f.u)); break;
      case Field::Kind::f64: o.fmt("%.6g", f.d); break;
      case Field::Kind::boolean: o.put(f.b ? "true" : "false"); break;
    }
  }
  o.put("}");
  if (!o.ok) {
    // A line too long for the buffer: say so rather than emit broken JSON.
    o = Out{buf, buf + sizeof(buf) - 1};
    o.put("{\"ts\":\"");
    o.put(when);
    o.put("\",\"level\":\"error\",\"msg\":\"log line too long, dropped\"}");
  }
  *o.p++ = '\n';
  const char* p = buf;
  size_t left = static_cast<size_t>(o.p - buf);
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
