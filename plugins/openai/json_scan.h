// An incremental scanner over one JSON document that arrives in pieces. It
// does not validate everything; it tracks just enough structure (strings,
// nesting, the keys of the root object and of the objects in its "choices"
// array) to copy out the few values the plugin needs. Inside any other
// container it follows only strings and brackets (matched by kind), so a
// broken key, colon, comma or literal there goes unseen. A multi-megabyte
// embeddings response thus costs one pass and no buffering, and a request
// body split over several chunks needs no joining.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::openai_plugin {

// JSON's whitespace (RFC 8259): the one definition for the plugin.
inline bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

class JsonScanner {
 public:
  // What to copy out, as raw JSON text (whitespace around it trimmed).
  enum Capture : uint32_t {
    kUsage = 1u << 0,          // the root's "usage" value
    kStreamOptions = 1u << 1,  // the root's "stream_options" value
    kFinishReasons = 1u << 2,  // "finish_reason" of each object in "choices"
  };

  // A value copied out grows to this much at most; a longer one is found
  // but not kept (its text is empty).
  static constexpr size_t kMaxCapture = 16 * 1024;

  explicit JsonScanner(uint32_t captures = 0) : captures_(captures) {}

  // Starts over for a new document, keeping allocated memory.
  void reset(uint32_t captures);
  void feed(std::string_view bytes);

  // The document so far broke the JSON grammar in a way the scanner sees
  // (it stops looking then).
  bool failed() const { return failed_; }
  // One complete object and nothing but whitespace after it.
  bool complete_object() const {
    return !failed_ && root_object_ && root_done_ && !in_string_;
  }
  // Where the root object's '{' is, counting every byte fed, and how many
  // members it has (so far).
  uint64_t root_open_offset() const { return root_offset_; }
  uint32_t root_members() const { return root_members_; }

  // Captured values; "found" means the key was there, even if its value was
  // too big to keep (then the text is empty).
  bool usage_found() const { return usage_found_; }
  std::string_view usage() const { return usage_; }
  bool stream_options_found() const { return stream_options_found_; }
  std::string_view stream_options() const { return stream_options_; }
  bool choices_found() const { return choices_found_; }
  uint32_t choice_count() const { return choice_count_; }
  // choices[0].finish_reason and the last non-null finish_reason of any
  // choice, as raw JSON ("\"stop\"", "null"); empty when absent.
  std::string_view first_finish_reason() const { return first_finish_; }
  std::string_view last_finish_reason() const { return last_finish_; }

 private:
  enum class Top : uint8_t { none, usage, stream_options, choices, other };
  enum class Slot : uint8_t { none, usage, stream_options, finish_reason };
  enum class Key : uint8_t { other, usage, stream_options, choices, finish_reason };

  static constexpr size_t kMaxKey = 24;
  static constexpr uint32_t kTypedDepth = 64;

  // `at` points into the bytes being fed; `offset` counts every byte fed.
  void structural(const char* at, uint64_t offset);
  // Inside a skipped container: follows its strings and brackets until it
  // closes (returns just past it) or the bytes end.
  const char* skipped(const char* p, const char* end);
  // Inside a string: its closing quote, or end (escape_ carries a backslash
  // at the end over to the next bytes).
  const char* string_end(const char* p, const char* end);
  void value_start();
  void key_bytes(const char* p, size_t n);
  // The key's last bytes end at its closing quote.
  void key_done(const char* last, const char* quote);
  void colon(const char* at);
  void start_capture(Slot slot, const char* from);
  void take(const char* from, const char* to);
  void end_capture(const char* at);
  bool is_object(uint32_t depth) const {
    return depth > 0 && depth <= kTypedDepth && ((object_mask_ >> (depth - 1)) & 1u) != 0;
  }
  bool in_choice_object() const {
    return depth_ == 3 && top_ == Top::choices && !is_object(2) && is_object(3);
  }
  void fail() { failed_ = true; }

  uint32_t captures_;
  uint64_t consumed_ = 0;
  uint32_t depth_ = 0;
  uint64_t object_mask_ = 0;  // bit d-1: the container at depth d is an object
  bool in_string_ = false;
  bool escape_ = false;
  bool string_is_key_ = false;
  bool expect_key_ = false;
  bool key_pending_ = false;  // a key ended; its ':' comes next
  bool literal_ = false;      // inside a number, true, false or null
  bool failed_ = false;
  bool root_seen_ = false;
  bool root_object_ = false;
  bool root_done_ = false;
  uint64_t root_offset_ = 0;
  uint32_t root_members_ = 0;

  // A key that began in earlier bytes is collected here; one inside the
  // bytes being fed is read where it is.
  char key_text_[kMaxKey] = {};
  size_t key_len_ = 0;
  bool key_long_ = false;
  Key key_ = Key::other;  // the last key that ended, where keys matter

  // Nonzero: the depth of a container whose insides no capture or count
  // needs (not the root, the choices array or one of its objects). Only
  // its strings and brackets are followed until it closes, which is where
  // a document spends most of its structure (messages, tool calls,
  // logprobs, a chunk's delta).
  uint32_t skip_base_ = 0;

  Top top_ = Top::none;
  bool element_open_ = false;  // a value of the choices array has started

  Slot slot_ = Slot::none;
  uint32_t capture_depth_ = 0;
  bool capture_long_ = false;
  std::string capture_;
  const char* run_ = nullptr;  // during feed: where the uncopied part of a capture starts

  bool usage_found_ = false;
  bool stream_options_found_ = false;
  bool choices_found_ = false;
  uint32_t choice_count_ = 0;
  std::string usage_;
  std::string stream_options_;
  std::string first_finish_;
  std::string last_finish_;
};

// For a stream event's payload, before scanning it: false when nothing a
// scanner with kUsage | kFinishReasons copies out can be other than null,
// because every "usage" and "finish_reason" in the bytes (keys or not,
// escaped quotes or not) is followed right away by :null and then ',' or
// '}'. OpenAI-compatible chunks carry "finish_reason":null (and with
// include_usage "usage":null) in every event; only the last ones need the
// scan. True means "scan it"; a false true costs only the scan.
bool may_hold_usage_or_finish(std::string_view payload);

// may_hold_usage_or_finish's two searches, for the tests: sixteen positions
// per step (SSE2, part of x86-64; bytes elsewhere) and thirty-two (AVX2,
// where has_avx2(); elsewhere it is the first). The function takes the
// second where the CPU has it.
namespace detail {
bool may_hold_16(std::string_view payload);
bool may_hold_32(std::string_view payload);
bool has_avx2();
}  // namespace detail

// The payload starts with '{' and ends with '}', whitespace aside: what a
// complete object always does, and the check an event that is not scanned
// gets. (Malformed JSON between the braces goes through uncounted then; it
// is forwarded unchanged either way.)
bool braced(std::string_view payload);

}  // namespace aigw::openai_plugin
