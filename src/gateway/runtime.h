// The host half of plugin requests, per worker: the worker's instances of
// each plugin generation, the requests in flight (struct aigw_request), the
// timers and child processes they own, and the aigw_host callbacks that act
// on them.
//
// Everything here belongs to one worker thread. Generations arrive by
// mailbox; a request keeps the generation it started on until it ends, so a
// hot swap never pulls code from under a request in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "aigw_plugin.h"
#include "http/request.h"
#include "http/response.h"
#include "http/response_parser.h"
#include "tls/tls.h"
#include <deque>
#include <unordered_map>
#include "plugin/generation.h"
#include "limits/limiter.h"
#include "metrics/metrics.h"
#include "routing/health.h"
#include "gateway/host.h"
#include "io/slot_table.h"
#include "gateway/openai_body.h"
#include "metrics/record.h"
#include "translate/messages.h"
#include "upstream/client.h"

namespace aigw::gateway {

class Runtime;

// The worker's instances of one generation.
struct WorkerGeneration {
  std::shared_ptr<plugin::Generation> gen;
  std::vector<void*> instances;  // per provider
  uint32_t active = 0;           // requests in flight on it
  // This worker's health of every channel of gen->routes: its own view,
  // corrected by news from the other workers.
  std::unique_ptr<routing::Health> health;
};

}  // namespace aigw::gateway

struct aigw_process {
  aigw_request* req = nullptr;   // null once the request is gone
  aigw::gateway::Runtime* rt = nullptr;
  uint32_t index = 0;
  uint32_t generation = 0;
  int pid = -1;
  int pidfd = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  uint8_t ops = 0;               // ring operations in flight
  bool exited = false;           // seen through the pidfd; not reaped yet (see reap())
  bool reaped = false;
  bool stdout_eof = false;
  bool read_armed = false;
  bool deadline_passed = false;  // timeout_ms ran out: killed, and no more waiting on stdout
  bool writing = false;
  bool close_stdin_after_write = false;
  int32_t exit_status = 0;
  std::string pending_in;        // queued for stdin
  std::string writing_buf;       // owned by the write in flight
  char out_buf[8192];            // target of the read in flight
};

namespace aigw::gateway {

// One attempt: one plugin request (request_new .. request_destroy) on one
// channel, with its upstream exchange or child processes and the response
// it has drafted. A failover ends the attempt (Runtime::end_attempt) and
// replaces it whole, so nothing of a failed provider's attempt can leak
// into the next one; only what belongs to the client request survives.
struct Attempt {
  const aigw_hooks* hooks = nullptr;
  void* ctx = nullptr;
  bool ctx_live = false;          // request_new succeeded: request_destroy is owed
  int32_t channel = -1;
  uint32_t provider = 0;
  std::string target_model;       // the name asked of the provider, before its model_map
  std::string upstream_model;     // after it; aigw_client_request.upstream_model points here
  int64_t start_ns = 0;
  bool verdict_given = false;     // health heard how this attempt went
  // A plugin of ABI 1.2 or later says when its content begins
  // (host->commit); for older ones the host sniffs the emitted bytes.
  bool sniff_content = true;

  // The response this attempt drafts. Nothing of it reaches the client
  // before the request commits (see aigw_request::committed).
  bool started = false;           // respond_start was called
  int status = 200;
  std::vector<std::pair<std::string, std::string>> resp_headers;
  std::string buffered;           // non-stream body, sent with Content-Length at finish
  std::string held;               // a stream's bytes before the commit
  size_t held_scan = 0;
  uint32_t retry_after_s = 0;     // a Retry-After for the error answer, 0: none
  int32_t finish_reason = -1;     // aigw_finish_reason from the plugin; -1: none reported

  std::vector<aigw_process*> procs;

  // The Messages API through a plugin that speaks only OpenAI's dialect
  // (messages_api.cpp): its answer is translated back. A stream goes
  // through stream_reply event by event; an error answer (status >= 400) is
  // collected in error_raw and sent whole, in Anthropic's shape, at the end.
  bool translated = false;
  std::unique_ptr<translate::StreamToMessages> stream_reply;
  std::string error_raw;

