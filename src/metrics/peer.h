// A client's address as the access log writes it. Compact (a connection
// keeps one when the access log is on) and written by the gateway itself:
// its text is only digits, dots, hex digits, colons and brackets, so the
// log writes it with no escaping check.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace aigw::metrics {

struct Peer {
  uint8_t family = 0;  // 4, 6, or 0: unknown
  uint16_t port = 0;
  uint8_t addr[16] = {};

  static Peer of_socket(int fd);  // getpeername, once per connection

  // The most bytes write_to() touches: "[", inet_ntop's 46 with its NUL,
  // "]:" and a 5-digit port.
  static constexpr size_t kMaxTextBytes = 53;

  // "127.0.0.1:5000", "[::1]:5000", nothing when unknown, written at `p`
  // (room for kMaxTextBytes; bytes past the returned end may be
  // overwritten); returns the end.
  char* write_to(char* p) const;

  // The same text in `buf` (no allocation).
  using Text = std::array<char, 64>;
  std::string_view format(Text& buf) const {
    return {buf.data(), static_cast<size_t>(write_to(buf.data()) - buf.data())};
  }
};

}  // namespace aigw::metrics
