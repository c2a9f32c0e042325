#include "verdict.h"

#include "aigw_plugin.hpp"

namespace aigw::openai_plugin {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading digits as a saturating integer; the number of digits read.
size_t read_uint(std::string_view s, uint64_t& out) {
  out = 0;
  size_t i = 0;
  while (i < s.size() && is_digit(s[i])) {
    if (out < 1'000'000'000'000ull) out = out * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  return i;
}

uint64_t cap(uint64_t ms) { return ms > kMaxRetryAfterMs ? kMaxRetryAfterMs : ms; }

// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool fixed_digits(std::string_view s, size_t at, size_t n, int64_t& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (!is_digit(s[i])) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

aigw_error_class classify_status(int32_t status) {
  if (status >= 200 && status <= 299) return AIGW_ERROR_NONE;
  if (status == 401 || status == 403) return AIGW_ERROR_KEY_INVALID;
  if (status == 429) return AIGW_ERROR_RATE_LIMITED;
  if (status == 408 || status == 409) return AIGW_ERROR_RETRYABLE;
  if (status >= 400 && status <= 499) return AIGW_ERROR_CLIENT;
  return AIGW_ERROR_RETRYABLE;
}

bool parse_delay_seconds(std::string_view v, uint64_t& ms) {
  v = trim(v);
  uint64_t s = 0;
  if (v.empty() || read_uint(v, s) != v.size()) return false;
  ms = cap(s > kMaxRetryAfterMs / 1000 ? kMaxRetryAfterMs : s * 1000);
  return true;
}

bool parse_decimal_ms(std::string_view v, uint64_t& ms) {
  v = trim(v);
  uint64_t whole = 0;
  size_t n = read_uint(v, whole);
  if (n == 0) return false;
  if (n < v.size()) {
    // A fraction of a millisecond rounds up: never retry early.
    if (v[n] != '.' || n + 1 == v.size()) return false;
    uint64_t frac = 0;
    size_t f = read_uint(v.substr(n + 1), frac);
    if (n + 1 + f != v.size()) return false;
    if (frac > 0) ++whole;
  }
  ms = cap(whole);
  return true;
}

// IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"): RFC 9110 makes senders
// use it; the two obsolete forms are not worth the code.
bool parse_http_date(std::string_view v, int64_t& unix_s) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  v = trim(v);
  if (v.size() != 29 || v.substr(3, 2) != ", " || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
      v[19] != ':' || v[22] != ':' || v.substr(25) != " GMT") {
    return false;
  }
  bool day_ok = false;
  for (std::string_view d : kDays) day_ok |= v.substr(0, 3) == d;
  int64_t month = 0;
  for (int64_t i = 0; i < 12; ++i) {
    if (v.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  int64_t day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  if (!day_ok || month == 0 || !fixed_digits(v, 5, 2, day) || !fixed_digits(v, 12, 4, year) ||
      !fixed_digits(v, 17, 2, hh) || !fixed_digits(v, 20, 2, mm) ||
      !fixed_digits(v, 23, 2, ss)) {
    return false;
  }
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return false;
  unix_s = days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
  return true;
}

bool parse_go_duration(std::string_view v, uint64_t& ms) {
  v = trim(v);
  if (v.empty()) return false;
  // In microseconds, so that "1.5ms" and "250us" add up exactly.
  uint64_t total_us = 0;
  constexpr uint64_t kCapUs = kMaxRetryAfterMs * 1000;
  size_t i = 0;
  while (i < v.size()) {
    uint64_t whole = 0;
    size_t n = read_uint(v.substr(i), whole);
    i += n;
    uint64_t frac = 0, frac_scale = 1;
    bool has_frac = false;
    if (i < v.size() && v[i] == '.') {
      has_frac = true;
      ++i;
      while (i < v.size() && is_digit(v[i])) {
        if (frac_scale < 1'000'000'000ull) {
          frac = frac * 10 + static_cast<uint64_t>(v[i] - '0');
          frac_scale *= 10;
        }
        ++i;
      }
    }
    if (n == 0 && !has_frac) return false;
    uint64_t unit_us = 0;
    std::string_view rest = v.substr(i);
    if (rest.substr(0, 2) == "ms") {
      unit_us = 1000;
      i += 2;
    } else if (rest.substr(0, 2) == "us" || rest.substr(0, 3) == "\xC2\xB5s" ||
               rest.substr(0, 3) == "\xCE\xBCs") {
      unit_us = 1;  // Go accepts both micro signs
      i += rest[0] == 'u' ? 2 : 3;
    } else if (rest.substr(0, 2) == "ns") {
      unit_us = 0;  // below our resolution; a fraction rounds up below
      i += 2;
    } else if (!rest.empty() && (rest[0] == 'h' || rest[0] == 'm' || rest[0] == 's')) {
      unit_us = rest[0] == 'h' ? 3'600'000'000ull : rest[0] == 'm' ? 60'000'000ull : 1'000'000ull;
      i += 1;
    } else {
      return false;  // a number without a unit
    }
    if (whole > kCapUs) whole = kCapUs;
    uint64_t part = whole * unit_us + (unit_us ? (frac * unit_us + frac_scale - 1) / frac_scale : 0);
    if (unit_us == 0 && (whole > 0 || frac > 0)) part = 1;
    total_us += part > kCapUs ? kCapUs : part;
    if (total_us > kCapUs) total_us = kCapUs;
  }
  ms = cap((total_us + 999) / 1000);
  return true;
}

uint64_t retry_after_ms(const aigw_host_header* headers, size_t count, int64_t now_unix_s) {
  const aigw_host_header* found[3] = {nullptr, nullptr, nullptr};
  static constexpr std::string_view kNames[3] = {"retry-after-ms", "retry-after",
                                                 "x-ratelimit-reset-requests"};
  for (size_t i = 0; headers != nullptr && i < count; ++i) {
    std::string_view name = sdk::view(headers[i].name);
    for (size_t k = 0; k < 3; ++k) {
      if (found[k] == nullptr && sdk::iequals(name, kNames[k])) found[k] = &headers[i];
    }
  }
  for (size_t k = 0; k < 3; ++k) {
    if (found[k] == nullptr) continue;
    std::string_view v = sdk::view(found[k]->value);
    uint64_t ms = 0;
    if (k == 0 && parse_decimal_ms(v, ms)) return ms;
    if (k == 1) {
      if (parse_delay_seconds(v, ms)) return ms;
      int64_t at = 0;
      if (parse_http_date(v, at)) {
        // A date already past means "now": the host's default cool-down.
        if (at <= now_unix_s) return 0;
        uint64_t s = static_cast<uint64_t>(at - now_unix_s);
        return s > kMaxRetryAfterMs / 1000 ? kMaxRetryAfterMs : s * 1000;
      }
    }
    if (k == 2 && parse_go_duration(v, ms)) return ms;
  }
  return 0;
}

}  // namespace aigw::openai_plugin