  // HTTP mode: the upstream exchange (src/upstream).
  const config::UpstreamConfig* upstream = nullptr;
  const std::vector<sockaddr_storage>* upstream_addrs = nullptr;
  std::shared_ptr<const std::vector<sockaddr_storage>> addrs_hold;  // keeps a refreshed set alive
  upstream::Handle exchange;
  // The upstream head was good and the channel heard first_byte: how the
  // body ends (complete or cut short) is still owed to its health.
  bool outcome_pending = false;
};

}  // namespace aigw::gateway

// The client request: from admission to the access-log line. It outlives
// its attempts; the current one is `attempt`.
struct aigw_request {
  aigw::gateway::Runtime* rt = nullptr;
  uint32_t index = 0;       // slot in the runtime's request table
  uint32_t generation = 0;  // of that slot
  uint32_t conn_index = 0;
  uint32_t conn_generation = 0;

  aigw::gateway::WorkerGeneration* wgen = nullptr;

  // The request bytes live as long as the request (the ABI promises it).
  // The body, with spare capacity for simdjson's padding (it reads up to 64
  // bytes past the end while scanning).
  std::string body;
  std::string model;
  // The method, the path and the headers forwarded to plugins, copied into
  // one buffer reserved up front: one allocation, and it never grows after,
  // so the views into it (these two, `headers`) stay valid. A probe's
  // method and path view its provider's config, which the request's
  // generation keeps alive.
  std::string head_bytes;
  std::string_view method_text;
  std::string_view path_text;
  std::vector<aigw_host_header> headers;
  aigw_host_bytes body_chunk{};
  aigw_client_request client{};

  bool stream = false;
  int version_minor = 1;

  // Anthropic's Messages API (/v1/messages*): the client's dialect, for its
  // answers and errors. A plugin that serves it natively gets the client's
  // body; any other gets chat_body, the Chat Completions translation made
  // on the first attempt that needs it (messages_api.cpp).
  bool messages_api = false;
  aigw_endpoint client_endpoint = 0;   // what the client called
  uint64_t model_value_offset = 0;     // of the client's body
  uint64_t model_value_len = 0;
  uint32_t body_facts = 0;             // AIGW_BODY_* of the client's body
  std::string chat_body;               // padded like body
  aigw_host_bytes chat_chunk{};
  uint64_t chat_model_offset = 0;
  uint64_t chat_model_len = 0;
  uint32_t chat_body_facts = 0;
  bool keep_alive = true;

  // Routing: the route and the channels tried so far (the last is in use).
  // A failed attempt before any byte reached the client starts the next on
  // another channel.
  const aigw::routing::Route* route = nullptr;
  static constexpr size_t kMaxAttempts = 16;
  uint32_t tried[kMaxAttempts] = {};
  uint32_t attempts = 0;
  int64_t start_ns = 0;           // the client request arrived
  bool retry_pending = false;     // a failover waits for the running hook to return
  aigw::routing::Pick pending_pick;
  aigw::gateway::Attempt attempt;
  // Nothing reached the client yet while this is false. A stream is held
  // back (head and events) until its content begins, so that an upstream
  // failure before content can still fail over.
  bool committed = false;
  bool probe = false;             // an active health probe: no client at all

  // Accounting: who asked, what it cost, how it ended.
  std::string request_id;
  int32_t key = -1;               // client key index, -1: none
  std::string_view key_name;      // lives in the generation's KeyTable
  aigw::metrics::Peer peer;
  std::string_view log_path;      // the route's canonical path (static)
  aigw::limits::Ticket ticket;    // the client key's budget charge, settled at the end
  uint64_t estimate = 0;
  aigw::limits::HeaderList rate_headers;  // x-ratelimit-*
  uint64_t usage_prompt = 0, usage_completion = 0, usage_total = 0;
  uint64_t usage_cached = 0, usage_reasoning = 0;  // ABI 1.4 parts of prompt and completion
  bool has_usage = false;
  int final_status = 0;           // what the client was answered; 0: it left first
  std::string error_code;
  int64_t first_byte_ns = 0;

