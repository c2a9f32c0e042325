#include "replay.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "http/request.h"
#include "json/write.h"
#include "mock_responses.h"

namespace aigw::mock {

namespace {

using namespace simdjson;

// Deeper than any real request; keeps a hostile body from exhausting the stack.
constexpr int kMaxDepth = 64;

// Dropped from recorded responses: hop-by-hop headers (RFC 9110 7.6.1), the
// framing we recompute, and the headers our response writer adds itself.
// Content-Encoding too: fixtures hold decoded text.
constexpr std::string_view kDropped[] = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
    "trailer", "upgrade", "proxy-authenticate", "proxy-authorization",
    "content-length", "content-encoding", "server", "date",
};

bool dropped_header(std::string_view name) {
  return std::any_of(std::begin(kDropped), std::end(kDropped),
                     [&](std::string_view d) { return http::iequals(name, d); });
}

error_code canon(ondemand::value v, std::string& out, int depth) {
  if (depth > kMaxDepth) return DEPTH_ERROR;
  ondemand::json_type t{};
  if (auto e = v.type().get(t)) return e;
  switch (t) {
    case ondemand::json_type::array: {
      ondemand::array a;
      if (auto e = v.get_array().get(a)) return e;
      out.push_back('[');
      bool first = true;
      for (auto el : a) {
        ondemand::value ev;
        if (auto e = el.get(ev)) return e;
        if (!first) out.push_back(',');
        first = false;
        if (auto e = canon(ev, out, depth + 1)) return e;
      }
      out.push_back(']');
      return SUCCESS;
    }
    case ondemand::json_type::object: {
      ondemand::object o;
      if (auto e = v.get_object().get(o)) return e;
      std::vector<std::pair<std::string, std::string>> members;
      for (auto field : o) {
        std::string_view key;
        ondemand::value fv;
        if (auto e = field.unescaped_key().get(key)) return e;
        std::string k(key);  // the key's buffer is reused by the next string
        if (auto e = field.value().get(fv)) return e;
        std::string val;
        if (auto e = canon(fv, val, depth + 1)) return e;
        members.emplace_back(std::move(k), std::move(val));
      }
      std::stable_sort(members.begin(), members.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i != 0) out.push_back(',');
        json::append_string(out, members[i].first);
        out.push_back(':');
        out.append(members[i].second);
      }
      out.push_back('}');
      return SUCCESS;
    }
    case ondemand::json_type::number: {
      ondemand::number n;
      if (auto e = v.get_number().get(n)) return e;
      if (n.is_int64()) {
        out.append(std::to_string(n.get_int64()));
      } else if (n.is_uint64()) {
        out.append(std::to_string(n.get_uint64()));
      } else {
        char buf[40];
        int len = std::snprintf(buf, sizeof buf, "%.17g", n.get_double());
        out.append(buf, static_cast<size_t>(len));
      }
      return SUCCESS;
    }
    case ondemand::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return e;
      json::append_string(out, s);
      return SUCCESS;
    }
    case ondemand::json_type::boolean: {
      bool b = false;
      if (auto e = v.get_bool().get(b)) return e;
      out.append(b ? "true" : "false");
      return SUCCESS;
    }
    case ondemand::json_type::null:
      out.append("null");
      return SUCCESS;
  }
  return INCORRECT_TYPE;
}

// Canonical form of an object or array body: keys sorted, no whitespace.
// False for anything else (scalars, broken JSON): compare bytes then.
bool canonical_json(ondemand::parser& parser, std::string& scratch, std::string_view text,
                    std::string& out) {
  scratch.reserve(text.size() + SIMDJSON_PADDING);
  scratch.assign(text);
  ondemand::document doc;
  if (parser.iterate(padded_string_view(scratch.data(), text.size(), scratch.capacity())).get(doc)) {
    return false;
  }
  ondemand::json_type t{};
  if (doc.type().get(t) || (t != ondemand::json_type::object && t != ondemand::json_type::array)) {
    return false;
  }
  ondemand::value v;
  if (doc.get_value().get(v)) return false;
  out.clear();
  return canon(v, out, 0) == SUCCESS;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Reads `"name": "x"` or `"name": ["x", "y"]` into one entry per value.
error_code read_header(std::string_view name, ondemand::value v, Interaction& it) {
  ondemand::json_type t{};
  if (auto e = v.type().get(t)) return e;
  auto add = [&](std::string_view value) {
    if (http::iequals(name, "content-type") &&
        value.find("text/event-stream") != std::string_view::npos) {
      it.streaming = true;
    }
    if (!dropped_header(name)) it.headers.emplace_back(std::string(name), std::string(value));
  };
  if (t == ondemand::json_type::string) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    add(s);
    return SUCCESS;
  }
  ondemand::array a;
  if (auto e = v.get_array().get(a)) return e;
  for (auto el : a) {
    std::string_view s;
    if (auto e = el.get_string().get(s)) return e;
    add(s);
  }
  return SUCCESS;
}

