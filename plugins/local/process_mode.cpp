#include "process_mode.h"

#include <vector>

#include "aigw_plugin.hpp"

namespace aigw::local_plugin {
namespace {

// Non-stream answers are held in memory until the exit; a runaway child
// must not grow a worker without bound.
constexpr size_t kMaxBufferedOutput = 16u << 20;
// After a clean exit, how long to wait for stdout to close (a grandchild may
// hold the pipe open) before answering with what arrived.
constexpr uint64_t kEofGraceNs = 2'000'000'000;
constexpr uint64_t kEofGraceToken = 1;
constexpr int32_t kSigKill = 9;

std::string program(const Request& r) { return "`" + r.config_->command.front() + "`"; }

void release_slot(Request& r) {
  if (!r.holds_slot_) return;
  r.holds_slot_ = false;
  --r.instance_->processes_;
}

void kill_child(Request& r) {
  if (r.proc_ != nullptr && !r.exited_) r.host_->process_kill(r.proc_);
}

bool ensure_stream_started(Request& r) {
  if (r.responded_) return true;
  if (!r.respond_start(true)) return false;
  std::string out;
  if (r.framer_->kind() == ReplyKind::chat) r.framer_->role_event(out);
  return r.emit(out, false);  // the role event: the child has said nothing yet
}

void complete(Request& r) {
  uint64_t tokens = r.completion_tokens_.tokens();
  aigw_usage u = r.usage(tokens);
  std::string out;
  if (!r.stream_) {
    r.framer_->full_response(out, r.output_, u);
    if (r.respond_start(false) && r.emit(out)) r.finish_ok(u);
    return;
  }
  if (!ensure_stream_started(r)) return;
  r.framer_->finish_event(out, "stop");
  if (r.framer_->include_usage()) r.framer_->usage_event(out, u);
  Framer::done_event(out);
  if (r.emit(out)) r.finish_ok(u);
}

std::string exit_message(const Request& r, int32_t exit_status) {
  if (exit_status >= 0) return program(r) + " exited with status " + std::to_string(exit_status);
  uint64_t elapsed_ms = (r.host_->now_ns() - r.spawn_ns_) / 1'000'000;
  if (exit_status == -kSigKill && elapsed_ms >= r.config_->timeout_ms) {
    return program(r) + " was killed after the timeout of " +
           sdk::format_duration_ms(r.config_->timeout_ms);
  }
  return program(r) + " was killed by signal " + std::to_string(-exit_status);
}

}  // namespace

aigw_status process_admit(Request& r, std::string& error) {
  if (r.parsed_.endpoint == AIGW_ENDPOINT_EMBEDDINGS) {
    error = "embeddings are not supported by a local provider with mode = \"process\"";
    return AIGW_ERR_UNSUPPORTED;
  }
  if (r.instance_->processes_ >= r.config_->max_processes) {
    error = "all " + std::to_string(r.config_->max_processes) +
            " processes (max_processes, per worker) of this local provider are busy";
    return AIGW_ERR_LIMIT;
  }
  ++r.instance_->processes_;
  r.holds_slot_ = true;
  return AIGW_OK;
}

aigw_status process_start(Request& r) {
  const auto& command = r.config_->command;
  std::vector<aigw_plugin_str> argv;
  argv.reserve(command.size());
  for (const auto& arg : command) argv.push_back({arg.data(), arg.size()});
  aigw_spawn_options options{};
  options.struct_size = sizeof options;
  options.argv = argv.data();
  options.argc = argv.size();
  options.env = nullptr;  // inherit: PATH, model caches, GPU settings
  options.timeout_ms = r.config_->timeout_ms;
  r.spawn_ns_ = r.host_->now_ns();
  aigw_status st = r.host_->spawn(r.req_, &options, &r.proc_);
  if (st != AIGW_OK || r.proc_ == nullptr) {
    r.proc_ = nullptr;
    release_slot(r);
    if (st == AIGW_ERR_CLOSED) {
      r.done_ = true;
    } else {
      r.finish_error(st == AIGW_OK ? AIGW_ERR_INTERNAL : st,
                     "could not start " + program(r) + " (status " + std::to_string(st) + ")", 0);
    }
    return AIGW_OK;
  }
  r.proc_id_ = r.proc_;
  const std::string& prompt = r.parsed_.transcript;
  aigw_plugin_bytes chunk{reinterpret_cast<const uint8_t*>(prompt.data()), prompt.size()};
  st = prompt.empty() ? AIGW_OK : r.host_->process_write(r.proc_, &chunk, 1);
  if (st == AIGW_OK) st = r.host_->process_close_stdin(r.proc_);
  if (st != AIGW_OK) {
    kill_child(r);
    r.finish_error(st, "could not write the prompt to " + program(r) + " (status " +
                           std::to_string(st) + ")", 0);
  }
  return AIGW_OK;
}

void process_on_output(Request& r, const aigw_host_bytes* chunks, size_t count, int32_t eof) {
  if (r.stdout_eof_) return;
  std::string text;
  for (size_t i = 0; i < count; ++i) {
    r.utf8_.feed({reinterpret_cast<const char*>(chunks[i].ptr), chunks[i].len}, text);
  }
  if (eof) {
    r.utf8_.flush(text);
    r.stdout_eof_ = true;
  }
  if (r.done_) return;
  r.completion_tokens_.feed(text);
  if (r.stream_) {
    if (!text.empty()) {
      std::string out;
      r.framer_->content_event(out, text);
      if (!ensure_stream_started(r) || !r.emit(out)) return;
    }
  } else {
    if (r.output_.size() + text.size() > kMaxBufferedOutput) {
      kill_child(r);
      r.finish_error(AIGW_ERR_INTERNAL,
                     program(r) + " wrote more than " + std::to_string(kMaxBufferedOutput) +
                         " bytes; use stream = true for longer answers",
                     0);
      return;
    }
    r.output_ += text;
  }
  if (r.stdout_eof_ && r.exited_) complete(r);
}

void process_on_exit(Request& r, int32_t exit_status) {
  r.exited_ = true;
  release_slot(r);
  if (r.done_) {
    r.proc_ = nullptr;
    return;
  }
  if (exit_status != 0) {
    std::string message = exit_message(r, exit_status);
    r.proc_ = nullptr;
    r.finish_error(AIGW_ERR_INTERNAL, message, r.completion_tokens_.tokens());
    return;
  }
  r.proc_ = nullptr;
  if (r.stdout_eof_) {
    complete(r);
    return;
  }
  aigw_status st = r.host_->timer_start(r.req_, kEofGraceNs, kEofGraceToken);
  if (st == AIGW_ERR_CLOSED) {
    r.done_ = true;
  } else if (st != AIGW_OK) {
    complete(r);
  }
}

void process_on_timer(Request& r, uint64_t token) {
  if (r.done_ || token != kEofGraceToken || r.stdout_eof_) return;
  std::string text;
  r.utf8_.flush(text);
  r.completion_tokens_.feed(text);
  if (r.stream_ && !text.empty()) {
    std::string out;
    r.framer_->content_event(out, text);
    if (!ensure_stream_started(r) || !r.emit(out)) return;
  } else {
    r.output_ += text;
  }
  r.stdout_eof_ = true;
  complete(r);
}

void process_client_gone(Request& r) {
  r.done_ = true;
  kill_child(r);
}

void process_release(Request& r) { release_slot(r); }

}  // namespace aigw::local_plugin
