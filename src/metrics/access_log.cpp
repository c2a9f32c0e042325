#include "metrics/access_log.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "json/write.h"

namespace aigw::metrics {
namespace {

// A line is some forty pieces in about 400 bytes; appending each piece to
// the string (a capacity check and a call each) cost more than the bytes.
// Line grows the string once or twice and writes through a cursor; the
// string is cut to what was written by finish(). The string is usually the
// worker's whole pending log (LogBuffer::append_with), so it grows by a
// line's worth, never in proportion to what it already holds.
class Line {
 public:
  explicit Line(std::string& out) : out_(out), at_(out.size()) {}

  void raw(std::string_view s) {
    char* p = room(s.size());
    copy(p, s);
    at_ += s.size();
  }
  void ch(char c) {
    *room(1) = c;
    ++at_;
  }
  // A JSON string: copied between quotes when plain (nearly always),
  // otherwise through json::append_string, the one escaping rule.
  void str(std::string_view s) {
    if (json::plain(s)) {
      char* p = room(s.size() + 2);
      *p = '"';
      copy(p + 1, s);
      p[s.size() + 1] = '"';
      at_ += s.size() + 2;
      return;
    }
    out_.resize(at_);
    json::append_string(out_, s);
    at_ = out_.size();
  }
  template <class T>
  void integer(T v) {
    char* p = room(24);
    at_ += static_cast<size_t>(std::to_chars(p, p + 24, v).ptr - p);
  }
  void three_digits(int64_t v) {
    char* p = room(3);
    p[0] = static_cast<char>('0' + v / 100);
    p[1] = static_cast<char>('0' + v / 10 % 10);
    p[2] = static_cast<char>('0' + v % 10);
    at_ += 3;
  }
  void finish() { out_.resize(at_); }

 private:
  // Most pieces are short (ids, names, a route path): up to 16 bytes as two
  // overlapping moves of a fixed size, which the compiler inlines, rather
  // than a call into memcpy per piece. An empty view may have no data
  // pointer, which memcpy must not get.
  static void copy(char* to, std::string_view s) {
    const char* from = s.data();
    const size_t n = s.size();
    if (n >= 8 && n <= 16) {
      move<8>(to, from);
      move<8>(to + n - 8, from + n - 8);
    } else if (n >= 4 && n < 8) {
      move<4>(to, from);
      move<4>(to + n - 4, from + n - 4);
    } else if (n > 16) {
      std::memcpy(to, from, n);
    } else {
      for (size_t i = 0; i < n; ++i) to[i] = from[i];
    }
  }
  template <size_t N>
  static void move(char* to, const char* from) {
    char w[N];
    std::memcpy(w, from, N);
    std::memcpy(to, w, N);
  }
  char* room(size_t n) {
    if (at_ + n > out_.size()) [[unlikely]] grow(n);
    return out_.data() + at_;
  }
  [[gnu::noinline]] void grow(size_t n) {
    out_.resize(at_ + std::max<size_t>(n, 512));
  }
  std::string& out_;
  size_t at_;
};

// `,"key":` as one piece.
#define K(key) std::string_view(",\"" key "\":")

void string_or_null(Line& line, std::string_view key, std::string_view v) {
  line.raw(key);
  if (v.empty()) {
    line.raw("null");
  } else {
    line.str(v);
  }
}

template <class T>
void integer(Line& line, std::string_view key, T v) {
  line.raw(key);
  line.integer(v);
}

// Milliseconds with three decimals from whole microseconds: integer
// arithmetic, where a double to_chars in fixed notation costs several times
// more and this runs twice per line.
void millis(Line& line, std::string_view key, int64_t us) {
  line.raw(key);
  if (us < 0) {
    line.raw("null");
    return;
  }
  line.integer(us / 1000);
  line.ch('.');
  line.three_digits(us % 1000);
}

// The date and time change once a second; formatting them (gmtime_r and a
// printf) per line would cost more than the rest of the line.
void timestamp(Line& line, int64_t unix_ms) {
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
  line.ch('"');
  line.raw({prefix, prefix_len});
  line.three_digits(ms);
  line.raw("Z\"");
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
  Line line(out);
  line.raw("{\"ts\":");
  timestamp(line, r.unix_ms);
  line.raw(K("request_id"));
  line.str(r.request_id);
  line.raw(K("method"));
  line.str(r.method);
  line.raw(K("path"));
  line.str(r.path);
  line.raw(K("client"));
  line.str(r.client);
  string_or_null(line, K("key"), r.key);
  string_or_null(line, K("model"), r.model);
  string_or_null(line, K("provider"), r.provider);
  integer(line, K("status"), r.status);
  integer(line, K("prompt_tokens"), r.prompt_tokens);
  integer(line, K("completion_tokens"), r.completion_tokens);
  integer(line, K("total_tokens"), r.total_tokens);
  millis(line, K("ttfb_ms"), r.ttfb_us);
  millis(line, K("duration_ms"), r.duration_us);
  integer(line, K("attempts"), r.attempts);
  line.raw(K("stream"));
  line.raw(r.stream ? "true" : "false");
  string_or_null(line, K("error"), r.error);
  string_or_null(line, K("finish_reason"), r.finish_reason);
  line.raw("}\n");
  line.finish();
}

#undef K

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

GeneratedId make_request_id(uint64_t& state) {
  // The counter wraps inside its 48 bits, so the worker bits never change.
  state = (state & ~kCounterMask) | ((state + 1) & kCounterMask);
  uint64_t v = mix(state);
  static const char hex[] = "0123456789abcdef";
  GeneratedId id;
  for (int i = 15; i >= 0; --i, v >>= 4) id.text[i] = hex[v & 15];
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
