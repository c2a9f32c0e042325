// The answer to the client, as both paths give it (the translated one of
// request.cpp and the native one of native_exchange.cpp): the host calls
// that start, send, commit and end it, and the two facts every event
// checks first, whether it started and whether it is over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aigw_plugin.h"
#include "translate_response.h"

namespace aigw::anthropic_plugin {

class ClientAnswer {
 public:
  ClientAnswer(const aigw_host* host, aigw_request* req) : host_(host), req_(req) {}

  // respond_start, once. True when the answer has started (now or before).
  bool start(int32_t status, const aigw_plugin_header* headers, size_t count);
  // One emit of `bytes` (nothing for none). False when it was refused:
  // the answer is then over.
  bool emit(std::string_view bytes);
  // host->commit, once. False when the client left.
  bool commit();
  // finish, unless over: with AIGW_OK, or with an error the host turns into
  // the client's error answer or event.
  void finish(aigw_status status, std::string_view message = {});
  // report_usage, when the answer had any: prompt_tokens is every input
  // token, cached or not (Usage::prompt), completion_tokens the output.
  void report_usage(const Usage& usage);
  // The client left (or a host call refused): nothing more is sent.
  void end() { done_ = true; }

  bool started() const { return started_; }
  bool committed() const { return committed_; }
  // Finished, the client gone, or a host call refused.
  bool done() const { return done_; }

 private:
  const aigw_host* host_;
  aigw_request* req_;
  bool started_ = false;
  bool committed_ = false;
  bool done_ = false;
};

}  // namespace aigw::anthropic_plugin
