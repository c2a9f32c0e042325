// TLS 1.2 over memory buffers (mbedTLS 2.28), for upstream connections and
// the optional TLS listener.
//
// Every socket in aigw belongs to a worker's io_uring, so nothing here ever
// touches one: the caller feeds the ciphertext it received (feed) and sends
// what the engine produced (take_output). After every call on a Session,
// send the output if there is any: reads can produce output too (alerts,
// refusals of renegotiation), and a failed handshake usually leaves a fatal
// alert there worth sending before closing.
//
// Threading: shared-nothing. A ClientContext or ServerContext owns a random
// generator that handshakes draw from, so each worker creates its own and
// uses it from its own thread only. The one exception is TicketKeys, which the
// ServerContexts of all workers share so that a client resumes whichever
// worker its next connection lands on; mbedTLS guards it with its own mutex.
//
// Nothing throws, nothing blocks. See README.md for the numbers (handshake
// CPU time, memory per connection) and for what is not supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace aigw::tls {

// Trust anchors, verification mode and a random generator for client
// sessions. Create one per worker; it must outlive its sessions.
class ClientContext {
 public:
  // `ca_file`: a PEM bundle; empty means the system bundle
  // /etc/ssl/certs/ca-certificates.crt. Certificates that mbedTLS cannot
  // parse are skipped (ca_count() tells how many were taken); a file with
  // none is an error. Verification of the peer is required.
  static std::unique_ptr<ClientContext> create(const std::string& ca_file, std::string& why);
  // No verification at all, not even of the host name. For tests and for
  // operators who asked for it; the caller logs it loudly.
  static std::unique_ptr<ClientContext> create_insecure(std::string& why);

  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  bool verifies() const;
  size_t ca_count() const;

  struct Impl;

 private:
  friend class Session;
  explicit ClientContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Session-ticket encryption keys, rotated by mbedTLS every lifetime. Shared
// by the ServerContexts of all workers (thread-safe); see the top comment.
class TicketKeys {
 public:
  static std::shared_ptr<TicketKeys> create(std::string& why, uint32_t lifetime_s = 86400);

  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  struct Impl;

 private:
  friend class ServerContext;
  explicit TicketKeys(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Certificate chain, key and a random generator for server sessions. One
// per worker; it must outlive its sessions. Clients are not asked for
// certificates.
class ServerContext {
 public:
  // `cert_file`: PEM, the leaf first, then any intermediates. `key_file`:
  // the unencrypted PEM or DER key matching the leaf. `tickets`: the shared
  // keys; null makes private ones (resumption then only works with clients
  // that come back to this context).
  static std::unique_ptr<ServerContext> create(const std::string& cert_file, const std::string& key_file,
                                               std::string& why, std::shared_ptr<TicketKeys> tickets = nullptr);

  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  struct Impl;

 private:
  friend class Session;
  explicit ServerContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A client session (ticket or session id, plus the verified server
// certificate) saved after a handshake, to resume the next connection to the
// same host without a full handshake. Keep one per worker per upstream host:
// a resumed handshake does not check the certificate again, so a session
// must only be offered to the host it was made with. Offering it to several
// connections at once is fine.
class SavedSession {
 public:
  SavedSession();
  ~SavedSession();
  SavedSession(const SavedSession&) = delete;
  SavedSession& operator=(const SavedSession&) = delete;
  SavedSession(SavedSession&&) noexcept;
  SavedSession& operator=(SavedSession&&) noexcept;

  bool empty() const;
  void clear();

  struct Impl;

 private:
  friend class Session;
  std::unique_ptr<Impl> impl_;  // null while empty
};

// One TLS connection's state. Movable (the engine lives on the heap, so the
// buffers it points at do not move with the object).
class Session {
 public:
  enum class Status : uint8_t {
    ok,       // done (handshake) / wrote everything / appended data (read)
    want_io,  // send the output if any, then feed more input and call again
    closed,   // the peer sent close_notify
    error,    // see error(); the session is dead, send any output and close
  };

  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Once per Session. `sni_host` is sent as SNI and is the name the
  // certificate must carry (when the context verifies). An IPv4 or IPv6
  // literal (brackets optional) is not sent, and must instead be one of the
  // certificate's iPAddress subjectAltNames. `resume` may be null or empty.
  // The context must outlive the session.
  bool init_client(ClientContext& ctx, std::string_view sni_host, const SavedSession* resume, std::string& why);
  bool init_server(ServerContext& ctx, std::string& why);

  // Ciphertext received from the socket; kept until the engine asks for it.
  void feed(std::string_view ciphertext);
  // Ciphertext to send. take_output() hands over the whole buffer (the
  // session starts a fresh one), so the caller can keep it until the send
  // completes.
  bool has_output() const;
  std::string take_output();

  // Drives the handshake as far as the input allows. ok once it is complete
  // (and on every later call).
  Status handshake();
  // Encrypts all of `plain` into the output (records of at most 16 KiB).
  // Only after the handshake. ok or error.
  Status write(std::string_view plain);
  // Appends every byte that the fed input decrypts to. ok: appended at least
  // one byte; want_io: nothing available yet; closed: close_notify arrived;
  // error. With closed and error, the bytes that arrived before are appended
  // too.
  Status read(std::string& plain_out);
  // Queues our close_notify alert into the output.
  void close_notify();

  bool handshake_done() const;
  // After a client handshake: copies the session for resumption. false on
  // the server side, before the handshake, or when out of memory.
  bool save(SavedSession& out) const;
  // Whether the completed handshake resumed a session (either side).
  bool resumed() const;
  // The negotiated ALPN protocol ("http/1.1"), or empty when the peer did
  // not use ALPN.
  std::string alpn() const;
  // A sentence saying what failed, with the verification failure reasons and
  // the names in the certificate that was presented. Empty when all is well.
  const std::string& error() const;

  struct Impl;  // public only so that the mbedTLS callbacks in tls.cpp can name it

 private:
  std::unique_ptr<Impl> impl_;  // null until init_*, and after a move
};

}  // namespace aigw::tls
