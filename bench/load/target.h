// The one server aigw-bench may load: parsed from --url, and refused unless it
// is on this machine. A load generator pointed at someone else's host by a
// typo is an attack; the loopback rule makes that impossible by construction.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::bench {

struct Target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // "127.0.0.1:8080", as the Host header sends it
  std::string path;         // the URL's path ("" when it had none or just "/")
};

// http://HOST[:PORT][/PATH] with HOST one of: an IPv4 literal in 127.0.0.0/8,
// [::1], localhost (which means 127.0.0.1: no resolver is asked). Anything
// else is refused with a one-sentence reason in `why`.
bool parse_target(std::string_view url, Target& out, std::string& why);

}  // namespace aigw::bench
