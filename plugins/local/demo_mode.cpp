#include "demo_mode.h"

namespace aigw::local_plugin {
namespace {

constexpr std::string_view kNothing = "You said nothing.";

// The events after the last content chunk: finish, usage if asked, [DONE].
void append_stream_end(const Request& r, std::string& out) {
  r.framer_->finish_event(out, "stop");
  if (r.framer_->include_usage()) r.framer_->usage_event(out, r.usage(count_tokens(r.reply_)));
  Framer::done_event(out);
}

// Appends the next chunk of the reply; true when that was the last one.
bool append_next_chunk(Request& r, std::string& out) {
  size_t end = advance_words(r.reply_, r.reply_pos_, r.config_->chunk_words);
  r.framer_->content_event(out, std::string_view(r.reply_).substr(r.reply_pos_, end - r.reply_pos_));
  r.reply_pos_ = end;
  return end >= r.reply_.size();
}

void arm_timer(Request& r) {
  ++r.timer_token_;
  aigw_status st = r.host_->timer_start(r.req_, r.config_->chunk_interval_ms * 1'000'000,
                                        r.timer_token_);
  if (st != AIGW_OK && st != AIGW_ERR_CLOSED) {
    r.finish_error(st, "timer_start failed", 0);
  } else if (st == AIGW_ERR_CLOSED) {
    r.done_ = true;
  }
}

aigw_status start_embeddings(Request& r) {
  std::string body;
  aigw_usage u = r.usage(0);
  embeddings_response(body, r.model_, r.parsed_.inputs, r.parsed_.base64, u);
  if (r.respond_start(false) && r.emit(body)) r.finish_ok(u);
  return AIGW_OK;
}

}  // namespace

void demo_prepare(Request& r) {
  if (r.parsed_.endpoint == AIGW_ENDPOINT_EMBEDDINGS) return;
  if (r.parsed_.user_text.empty()) {
    r.reply_.assign(kNothing);
  } else {
    r.reply_ = r.config_->reply_prefix + r.parsed_.user_text;
  }
}

aigw_status demo_start(Request& r) {
  if (r.parsed_.endpoint == AIGW_ENDPOINT_EMBEDDINGS) return start_embeddings(r);
  aigw_usage u = r.usage(count_tokens(r.reply_));
  std::string out;
  if (!r.stream_) {
    r.framer_->full_response(out, r.reply_, u);
    if (r.respond_start(false) && r.emit(out)) r.finish_ok(u);
    return AIGW_OK;
  }
  if (!r.respond_start(true)) return AIGW_OK;
  if (r.framer_->kind() == ReplyKind::chat) r.framer_->role_event(out);
  if (r.config_->chunk_interval_ms == 0) {
    // No pacing: the whole stream goes out in one write.
    while (!append_next_chunk(r, out)) {
    }
    append_stream_end(r, out);
    if (r.emit(out)) r.finish_ok(u);
    return AIGW_OK;
  }
  if (r.emit(out, false)) arm_timer(r);  // the role event alone: no content yet
  return AIGW_OK;
}

void demo_on_timer(Request& r, uint64_t token) {
  if (r.done_ || token != r.timer_token_) return;
  std::string out;
  bool last = append_next_chunk(r, out);
  if (!last) {
    if (r.emit(out)) arm_timer(r);
    return;
  }
  // The last words, the finish chunk and [DONE] leave together: no reason to
  // make the client wait another interval for the end of the stream.
  append_stream_end(r, out);
  if (r.emit(out)) r.finish_ok(r.usage(count_tokens(r.reply_)));
}

}  // namespace aigw::local_plugin
