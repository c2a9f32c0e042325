#include "load/request_template.h"

#include <algorithm>
#include <cstdio>

#include "http/request.h"

namespace aigw::bench {

namespace {

// A chat completion the size of what SDKs send for a short question with a
// system prompt (about 600 bytes), so the gateway parses and copies a
// realistic body rather than a toy one.
constexpr const char* kChatBody =
    R"({"model":"{{model}}","messages":[{"role":"system","content":"You are a concise )"
    R"(assistant for a logistics company. Answer in plain English, in at most three )"
    R"(sentences, and say so when you do not know."},{"role":"user","content":"Request )"
    R"({{i}}: a pallet of 240 boxes left the Rotterdam warehouse on Monday at 06:00 and )"
    R"(must reach Lyon by Thursday noon. Trucks average 70 km/h over 1,050 km and drivers )"
    R"(rest 45 minutes every 4.5 hours. Is the deadline realistic, and what is the main )"
    R"(risk?"}],"max_tokens":128,"temperature":0.2,"top_p":1,"user":"aigw-bench"})";

constexpr const char* kStreamBody =
    R"({"model":"{{model}}","stream":true,"stream_options":{"include_usage":true},)"
    R"("messages":[{"role":"system","content":"You are a concise )"
    R"(assistant for a logistics company. Answer in plain English, in at most three )"
    R"(sentences, and say so when you do not know."},{"role":"user","content":"Request )"
    R"({{i}}: a pallet of 240 boxes left the Rotterdam warehouse on Monday at 06:00 and )"
    R"(must reach Lyon by Thursday noon. Trucks average 70 km/h over 1,050 km and drivers )"
    R"(rest 45 minutes every 4.5 hours. Is the deadline realistic, and what is the main )"
    R"(risk?"}],"max_tokens":128,"temperature":0.2,"top_p":1,"user":"aigw-bench"})";

constexpr const char* kCompletionsBody =
    R"({"model":"{{model}}","prompt":"Request {{i}}: summarise in one sentence why a )"
    R"(warehouse keeps a safety stock of fast-moving items.","max_tokens":64,)"
    R"("temperature":0.2})";

constexpr const char* kEmbeddingsBody =
    R"({"model":"{{model}}","input":["Request {{i}}: pallet of 240 boxes, Rotterdam to )"
    R"(Lyon, due Thursday noon","Refrigerated trailer, 18 pallets, Hamburg to Milan"],)"
    R"("encoding_format":"float"})";

constexpr Scenario kScenarios[] = {
    {"chat", "POST", "/v1/chat/completions", kChatBody, false},
    {"stream", "POST", "/v1/chat/completions", kStreamBody, true},
    {"completions", "POST", "/v1/completions", kCompletionsBody, false},
    {"embeddings", "POST", "/v1/embeddings", kEmbeddingsBody, false},
    {"health", "GET", "/health", "", false},
};

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool has_ctl(std::string_view v) {
  return std::any_of(v.begin(), v.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
}

}  // namespace

const Scenario* find_scenario(std::string_view name) {
  for (const auto& s : kScenarios) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

std::string scenario_names() {
  std::string out;
  for (const auto& s : kScenarios) {
    if (!out.empty()) out += '|';
    out += s.name;
  }
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

bool RequestTemplate::init(const RequestSpec& spec, std::string& why) {
  if (spec.method.empty() || !std::all_of(spec.method.begin(), spec.method.end(), is_token_char)) {
    why = "the method must be a token such as GET or POST";
    return false;
  }
  if (spec.path.empty() || spec.path[0] != '/' ||
      spec.path.find_first_of(" \t\r\n") != std::string::npos || has_ctl(spec.path)) {
    why = "the path must start with / and contain no spaces or control characters";
    return false;
  }
  bool user_host = false, user_type = false;
  std::string extra;
  for (const auto& h : spec.headers) {
    size_t colon = h.find(':');
    std::string_view name = std::string_view(h).substr(0, colon);
    if (colon == std::string::npos || name.empty() ||
        !std::all_of(name.begin(), name.end(), is_token_char)) {
      why = "--header must look like 'Name: value', got '" + h + "'";
      return false;
    }
    std::string_view value = std::string_view(h).substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    if (has_ctl(value)) {
      why = "--header value has a control character: '" + h + "'";
      return false;
    }
    if (http::iequals(name, "content-length") || http::iequals(name, "transfer-encoding")) {
      why = "--header cannot set " + std::string(name) + ": aigw-bench frames the body itself";
      return false;
    }
    if (http::iequals(name, "host")) user_host = true;
    if (http::iequals(name, "content-type")) user_type = true;
    extra.append(name).append(": ").append(value).append("\r\n");
  }
  for (const auto& k : spec.keys) {
    if (k.empty() || has_ctl(k) || k.find(' ') != std::string::npos) {
      why = "--key values must be non-empty and contain no spaces or control characters";
      return false;
    }
  }

  has_body_ = !spec.body_template.empty();
  head_ = spec.method + " " + spec.path + " HTTP/1.1\r\n";
  if (!user_host) head_ += "Host: " + spec.host_header + "\r\n";
  if (has_body_ && !user_type) head_ += "Content-Type: application/json\r\n";
  head_ += extra;

  auth_.clear();
  for (const auto& k : spec.keys) auth_.push_back("Authorization: Bearer " + k + "\r\n");
  models_.clear();
  for (const auto& m : spec.models) models_.push_back(json_escape(m));
  if (models_.empty()) models_.emplace_back();

  body_.clear();
  std::string_view t = spec.body_template;
  while (!t.empty()) {
    size_t model = t.find("{{model}}");
    size_t index = t.find("{{i}}");
    size_t at = std::min(model, index);
    if (at == std::string_view::npos) {
      body_.push_back({Part::text, std::string(t)});
      break;
    }
    if (at > 0) body_.push_back({Part::text, std::string(t.substr(0, at))});
    if (at == model) {
      body_.push_back({Part::model, {}});
      t.remove_prefix(at + 9);
    } else {
      body_.push_back({Part::index, {}});
      t.remove_prefix(at + 5);
    }
  }
  return true;
}

void RequestTemplate::render(uint64_t i, std::string& out) const {
  const std::string& model = models_[i % models_.size()];
  out.assign(head_);
  if (!auth_.empty()) out.append(auth_[i % auth_.size()]);
  if (!has_body_) {
    out.append("\r\n");
    return;
  }
  char digits[24];
  int nd = std::snprintf(digits, sizeof digits, "%llu", static_cast<unsigned long long>(i));
  size_t len = 0;
  for (const auto& s : body_) {
    len += s.part == Part::text ? s.text.size() : s.part == Part::model ? model.size()
                                                                        : static_cast<size_t>(nd);
  }
  char cl[48];
  int ncl = std::snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", len);
  out.append(cl, static_cast<size_t>(ncl));
  for (const auto& s : body_) {
    switch (s.part) {
      case Part::text: out.append(s.text); break;
      case Part::model: out.append(model); break;
      case Part::index: out.append(digits, static_cast<size_t>(nd)); break;
    }
  }
}

}  // namespace aigw::bench
