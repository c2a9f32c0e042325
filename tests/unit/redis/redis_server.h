// A real redis-server for the tests, started on a free loopback port with
// no persistence, and stopped (SIGKILL: a crash, as the tests want it) by
// the destructor or stop(). start() again reuses the same port.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "config/config.h"

namespace aigw::test {

class RedisServer {
 public:
  // The path of redis-server, or "" when it is not installed.
  static std::string binary() {
    for (const char* p : {"/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"}) {
      if (access(p, X_OK) == 0) return p;
    }
    return "";
  }

  RedisServer() : port_(free_port()) {}
  ~RedisServer() { stop(); }

  int port() const { return port_; }

  // [state.redis] pointing at this server, with short timeouts for tests.
  config::RedisConfig config(uint64_t instances = 1) const {
    config::RedisConfig c;
    c.enabled = true;
    c.host = "127.0.0.1";
    c.port = static_cast<uint16_t>(port_);
    c.url = "redis://127.0.0.1:" + std::to_string(port_);
    c.instances = instances;
    c.connect_timeout = config::Duration{200};
    c.command_timeout = config::Duration{200};
    return c;
  }

  bool start() {
    std::string bin = binary();
    if (bin.empty() || pid_ > 0) return false;
    std::string port = std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", 1);
      if (devnull >= 0) {
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      execl(bin.c_str(), bin.c_str(), "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Ready when it accepts connections (well under a second).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      if (accepts()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }

  bool accepts() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  int port_;
  pid_t pid_ = -1;
};

// Polls `pred` for up to `limit`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

}  // namespace aigw::test
