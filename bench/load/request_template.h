// The bytes of request number i: a fixed head, the rotating model and key,
// and a body template with {{model}} and {{i}} filled in. Parsed once into
// segments, so rendering a request is a few appends into a buffer the
// connection keeps (no allocation once it has grown).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aigw::bench {

// Built-in request shapes, each a method, a path and a body template.
struct Scenario {
  const char* name;
  const char* method;
  const char* path;
  const char* body;  // "" = no body
  bool stream;       // the answer is expected to be an event stream
};

// chat, stream, completions, embeddings, health; nullptr for other names.
const Scenario* find_scenario(std::string_view name);
// "chat|stream|completions|embeddings|health", for the usage text.
std::string scenario_names();

struct RequestSpec {
  std::string method = "POST";
  std::string path = "/";
  std::string host_header;           // Host: value
  std::string body_template;         // empty: no body (and no Content-Length)
  std::vector<std::string> models;   // {{model}}, rotated by request number
  std::vector<std::string> keys;     // Authorization: Bearer KEY, rotated
  std::vector<std::string> headers;  // extra "Name: value" lines, as given
};

class RequestTemplate {
 public:
  // Checks and compiles the spec; on failure `why` says what is wrong.
  bool init(const RequestSpec& spec, std::string& why);

  // Request number `i` into `out` (replacing its contents).
  void render(uint64_t i, std::string& out) const;

  bool has_body() const { return has_body_; }

 private:
  enum class Part : uint8_t { text, model, index };
  struct Segment {
    Part part;
    std::string text;
  };

  std::string head_;                  // request line, Host and fixed headers
  std::vector<std::string> auth_;     // one "Authorization: Bearer ...\r\n" per key
  std::vector<std::string> models_;   // JSON-escaped, without quotes
  std::vector<Segment> body_;
  bool has_body_ = false;
};

// `s` with JSON string escapes applied (no surrounding quotes).
std::string json_escape(std::string_view s);

}  // namespace aigw::bench
