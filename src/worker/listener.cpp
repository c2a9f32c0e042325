#include "worker/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aigw::worker {

ListenerSet::~ListenerSet() { close_all(); }

void ListenerSet::close_all() {
  for (auto& w : fds) {
    for (int fd : w) {
      if (fd >= 0) close(fd);
    }
  }
  fds.clear();
}

std::string format_sockaddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    std::string out("[");
    out.append(host).append("]:").append(std::to_string(ntohs(a->sin6_port)));
    return out;
  }
  auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}

namespace {

int open_one(const sockaddr_storage& addr, socklen_t len, uint64_t send_buffer, std::string& why) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    why = std::string("SO_REUSEPORT: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (addr.ss_family == AF_INET6) {
    // "[::]:8080" means IPv6 only; listen on 0.0.0.0 separately for IPv4.
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  // Accepted sockets inherit TCP_NODELAY: responses and stream events go out
  // as soon as they are written, never held back by Nagle.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // And SO_SNDBUF: a fixed send buffer (the kernel doubles the value for
  // its bookkeeping and stops growing it with the connection) caps what a
  // client that reads slowly holds in kernel memory.
  if (send_buffer != 0) {
    const int bytes = static_cast<int>(send_buffer);  // at most 64 MiB (config range)
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) < 0) {
      why = std::string("SO_SNDBUF: ") + std::strerror(errno);
      close(fd);
      return -1;
    }
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) < 0) {
    why = std::string("bind: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (listen(fd, 4096) < 0) {
    why = std::string("listen: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool open_listeners(const std::vector<config::ListenAddr>& addrs, size_t public_count, uint64_t send_buffer,
                    unsigned workers, ListenerSet& out, std::string& why) {
  out.fds.assign(workers, std::vector<int>(addrs.size(), -1));
  out.bound.clear();
  for (size_t a = 0; a < addrs.size(); ++a) {
    sockaddr_storage addr = addrs[a].addr;
    for (unsigned w = 0; w < workers; ++w) {
      std::string err;
      int fd = open_one(addr, addrs[a].addr_len, a < public_count ? send_buffer : 0, err);
      if (fd < 0) {
        why = "cannot listen on " + addrs[a].text + ": " + err;
        out.close_all();
        return false;
      }
      out.fds[w][a] = fd;
      if (w == 0) {
        // Learn the port the kernel chose (port 0) so the other workers join it.
        socklen_t len = sizeof addr;
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        out.bound.push_back(format_sockaddr(addr));
      }
    }
  }
  return true;
}

}  // namespace aigw::worker
