// libFuzzer target for the Messages API translation of src/translate/
// (messages.h): a client's /v1/messages body, a provider's OpenAI answer,
// error body and event stream are all untrusted bytes that become JSON the
// gateway sends on.
//
// The first byte is the cut point (as a fraction of the rest, byte/256)
// and the status for error_from_openai; the rest goes through every
// function:
//   - messages_to_chat: success gives one JSON object starting {"model":;
//     failure gives a message and an empty output;
//   - estimate_input_tokens: at least 1;
//   - chat_to_message: success gives one JSON object, failure nothing;
//   - error_body / error_from_openai: one JSON object;
//   - StreamToMessages: every event is "event: T\ndata: <JSON>\n\n" whose
//     type is T, nothing follows message_stop or error, the stream ends
//     with one of them after finish(), and the bytes are the same whole,
//     cut at the first byte's point, and cut at a point taken from a hash.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

#include "fuzz_check.h"
#include "translate/messages.h"

namespace {

namespace t = aigw::translate;

simdjson::dom::parser& parser() {
  static simdjson::dom::parser p;
  return p;
}

bool json_object(std::string_view s) {
  simdjson::dom::element e;
  return parser().parse(s.data(), s.size()).get(e) == simdjson::SUCCESS && e.is_object();
}

std::string run_stream(std::string_view in, size_t cut1, size_t cut2) {
  t::StreamToMessages s("claude-fuzz", "msg_fuzz", 7);
  std::string out;
  if (cut1 > cut2) std::swap(cut1, cut2);
  s.feed(in.substr(0, cut1), out);
  s.feed(in.substr(cut1, cut2 - cut1), out);
  s.feed(in.substr(cut2), out);
  s.finish(out);
  FUZZ_CHECK(s.content_started());
  std::string after;
  s.feed(in, after);
  s.finish(after);
  s.fail(500, "late", after);
  FUZZ_CHECK(after.empty());
  return out;
}

void check_events(const std::string& out) {
  size_t pos = 0;
  bool over = false;
  std::string_view last;
  while (pos < out.size()) {
    FUZZ_CHECK(!over);
    const size_t end = out.find("\n\n", pos);
    FUZZ_CHECK(end != std::string::npos);
    const std::string_view ev(out.data() + pos, end - pos);
    pos = end + 2;
    FUZZ_CHECK(ev.substr(0, 7) == "event: ");
    const size_t nl = ev.find('\n');
    FUZZ_CHECK(nl != std::string_view::npos && ev.substr(nl + 1, 6) == "data: ");
    const std::string_view type = ev.substr(7, nl - 7);
    const std::string_view data = ev.substr(nl + 7);
    FUZZ_CHECK(data.find('\n') == std::string_view::npos);
    simdjson::dom::element e;
    FUZZ_CHECK(parser().parse(data.data(), data.size()).get(e) == simdjson::SUCCESS);
    std::string_view inner;
    FUZZ_CHECK(e["type"].get(inner) == simdjson::SUCCESS && inner == type);
    over = type == "message_stop" || type == "error";
    last = type;
  }
  FUZZ_CHECK(last == "message_stop" || last == "error");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t first = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::string chat = "stale";
  const t::RequestError err = t::messages_to_chat(in, chat);
  if (err) {
    FUZZ_CHECK(!err.message.empty() && chat.empty());
  } else {
    FUZZ_CHECK(chat.rfind("{\"model\":", 0) == 0 && json_object(chat));
  }
  FUZZ_CHECK(t::estimate_input_tokens(in) >= 1);

  std::string message = "stale";
  if (t::chat_to_message(in, "claude-fuzz", "msg_fuzz", message)) {
    FUZZ_CHECK(json_object(message));
  } else {
    FUZZ_CHECK(message.empty());
  }
  const int status = 400 + first % 200;
  FUZZ_CHECK(json_object(t::error_from_openai(status, in, "req_1")));
  FUZZ_CHECK(json_object(t::error_body(status, in)));

  const std::string whole = run_stream(in, in.size(), in.size());
  check_events(whole);
  const size_t cut = in.size() * first / 256;
  FUZZ_CHECK(run_stream(in, cut, cut) == whole);
  const uint64_t h = fuzz_fnv1a(in);
  const size_t a = in.empty() ? 0 : h % (in.size() + 1);
  const size_t b = in.empty() ? 0 : (h >> 32) % (in.size() + 1);
  FUZZ_CHECK(run_stream(in, a, b) == whole);
  return 0;
}
