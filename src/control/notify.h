// The systemd readiness protocol (sd_notify(3)) without libsystemd: a few
// newline-separated KEY=VALUE lines sent as one datagram to the unix socket
// named by $NOTIFY_SOCKET. With Type=notify in the unit, systemd starts
// dependent units, and `systemctl start`/`reload` return, only when told.
#pragma once

#include <string>
#include <string_view>

namespace aigw::control {

class Notifier {
 public:
  // Reads $NOTIFY_SOCKET and removes it from the environment, so that no
  // thread or child started later (plugin processes) sees it and talks to
  // systemd in aigw's name. Call before any other thread exists: unsetenv
  // is not thread-safe. Without the variable, or with one it cannot use
  // (logged as a warning), the notifier is off and every call does nothing.
  static Notifier from_environment();

  Notifier() = default;
  Notifier(Notifier&& other) noexcept;
  Notifier& operator=(Notifier&& other) noexcept;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;
  ~Notifier();

  bool enabled() const { return fd_ >= 0; }

  // Every worker accepts: READY=1, the main PID (systemd may not know it
  // when a wrapper started aigw) and a one-line status.
  void ready(std::string_view status);
  // A reload starts; ready() again when it is over, failed or not (the old
  // config keeps serving). MONOTONIC_USEC is what newer systemd versions
  // use to match the reload to the request that caused it.
  void reloading();
  // The drain starts (SIGTERM/SIGINT): systemd shows "deactivating".
  void stopping(std::string_view status);

  // Sends `message` as is; false when it could not be sent (or the notifier
  // is off). Failures are logged once, never fatal: aigw serves either way.
  bool send(std::string_view message);

 private:
  int fd_ = -1;
  std::string addr_;  // sun_path bytes; a leading NUL for an abstract name
  bool warned_ = false;
};

// The messages, apart from sending, for the tests. `status` is cut at the
// first newline: it is one line of `systemctl status`.
std::string ready_message(long pid, std::string_view status);
std::string reloading_message(unsigned long long monotonic_usec);
std::string stopping_message(std::string_view status);

// $NOTIFY_SOCKET as a sun_path: "/path" as is, "@name" as an abstract name
// (the @ becomes a NUL byte). "" for anything else (systemd's vsock: form,
// a relative path, a name too long for sun_path).
std::string notify_socket_address(std::string_view value);

}  // namespace aigw::control
