// One connection from a worker to an upstream (an HTTP-mode provider).
// Owned by the worker's PluginRuntime; pooled per (scheme, host, port) and
// reused for keep-alive; never shared between workers.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "http/request.h"
#include "http/response_parser.h"
#include "tls/tls.h"

struct aigw_request;

namespace aigw::server {

struct UpstreamConn {
  enum class State : uint8_t { connecting, ready, busy, closing };

  uint32_t index = 0;
  uint32_t generation = 0;
  int fd = -1;
  State state = State::connecting;
  std::string pool_key;
  uint8_t ops = 0;            // operations in flight; freed at 0 once closing
  bool recv_armed = false;
  bool send_inflight = false;
  uint32_t served = 0;        // requests completed on it

  aigw_request* req = nullptr;  // the request it serves (state busy)
  bool request_was_head = false;

  std::string sending;          // owned by the send in flight
  size_t sending_off = 0;
  std::string pending;          // queued behind the send in flight

  // https: the TLS engine between the socket bytes and the HTTP bytes.
  std::unique_ptr<tls::Session> tls;
  bool request_written = false;  // the request went into the engine / socket
  std::string plain;             // decrypted bytes, reused

  // Response parsing: bytes not yet consumed (a partial head, or chunk
  // framing); the body goes to the plugin as it arrives.
  std::string acc;
  bool head_done = false;
  http::ResponseHead head;
  http::ChunkedDecoder chunked;
  uint64_t body_left = 0;
  std::string decoded;

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  // Target of the receive in flight. 8 KiB: enough for an SSE event or a
  // response head in one read, small enough that 10,000 concurrent streams
  // stay within a few hundred MiB (each holds one upstream connection).
  char in[8192];
};

}  // namespace aigw::server
