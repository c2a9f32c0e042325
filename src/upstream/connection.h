// The upstream client's state, one struct per concept: a pool per
// destination, an exchange per request in flight, a connection per socket.
// Private to src/upstream (client.cpp); in a header so that the slot tables
// holding them see complete types.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "http/response_parser.h"
#include "io/slot_table.h"
#include "tls/tls.h"
#include "upstream/failure.h"

namespace aigw::upstream {

using Handle = io::SlotHandle;

struct Pool {
  std::string key;
  std::vector<Handle> idle;  // most recently used last: reused first, while warm
  uint64_t open = 0;         // connections in any state
  uint64_t max_idle = 0;     // the latest config's max_idle_connections
  tls::SavedSession tls_session;  // resumption on reconnect: no full handshake
};

struct Exchange {
  uint64_t cookie = 0;
  const config::UpstreamConfig* config = nullptr;
  const std::vector<sockaddr_storage>* addrs = nullptr;  // outlives the exchange (the caller holds it)
  Pool* pool = nullptr;
  std::string bytes;  // kept until the head arrives: a stale connection sends it again
  bool head_only = false;
  bool done = false;
  uint8_t stale_retries = 0;
  Failure::Phase phase = Failure::Phase::connecting;
  Handle conn;
  int64_t total_deadline = 0;
  // The deadline in force. The heap's entry for this exchange may be earlier
  // (never later): see Client::set_deadline.
  int64_t deadline = 0;
};

struct Connection {
  enum class State : uint8_t {
    connecting,   // connect in flight
    handshaking,  // TLS handshake
    busy,         // serving `exchange` (or its last response just ended)
    idle,         // in the pool, a receive armed to notice the provider closing it
    closing,      // cancel issued; released once no operation is in flight
  };

  Handle self;  // packed into the user_data of its ring operations
  int fd = -1;
  State state = State::connecting;
  Pool* pool = nullptr;
  Handle exchange;
  uint8_t ops = 0;  // ring operations in flight
  bool recv_armed = false;     // the multishot receive is in flight
  bool send_inflight = false;
  bool reusable = true;        // false once the provider closed or said it would
  bool release_queued = false;
  uint32_t served = 0;         // responses completed on it

  std::string sending;  // owned by the send in flight
  size_t sending_off = 0;
  std::string pending;  // queued behind it

  std::unique_ptr<tls::Session> tls;
  std::string plain;  // decrypted bytes, reused

  // The response being read: bytes not yet consumed (a partial head), then
  // the body's framing state.
  bool head_only = false;
  std::string acc;
  bool head_done = false;
  http::ResponseHead head;
  http::ChunkedDecoder chunked;
  uint64_t body_left = 0;
  std::string decoded;

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  // No receive buffer here: bytes arrive in the worker's provided buffers
  // (Client::arm_recv), so a slow stream or an idle pooled connection costs
  // this struct and what its strings hold, not a buffer of its own.

  void reset_response() {
    acc.clear();
    head_done = false;
    chunked.reset();
    body_left = 0;
    decoded.clear();
  }
};

}  // namespace aigw::upstream
