// The [[provider]] table of a `plugin = "gemini"` provider, validated once
// in config_new and read-only afterwards (workers share it without locks;
// the Vertex token source is the one part that changes, and it publishes
// through an atomic pointer). base_url is aigw's own key (it owns the
// connection), read here only to check it against the Vertex location.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aigw_plugin.h"
#include "vertex_auth.h"

namespace aigw::gemini_plugin {

// Which Google API, and how requests are authorised.
enum class Auth {
  ai_studio_key,   // Google AI Studio: x-goog-api-key
  vertex_express,  // Vertex AI express mode: x-goog-api-key
  vertex_oauth,    // Vertex AI with a service account: Authorization: Bearer
};

struct Config {
  Config() = default;
  Config(const Config&) = delete;
  Config& operator=(const Config&) = delete;
  // The keys are wiped before their memory goes back to the allocator; the
  // token source stops its thread and wipes its own.
  ~Config();

  const aigw_host* host = nullptr;
  aigw_host_plugin* plugin = nullptr;
  Auth auth = Auth::ai_studio_key;
  // One per routing channel, sent as the x-goog-api-key header value.
  // Secret: never log, never put into a URL or a message.
  std::vector<std::string> keys;
  std::string vertex_project;   // empty in AI Studio and plain express mode
  std::string vertex_location;
  // "/v1beta/models/" (AI Studio) or Vertex's publisher-model collection;
  // the model and the method follow.
  std::string model_prefix;
  // The health probe's GET; empty where there is no free call to make.
  std::string probe_path;
  // Vertex with a service account: the refreshing access token.
  std::unique_ptr<TokenSource> tokens;

  bool vertex() const { return auth != Auth::ai_studio_key; }
  // Channels: one per key, or the one service account.
  size_t channels() const { return auth == Auth::vertex_oauth ? 1 : keys.size(); }
};

// The header Google AI Studio and Vertex express mode read the key from.
// The `key=` query parameter also works upstream, but a URL ends up in
// access logs and error messages; a header does not.
constexpr std::string_view kKeyHeader = "x-goog-api-key";

// The CA bundle the token endpoint's certificate is checked against unless
// token_ca_file names another (the same default as aigw's upstream TLS).
constexpr std::string_view kSystemCaFile = "/etc/ssl/certs/ca-certificates.crt";

// Vertex's API host for a location: "aiplatform.googleapis.com" for
// "global", "{location}-aiplatform.googleapis.com" for a region.
std::string vertex_host(std::string_view location);
// The collection models are named under:
// "/v1/projects/{project}/locations/{location}/publishers/google/models/",
// or "/v1/publishers/google/models/" (express mode without a project).
std::string vertex_model_prefix(std::string_view project, std::string_view location);

// Reads every key the plugin owns through the host's config callbacks.
// Returns AIGW_OK, or AIGW_ERR_CONFIG with a message naming the key (never
// a secret's value). Keys nobody read are reported by the host as unknown,
// with a did-you-mean. `timing` is the token refresh schedule (tests
// shorten it). Does not start the token refresher: start_config does.
aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error, const RefreshTiming& timing = RefreshTiming());

// Starts what runs beside the workers (the token refresher of a service
// account). False with a message.
bool start_config(Config& config, std::string& error);

}  // namespace aigw::gemini_plugin
