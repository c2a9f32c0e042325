#include "load/response_reader.h"

#include <algorithm>

namespace aigw::bench {

namespace {

http::ResponseLimits bench_limits() {
  http::ResponseLimits l;
  // A stream may run as long as it likes; the request timeout bounds it.
  l.max_body_bytes = UINT64_MAX / 2;
  return l;
}

bool istarts_with(std::string_view v, std::string_view prefix) {
  return v.size() >= prefix.size() && http::iequals(v.substr(0, prefix.size()), prefix);
}

}  // namespace

void ResponseReader::reset() {
  state_ = State::head;
  info_ = ResponseInfo{};
  head_buf_.clear();
  left_ = 0;
  body_bytes_ = 0;
  chunked_.reset();
  scratch_.clear();
  error_ = "";
  limits_ = bench_limits();
}

ResponseReader::Result ResponseReader::parse_head(std::string_view data, size_t& consumed) {
  consumed = 0;
  http::ParseError err;
  http::ParseStatus st = http::parse_response_head(data, false, limits_, head_, err);
  if (st == http::ParseStatus::incomplete) return Result::need_more;
  if (st == http::ParseStatus::error) return fail(err.message);
  consumed = head_.head_bytes;
  if (head_.informational()) return Result::need_more;  // 100, 103: the answer follows
  info_.status = head_.status;
  info_.keep_alive = head_.keep_alive;
  info_.body = head_.body_kind;
  info_.content_length = head_.content_length;
  info_.event_stream = istarts_with(head_.header("content-type"), "text/event-stream");
  left_ = head_.body_kind == http::ResponseBodyKind::length ? head_.content_length : 0;
  if (head_.body_kind == http::ResponseBodyKind::none ||
      (head_.body_kind == http::ResponseBodyKind::length && left_ == 0)) {
    state_ = State::done;
    return Result::done;
  }
  state_ = State::body;
  return Result::need_more;
}

ResponseReader::Result ResponseReader::feed(std::string_view in, size_t& consumed,
                                            std::string& stream_body) {
  consumed = 0;
  while (state_ == State::head) {
    if (consumed == in.size()) return Result::need_more;
    std::string_view rest = in.substr(consumed);
    size_t used = 0;
    Result r;
    if (head_buf_.empty()) {
      // The common case: the whole head in one receive, parsed in place.
      r = parse_head(rest, used);
      if (r == Result::need_more && used == 0 && state_ == State::head) {
        head_buf_.assign(rest);
        consumed = in.size();
        return Result::need_more;
      }
      consumed += used;
    } else {
      size_t old = head_buf_.size();
      head_buf_.append(rest);
      r = parse_head(head_buf_, used);
      if (r == Result::need_more && used == 0 && state_ == State::head) {
        consumed = in.size();
        return Result::need_more;
      }
      if (r != Result::error) {
        // The head ended `used - old` bytes into this input; the rest is body
        // (or the next head after a 1xx).
        consumed += used - old;
        head_buf_.clear();
      }
    }
    if (r != Result::need_more) return r;
  }
  if (state_ == State::done) return Result::done;
  if (state_ == State::failed) return Result::error;

  std::string_view rest = in.substr(consumed);
  switch (info_.body) {
    case http::ResponseBodyKind::length: {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left_, rest.size()));
      if (info_.event_stream) stream_body.append(rest.substr(0, n));
      left_ -= n;
      body_bytes_ += n;
      consumed += n;
      if (left_ == 0) {
        state_ = State::done;
        return Result::done;
      }
      return Result::need_more;
    }
    case http::ResponseBodyKind::chunked: {
      http::ParseError err;
      size_t used = 0;
      auto r = chunked_.feed(rest, used, info_.event_stream ? stream_body : scratch_,
                             limits_.chunked_limits(), err);
      scratch_.clear();
      body_bytes_ += used;
      consumed += used;
      if (r == http::ChunkedDecoder::Result::error) return fail("malformed chunked body");
      if (r == http::ChunkedDecoder::Result::done) {
        state_ = State::done;
        return Result::done;
      }
      return Result::need_more;
    }
    case http::ResponseBodyKind::until_close:
      if (info_.event_stream) stream_body.append(rest);
      body_bytes_ += rest.size();
      consumed = in.size();
      return Result::need_more;
    case http::ResponseBodyKind::none:
      break;
  }
  state_ = State::done;
  return Result::done;
}

ResponseReader::Result ResponseReader::on_eof() {
  if (state_ == State::body && info_.body == http::ResponseBodyKind::until_close) {
    state_ = State::done;
    return Result::done;
  }
  if (state_ == State::done) return Result::done;
  return fail("connection closed before the response was complete");
}

}  // namespace aigw::bench
