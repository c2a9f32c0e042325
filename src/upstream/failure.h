// Why an upstream exchange failed, as a value: the gateway maps it to a
// routing verdict, a metric and the client's answer with one switch each,
// instead of comparing error strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::upstream {

struct Failure {
  enum class Kind : uint8_t {
    connect,    // no connection: refused, unreachable, socket() failed
    tls,        // handshake or record layer failed, certificate refused
    timeout,    // a deadline passed; `phase` says which one
    closed,     // the provider closed the connection before the response ended
    io,         // a send or receive failed (reset and the like)
    protocol,   // the response is malformed
    too_large,  // the response exceeds the client's limits
    pool_full,  // the provider's max_connections is reached on this worker
    no_fds,     // this worker's share of file descriptors is spent
  };
  // How far the exchange got: before its response began (nothing of it can
  // have reached the client) or in the middle of its body.
  enum class Phase : uint8_t { connecting, waiting_head, reading_body };

  Kind kind = Kind::io;
  Phase phase = Phase::connecting;
  std::string message;  // one sentence for the client and the log; never a secret

  bool after_head() const { return phase == Phase::reading_body; }

  // What the client is answered when no other channel takes the request.
  int status() const {
    switch (kind) {
      case Kind::timeout: return 504;
      case Kind::pool_full:
      case Kind::no_fds: return 503;
      default: return 502;
    }
  }
  std::string_view code() const {
    switch (kind) {
      case Kind::connect: return "upstream_unreachable";
      case Kind::tls: return "upstream_tls_error";
      case Kind::timeout: return "upstream_timeout";
      case Kind::closed: return "upstream_closed";
      case Kind::io: return "upstream_error";
      case Kind::protocol: return "bad_upstream_response";
      case Kind::too_large: return "upstream_response_too_large";
      case Kind::pool_full:
      case Kind::no_fds: return "upstream_busy";
    }
    return "upstream_error";
  }
};

}  // namespace aigw::upstream