// Recorded JSON is pretty-printed; the mock sends it compact (an SSE data
// line cannot hold a line break): whitespace outside strings goes.
void append_compact(std::string_view raw, std::string& out) {
  bool in_string = false;
  bool escaped = false;
  for (char c : raw) {
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      out.push_back(c);
    }
  }
}

// An object or array value as compact JSON text.
error_code compact_value(ondemand::value v, std::string& out) {
  ondemand::json_type t{};
  if (auto e = v.type().get(t)) return e;
  std::string_view raw;
  if (t == ondemand::json_type::object) {
    ondemand::object o;
    if (auto e = v.get_object().get(o)) return e;
    if (auto e = o.raw_json().get(raw)) return e;
  } else if (t == ondemand::json_type::array) {
    ondemand::array a;
    if (auto e = v.get_array().get(a)) return e;
    if (auto e = a.raw_json().get(raw)) return e;
  } else {
    return INCORRECT_TYPE;
  }
  out.clear();
  append_compact(raw, out);
  return SUCCESS;
}

// A recorded body: the raw text (OpenAI fixtures), a one-element array
// holding the JSON body (Gemini fixtures), or the JSON object itself
// (Anthropic fixtures).
error_code read_body(ondemand::value v, std::string& out) {
  ondemand::json_type t{};
  if (auto e = v.type().get(t)) return e;
  if (t == ondemand::json_type::string) {
    std::string_view s;
    if (auto e = v.get_string().get(s)) return e;
    out.assign(s);
    return SUCCESS;
  }
  if (t == ondemand::json_type::array) {
    ondemand::array a;
    if (auto e = v.get_array().get(a)) return e;
    for (auto el : a) {
      ondemand::value ev;
      if (auto e = el.get(ev)) return e;
      return compact_value(ev, out);  // the first element is the body
    }
    out.clear();
    return SUCCESS;
  }
  return compact_value(v, out);
}

error_code read_request(ondemand::object o, Interaction& it) {
  for (auto field : o) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    std::string k(key);
    std::string_view s;
    if (k == "method") {
      if (auto e = field.value().get_string().get(s)) return e;
      it.method.assign(s);
    } else if (k == "url") {
      if (auto e = field.value().get_string().get(s)) return e;
      it.target.assign(origin_form(s));
    } else if (k == "body") {
      ondemand::value v;
      if (auto e = field.value().get(v)) return e;
      bool is_null = false;
      if (v.is_null().get(is_null) == SUCCESS && is_null) continue;
      if (auto e = read_body(v, it.body)) return e;
    } else if (k == "headers") {
      // Only hand-written fixtures have these: {"name": "exact value"}.
      ondemand::object h;
      if (auto e = field.value().get_object().get(h)) return e;
      for (auto hf : h) {
        std::string_view name, value;
        if (auto e = hf.unescaped_key().get(name)) return e;
        std::string n(name);
        if (auto e = hf.value().get_string().get(value)) return e;
        it.match_headers.emplace_back(std::move(n), std::string(value));
      }
    }
  }
  return SUCCESS;
}

error_code read_response(ondemand::object o, Interaction& it) {
  for (auto field : o) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    std::string k(key);
    if (k == "status") {
      int64_t s = 0;
      if (auto e = field.value().get_int64().get(s)) return e;
      if (s < 100 || s > 999) return NUMBER_OUT_OF_RANGE;
      it.status = static_cast<int>(s);
    } else if (k == "headers") {
      ondemand::object h;
      if (auto e = field.value().get_object().get(h)) return e;
      for (auto hf : h) {
        std::string_view name;
        ondemand::value hv;
        if (auto e = hf.unescaped_key().get(name)) return e;
        std::string n(name);
        if (auto e = hf.value().get(hv)) return e;
        if (auto e = read_header(n, hv, it)) return e;
      }
    } else if (k == "body") {
      ondemand::value v;
      if (auto e = field.value().get(v)) return e;
      if (auto e = read_body(v, it.response_body)) return e;
    } else if (k == "body_segments") {
      ondemand::array a;
      if (auto e = field.value().get_array().get(a)) return e;
      for (auto el : a) {
        ondemand::value ev;
        if (auto e = el.get(ev)) return e;
        std::string seg;
        if (auto e = compact_value(ev, seg)) return e;
        it.segments.push_back(std::move(seg));
      }
      it.has_segments = true;
    }
  }
  return SUCCESS;
}

// The Anthropic event name of a segment: its "type" member.
std::string segment_type(ondemand::parser& parser, const std::string& seg) {
  padded_string padded(seg);
  ondemand::document doc;
  std::string_view type;
  if (parser.iterate(padded).get(doc) || doc["type"].get_string().get(type)) return {};
  return std::string(type);
}

