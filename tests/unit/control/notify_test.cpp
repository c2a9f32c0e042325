// src/control/notify.cpp: the sd_notify messages and their delivery to a
// unix datagram socket, by path and by abstract name.
#include "control/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace {

using aigw::control::Notifier;

// A datagram socket the test receives on, like systemd's.
class Listener {
 public:
  // `name` starting with '@' is abstract; otherwise a path.
  explicit Listener(const std::string& name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, name.data(), name.size());
    if (name[0] == '@') sa.sun_path[0] = '\0';
    else path_ = name;
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  bool ok() const { return ok_; }
  std::string receive() {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string path_;
};

std::string unique(const char* what) {
  return std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand());
}

TEST(NotifyMessage, Formats) {
  EXPECT_EQ(aigw::control::ready_message(42, "serving on 127.0.0.1:8080"),
            "READY=1\nMAINPID=42\nSTATUS=serving on 127.0.0.1:8080\n");
  EXPECT_EQ(aigw::control::ready_message(7, ""), "READY=1\nMAINPID=7\n");
  // A status is one line: a newline in it would start a new assignment.
  EXPECT_EQ(aigw::control::stopping_message("draining\nREADY=1"), "STOPPING=1\nSTATUS=draining\n");
  EXPECT_EQ(aigw::control::reloading_message(123456), "RELOADING=1\nMONOTONIC_USEC=123456\nSTATUS=reloading\n");
}

TEST(NotifyMessage, SocketAddress) {
  EXPECT_EQ(aigw::control::notify_socket_address("/run/systemd/notify"), "/run/systemd/notify");
  EXPECT_EQ(aigw::control::notify_socket_address("@abc"), std::string("\0abc", 4));
  EXPECT_EQ(aigw::control::notify_socket_address("relative/path"), "");
  EXPECT_EQ(aigw::control::notify_socket_address("vsock:2:1234"), "");
  EXPECT_EQ(aigw::control::notify_socket_address(""), "");
  EXPECT_EQ(aigw::control::notify_socket_address("@"), "");
  // sun_path holds 108 bytes: a path needs one for its NUL, an abstract
  // name does not.
  EXPECT_EQ(aigw::control::notify_socket_address("/" + std::string(106, 'a')).size(), 107u);
  EXPECT_EQ(aigw::control::notify_socket_address("/" + std::string(107, 'a')), "");
  EXPECT_EQ(aigw::control::notify_socket_address("@" + std::string(107, 'a')).size(), 108u);
  EXPECT_EQ(aigw::control::notify_socket_address("@" + std::string(108, 'a')), "");
}

TEST(Notifier, OffWithoutTheVariable) {
  ::unsetenv("NOTIFY_SOCKET");
  Notifier n = Notifier::from_environment();
  EXPECT_FALSE(n.enabled());
  EXPECT_FALSE(n.send("READY=1\n"));
  n.ready("x");  // does nothing, does not crash
}

TEST(Notifier, SendsToAPathAndTakesTheVariable) {
  const std::string path = (std::filesystem::temp_directory_path() / unique("aigw-notify")).string();
  Listener l(path);
  ASSERT_TRUE(l.ok());
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  Notifier n = Notifier::from_environment();
  // Gone from the environment: children and plugin threads never see it.
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
  ASSERT_TRUE(n.enabled());

  n.ready("serving");
  EXPECT_EQ(l.receive(), "READY=1\nMAINPID=" + std::to_string(::getpid()) + "\nSTATUS=serving\n");
  n.reloading();
  std::string r = l.receive();
  EXPECT_EQ(r.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << r;
  n.stopping("draining");
  EXPECT_EQ(l.receive(), "STOPPING=1\nSTATUS=draining\n");

  // Moved-from notifiers are off; the moved-to one still sends.
  Notifier m = std::move(n);
  EXPECT_FALSE(n.enabled());
  EXPECT_TRUE(m.send("WATCHDOG=1\n"));
  EXPECT_EQ(l.receive(), "WATCHDOG=1\n");
}

TEST(Notifier, SendsToAnAbstractName) {
  const std::string name = "@" + unique("aigw-notify-test");
  Listener l(name);
  ASSERT_TRUE(l.ok());
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  Notifier n = Notifier::from_environment();
  ASSERT_TRUE(n.enabled());
  EXPECT_TRUE(n.send("READY=1\n"));
  EXPECT_EQ(l.receive(), "READY=1\n");
}

TEST(Notifier, NobodyListeningIsNotFatal) {
  const std::string path = (std::filesystem::temp_directory_path() / unique("aigw-notify-gone")).string();
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  Notifier n = Notifier::from_environment();
  EXPECT_TRUE(n.enabled());
  EXPECT_FALSE(n.send("READY=1\n"));  // logged once, not thrown
  EXPECT_FALSE(n.send("READY=1\n"));
}

TEST(Notifier, AnUnusableValueTurnsItOff) {
  ::setenv("NOTIFY_SOCKET", "vsock:2:9", 1);
  Notifier n = Notifier::from_environment();
  EXPECT_FALSE(n.enabled());
  EXPECT_EQ(std::getenv("NOTIFY_SOCKET"), nullptr);
}

}  // namespace
