#include "metrics/record.h"

#include <arpa/inet.h>

#include <cstring>

#include "json/number.h"
#include "metrics/access_log.h"

namespace aigw::metrics {

Peer Peer::of_socket(int fd) {
  Peer p;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return p;
  if (ss.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
    p.family = 4;
    p.port = ntohs(a.sin_port);
    std::memcpy(p.addr, &a.sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    p.family = 6;
    p.port = ntohs(a.sin6_port);
    std::memcpy(p.addr, &a.sin6_addr, 16);
  }
  return p;
}

namespace {

// Each octet's decimal text, and its length in the fourth byte, made at
// compile time: an octet is then one 4-byte copy and an add.
struct OctetTable {
  char text[256][4] = {};
  constexpr OctetTable() {
    for (int v = 0; v < 256; ++v) {
      int n = 0;
      if (v >= 100) text[v][n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) text[v][n++] = static_cast<char>('0' + v / 10 % 10);
      text[v][n++] = static_cast<char>('0' + v % 10);
      text[v][3] = static_cast<char>(n);
    }
  }
};
constexpr OctetTable kOctets;

// Writes 4 bytes at `p` (the digits, then the length byte or garbage past
// them, which the next write covers) and returns the end of the digits.
char* octet(char* p, uint8_t v) {
  std::memcpy(p, kOctets.text[v], 4);
  return p + kOctets.text[v][3];
}

}  // namespace

std::string_view Peer::format(Text& buf) const {
  if (family == 0) return {};
  char* p = buf.data();
  if (family == 4) {
    // By hand: glibc's inet_ntop formats IPv4 through sprintf, which was a
    // sixth of an access-log line's cost; to_chars per octet, with its
    // search for the length, was half of what is left (154 instructions
    // with the port).
    p = octet(p, addr[0]);
    for (int i = 1; i < 4; ++i) {
      *p++ = '.';
      p = octet(p, addr[i]);
    }
  } else {
    *p++ = '[';
    inet_ntop(AF_INET6, addr, p, INET6_ADDRSTRLEN);
    p += std::strlen(p);
    *p++ = ']';
  }
  *p++ = ':';
  // At most 5 digits (json/number.h's table path; 118 instructions for the
  // whole text with to_chars here, 75 with it).
  p = json::write_uint(p, port);
  return {buf.data(), static_cast<size_t>(p - buf.data())};
}

void record(const RequestRecord& r, WorkerMetrics& m, LogBuffer* log, const config::AccessLogConfig* cfg,
            uint64_t& sample_rng, int64_t wall_minus_mono_ns) {
  auto none = [](std::string_view s) { return s.empty() ? std::string_view("none") : s; };
  RequestSeries* s = m.series(none(r.model), none(r.provider), none(r.key));
  s->count(r.status);
  s->add_tokens(r.prompt_tokens, r.completion_tokens);
  s->observe_duration(static_cast<double>(r.end_ns - r.start_ns) / 1e9);
  if (r.first_byte_ns != 0) s->observe_ttft(static_cast<double>(r.first_byte_ns - r.start_ns) / 1e9);
  if (r.finish_reason && !r.provider.empty()) m.provider(r.provider)->count_finish(*r.finish_reason);

  if (log == nullptr || cfg == nullptr) return;
  if (!cfg->enabled || !should_log(r.status, cfg->sample, sample_rng)) return;
  Peer::Text client_text;
  const std::string_view client = r.peer.format(client_text);
  // Built in one initializer: fields assigned one by one after a default
  // construction were each stored twice.
  const AccessRecord a{
      .unix_ms = (r.end_ns + wall_minus_mono_ns) / 1'000'000,
      .request_id = r.request_id,
      .method = r.method,
      .path = r.path,
      .client = client,
      .key = r.key,
      .model = r.model,
      .provider = r.provider,
      .status = r.status,
      .prompt_tokens = r.prompt_tokens,
      .completion_tokens = r.completion_tokens,
      .total_tokens = r.total_tokens,
      .ttfb_us = r.first_byte_ns != 0 ? (r.first_byte_ns - r.start_ns) / 1000 : -1,
      .duration_us = (r.end_ns - r.start_ns) / 1000,
      .attempts = r.attempts,
      .stream = r.stream,
      .error = r.status >= 400 ? r.error : std::string_view(),
      .finish_reason = r.finish_reason ? label(*r.finish_reason) : std::string_view(),
  };
  log->append_with(max_line_size(a), [&](char* to) { return format_to(a, to); });
}

}  // namespace aigw::metrics
