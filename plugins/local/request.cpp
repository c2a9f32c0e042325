#include "request.h"

#include "aigw_plugin.hpp"

namespace aigw::local_plugin {

aigw_usage Request::usage(uint64_t completion_tokens) const {
  aigw_usage u{};
  u.struct_size = sizeof u;
  u.prompt_tokens = parsed_.prompt_tokens;
  u.completion_tokens = completion_tokens;
  u.total_tokens = parsed_.prompt_tokens + completion_tokens;
  return u;
}

bool Request::respond_start(bool sse) {
  static constexpr std::string_view kContentType = "Content-Type";
  static constexpr std::string_view kJson = "application/json";
  static constexpr std::string_view kSse = "text/event-stream";
  static constexpr std::string_view kCacheControl = "Cache-Control";
  static constexpr std::string_view kNoCache = "no-cache";
  aigw_plugin_header headers[2] = {
      {{kContentType.data(), kContentType.size()},
       sse ? aigw_plugin_str{kSse.data(), kSse.size()} : aigw_plugin_str{kJson.data(), kJson.size()}},
      {{kCacheControl.data(), kCacheControl.size()}, {kNoCache.data(), kNoCache.size()}},
  };
  aigw_status st = host_->respond_start(req_, 200, headers, sse ? 2 : 1);
  if (st == AIGW_OK) {
    responded_ = true;
    return true;
  }
  if (st != AIGW_ERR_CLOSED) finish_error(st, "respond_start failed", 0);
  done_ = true;
  return false;
}

bool Request::emit(std::string_view bytes, bool content) {
  if (bytes.empty()) return true;
  aigw_plugin_bytes chunk{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  aigw_status st = host_->emit(req_, &chunk, 1);
  if (st == AIGW_OK && content && !committed_) {
    committed_ = true;
    st = sdk::commit(host_, req_);
  }
  if (st == AIGW_OK) return true;
  // CLOSED: the client left and on_client_gone/request_destroy follow; there
  // is nobody to finish for.
  if (st != AIGW_ERR_CLOSED) finish_error(st, "emit failed", 0);
  done_ = true;
  return false;
}

void Request::finish_ok(const aigw_usage& u) {
  done_ = true;
  host_->report_usage(req_, &u);
  if (parsed_.endpoint != AIGW_ENDPOINT_EMBEDDINGS) {
    host_->report_finish_reason(req_, AIGW_FINISH_STOP);
  }
  host_->finish(req_, AIGW_OK, aigw_plugin_str{"", 0});
}

void Request::finish_error(aigw_status status, std::string_view message,
                           uint64_t completion_tokens) {
  done_ = true;
  if (responded_) {
    aigw_usage u = usage(completion_tokens);
    host_->report_usage(req_, &u);
    host_->report_finish_reason(req_, AIGW_FINISH_ERROR);
  }
  host_->finish(req_, status, aigw_plugin_str{message.data(), message.size()});
}

}  // namespace aigw::local_plugin
