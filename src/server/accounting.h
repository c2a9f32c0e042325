// What one finished request leaves behind: its metrics and its access-log
// line. Every request a worker answers on the public listener ends in one
// RequestRecord, whether a route answered it at once (404, 401, 400) or a
// plugin produced it over time; Worker::record() turns it into counters in
// the worker's own WorkerMetrics and, when sampled, a JSON line in the
// worker's LogBuffer. Nothing here is shared with another thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::server {

// A client address, compact (a connection keeps one when the access log is
// on): family 0 = unknown.
struct Peer {
  uint8_t family = 0;
  uint16_t port = 0;
  uint8_t addr[16] = {};

  static Peer of_socket(int fd);  // getpeername, once per connection
  void format(std::string& out) const;  // "127.0.0.1:5000", "[::1]:5000", "" when unknown
};

struct RequestRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;      // the route's canonical path
  Peer peer;
  std::string_view model;     // route name from the config; empty: none matched
  std::string_view provider;  // provider of the last attempt; empty: none
  std::string_view key;       // client key name; empty: none (open gateway or refused)
  int status = 0;
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;
  int64_t start_ns = 0;       // CLOCK_MONOTONIC: the request was complete
  int64_t first_byte_ns = 0;  // first response byte to the client; 0: none
  int64_t end_ns = 0;
  uint32_t attempts = 0;
  bool stream = false;
  std::string_view error;     // error code when status >= 400
};

// What the connection knows about a public request before a handler runs,
// and what a handler that answers at once reports back.
struct RequestContext {
  std::string_view request_id;
  int32_t key = -1;           // index in the generation's KeyTable; -1: open gateway
  std::string_view key_name;
  Peer peer;
  int64_t start_ns = 0;
  // Out, for a response written at once:
  int status = 0;
  std::string_view error;     // its error code (static strings only)
  std::string_view model;     // the route's name, when one matched
  bool plugin = false;        // a plugin request took over: it accounts for itself
};

}  // namespace aigw::server