  // The client side of the response.
  bool finished = false;          // no more output accepted from the current attempt
  bool client_gone = false;
  int depth = 0;                  // > 0 while a hook of this request is running

  std::vector<std::unique_ptr<char[]>> arena;
};

namespace aigw::gateway {

// What the connection knows about a public request before a handler runs,
// and what a handler that answers at once reports back.
struct RequestContext {
  std::string_view request_id;
  int32_t key = -1;           // index in the generation's KeyTable; -1: open gateway
  std::string_view key_name;
  metrics::Peer peer;
  int64_t start_ns = 0;
  // Out, for a response written at once:
  int status = 0;
  std::string_view error;     // its error code (static strings only)
  std::string_view model;     // the route's name, when one matched
  bool plugin = false;        // a plugin request took over: it accounts for itself
};

class Runtime final : private upstream::Listener {
 public:
  explicit Runtime(Host& host);
  ~Runtime();

  // A new generation from the control thread: make this worker's instances
  // and serve new requests with it. Returns false (and keeps the old one)
  // if an instance could not be made.
  bool install(std::shared_ptr<plugin::Generation> gen, std::string& why);
  uint64_t generation_id() const { return current_ ? current_->gen->id : 0; }

  // Newer addresses for a provider of the current generation (DNS refresh).
  void update_addresses(uint64_t generation, size_t provider,
                        std::shared_ptr<const std::vector<sockaddr_storage>> addrs);

  // A model request (POST /v1/...) on client connection (conn_index,
  // conn_generation): admission (admission.cpp). Returns its request slot,
  // or kNone when it was refused; the refusal went out through the host's
  // output. The connection records the slot, then calls begin(slot), which
  // starts the first attempt (and may answer at once).
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  uint32_t admit(uint32_t conn_index, uint32_t conn_generation, const http::RequestHead& head,
                 std::string_view body, aigw_endpoint endpoint, const http::ResponseMeta& meta,
                 RequestContext& rc);
  void begin(uint32_t slot);

  // The connection of request `slot` is gone.
  void client_gone(uint32_t slot);
  // Ends request `slot` now with an error answer (an error event when the
  // stream already reached the client): the worker is stopping.
  void abort(uint32_t slot, int status, std::string_view code, std::string_view message);

  // Failovers decided during this loop turn start here, once no completion
  // handler or hook holds the failed attempt any more.
  void run_deferred();
  bool has_deferred() const { return !deferred_.empty(); }

  // From the worker's tick (every 10-100 ms): active health probes
  // (plugin_probe.cpp), and once a second the limiter hands back budget it
  // has held idle, so other workers can use it.
  void on_tick(int64_t now_ns);
  void run_probes(int64_t now_ns);

  // Ring completions for child processes (Op::process_*).
  void on_process_cqe(uint8_t op, uint32_t index, uint32_t generation, int res);

  // Timers: the earliest deadline (ns, CLOCK_MONOTONIC), or 0 if none.
  // Both inline: the worker asks once per loop turn, and almost every turn
  // has nothing due.
  uint64_t next_timer_ns() const {
    uint64_t t = timers_.empty() ? 0 : timers_.top().deadline_ns;
    if (int64_t u = client_.next_deadline_ns(); u != 0 && (t == 0 || static_cast<uint64_t>(u) < t)) {
      t = static_cast<uint64_t>(u);
    }
    return t;
  }
  void run_timers(uint64_t now_ns) {
    if (uint64_t t = next_timer_ns(); t != 0 && t <= now_ns) run_due_timers(now_ns);
  }

  // Ends every request (client_gone semantics) and destroys all instances.
  void shutdown();

