#include "native_scan.h"

#include "aigw_plugin.hpp"
#include "upstream_error.h"

namespace aigw::anthropic_plugin {
namespace {

using simdjson::dom::element;

// The events after which the client has something of the answer: a block
// began or grew, or the message got its stop reason or ended. message_start
// and ping carry nothing the client shows, so a failure after them can
// still go to another channel.
bool is_content(std::string_view type) {
  return type == "content_block_start" || type == "content_block_delta" ||
         type == "message_delta";
}

// Only these are parsed when the event names itself.
bool needs_data(std::string_view type) {
  return type == "message_start" || type == "message_delta" || type == "error";
}

void read_stop_reason(element holder, Outcome& outcome) {
  std::string_view stop;
  if (holder["stop_reason"].get(stop) == simdjson::SUCCESS) finish_reason_for(stop, outcome.finish);
}

}  // namespace

bool split_sse_event(std::string_view event, std::string_view& name, std::string_view& data,
                     std::string& scratch) {
  int lines = 0;
  name = {};
  data = {};
  sdk::for_each_sse_field(event, [&](std::string_view field, std::string_view value) {
    if (field == "event") {
      name = value;
      return;
    }
    if (field != "data") return;
    if (lines++ == 0) {
      data = value;
      return;
    }
    if (lines == 2) scratch.assign(data);
    scratch.push_back('\n');
    scratch.append(value);
    data = scratch;
  });
  return lines > 0;
}

NativeEvent NativeStreamScan::on_event(simdjson::dom::parser& parser, std::string_view event) {
  std::string_view type, data;
  std::string scratch;
  if (!split_sse_event(event, type, data, scratch)) return NativeEvent::kOther;
  element ev;
  bool parsed = false;
  if (type.empty() || needs_data(type)) {
    parsed = parser.parse(data.data(), data.size()).get(ev) == simdjson::SUCCESS && ev.is_object();
    // An unnamed event is what its data's "type" says.
    if (parsed && type.empty() && ev["type"].get(type) != simdjson::SUCCESS) type = {};
  }
  if (type == "message_stop") {
    content_started_ = true;
    return NativeEvent::kStop;
  }
  if (type == "error") {
    if (parsed) read_error(ev);
    outcome_.error = true;
    if (outcome_.status == 0) outcome_.status = 500;
    return NativeEvent::kError;
  }
  if (parsed && type == "message_start") read_message_start(ev);
  if (parsed && type == "message_delta") read_message_delta(ev);
  if (!is_content(type)) return NativeEvent::kOther;
  content_started_ = true;
  return NativeEvent::kContent;
}

void NativeStreamScan::read_message_start(element ev) {
  element message, usage;
  if (ev["message"].get(message) != simdjson::SUCCESS) return;
  if (message["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome_.usage);
  // Set only in an answer replayed whole as a stream; null otherwise.
  read_stop_reason(message, outcome_);
}

void NativeStreamScan::read_message_delta(element ev) {
  element delta, usage;
  if (ev["delta"].get(delta) == simdjson::SUCCESS) read_stop_reason(delta, outcome_);
  // Counts it carries replace message_start's; the input and cache counts
  // too, when it repeats them.
  if (ev["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome_.usage);
}

void NativeStreamScan::read_error(element ev) {
  element err;
  if (ev["error"].get(err) != simdjson::SUCCESS) return;
  std::string_view type, message;
  if (err["type"].get(type) == simdjson::SUCCESS) {
    outcome_.code = std::string(type);
    outcome_.status = status_for_error_type(type);
  }
  if (err["message"].get(message) == simdjson::SUCCESS) outcome_.message = std::string(message);
}

bool native_event_is_whole(simdjson::dom::parser& parser, std::string_view event) {
  std::string_view type, data;
  std::string scratch;
  if (!split_sse_event(event, type, data, scratch)) return false;
  element ev;
  return parser.parse(data.data(), data.size()).get(ev) == simdjson::SUCCESS;
}

bool read_native_answer(simdjson::dom::parser& parser, std::string_view json, Outcome& outcome) {
  element root, usage;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) {
    return false;
  }
  if (root["usage"].get(usage) == simdjson::SUCCESS) read_usage(usage, outcome.usage);
  read_stop_reason(root, outcome);
  return true;
}

}  // namespace aigw::anthropic_plugin
