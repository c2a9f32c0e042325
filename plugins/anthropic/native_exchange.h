// The native Messages pass-through (ABI 1.3, AIGW_DIALECT_ANTHROPIC_MESSAGES):
// an Anthropic client's /v1/messages or /v1/messages/count_tokens goes to
// Anthropic as the client wrote it (only the model name spliced when
// model_map renames it), and Anthropic's answer goes back byte for byte.
// The plugin reads the answer only to commit a stream when its content
// begins and to account usage and the stop reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "client_answer.h"
#include "native_scan.h"

namespace aigw::anthropic_plugin {

struct Instance;

// True for the endpoints this class serves.
bool is_native_endpoint(aigw_endpoint endpoint);

// The client body with the bytes [offset, offset + len) replaced by `name`,
// as views: the pieces of the client's chunks before the cut, `name`, the
// pieces after (three chunks for a one-chunk body). `out` holds count + 2.
// Returns how many chunks were written, 0 when the range lies outside the
// body.
size_t splice_body(const aigw_host_bytes* body, size_t count, uint64_t offset, uint64_t len,
                   std::string_view name, aigw_plugin_bytes* out);

class NativeExchange {
 public:
  NativeExchange(Instance& instance, aigw_request* req, const aigw_client_request& client);

  // Checks the model id, and prepares the spliced name when the upstream's
  // differs from the client's.
  aigw_status admit(std::string& error);
  aigw_status build_upstream(aigw_upstream_request& up, std::string& error);
  aigw_status on_head(int32_t status, const aigw_host_header* headers, size_t count,
                      aigw_upstream_verdict& verdict);
  void on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body);
  void fail(aigw_status status, std::string_view message) { answer_.finish(status, message); }
  void client_gone() { answer_.end(); }

 private:
  size_t upstream_headers(aigw_plugin_header* h) const;
  aigw_status splice_model(aigw_upstream_request& up, std::string& error);
  void keep_head_headers(const aigw_host_header* headers, size_t count);
  bool respond();
  void on_whole_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body);
  void end_whole();
  bool on_event(std::string_view event);
  void end_stream();
  void stream_failed(std::string_view fallback);
  // report_usage (when the answer had any) and report_finish_reason.
  void account(const Outcome& outcome, aigw_finish_reason reason);

  Instance& instance_;
  const aigw_host* host_;
  aigw_request* req_;
  const aigw_client_request& client_;  // host memory, valid until request_destroy
  ClientAnswer answer_;

  bool count_tokens_ = false;
  bool stream_ = false;
  std::string model_escaped_;  // set when model_map renamed the model: spliced in

  int32_t status_ = 0;
  bool head_seen_ = false;
  bool sse_ = false;    // a 2xx stream: passed on event by event, scanned
  bool whole_ = false;  // a 2xx Messages answer: kept too, for its usage
  // The upstream headers the client gets (Content-Type, request-id,
  // anthropic-ratelimit-*, retry-after), copied: respond() may come after
  // on_head returned.
  std::vector<std::pair<std::string, std::string>> head_headers_;

  std::string body_;  // a whole answer, for read_native_answer at its end
  sdk::SseSplitter sse_split_;
  NativeStreamScan scan_;
};

}  // namespace aigw::anthropic_plugin