  // Health news from another worker, and this worker's view for /admin/providers.
  void apply_health(const routing::News& news);
  void health_json(std::string& out, int64_t now_ns) const;
  void channel_states(metrics::Snapshot& snap, int64_t now_ns) const;
  // The routing snapshot new requests use (null before the first generation).
  const routing::Table* routes() const { return current_ ? current_->gen->routes.get() : nullptr; }
  const plugin::Generation* generation() const { return current_ ? current_->gen.get() : nullptr; }
  size_t active_requests() const { return live_; }

  // --- aigw_host request callbacks (see aigw_plugin.h) ---
  void* arena_alloc(aigw_request* r, size_t size, size_t align);
  aigw_status respond_start(aigw_request* r, int32_t status, const aigw_plugin_header* h, size_t n);
  aigw_status emit(aigw_request* r, const aigw_plugin_bytes* chunks, size_t n);
  aigw_status finish(aigw_request* r, aigw_status status, std::string_view message);
  aigw_status commit_stream(aigw_request* r);  // aigw_host.commit (ABI 1.2)
  aigw_status timer_start(aigw_request* r, uint64_t delay_ns, uint64_t token);
  aigw_status spawn(aigw_request* r, const aigw_spawn_options* o, aigw_process** out);
  aigw_status process_write(aigw_process* p, const aigw_plugin_bytes* chunks, size_t n);
  aigw_status process_close_stdin(aigw_process* p);
  aigw_status process_kill(aigw_process* p);

 private:
  aigw_request* request(uint32_t index, uint32_t generation);
  aigw_request& alloc_request();
  void enter(aigw_request* r) { ++r->depth; }
  void leave(aigw_request* r);  // destroys a finished request once no hook runs
  void destroy(aigw_request* r);
  void end_attempt(aigw_request* r);  // the plugin context, upstream connection and processes
  void account(aigw_request* r);      // settles the key's budget, records metrics and the log line
  void retire_unused();
  void write_out(aigw_request* r, std::string_view bytes, bool done);
  void write_out(aigw_request* r, const std::string_view* parts, size_t n, bool done);
  // emit() gathers committed events from at most this many parts (the
  // chunk-size line, the plugin's chunks, CRLF); more chunks are joined.
  // The bundled plugins send up to 16 events of one upstream read at once.
  static constexpr size_t kGatherParts = 18;

  // The Messages API (messages_api.cpp). Sets the attempt's view of the
  // request for the provider's dialect; false when it had to answer instead
  // (a request that cannot be translated, count_tokens by estimate).
  bool choose_dialect(aigw_request* r, const plugin::Provider& prov);
  // A translated attempt's streamed bytes, in place; false: nothing to send.
  bool translate_stream(aigw_request* r, std::string& bytes);
  // A translated attempt's whole answer at its end, in place: the status
  // it goes out with (502 when the plugin's answer could not be read).
  int translate_whole(aigw_request* r, std::string& body);
  // The last events a translated stream owes (content_block_stop,
  // message_delta, message_stop) at a clean end.
  void finish_translated_stream(aigw_request* r);
  // A stream's last event for an error after content, in the client's dialect.
  std::string stream_error_event(aigw_request* r, int status, std::string_view code, std::string_view message);

  // Routing and failover (failover.cpp).
  void launch(aigw_request* r, const routing::Pick& pick);
  void use_upstream(aigw_request* r, uint32_t provider);  // its base URL and current addresses
  void restart(aigw_request* r, const routing::Pick& pick);
  // `kind` names the failure for aigw_upstream_errors_total: routing's
  // class alone would not (a TLS or protocol error is a server_error to
  // routing). When the channel already heard first_byte for this attempt,
  // the failure is its outcome: a response cut short.
  bool try_failover(aigw_request* r, routing::Failure failure, int64_t retry_after_ns,
                    metrics::UpstreamError kind);
  void report_success(aigw_request* r);
  void report_first_byte(aigw_request* r);  // HTTP mode: a good head; the outcome follows
  void report_outcome(aigw_request* r);     // the body ended well, if the outcome is owed
  void report_failure(aigw_request* r, routing::Failure failure, int64_t retry_after_ns,
                      metrics::UpstreamError kind);
  void report_abandon(aigw_request* r);
  void commit(aigw_request* r);
  void hold(aigw_request* r, std::string_view frame);
  void start_probe(uint32_t channel, int64_t now_ns);
  void end_probe(aigw_request* r, bool ok);
  // The framing facts of r's response: HTTP version, keep-alive, Date, id.
  http::ResponseMeta response_meta(const aigw_request* r) const;
  // At most how many headers routing_headers adds (a reserve, not a count).
  static size_t routing_header_bound(const aigw_request* r);
  void routing_headers(const aigw_request* r, std::vector<http::ResponseHeader>& out,
                       std::string& attempts_text) const;

