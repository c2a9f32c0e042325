#include "metrics/access_log.h"

#include <sys/random.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "json/write.h"

namespace aigw::metrics {
namespace {

void field(std::string_view name, std::string& out) {
  out += ",\"";
  out += name;
  out += "\":";
}

void string_or_null(std::string_view name, std::string_view v, std::string& out) {
  field(name, out);
  if (v.empty()) {
    out += "null";
  } else {
    json::append_string(out, v);
  }
}

template <class T>
void integer(std::string_view name, T v, std::string& out) {
  field(name, out);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void three_digits(int64_t v, std::string& out) {
  char d[3] = {static_cast<char>('0' + v / 100), static_cast<char>('0' + v / 10 % 10),
               static_cast<char>('0' + v % 10)};
  out.append(d, 3);
}

// Milliseconds with three decimals, through integers: a double to_chars in
// fixed notation costs several times more and this runs twice per line.
void millis(std::string_view name, double v, std::string& out) {
  field(name, out);
  if (!std::isfinite(v) || v < 0 || v > 9.2e12) {
    out += "null";
    return;
  }
  const auto us = static_cast<int64_t>(std::llround(v * 1000));
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, us / 1000);
  out.append(buf, r.ptr);
  out += '.';
  three_digits(us % 1000, out);
}

// The date and time change once a second; formatting them (gmtime_r and a
// printf) per line would cost more than the rest of the line.
void timestamp(int64_t unix_ms, std::string& out) {
  int64_t secs = unix_ms / 1000, ms = unix_ms % 1000;
  if (ms < 0) secs -= 1, ms += 1000;
  thread_local int64_t cached_secs = INT64_MIN;
  thread_local char prefix[32];
  thread_local size_t prefix_len = 0;
  if (secs != cached_secs) {
    const time_t t = static_cast<time_t>(secs);
    tm u{};
    gmtime_r(&t, &u);
    int n = std::snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.", u.tm_year + 1900,
                          u.tm_mon + 1, u.tm_mday, u.tm_hour, u.tm_min, u.tm_sec);
    prefix_len = n > 0 ? static_cast<size_t>(n) : 0;
    cached_secs = secs;
  }
  out += '"';
  out.append(prefix, prefix_len);
  three_digits(ms, out);
  out += "Z\"";
}

// splitmix64's finaliser: a bijection on 64 bits that scatters the bits.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr uint64_t kCounterMask = (uint64_t{1} << 48) - 1;

}  // namespace

void format(const AccessRecord& r, std::string& out) {
  out += "{\"ts\":";
  timestamp(r.unix_ms, out);
  field("request_id", out);
  json::append_string(out, r.request_id);
  field("method", out);
  json::append_string(out, r.method);
  field("path", out);
  json::append_string(out, r.path);
  field("client", out);
  json::append_string(out, r.client);
  string_or_null("key", r.key, out);
  string_or_null("model", r.model, out);
  string_or_null("provider", r.provider, out);
  integer("status", r.status, out);
  integer("prompt_tokens", r.prompt_tokens, out);
  integer("completion_tokens", r.completion_tokens, out);
  integer("total_tokens", r.total_tokens, out);
  millis("ttfb_ms", r.ttfb_ms, out);
  millis("duration_ms", r.duration_ms, out);
  integer("attempts", r.attempts, out);
  field("stream", out);
  out += r.stream ? "true" : "false";
  string_or_null("error", r.error, out);
  string_or_null("finish_reason", r.finish_reason, out);
  out += "}\n";
}

int64_t wall_clock_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool sample(double rate, uint64_t& rng_state) {
  if (rate >= 1) return true;
  if (!(rate > 0)) return false;  // NaN too
  rng_state += 0x9e3779b97f4a7c15ull;
  // The top 53 bits as a double in [0, 1).
  const double u = static_cast<double>(mix(rng_state) >> 11) * 0x1.0p-53;
  return u < rate;
}

uint64_t request_id_seed(uint32_t worker_index) {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof r)) {
    // No entropy yet (early boot): the clock and pid still differ per run.
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r = mix(static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 30) ^
            (static_cast<uint64_t>(getpid()) << 20));
  }
  return (static_cast<uint64_t>(worker_index & 0xFFFF) << 48) | (r & kCounterMask);
}

std::string make_request_id(uint64_t& state) {
  // The counter wraps inside its 48 bits, so the worker bits never change.
  state = (state & ~kCounterMask) | ((state + 1) & kCounterMask);
  uint64_t v = mix(state);
  static const char hex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) id[static_cast<size_t>(i)] = hex[v & 15];
  return id;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace aigw::metrics