// A response recorded as segments becomes the bytes a provider sends: one
// SSE event per segment for a stream, as Gemini frames them
// ("data: <json>\r\n\r\n") or, for Anthropic's /v1/messages, with the
// event line ("event: <type>\ndata: <json>\n\n"); the single object
// otherwise.
void join_segments(ondemand::parser& parser, Interaction& it) {
  if (!it.has_segments) return;
  it.response_body.clear();
  if (!it.streaming) {
    if (!it.segments.empty()) it.response_body = it.segments.front();
    return;
  }
  const bool anthropic = it.target.rfind("/v1/messages", 0) == 0;
  for (const std::string& seg : it.segments) {
    if (anthropic) {
      it.response_body += "event: " + segment_type(parser, seg) + "\ndata: " + seg + "\n\n";
    } else {
      it.response_body += "data: " + seg + "\r\n\r\n";
    }
  }
}

}  // namespace

std::string_view origin_form(std::string_view url) {
  size_t hash = url.find('#');
  if (hash != std::string_view::npos) url = url.substr(0, hash);
  auto starts = [&](std::string_view p) {
    return url.size() >= p.size() && http::iequals(url.substr(0, p.size()), p);
  };
  size_t skip = starts("http://") ? 7 : starts("https://") ? 8 : 0;
  if (skip == 0) return url;
  size_t slash = url.find('/', skip);
  if (slash == std::string_view::npos) return "/";
  return url.substr(slash);
}

bool ReplayTable::load(const std::string& path, std::string& why) {
  std::string text;
  if (!read_file(path, text)) {
    why = "cannot read " + path;
    return false;
  }
  ondemand::parser parser;
  padded_string padded(text);
  // A second parser: the first one is iterating the file while segments are
  // read (On-Demand documents are invalidated by a new iterate).
  ondemand::parser segment_parser;
  ondemand::document doc;
  ondemand::object root;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root)) {
    why = path + ": not a JSON object";
    return false;
  }
  const std::string name = base_name(path);
  size_t before = items_.size();
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      why = path + ": broken JSON";
      return false;
    }
    if (key != "interactions") continue;
    ondemand::array arr;
    if (field.value().get_array().get(arr)) {
      why = path + ": \"interactions\" is not an array";
      return false;
    }
    for (auto el : arr) {
      Interaction it;
      it.source = name + "#" + std::to_string(items_.size() - before);
      ondemand::object io;
      if (el.get_object().get(io)) {
        why = path + ": " + it.source + " is not an object";
        return false;
      }
      for (auto part : io) {
        std::string_view pk;
        ondemand::object po;
        if (part.unescaped_key().get(pk)) {
          why = path + ": broken JSON";
          return false;
        }
        std::string k(pk);
        if (k != "request" && k != "response") continue;
        error_code e = part.value().get_object().get(po);
        if (e == SUCCESS) e = k == "request" ? read_request(po, it) : read_response(po, it);
        if (e != SUCCESS) {
          why = path + ": " + it.source + "." + k + ": " + error_message(e);
          return false;
        }
      }
      join_segments(segment_parser, it);
      if (it.method.empty() || it.target.empty()) {
        why = path + ": " + it.source + " lacks request.method or request.url";
        return false;
      }
      items_.push_back(std::move(it));
    }
  }
  if (items_.size() == before) {
    why = path + ": no interactions";
    return false;
  }
  // Canonical forms once, at load, so matching parses only the request.
  std::string scratch;
  for (size_t i = before; i < items_.size(); ++i) {
    Interaction& it = items_[i];
    it.body_is_json = canonical_json(parser, scratch, it.body, it.canonical);
  }
  return true;
}

struct ReplayMatcher::Impl {
  ondemand::parser parser;
  std::string scratch;
  std::string canonical;
};

ReplayMatcher::ReplayMatcher(const ReplayTable& table)
    : table_(table), impl_(std::make_unique<Impl>()) {}
ReplayMatcher::~ReplayMatcher() = default;

const Interaction* ReplayMatcher::match(std::string_view method, std::string_view target,
                                        std::string_view body, const http::RequestHead& head) {
  target = origin_form(target);
  bool parsed = false;
  bool is_json = false;
  for (const Interaction& it : table_.items()) {
    if (it.method != method || it.target != target) continue;
    if (!parsed) {
      // Only once a method and path match: unrelated requests cost no parse.
      is_json = canonical_json(impl_->parser, impl_->scratch, body, impl_->canonical);
      parsed = true;
    }
    if (!(it.body_is_json ? (is_json && it.canonical == impl_->canonical) : it.body == body)) continue;
    if (std::all_of(it.match_headers.begin(), it.match_headers.end(),
                    [&](const auto& h) { return head.header(h.first) == h.second; })) {
      return &it;
    }
  }
  return nullptr;
}

}  // namespace aigw::mock
