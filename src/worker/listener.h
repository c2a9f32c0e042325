// Listening sockets: one SO_REUSEPORT socket per (address, worker), so the
// kernel spreads new connections over the workers and no accept queue is
// shared between threads.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace aigw::worker {

struct ListenerSet {
  // fds[w] are worker w's sockets, one per configured address.
  std::vector<std::vector<int>> fds;
  // The addresses actually bound ("127.0.0.1:41234" when port 0 was asked).
  std::vector<std::string> bound;

  ListenerSet() = default;
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;
  ListenerSet(ListenerSet&&) = default;
  ListenerSet& operator=(ListenerSet&&) = default;
  ~ListenerSet();
  void close_all();
};

// Opens and binds every socket up front on the control thread, so an address
// already in use is reported once, clearly, before any worker starts. With
// port 0 the first socket gets a port from the kernel and the other workers'
// sockets bind that same port. The first `public_count` addresses get
// SO_SNDBUF = send_buffer when it is not 0 (accepted sockets inherit it);
// the admin addresses after them keep the kernel's default.
bool open_listeners(const std::vector<config::ListenAddr>& addrs, size_t public_count, uint64_t send_buffer,
                    unsigned workers, ListenerSet& out, std::string& why);

std::string format_sockaddr(const sockaddr_storage& ss);

}  // namespace aigw::worker
