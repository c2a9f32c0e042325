#include "control/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

#include "log/log.h"

namespace aigw::control {

namespace {

std::string_view first_line(std::string_view s) { return s.substr(0, s.find('\n')); }

}  // namespace

std::string ready_message(long pid, std::string_view status) {
  std::string m = "READY=1\nMAINPID=" + std::to_string(pid) + "\n";
  if (!status.empty()) m += "STATUS=" + std::string(first_line(status)) + "\n";
  return m;
}

std::string reloading_message(unsigned long long monotonic_usec) {
  return "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec) + "\nSTATUS=reloading\n";
}

std::string stopping_message(std::string_view status) {
  std::string m = "STOPPING=1\n";
  if (!status.empty()) m += "STATUS=" + std::string(first_line(status)) + "\n";
  return m;
}

std::string notify_socket_address(std::string_view value) {
  if (value.size() < 2 || value.size() > sizeof(sockaddr_un{}.sun_path)) return "";
  if (value[0] == '/') {
    // A path needs room for its terminating NUL.
    if (value.size() >= sizeof(sockaddr_un{}.sun_path)) return "";
    return std::string(value);
  }
  if (value[0] == '@') {
    std::string addr(value);
    addr[0] = '\0';
    return addr;
  }
  return "";
}

Notifier Notifier::from_environment() {
  Notifier n;
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr) return n;
  const std::string value = env;
  ::unsetenv("NOTIFY_SOCKET");
  n.addr_ = notify_socket_address(value);
  if (n.addr_.empty()) {
    log::warn("NOTIFY_SOCKET is not a unix socket path or @name; not notifying systemd",
              {{"notify_socket", value}});
    return n;
  }
  n.fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (n.fd_ < 0) {
    log::warn("cannot create the systemd notify socket", {{"error", std::strerror(errno)}});
  }
  return n;
}

Notifier::Notifier(Notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), addr_(std::move(other.addr_)), warned_(other.warned_) {}

Notifier& Notifier::operator=(Notifier&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    addr_ = std::move(other.addr_);
    warned_ = other.warned_;
  }
  return *this;
}

Notifier::~Notifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool Notifier::send(std::string_view message) {
  if (fd_ < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, addr_.data(), addr_.size());
  // An abstract name is exactly its bytes; a path may carry its NUL.
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + addr_.size());
  ssize_t n;
  do {
    n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&sa), len);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(message.size())) return true;
  if (!warned_) {
    warned_ = true;
    log::warn("cannot notify systemd", {{"error", n < 0 ? std::strerror(errno) : "short write"}});
  }
  return false;
}

void Notifier::ready(std::string_view status) {
  if (enabled()) send(ready_message(static_cast<long>(::getpid()), status));
}

void Notifier::reloading() {
  if (!enabled()) return;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  send(reloading_message(static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                         static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL));
}

void Notifier::stopping(std::string_view status) {
  if (enabled()) send(stopping_message(status));
}

}  // namespace aigw::control
