// A stand-in for Google's OAuth2 token endpoint on 127.0.0.1 (plain HTTP;
// the plugin accepts http:// only for loopback): records each request's
// form and answers as told, including never answering. For the gemini
// plugin's Vertex tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aigw::test {

class LocalTokenServer {
 public:
  enum class Mode { ok, error_400, hang };

  LocalTokenServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~LocalTokenServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::string uri() const { return "http://127.0.0.1:" + std::to_string(port_) + "/token"; }
  std::atomic<Mode> mode{Mode::ok};
  std::atomic<int> expires_in{3600};

  int served() const { return served_.load(); }
  std::vector<std::string> forms() {
    std::lock_guard<std::mutex> lock(mu_);
    return forms_;
  }

 private:
  void loop() {
    std::vector<int> held;  // hung connections, closed at the end
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string req;
      char buf[4096];
      // Head, then the body its Content-Length announces.
      for (;;) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 2000) <= 0) break;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        size_t end = req.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        size_t cl = req.find("Content-Length: ");
        size_t want = cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16));
        if (req.size() >= end + 4 + want) break;
      }
      size_t end = req.find("\r\n\r\n");
      {
        std::lock_guard<std::mutex> lock(mu_);
        forms_.push_back(end == std::string::npos ? "" : req.substr(end + 4));
      }
      Mode m = mode.load();
      if (m == Mode::hang) {
        held.push_back(c);
        continue;
      }
      std::string body;
      std::string status = "200 OK";
      if (m == Mode::ok) {
        int n = ++tokens_;
        body = "{\"access_token\":\"tok-" + std::to_string(n) + "\",\"expires_in\":" +
               std::to_string(expires_in.load()) + ",\"token_type\":\"Bearer\"}";
      } else {
        status = "400 Bad Request";
        body = R"({"error":"invalid_grant","error_description":"Invalid JWT Signature."})";
      }
      std::string out = "HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
      ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
      ++served_;
    }
    for (int c : held) ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  int tokens_ = 0;
  std::mutex mu_;
  std::vector<std::string> forms_;
  std::thread thread_;
};

}  // namespace aigw::test
