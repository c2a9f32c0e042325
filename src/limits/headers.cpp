// What a limit decision looks like to the client: OpenAI's x-ratelimit-*
// headers, Retry-After, and the 429 error code and message.
#include <string>

#include "limits/limiter.h"

namespace aigw::limits {

std::string format_reset(uint64_t ms) {
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  uint64_t h = ms / 3'600'000, m = ms / 60'000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac > 0) {
    std::string f = std::to_string(frac + 1000).substr(1);  // three digits
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  out += "s";
  return out;
}

void write_headers(const Decision& d, HeaderList& out) {
  if (d.has_requests) {
    out.emplace_back("x-ratelimit-limit-requests", std::to_string(d.limit_requests));
    out.emplace_back("x-ratelimit-remaining-requests", std::to_string(d.remaining_requests));
    out.emplace_back("x-ratelimit-reset-requests", format_reset(d.reset_requests_ms));
  }
  if (d.has_tokens) {
    out.emplace_back("x-ratelimit-limit-tokens", std::to_string(d.limit_tokens));
    out.emplace_back("x-ratelimit-remaining-tokens", std::to_string(d.remaining_tokens));
    out.emplace_back("x-ratelimit-reset-tokens", format_reset(d.reset_tokens_ms));
  }
  if (!d.ok) {
    // Retry-After has whole seconds only: round up so a client that obeys it
    // is not refused again.
    out.emplace_back("retry-after", std::to_string((d.retry_after_ms + 999) / 1000));
    out.emplace_back("retry-after-ms", std::to_string(d.retry_after_ms));
  }
}

std::string_view resource_name(Resource r) {
  switch (r) {
    case Resource::rpm: return "rpm";
    case Resource::tpm: return "tpm";
    case Resource::daily: return "daily";
    case Resource::monthly: return "monthly";
    case Resource::concurrent: return "concurrent";
  }
  return "unknown";
}

std::string_view error_code(const Decision& d) {
  return d.failed == Resource::daily || d.failed == Resource::monthly ? "insufficient_quota"
                                                                      : "rate_limit_exceeded";
}

std::string message(const Decision& d) {
  std::string what;
  switch (d.failed) {
    case Resource::rpm: what = "Rate limit reached for requests per minute"; break;
    case Resource::tpm: what = "Rate limit reached for tokens per minute"; break;
    case Resource::daily: what = "Daily token quota exhausted"; break;
    case Resource::monthly: what = "Monthly token quota exhausted"; break;
    case Resource::concurrent: what = "Too many concurrent requests for this key"; break;
  }
  return what + ". Please try again in " + format_reset(d.retry_after_ms) + ".";
}

}  // namespace aigw::limits
