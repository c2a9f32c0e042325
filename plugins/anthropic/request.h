// Per-worker instance and per-request state, and the work behind each HTTP
// mode hook.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "aigw_plugin.h"
#include "aigw_plugin.hpp"
#include "anthropic_config.h"
#include "client_answer.h"
#include "native_exchange.h"
#include "translate_response.h"

namespace aigw::anthropic_plugin {

// A whole answer larger than this is not one the plugin holds (for
// translation, or for reading the usage of a native one): max_tokens
// bounds a real one far below it, so only a misbehaving upstream reaches it.
constexpr size_t kMaxWholeBody = 128u << 20;

// The Messages API names the model in the body; the name is still checked,
// so that what goes upstream is a model id and not arbitrary bytes. False
// with `error` set for anything else.
bool check_model(std::string_view model, std::string& error);

// One per worker: touched only by that worker's thread, so no locks. Hooks
// of one worker never overlap, so the parser serves every request.
struct Instance {
  const Config* config_ = nullptr;
  size_t next_key_ = 0;
  uint32_t worker_index_ = 0;
  uint32_t worker_count_ = 1;
  uint64_t requests_ = 0;
  simdjson::dom::parser parser_;

  // The key the host chose (ABI 1.1), else round robin over the provider's
  // keys, each worker starting at its own index.
  const std::string& key_for(const aigw_client_request& client);
  // Unique among this process's requests: workers interleave their counts.
  uint64_t next_serial() { return requests_++ * worker_count_ + worker_index_ + 1; }
};

class Request {
 public:
  Request(Instance& instance, aigw_request* req, const aigw_client_request& client);

  // request_new: translates the client's body now, so that what Anthropic
  // cannot serve is a 400 before any upstream traffic.
  aigw_status admit(std::string& error);
  aigw_status build_upstream(aigw_upstream_request& up, std::string& error);
  aigw_status on_head(int32_t status, const aigw_host_header* headers, size_t count,
                      aigw_upstream_verdict& verdict);
  void on_body(const aigw_host_bytes* chunks, size_t count, bool end_of_body);
  // Ends the request with an error unless it is over already (the
  // exception barrier's way out).
  void fail(aigw_status status, std::string_view message);
  void client_gone();

 private:
  bool respond(int32_t status, std::string_view content_type);
  bool on_event(std::string_view event);
  void end_stream();
  // message_stop translated: commit if nothing did, report, finish.
  void finish_stream();
  void end_whole();
  // A stream that failed before its first byte with the client's own
  // error: answered as a whole request would be. False when the error is
  // not the client's (stream_failed() then hands it to the host).
  bool answer_stream_error();
  void stream_failed();

  Instance& instance_;
  const aigw_host* host_;
  aigw_request* req_;
  const aigw_client_request& client_;  // host memory, valid until request_destroy
  ClientAnswer answer_;

  // An Anthropic client's request (ABI 1.3): every hook goes to it, and
  // nothing below is used.
  std::unique_ptr<NativeExchange> native_;
  bool probe_ = false;  // AIGW_ENDPOINT_HEALTH_PROBE: headers only
  bool stream_ = false;
  bool include_usage_ = false;
  // The upstream request: built in admit, pointed to by build_upstream; it
  // lives as long as this object, i.e. until request_destroy.
  std::string upstream_body_;
  ChatContext chat_;

  int32_t status_ = 0;
  bool head_seen_ = false;
  bool streaming_ok_ = false;  // a 200 to a stream: translated event by event
  uint64_t retry_after_ms_ = 0;  // from the head's Retry-After, for an error answer


  // A whole answer (not a stream, or an error) is gathered, then translated.
  std::string body_;
  sdk::SseSplitter sse_;
  std::optional<StreamTranslator> stream_tr_;
  std::string out_;  // scratch for translated bytes
};

}  // namespace aigw::anthropic_plugin
