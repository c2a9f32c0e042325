#include "json_scan.h"

#include <cstring>

namespace aigw::openai_plugin {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

void JsonScanner::reset(uint32_t captures) {
  // Member-wise, so that the strings keep their capacity across events.
  captures_ = captures;
  consumed_ = 0;
  depth_ = 0;
  object_mask_ = 0;
  in_string_ = escape_ = string_is_key_ = expect_key_ = key_pending_ = literal_ = false;
  failed_ = root_seen_ = root_object_ = root_done_ = false;
  root_offset_ = 0;
  root_members_ = 0;
  key_len_ = 0;
  key_long_ = false;
  top_ = Top::none;
  element_open_ = false;
  slot_ = Slot::none;
  capture_depth_ = 0;
  capture_long_ = false;
  capture_.clear();
  usage_found_ = stream_options_found_ = choices_found_ = false;
  choice_count_ = 0;
  usage_.clear();
  stream_options_.clear();
  first_finish_.clear();
  last_finish_.clear();
}

void JsonScanner::feed(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  size_t i = 0;
  while (i < n && !failed_) {
    if (in_string_) {
      // Most bytes of a document are inside strings: run to the closing
      // quote without the per-byte dispatch below.
      size_t start = i;
      while (i < n) {
        char c = p[i];
        if (escape_) {
          escape_ = false;
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '"') {
          break;
        }
        ++i;
      }
      string_bytes(p + start, i - start);
      if (i == n) break;
      ++i;
      in_string_ = false;
      capture('"');
      if (string_is_key_) key_done();
      continue;
    }
    structural(p[i], consumed_ + i);
    ++i;
  }
  consumed_ += n;
}

void JsonScanner::structural(char c, uint64_t offset) {
  if (is_ws(c)) {
    literal_ = false;
    capture(c);
    return;
  }
  if (root_done_) {
    fail();  // something after the root value
    return;
  }
  switch (c) {
    case '{':
    case '[': {
      literal_ = false;
      bool object = c == '{';
      if (depth_ == 0) {
        if (root_seen_) return fail();
        root_seen_ = true;
        root_object_ = object;
        root_offset_ = offset;
      } else {
        value_start();
      }
      capture(c);
      bool choices_array = !object && depth_ == 1 && top_ == Top::choices;
      ++depth_;
      if (depth_ <= kTypedDepth) {
        uint64_t bit = uint64_t{1} << (depth_ - 1);
        object_mask_ = object ? (object_mask_ | bit) : (object_mask_ & ~bit);
      }
      expect_key_ = object;
      if (choices_array) {
        element_open_ = false;
        choice_count_ = 0;
      }
      return;
    }
    case '}':
    case ']': {
      literal_ = false;
      bool object = c == '}';
      if (depth_ == 0 || key_pending_) return fail();
      if (depth_ <= kTypedDepth && is_object(depth_) != object) return fail();
      if (slot_ != Slot::none && depth_ == capture_depth_) end_capture();
      --depth_;
      capture(c);
      expect_key_ = false;
      if (depth_ == 0) root_done_ = true;
      return;
    }
    case ',':
      literal_ = false;
      if (depth_ == 0 || key_pending_) return fail();
      if (slot_ != Slot::none && depth_ == capture_depth_) {
        end_capture();
      } else {
        capture(c);
      }
      if (depth_ == 1) top_ = Top::none;
      if (depth_ == 2 && top_ == Top::choices && !is_object(2)) element_open_ = false;
      expect_key_ = is_object(depth_);
      return;
    case ':':
      literal_ = false;
      if (!key_pending_) return fail();
      key_pending_ = false;
      capture(c);
      colon();
      return;
    case '"':
      literal_ = false;
      string_is_key_ = expect_key_ && is_object(depth_);
      if (string_is_key_) {
        key_len_ = 0;
        key_long_ = false;
        if (depth_ == 1) ++root_members_;
      } else if (depth_ == 0) {
        if (root_seen_) return fail();
        root_seen_ = true;
      } else {
        value_start();
      }
      in_string_ = true;
      escape_ = false;
      capture(c);
      return;
    default:
      // Numbers, true, false, null: only their first byte starts a value.
      if (!literal_) {
        literal_ = true;
        if (depth_ == 0) {
          if (root_seen_) return fail();
          root_seen_ = true;
        } else {
          value_start();
        }
      }
      capture(c);
      return;
  }
}

void JsonScanner::value_start() {
  if (depth_ == 2 && top_ == Top::choices && !is_object(2) && !element_open_) {
    element_open_ = true;
    ++choice_count_;
  }
}

void JsonScanner::string_bytes(const char* p, size_t n) {
  if (n == 0) return;
  if (string_is_key_ && (depth_ == 1 || in_choice_object())) {
    if (key_long_ || key_len_ + n > kMaxKey) {
      key_long_ = true;
    } else {
      std::memcpy(key_ + key_len_, p, n);
      key_len_ += n;
    }
  }
  if (slot_ == Slot::none || capture_long_) return;
  if (capture_.size() + n > kMaxCapture) {
    capture_long_ = true;
    capture_.clear();
    return;
  }
  capture_.append(p, n);
}

void JsonScanner::key_done() {
  key_pending_ = true;
  expect_key_ = false;
}

void JsonScanner::colon() {
  std::string_view key = key_long_ ? std::string_view() : std::string_view(key_, key_len_);
  if (depth_ == 1) {
    Slot slot = Slot::none;
    if (key == "usage") {
      top_ = Top::usage;
      usage_found_ = true;
      usage_.clear();
      if (captures_ & kUsage) slot = Slot::usage;
    } else if (key == "stream_options") {
      top_ = Top::stream_options;
      stream_options_found_ = true;
      stream_options_.clear();
      if (captures_ & kStreamOptions) slot = Slot::stream_options;
    } else if (key == "choices") {
      top_ = Top::choices;
      choices_found_ = true;
      choice_count_ = 0;
    } else {
      top_ = Top::other;
    }
    if (slot != Slot::none) {
      slot_ = slot;
      capture_depth_ = depth_;
      capture_long_ = false;
      capture_.clear();
    }
    return;
  }
  if ((captures_ & kFinishReasons) && in_choice_object() && key == "finish_reason") {
    slot_ = Slot::finish_reason;
    capture_depth_ = depth_;
    capture_long_ = false;
    capture_.clear();
  }
}

void JsonScanner::capture(char c) {
  if (slot_ == Slot::none || capture_long_) return;
  if (capture_.empty() && is_ws(c)) return;
  if (capture_.size() >= kMaxCapture) {
    capture_long_ = true;
    capture_.clear();
    return;
  }
  capture_.push_back(c);
}

void JsonScanner::end_capture() {
  while (!capture_.empty() && is_ws(capture_.back())) capture_.pop_back();
  if (capture_long_) capture_.clear();
  switch (slot_) {
    case Slot::usage:
      usage_.swap(capture_);
      break;
    case Slot::stream_options:
      stream_options_.swap(capture_);
      break;
    case Slot::finish_reason:
      if (choice_count_ == 1) first_finish_ = capture_;
      if (!capture_.empty() && capture_ != "null") last_finish_ = capture_;
      break;
    case Slot::none:
      break;
  }
  slot_ = Slot::none;
  capture_.clear();
}

}  // namespace aigw::openai_plugin
