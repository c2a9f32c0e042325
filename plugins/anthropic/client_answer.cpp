#include "client_answer.h"

#include "aigw_plugin.hpp"

namespace aigw::anthropic_plugin {

bool ClientAnswer::start(int32_t status, const aigw_plugin_header* headers, size_t count) {
  if (started_) return true;
  if (done_) return false;
  aigw_status st = host_->respond_start(req_, status, headers, count);
  if (st == AIGW_OK) {
    started_ = true;
    return true;
  }
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    finish(st, "anthropic plugin: could not start the response");
  }
  return false;
}

bool ClientAnswer::emit(std::string_view bytes) {
  if (bytes.empty()) return true;
  aigw_plugin_bytes chunk = sdk::bytes(bytes);
  aigw_status st = host_->emit(req_, &chunk, 1);
  if (st == AIGW_OK) return true;
  // CLOSED: the client left; on_client_gone and request_destroy follow.
  if (st == AIGW_ERR_CLOSED) {
    done_ = true;
  } else {
    finish(st, "anthropic plugin: could not send the response");
  }
  return false;
}

bool ClientAnswer::commit() {
  if (committed_) return true;
  committed_ = true;
  if (sdk::commit(host_, req_) == AIGW_OK) return true;
  done_ = true;  // CLOSED: the client left
  return false;
}

void ClientAnswer::report_usage(const Usage& usage) {
  if (!usage.present) return;
  aigw_usage u{};
  u.struct_size = sizeof u;
  u.prompt_tokens = usage.prompt();
  u.completion_tokens = usage.output;
  u.total_tokens = usage.prompt() + usage.output;
  // ABI 1.4: the part read from Anthropic's prompt cache. Anthropic counts
  // thinking inside output_tokens without a separate figure, so no
  // reasoning_tokens.
  u.cached_tokens = usage.cache_read;
  host_->report_usage(req_, &u);
}

void ClientAnswer::finish(aigw_status status, std::string_view message) {
  if (done_) return;
  done_ = true;
  host_->finish(req_, status, sdk::str(message));
}

}  // namespace aigw::anthropic_plugin
