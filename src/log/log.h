// Structured logs: one JSON object per line on stderr.
//
// Each line is formatted into a per-thread buffer (strings through
// json::append_string) and written with a single write(2), so lines from
// different workers never interleave; a line over 4 KiB is replaced by a
// notice that it was dropped. These are
// operational logs (start, stop, errors), not the per-request access log.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "config/config.h"

namespace aigw::log {

using Level = config::LogLevel;

struct Field {
  enum class Kind : uint8_t { str, i64, u64, f64, boolean };
  std::string_view key;
  Kind kind;
  std::string_view s;
  union {
    int64_t i;
    uint64_t u;
    double d;
    bool b;
  };
  Field(std::string_view k, std::string_view v) : key(k), kind(Kind::str), s(v), i(0) {}
  Field(std::string_view k, const char* v) : key(k), kind(Kind::str), s(v ? v : ""), i(0) {}
  Field(std::string_view k, int v) : key(k), kind(Kind::i64), i(v) {}
  Field(std::string_view k, long v) : key(k), kind(Kind::i64), i(v) {}
  Field(std::string_view k, long long v) : key(k), kind(Kind::i64), i(v) {}
  Field(std::string_view k, unsigned v) : key(k), kind(Kind::u64), u(v) {}
  Field(std::string_view k, unsigned long v) : key(k), kind(Kind::u64), u(v) {}
  Field(std::string_view k, unsigned long long v) : key(k), kind(Kind::u64), u(v) {}
  Field(std::string_view k, double v) : key(k), kind(Kind::f64), d(v) {}
  Field(std::string_view k, bool v) : key(k), kind(Kind::boolean), b(v) {}
};

void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::debug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::info, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::warn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::error, m, f); }

}  // namespace aigw::log
