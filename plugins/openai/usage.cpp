#include "usage.h"

#include <simdjson.h>

#include "json_scan.h"

#include <cstring>
#include <string>

namespace aigw::openai_plugin {

struct ValueParser::Impl {
  simdjson::ondemand::parser parser;
  std::string buf;

  // On-Demand reads up to SIMDJSON_PADDING bytes past the end.
  bool load(std::string_view text, simdjson::ondemand::document& doc) {
    buf.assign(text);
    buf.append(simdjson::SIMDJSON_PADDING, '\0');
    return parser.iterate(buf.data(), text.size(), buf.size()).get(doc) == simdjson::SUCCESS;
  }
  // The same, for a document that must be one object: false when it is
  // not (or its start cannot be read).
  bool load_object(std::string_view text, simdjson::ondemand::document& doc, simdjson::ondemand::object& root) {
    return load(text, doc) && doc.get_object().get(root) == simdjson::SUCCESS;
  }
};

ValueParser::ValueParser() : impl_(std::make_unique<Impl>()) {}
ValueParser::~ValueParser() = default;

namespace {

// Token counts from a usage object, wherever it sits: a copied-out text or
// a member of a whole answer. False when it has no count, or a key cannot
// be read (an error On-Demand then also gives whoever walks on).
bool read_usage(simdjson::ondemand::object obj, aigw_usage& out) {
  uint64_t prompt = 0, completion = 0, total = 0, cached = 0, reasoning = 0;
  bool any = false, have_total = false;
  // {"prompt_tokens_details":{"cached_tokens"}} and
  // {"completion_tokens_details":{"reasoning_tokens"}}: the parts ABI 1.4
  // carries. A details object that is null or malformed is left out.
  auto detail = [](simdjson::ondemand::value v, std::string_view name, uint64_t& out) {
    simdjson::ondemand::object o;
    if (v.get_object().get(o) != simdjson::SUCCESS) return;
    for (auto f : o) {
      simdjson::ondemand::raw_json_string k;
      if (f.key().get(k) != simdjson::SUCCESS) return;
      uint64_t n = 0;
      if (k == name && f.value().get_uint64().get(n) == simdjson::SUCCESS) out = n;
    }
  };
  for (auto field : obj) {
    // Raw, as every key the plugin reads: providers do not escape these
    // names, and no unescaped copy is made.
    simdjson::ondemand::raw_json_string key;
    if (field.key().get(key) != simdjson::SUCCESS) return false;
    if (key == "prompt_tokens_details" || key == "completion_tokens_details") {
      simdjson::ondemand::value v;
      if (field.value().get(v) == simdjson::SUCCESS) {
        if (key == "prompt_tokens_details") {
          detail(v, "cached_tokens", cached);
        } else {
          detail(v, "reasoning_tokens", reasoning);
        }
      }
      continue;
    }
    uint64_t* slot = key == "prompt_tokens"       ? &prompt
                     : key == "completion_tokens" ? &completion
                     : key == "total_tokens"      ? &total
                                                  : nullptr;
    if (slot == nullptr) continue;  // vendor extras
    uint64_t v = 0;
    if (field.value().get_uint64().get(v) != simdjson::SUCCESS) continue;
    *slot = v;
    any = true;
    if (slot == &total) have_total = true;
  }
  if (!any) return false;
  out = aigw_usage{};
  out.struct_size = sizeof out;
  out.prompt_tokens = prompt;
  out.completion_tokens = completion;
  out.total_tokens = have_total ? total : prompt + completion;
  // Parts never exceed their whole, whatever a provider sends.
  out.cached_tokens = cached <= prompt ? cached : prompt;
  out.reasoning_tokens = reasoning <= completion ? reasoning : completion;
  return true;
}

// A finish_reason's value as the scanner copies it: raw, whitespace after
// it dropped. For a string that is the whole value; for an object or a
// list only its first token, which is an unknown reason either way.
bool finish_token(simdjson::simdjson_result<simdjson::ondemand::value> v, std::string_view& raw) {
  if (v.raw_json_token().get(raw) != simdjson::SUCCESS) return false;
  while (!raw.empty() && is_json_space(raw.back())) raw.remove_suffix(1);
  return true;
}

// Gives each "finish_reason" of a choice object to `each`, in order, raw
// as finish_token reads it. False when a key or the value cannot be read.
template <typename Each>
bool each_finish_reason(simdjson::ondemand::object choice, Each each) {
  for (auto member : choice) {
    simdjson::ondemand::raw_json_string name;
    if (member.key().get(name) != simdjson::SUCCESS) return false;
    if (!(name == "finish_reason")) continue;
    std::string_view raw;
    if (!finish_token(member.value(), raw)) return false;
    each(raw);
  }
  return true;
}

}  // namespace

bool ValueParser::usage(std::string_view text, aigw_usage& out) {
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (text.empty() || text.front() != '{' || !impl_->load_object(text, doc, obj)) return false;
  return read_usage(obj, out);
}

bool ValueParser::answer(const aigw_host_bytes* chunks, size_t count, AnswerFacts& out) {
  namespace od = simdjson::ondemand;
  size_t size = 0;
  for (size_t i = 0; i < count; ++i) size += chunks[i].ptr != nullptr ? chunks[i].len : 0;
  if (size == 0 || size > kMaxAnswer) return false;
  std::string& buf = impl_->buf;
  buf.resize(size + simdjson::SIMDJSON_PADDING);
  char* at = buf.data();
  for (size_t i = 0; i < count; ++i) {
    if (chunks[i].ptr == nullptr || chunks[i].len == 0) continue;
    std::memcpy(at, chunks[i].ptr, chunks[i].len);
    at += chunks[i].len;
  }
  std::memset(at, 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  od::object root;
  if (impl_->parser.iterate(buf.data(), size, buf.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(root) != simdjson::SUCCESS) {
    return false;
  }
  out = AnswerFacts{};
  for (auto field : root) {
    od::raw_json_string key;
    if (field.key().get(key) != simdjson::SUCCESS) return false;
    // Raw, as the scanner compares: an escaped look-alike is another key.
    if (key == "usage") {
      // The last one counts, as the scanner keeps the last one's text.
      od::object obj;
      out.have_usage = field.value().get_object().get(obj) == simdjson::SUCCESS && read_usage(obj, out.usage);
      continue;
    }
    if (!(key == "choices")) continue;
    od::array list;
    if (field.value().get_array().get(list) != simdjson::SUCCESS) continue;  // not a list: no choices
    for (auto element : list) {
      od::object choice;
      if (element.get_object().get(choice) == simdjson::SUCCESS &&
          !each_finish_reason(choice, [&](std::string_view raw) { out.first_finish = raw; })) {
        return false;
      }
      break;  // only the first choice's reason is reported
    }
  }
  // An error met while walking (the document broke off, a bracket did not
  // match) surfaces at the next member, so reaching here means the walk
  // read the whole root.
  return true;
}

static_assert(ValueParser::kMaxEvent <= JsonScanner::kMaxCapture,
              "a value the scanner drops must not fit in an event the one pass reads");

bool ValueParser::event(std::string_view payload, EventFacts& out) {
  namespace od = simdjson::ondemand;
  if (payload.empty() || payload.size() > kMaxEvent) return false;
  od::document doc;
  od::object root;
  if (!impl_->load_object(payload, doc, root)) return false;
  out = EventFacts{};
  for (auto field : root) {
    od::raw_json_string key;
    if (field.key().get(key) != simdjson::SUCCESS) return false;
    if (key == "usage") {  // the last one counts, as in answer()
      od::object obj;
      out.have_usage = field.value().get_object().get(obj) == simdjson::SUCCESS && read_usage(obj, out.usage);
      continue;
    }
    if (!(key == "choices")) continue;
    // The scanner counts the values of the last "choices" list; one that
    // is not a list has none.
    out.choices_found = true;
    out.choice_count = 0;
    od::array list;
    if (field.value().get_array().get(list) != simdjson::SUCCESS) continue;
    for (auto element : list) {
      od::value v;
      if (element.get(v) != simdjson::SUCCESS) return false;
      ++out.choice_count;
      od::object choice;
      if (v.get_object().get(choice) != simdjson::SUCCESS) continue;  // not an object: no reason in it
      auto keep = [&](std::string_view raw) {
        if (raw != "null") out.last_finish = raw;
      };
      if (!each_finish_reason(choice, keep)) return false;
    }
  }
  // The scanner calls an event with anything after its object garbage, so
  // such an event is left to it. (This simdjson has no document::at_end;
  // the location past the last token is out of bounds, and an iterator an
  // error stopped has a location.)
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

bool ValueParser::include_usage(std::string_view text) {
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (text.empty() || text.front() != '{' || !impl_->load_object(text, doc, obj)) return false;
  bool result = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    if (key != "include_usage") continue;
    bool b = false;
    result = field.value().get_bool().get(b) == simdjson::SUCCESS && b;
  }
  return result;
}

aigw_finish_reason finish_reason_from(std::string_view raw) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return AIGW_FINISH_UNKNOWN;
  std::string_view s = raw.substr(1, raw.size() - 2);
  if (s == "stop") return AIGW_FINISH_STOP;
  if (s == "length") return AIGW_FINISH_LENGTH;
  // "function_call" is the pre-tools name of the same thing.
  if (s == "tool_calls" || s == "function_call") return AIGW_FINISH_TOOL_CALLS;
  if (s == "content_filter") return AIGW_FINISH_CONTENT_FILTER;
  return AIGW_FINISH_UNKNOWN;
}

}  // namespace aigw::openai_plugin
