// Server-Sent Events (text/event-stream), as the WHATWG HTML spec
// ("Interpreting an event stream") defines them: the reader for streamed
// upstream bodies (after de-chunking) and a writer for our own streams.
//
// The reader is incremental: bytes may be cut anywhere (inside a field, a
// UTF-8 sequence, the BOM or a CRLF) and the events come out the same. An
// event whose lines all arrived in one feed() is handed out as views into
// that input; only events spread over several feeds, or with several data
// lines, are assembled in buffers the reader keeps and reuses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace aigw::http {

struct SseEvent {
  std::string_view event;  // the "event:" field; empty when absent (the spec's "message")
  std::string_view data;   // the "data:" lines joined with '\n'
  std::string_view id;     // the last "id:" seen in the stream so far (it persists, per spec)
  // Stream bytes since the previous event, up to and including this one's
  // terminating blank line: comments, a BOM and field-less blocks in between
  // count here. When a blank line ends in CRLF the event is dispatched at the
  // CR, so that LF counts towards the next event; this keeps the number the
  // same however the input is cut.
  size_t raw_bytes = 0;
};

// Whether an event's data is the "[DONE]" marker that ends an OpenAI stream.
inline bool is_sse_done(std::string_view data) { return data == "[DONE]"; }

class SseReader {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{1} << 20;

  enum class Status : uint8_t { ok, error };

  // `max_event_bytes` caps one event block (its lines and line ends, from
  // one blank line to the next); past it the reader fails. It bounds what the
  // reader buffers for a stream that never sends a blank line.
  explicit SseReader(size_t max_event_bytes = kDefaultMaxEventBytes) : max_event_bytes_(max_event_bytes) {}

  // Consumes all of `bytes`, calling on_event(const SseEvent&) for each event
  // completed by them, in order. The event's views are valid only during the
  // call. on_event must not call feed() on this reader. Returns error once an
  // event grows past the cap; the reader then stays failed until reset().
  template <class F>
  Status feed(std::string_view bytes, F&& on_event) {
    using Fn = std::remove_reference_t<F>;
    return feed_impl(
        bytes, [](void* ctx, const SseEvent& e) { (*static_cast<Fn*>(ctx))(e); },
        const_cast<void*>(static_cast<const void*>(&on_event)));
  }

  bool failed() const { return failed_; }
  const char* error_message() const { return failed_ ? "SSE event is larger than the limit" : ""; }
  // Some event so far had data "[DONE]".
  bool saw_done() const { return saw_done_; }
  uint64_t events() const { return events_; }
  // Data of an event, or part of a line, has arrived but not the blank line
  // that ends it: if the stream ends now it was cut (the spec drops such an
  // event, and so do we). Always false once failed.
  bool pending() const {
    return !failed_ && (has_data_ || !line_.empty() || (!bom_done_ && bom_matched_ > 0));
  }

  void reset() { *this = SseReader(max_event_bytes_); }

 private:
  using Sink = void (*)(void* ctx, const SseEvent& e);

  // A field value: a view into the current input while that lasts, copied
  // into `store_` when it must outlive the feed() or gets a second line.
  class Field {
   public:
    std::string_view view() const { return view_; }
    void clear() {
      view_ = {};
      owned_ = false;
    }
    void set(std::string_view v, bool borrow) {
      if (borrow) {
        view_ = v;
        owned_ = false;
      } else {
        store_.assign(v);
        view_ = store_;
        owned_ = true;
      }
    }
    void append_line(std::string_view v) {
      own();
      store_ += '\n';
      store_ += v;
      view_ = store_;
    }
    void own() {
      if (owned_) return;
      store_.assign(view_);
      view_ = store_;
      owned_ = true;
    }

   private:
    std::string_view view_;
    std::string store_;
    bool owned_ = false;
  };

  Status feed_impl(std::string_view bytes, Sink sink, void* ctx);
  void on_line(std::string_view line, bool borrow, Sink sink, void* ctx);
  bool count(size_t n);  // false once the block is over the cap

  size_t max_event_bytes_;
  std::string line_;            // a line cut by the end of the input
  Field event_;
  Field data_;
  std::string last_id_;
  bool has_data_ = false;       // a data field was seen in the current block
  bool skip_lf_ = false;        // the last line ended in CR: a following LF belongs to it
  uint8_t bom_matched_ = 0;     // bytes of the UTF-8 BOM seen at the stream start
  bool bom_done_ = false;
  bool failed_ = false;
  bool saw_done_ = false;
  size_t block_bytes_ = 0;      // since the last blank line, for the cap
  size_t raw_bytes_ = 0;        // since the last dispatched event
  uint64_t events_ = 0;
};

// Appends one event: an "event:" line when `event` is not empty (cut at its
// first CR or LF, which would end the field), then one "data: " line per line
// of `data` (split at LF, CRLF or CR, as the reader will), then the blank
// line. Reading it back gives `data` with CRLF and CR turned into LF.
void append_sse_event(std::string& out, std::string_view data, std::string_view event = {});

}  // namespace aigw::http
