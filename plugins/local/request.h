// Per-worker instance and per-request state, shared by demo and process mode.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "aigw_plugin.h"
#include "local_config.h"
#include "openai_framing.h"
#include "openai_request.h"
#include "text.h"

namespace aigw::local_plugin {

// One per worker: touched only by that worker's thread, so no locks.
struct Instance {
  const Config* config_ = nullptr;
  uint32_t worker_index_ = 0;
  uint32_t worker_count_ = 1;
  uint64_t requests_ = 0;     // numbers the response ids
  uint32_t processes_ = 0;    // process mode: children running on this worker
  RequestParser parser_;

  // Ids stay unique across workers: worker w of n hands out w+1, w+1+n, ...
  uint64_t next_serial() { return requests_++ * worker_count_ + worker_index_ + 1; }
};

struct Request {
  Instance* instance_ = nullptr;
  const Config* config_ = nullptr;
  const aigw_host* host_ = nullptr;
  aigw_request* req_ = nullptr;
  std::string_view model_;    // the client's public model name (host memory)
  bool stream_ = false;
  ParsedRequest parsed_;
  std::optional<Framer> framer_;  // chat and completions only
  // Set once the response is over for us: finished, client gone, or emit
  // refused. Every hook checks it first.
  bool done_ = false;
  bool committed_ = false;  // host->commit was called
  bool responded_ = false;    // respond_start was called

  // demo mode
  std::string reply_;
  size_t reply_pos_ = 0;      // where the next stream chunk starts
  uint64_t timer_token_ = 0;  // the token of the one timer we wait for

  // process mode
  aigw_process* proc_ = nullptr;  // valid until on_process_exit returns
  // The child's handle, kept for recognising its events only (never
  // dereferenced): stdout may still drain after the exit was reported.
  const aigw_process* proc_id_ = nullptr;
  bool holds_slot_ = false;       // counted in instance_->processes_
  bool stdout_eof_ = false;
  bool exited_ = false;
  uint64_t spawn_ns_ = 0;
  Utf8Carry utf8_;
  TokenCounter completion_tokens_;
  std::string output_;            // non-stream: the whole answer

  aigw_usage usage(uint64_t completion_tokens) const;

  // Host calls with the bookkeeping every caller needs. Each returns false
  // when the request is over (done_ is then set; on a host failure the
  // request was finished with an error).
  bool respond_start(bool sse);
  // `content`: the bytes carry the answer itself (a token, the end), not
  // just the stream's opening (the role event): the host may then send the
  // held-back start of the stream (aigw_host.commit).
  bool emit(std::string_view bytes, bool content = true);
  // Reports usage and STOP, then finishes with AIGW_OK.
  void finish_ok(const aigw_usage& usage);
  // Finishes with an error; when part of a stream was already sent, reports
  // the usage so far and finish reason ERROR first.
  void finish_error(aigw_status status, std::string_view message, uint64_t completion_tokens);
};

}  // namespace aigw::local_plugin