  // HTTP mode (upstream_exchange.cpp): the request to the provider, and what
  // the upstream client tells about its answer.
  void start_upstream(aigw_request* r);
  aigw_request* by_cookie(uint64_t cookie);
  void on_head(uint64_t cookie, const http::ResponseHead& head) override;
  void on_body(uint64_t cookie, std::string_view bytes, bool end) override;
  void on_failure(uint64_t cookie, const upstream::Failure& f) override;
  void upstream_head_verdict(aigw_request* r, int32_t status, const aigw_upstream_verdict& verdict,
                             aigw_status st);
  // Ends the response: complete (ok) or with an error of this HTTP status
  // (an error event when bytes were already sent).
  void end_response(aigw_request* r, bool ok, int status, std::string_view code,
                    std::string_view message);

 public:
  void on_upstream_cqe(uint8_t op, uint32_t index, uint32_t generation, int res, uint32_t flags) {
    client_.on_cqe(static_cast<io::Op>(op), index, generation, res, flags);
  }
  // After a batch of completions, once the worker has given its receive
  // buffers back: upstream reads that found none start again.
  void after_completions() { client_.rearm_starved(); }
  const upstream::Client& upstream_client() const { return client_; }

 private:
  void arm_process_read(aigw_process* p);
  void arm_process_write(aigw_process* p);
  void arm_process_exit(aigw_process* p);
  void process_op_done(aigw_process* p);
  void reap(aigw_process* p);
  void kill_process(aigw_process* p);  // SIGKILL to its whole process group
  void force_eof(aigw_process* p);     // stop waiting for stdout: end it now
  void on_process_timer(uint8_t kind, uint32_t index, uint32_t generation);

  Host& host_;
  std::unique_ptr<WorkerGeneration> current_;
  std::vector<std::unique_ptr<WorkerGeneration>> retired_;
  std::vector<std::unique_ptr<aigw_request>> requests_;
  std::vector<uint32_t> free_requests_;
  size_t live_ = 0;
  std::vector<std::pair<uint32_t, uint32_t>> deferred_;  // (index, generation) awaiting failover
  std::unique_ptr<limits::WorkerLimiter> limiter_;  // client keys' budgets, this worker's share
  int64_t next_limiter_tick_ns_ = 0;
  uint64_t probe_gen_ = 0;            // the generation probe_due_ describes
  std::vector<int64_t> probe_due_;    // per channel
  std::vector<bool> probe_busy_;      // per channel: a probe is in flight
  io::SlotTable<aigw_process> procs_{"child process"};
  BodyParser body_parser_;  // admission's reader of the request bodies

  // Refreshed address sets, by provider index of the current generation.
  uint64_t addrs_generation_ = 0;
  std::unordered_map<size_t, std::shared_ptr<const std::vector<sockaddr_storage>>> addrs_;
  upstream::Client client_;

  enum TimerKind : uint8_t {
    kPluginTimer,      // host->timer_start: on_timer(token)
    kProcessDeadline,  // spawn's timeout_ms ran out: kill the process group
    kProcessEof,       // the child is gone but stdout is still held open: stop waiting
  };
  struct Timer {
    uint64_t deadline_ns;
    uint32_t index;
    uint32_t generation;
    uint64_t token;
    TimerKind kind;
    bool operator>(const Timer& o) const { return deadline_ns > o.deadline_ns; }
  };
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  void run_due_timers(uint64_t now_ns);
};


}  // namespace aigw::gateway
