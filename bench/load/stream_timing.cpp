#include "load/stream_timing.h"

#include <simdjson.h>

#include "histogram.h"

namespace aigw::bench {

struct EventJson::Impl {
  simdjson::ondemand::parser parser;
};

EventJson::EventJson() : impl_(std::make_unique<Impl>()) {}
EventJson::~EventJson() = default;

namespace {

bool non_empty_string(simdjson::ondemand::value v) {
  std::string_view s;
  return !v.get_string().get(s) && !s.empty();
}

// Whether the object `v` has a non-empty string under a key that `is_content`
// accepts (OpenAI's delta: content; Anthropic's: text, thinking,
// partial_json).
template <typename Pred>
bool delta_has_content(simdjson::ondemand::value v, Pred is_content) {
  simdjson::ondemand::object delta;
  if (v.get_object().get(delta)) return false;
  bool content = false;
  for (auto df : delta) {
    std::string_view dk;
    if (df.unescaped_key().get(dk)) break;
    simdjson::ondemand::value dv;
    if (df.value().get(dv)) break;
    if (is_content(dk)) content = content || non_empty_string(dv);
  }
  return content;
}

}  // namespace

EventJson::Facts EventJson::inspect(std::string& data) {
  Facts f;
  if (data.capacity() < data.size() + simdjson::SIMDJSON_PADDING) {
    data.reserve(data.size() + simdjson::SIMDJSON_PADDING);
  }
  simdjson::padded_string_view in(data.data(), data.size(), data.capacity());
  simdjson::ondemand::document doc;
  simdjson::ondemand::object root;
  if (impl_->parser.iterate(in).get(doc) || doc.get_object().get(root)) return f;
  // Fields in document order: ondemand reads forward, and a chunk has only a
  // handful of fields, so one pass is cheaper than look-ups by name.
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return f;
    simdjson::ondemand::value v;
    if (field.value().get(v)) return f;
    if (key == "choices") {
      simdjson::ondemand::array choices;
      if (v.get_array().get(choices)) continue;
      for (auto first : choices) {
        simdjson::ondemand::object choice;
        if (first.get_object().get(choice)) break;
        for (auto cf : choice) {
          std::string_view ck;
          if (cf.unescaped_key().get(ck)) break;
          simdjson::ondemand::value cv;
          if (cf.value().get(cv)) break;
          if (ck == "text") {
            f.content = f.content || non_empty_string(cv);
          } else if (ck == "delta") {
            f.content = delta_has_content(cv, [](std::string_view k) { return k == "content"; }) || f.content;
          }
        }
        break;  // choices[0] only
      }
    } else if (key == "type") {
      // Anthropic's Messages stream (/v1/messages) ends with message_stop,
      // not [DONE].
      std::string_view type;
      if (!v.get_string().get(type) && type == "message_stop") f.end = true;
    } else if (key == "delta") {
      // Anthropic's content_block_delta: text, thinking or a tool's input.
      f.content = delta_has_content(v, [](std::string_view k) {
                    return k == "text" || k == "thinking" || k == "partial_json";
                  }) || f.content;
    } else if (key == "usage") {
      simdjson::ondemand::object usage;
      if (v.get_object().get(usage)) continue;
      for (auto uf : usage) {
        std::string_view uk;
        if (uf.unescaped_key().get(uk)) break;
        uint64_t n = 0;
        // Anthropic's message_delta says output_tokens.
        if ((uk == "completion_tokens" || uk == "output_tokens") && !uf.value().get_uint64().get(n)) {
          f.has_usage_tokens = true;
          f.usage_tokens = n;
        }
      }
    }
  }
  return f;
}

void StreamTiming::start(uint64_t origin_ns, EventJson* json, Histogram* gaps) {
  stats_ = StreamStats{};
  origin_ns_ = origin_ns;
  last_event_ns_ = 0;
  json_ = json;
  gaps_ = gaps;
  sse_.reset();
}

void StreamTiming::on_first_byte(uint64_t now_ns) {
  if (stats_.first_byte_seen) return;
  stats_.first_byte_seen = true;
  stats_.ttfb_ns = now_ns > origin_ns_ ? now_ns - origin_ns_ : 0;
}

void StreamTiming::feed(std::string_view body, uint64_t now_ns) {
  // An event over the reader's cap fails the reader; the stream then simply
  // yields no more events and ends without [DONE], which is reported.
  sse_.feed(body, [&](const http::SseEvent& e) { dispatch(e.data, now_ns); });
}

void StreamTiming::dispatch(std::string_view data, uint64_t now_ns) {
  if (stats_.events > 0 && gaps_ != nullptr) {
    gaps_->record(now_ns > last_event_ns_ ? now_ns - last_event_ns_ : 0);
  }
  last_event_ns_ = now_ns;
  ++stats_.events;
  if (http::is_sse_done(data)) {
    stats_.done = true;
    return;
  }
  if (json_ == nullptr || data.empty() || data[0] != '{') return;
  json_buf_.assign(data);
  EventJson::Facts f = json_->inspect(json_buf_);
  if (f.content) {
    ++stats_.content_events;
    if (!stats_.content_seen) {
      stats_.content_seen = true;
      stats_.first_content_ns = now_ns > origin_ns_ ? now_ns - origin_ns_ : 0;
    }
  }
  if (f.end) stats_.done = true;
  if (f.has_usage_tokens) {
    stats_.usage_seen = true;
    stats_.usage_tokens = f.usage_tokens;
  }
}

}  // namespace aigw::bench
