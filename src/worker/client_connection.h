// One client connection as a worker sees it. Connections live in a
// worker-owned slot table and are never touched by another thread.
//
// Memory: an idle keep-alive connection owns no receive buffer (the kernel
// picks one from the provided-buffer ring only when data arrives); its
// strings keep at most 16 KiB of capacity between requests (larger ones are
// released), so a small keep-alive connection costs this struct and one
// small output block (about 580 bytes measured, docs/benchmarks.md).
#pragma once

#include <cstdint>
#include <string>

#include <memory>

#include "http/request.h"
#include "metrics/record.h"
#include "tls/tls.h"

namespace aigw::worker {

enum class TimerKind : uint8_t { none, header, body, idle, send, linger, count_ };

enum class Phase : uint8_t {
  idle,          // between requests, nothing buffered
  head,          // part of a request head received
  body_length,   // head complete, waiting for Content-Length bytes
  body_chunked,  // head complete, decoding a chunked body
  responding,    // a plugin or the control thread is producing the response
  lingering,     // final response sent, write side shut, draining input until EOF
  closing,       // cancel issued; waiting for in-flight operations to complete
};

constexpr uint32_t kNoSlot = 0xFFFFFFFFu;

// A chunked request body being decoded (phase body_chunked). Clients send
// Content-Length almost always, so this lives apart, only while needed:
// kept inside Connection it made every idle connection 120 bytes larger.
struct ChunkedBody {
  http::ChunkedDecoder decoder;
  uint64_t fed = 0;   // bytes after the head given to the decoder
  std::string body;   // decoded so far
};
constexpr uint32_t kAdminExchange = 0xFFFFFFFEu;  // waiting on the control thread

struct Connection {
  int fd = -1;
  uint32_t index = 0;
  uint32_t generation = 0;
  Phase phase = Phase::idle;

  bool recv_armed = false;
  bool send_inflight = false;
  bool close_after_write = false;  // last response queued: close once it is sent
  bool read_paused = false;        // too much output queued: stop reading (back-pressure)
  bool peer_eof = false;           // the client half-closed: close once our output is sent
  bool dispatching = false;        // inside dispatch(): answers join the batch the parse loop sends
  uint8_t ops = 0;                 // operations in flight; the slot is freed only at 0

  uint32_t served = 0;  // requests answered on this connection
  uint32_t exchange = kNoSlot;      // the plugin request in flight, or kAdminExchange (phase responding)
  bool admin = false;               // accepted on the admin listener
  // The keep-alive decision and HTTP minor version of a request forwarded to
  // the control thread (kAdminExchange): its answer comes back by message,
  // after dispatch() and its ResponseMeta are gone.
  bool admin_keep_alive = false;
  uint8_t admin_version_minor = 1;
  bool refusal = false;             // open only to deliver a 503 at a limit (Worker::refuse)
  metrics::Peer peer;               // the client's address, when the access log is on
  int32_t auth_key = -1;            // see auth_fingerprint (here: it fills the padding after peer)
  // The last client key verified on this connection: a keep-alive client
  // sends the same credential every time, and the SHA-256 behind a lookup
  // is most of what auth costs. Matched by a fast fingerprint of the
  // presented bytes; a collision could only hand the connection an
  // identity it already proved, so it needs no cryptographic strength.
  uint64_t auth_fingerprint = 0;
  uint64_t auth_generation = 0;     // the key table it was verified against
  std::unique_ptr<tls::Session> tls;  // [server.tls]: between the socket and HTTP

  // Input not yet consumed: a partial request (head, or head plus part of its
  // body). Empty most of the time: a request that arrives whole is parsed in
  // place in the kernel's receive buffer and never copied.
  std::string in;
  size_t scanned = 0;  // bytes of `in` already searched for a line end without success

  // Facts of the head being completed (phase body_*); the head itself stays
  // at the start of `in` and is parsed again, in place, on completion.
  size_t head_bytes = 0;
  uint64_t need = 0;       // body_length: head_bytes + Content-Length
  std::unique_ptr<ChunkedBody> chunked;  // body_chunked only

  // Output: `out` collects responses; `sending` is owned by the send in
  // flight until its completion arrives.
  std::string out;
  std::string sending;
  size_t sending_off = 0;

  // Intrusive timer list membership (see Timers in worker.h).
  TimerKind timer = TimerKind::none;
  uint32_t timer_prev = kNoSlot;
  uint32_t timer_next = kNoSlot;
  int64_t deadline_ms = 0;
};

}  // namespace aigw::worker
