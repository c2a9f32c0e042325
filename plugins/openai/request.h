// Per-worker instance and per-request state, and the work behind each HTTP
// mode hook.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "json_scan.h"
#include "openai_config.h"
#include "sse.h"
#include "usage.h"

namespace aigw::openai_plugin {

// One per worker: touched only by that worker's thread, so no locks. Hooks
// of one worker never overlap, so the scratch members serve every request.
struct Instance {
  const Config* config_ = nullptr;
  size_t next_key_ = 0;
  JsonScanner scanner_;  // one document at a time: a request body, an event
  ValueParser values_;
  std::vector<aigw_plugin_bytes> emit_chunks_;
  // The events of the on_body call in progress, sent with one emit when it
  // ends (Request::queue). Empty between hooks, so that no request ever
  // sends another's bytes.
  static constexpr size_t kBatchMax = 16;
  aigw_plugin_bytes batch_[kBatchMax];
  size_t batch_count_ = 0;

  // The key the host chose (ABI 1.1), or else round robin over the
  // provider's keys, each worker starting at its own index so that workers
  // do not all lead with the first key.
  const std::string& credential_for(const aigw_client_request& client);
};

class Request {
 public:
  Request(Instance& instance, aigw_request* req, const aigw_client_request& client);

  // request_new: refuses what the plugin cannot serve and decides whether
  // the stream needs stream_options.include_usage added.
  aigw_status admit(std::string& error);
  aigw_status build_upstream(aigw_upstream_request& up, std::string& error);
  aigw_status on_head(int32_t status, const aigw_host_header* headers, size_t count,
                      aigw_upstream_verdict& verdict);
  void on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body);
  // Ends the request with an error unless it is over already (the
  // exception barrier's way out).
  void fail(aigw_status status, std::string_view message);
  void client_gone() { done_ = true; }

 private:
  bool start_response();
  bool emit(std::string_view bytes);
  bool sent(aigw_status st);  // an emit's answer: false when the request ends
  bool emit_all(const aigw_host_bytes* chunks, size_t count);
  bool queue(std::string_view event);
  bool send_batch();
  bool on_event(std::string_view event, size_t lines);  // lines: see read_event_data
  // Keeps a complete event's usage and finish reason; true when the event
  // is the usage-only chunk the plugin asked for, which the client is not sent.
  bool note(const EventFacts& facts);
  void end_stream();
  void end_plain();                          // from what body_scan_ found
  void end_plain(const AnswerFacts& facts);  // reports them and finishes
  void* arena_copy(const void* data, size_t len);

  bool probe_ = false;  // AIGW_ENDPOINT_HEALTH_PROBE: headers only
  Instance& instance_;
  const Config& config_;
  const aigw_host* host_;
  aigw_request* req_;
  const aigw_client_request& client_;  // host memory, valid until request_destroy
  bool stream_ = false;

  // The body rewrite decided in admit().
  bool add_usage_option_ = false;  // splice "stream_options":{"include_usage":true}
  bool drop_usage_event_ = false;  // ...and so keep the usage event from the client
  uint64_t root_open_offset_ = 0;
  uint32_t root_members_ = 0;

  // The upstream head, kept for a response started later.
  bool head_seen_ = false;
  int32_t status_ = 0;
  bool passthrough_ = false;  // an error status: the body goes through as is
  std::string content_type_;
  std::string request_id_;
  std::string processing_ms_;
  // A refusal's advice on when to come back, passed on with it: clients
  // (the OpenAI SDKs' retry loops among them) read these.
  std::string retry_after_;
  std::string retry_after_ms_;

  bool responded_ = false;
  // Finished, or the client is gone, or emit was refused: every event
  // checks it first.
  bool done_ = false;

  // The body.
  // Non-stream: usage and finish_reason, found on the fly.
  JsonScanner body_scan_{JsonScanner::kUsage | JsonScanner::kFinishReasons};
  bool body_fed_ = false;  // body_scan_ has seen bytes: the answer came in pieces
  sdk::SseSplitter sse_;
  // The host's chunk the splitter is reading: an event inside it may wait
  // for the batch, one the splitter assembled in its own buffer may not.
  std::string_view chunk_;
  bool done_seen_ = false;
  bool committed_ = false;  // host->commit was called: content has begun
  uint64_t garbage_events_ = 0;
  bool have_usage_ = false;
  aigw_usage usage_{};
  bool have_reason_ = false;
  aigw_finish_reason reason_ = AIGW_FINISH_UNKNOWN;
};

}  // namespace aigw::openai_plugin
