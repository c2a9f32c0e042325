#include "gateway/openai_body.h"

#include <simdjson.h>

#include "aigw_plugin.h"

#include "http/request.h"
#include "json/utf8.h"

namespace aigw::gateway {

struct BodyParser::Impl {
  simdjson::ondemand::parser parser;
};

BodyParser::BodyParser() : impl_(new Impl) {}
BodyParser::~BodyParser() { delete impl_; }

std::string pad_body(std::string_view body) {
  std::string json;
  json.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  json.assign(body);
  return json;
}

bool json_media_type(std::string_view v) {
  size_t semi = v.find(';');
  if (semi != std::string_view::npos) v = v.substr(0, semi);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (http::iequals(v, "application/json")) return true;
  return v.size() > 17 && http::iequals(v.substr(0, 12), "application/") && http::iequals(v.substr(v.size() - 5), "+json");
}

BodyError BodyParser::read(const std::string& json, bool want_estimate, BodyFacts& out) {
  auto fail = [](int status, std::string_view code, std::string message) {
    return BodyError{status, code, std::move(message)};
  };
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  simdjson::error_code parse_err = impl_->parser.iterate(json.data(), json.size(), json.capacity()).get(doc);
  if (parse_err == simdjson::UTF8_ERROR) {
    size_t at = json::utf8_valid_run(json, 0);
    return fail(400, "invalid_encoding",
                "The request body is not valid UTF-8: the byte at offset " + std::to_string(at) +
                    " does not start a well-formed sequence.");
  }
  if (parse_err) return fail(400, "invalid_json", "The request body is not valid JSON.");
  if (auto err = doc.get_object().get(obj)) {
    return fail(400, "invalid_json",
                err == simdjson::INCORRECT_TYPE
                    ? std::string("The request body must be a JSON object.")
                    : std::string("The request body is not valid JSON: ") + simdjson::error_message(err));
  }
  for (auto field : obj) {
    std::string_view key;
    if (auto err = field.unescaped_key().get(key)) {
      // Where the parser stopped, for the client to find its mistake.
      std::string where;
      const char* at = nullptr;
      if (!doc.current_location().get(at) && at >= json.data() && at <= json.data() + json.size()) {
        where = " near byte " + std::to_string(at - json.data());
      }
      return fail(400, "invalid_json", "The request body is not valid JSON" + where + ": " + simdjson::error_message(err));
    }
    if (key == "model") {
      std::string_view raw = field.value().raw_json_token();
      std::string_view m;
      if (field.value().get_string().get(m)) return fail(400, "invalid_model", "The 'model' field must be a string.");
      out.model.assign(m);
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t')) {
        raw.remove_suffix(1);
      }
      if (raw.size() >= 2) {
        out.model_value_offset = static_cast<uint64_t>(raw.data() + 1 - json.data());
        out.model_value_len = raw.size() - 2;
      }
    } else if (key == "stream_options") {
      // Only its presence: the plugin that adds include_usage must not add
      // a second one.
      out.plugin_facts |= AIGW_BODY_HAS_STREAM_OPTIONS;
    } else if (key == "stream") {
      bool b = false;
      if (field.value().get_bool().get(b)) return fail(400, "invalid_stream", "The 'stream' field must be true or false.");
      out.stream = b;
    } else if (want_estimate && (key == "max_tokens" || key == "max_completion_tokens" || key == "n")) {
      // Anything but a non-negative integer counts as absent.
      uint64_t v = 0;
      if (!field.value().get_uint64().get(v)) {
        if (key == "n") {
          out.estimate.n = v;
        } else if (key == "max_tokens") {
          out.estimate.max_tokens = v;
        } else {
          out.estimate.max_completion_tokens = v;
        }
      }
    }
  }
  // The walk reached the object's end; with nothing after it the plugins
  // may take the facts for the body's own. (Bytes after the object are
  // not refused here: the provider judges them, as before.)
  if (doc.current_location().error() == simdjson::OUT_OF_BOUNDS) out.plugin_facts |= AIGW_BODY_READ;
  return {};
}

}  // namespace aigw::gateway
