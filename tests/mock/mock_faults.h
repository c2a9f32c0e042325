// Fault modes: how a response goes wrong on the wire. Chosen per request by
// the `x-mock-fault` header, or for the whole server by `--fault`, so one
// mock process can serve every failure a test needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::mock {

enum class FaultKind : uint8_t {
  none,
  status,              // answer with status `n` (400..599) and an OpenAI error body
  reset_after,         // `n` events (or body bytes) then a TCP reset
  close_after,         // `n` events (or body bytes) then a clean close, no terminator
  drip,                // the whole response one byte at a time
  garbage_sse,         // a stream of lines that are neither JSON nor separated events
  bad_content_length,  // Content-Length larger than the body, then close
  hang,                // read the request, answer nothing
  hang_after_head,     // send a stream's head, then nothing
  no_done,             // a stream that ends cleanly without `data: [DONE]`
  slow_first_byte,     // wait before the head
};

struct Fault {
  FaultKind kind = FaultKind::none;
  uint32_t n = 0;  // the status for `status`, the count for *_after
};

// Accepts exactly the names of the README ("429", "reset-after-3", "drip",
// ...), ASCII case-insensitive. False on anything else, so a typo in a test
// fails loudly instead of silently getting a normal answer.
bool parse_fault(std::string_view text, Fault& out);

// The canonical name, as parse_fault accepts it ("reset-after-3").
std::string fault_name(const Fault& f);

}  // namespace aigw::mock
