#include "gemini_config.h"

#include "aigw_plugin.hpp"
#include "service_account.h"

namespace aigw::gemini_plugin {
namespace {

using Reader = sdk::ConfigReader;

constexpr size_t kMaxKeys = 1024;
constexpr size_t kMaxKeyBytes = 4096;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;  // a key file is ~2.3 KiB

bool add_key(Reader& r, Config& c, std::string_view name, std::string_view key) {
  if (key.empty()) return r.fail(std::string(name) + " is empty");
  if (key.size() > kMaxKeyBytes) {
    return r.fail(std::string(name) + " is longer than " + std::to_string(kMaxKeyBytes) +
                  " bytes");
  }
  // The key becomes a header value: a control character or a stray newline
  // (a key read from a file) would break or smuggle a header.
  for (char ch : key) {
    auto c8 = static_cast<unsigned char>(ch);
    if (c8 <= 0x20 || c8 >= 0x7f) {
      return r.fail(std::string(name) +
                    " must be printable ASCII without spaces (is the environment variable "
                    "right?)");
    }
  }
  // Assigned straight from host memory into its final place: a temporary
  // would leave an unwiped copy behind.
  c.keys.emplace_back().assign(key);
  return true;
}

// Whether the table gives api_key or api_keys (read, so not unknown).
bool has_keys(Reader& r, size_t& count, bool& single, std::string_view& single_value) {
  bool have_list = r.array_len("api_keys", count);
  if (r.failed()) return false;
  single = r.secret("api_key", 0, "api_key", false, single_value);
  if (r.failed()) return false;
  if (have_list && single) return r.fail("give either api_key or api_keys, not both");
  return have_list || single;
}

void read_keys(Reader& r, Config& c, size_t count, bool have_single, std::string_view single) {
  if (have_single) {
    add_key(r, c, "api_key", single);
    return;
  }
  if (count == 0) {
    r.fail("api_keys must list at least one key");
    return;
  }
  if (count > kMaxKeys) {
    r.fail("api_keys must list at most " + std::to_string(kMaxKeys) + " keys, got " +
           std::to_string(count));
    return;
  }
  // Reserved up front: a vector that grows moves its strings, and a moved
  // std::string with a short (inline) value leaves an unwiped copy.
  c.keys.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string name = sdk::item_name("api_keys", i);
    std::string_view key;
    if (!r.secret("api_keys", i, name, true, key) || !add_key(r, c, name, key)) return;
  }
}

// Project ids are lowercase letters, digits and hyphens; older
// domain-scoped ones carry "example.com:". Nothing that could leave the
// path segment (no '/', '?', '%').
bool valid_project(std::string_view p) {
  if (p.empty() || p.size() > 128) return false;
  for (char ch : p) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              ch == ':';
    if (!ok) return false;
  }
  return true;
}

// "us-central1", "europe-west4", "global".
bool valid_location(std::string_view l) {
  if (l.empty() || l.size() > 64) return false;
  for (char ch : l) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
  }
  return true;
}

// The host of a base_url ("https://host[:port]/..."), lowercased.
std::string url_host(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/:?#"));
  std::string h(url);
  for (char& ch : h) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
  return h;
}

constexpr std::string_view kVertexDomain = "aiplatform.googleapis.com";
constexpr std::string_view kStudioHost = "generativelanguage.googleapis.com";

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// aigw sends to base_url, the plugin only writes the path: a Google host
// that does not match the API or the location would answer 404s that
// point nowhere near the cause, so they are caught here. Other hosts
// (proxies, private endpoints, tests) are the operator's business.
void check_base_url(Reader& r, const Config& c) {
  std::string url;
  if (!r.string("base_url", url)) return;  // aigw reports a missing one
  std::string host = url_host(url);
  bool vertex_host_given = ends_with(host, kVertexDomain);
  if (!c.vertex()) {
    if (vertex_host_given) r.fail("base_url is a Vertex AI host: set vertex = true (and its keys)");
    return;
  }
  if (host == kStudioHost) {
    r.fail("base_url is Google AI Studio's host, but vertex = true: write " +
           std::string("https://") +
           vertex_host(c.vertex_location.empty() ? "global" : c.vertex_location));
    return;
  }
  if (!vertex_host_given) return;
  // Express mode without a project goes to the global host.
  std::string want = vertex_host(c.vertex_location.empty() ? "global" : c.vertex_location);
  if (host != want) {
    r.fail("base_url must be https://" + want + " for vertex_location \"" +
           (c.vertex_location.empty() ? std::string("global") : c.vertex_location) + "\" (got " +
           host + ")");
  }
}

void read_vertex(Reader& r, Config& c, const RefreshTiming& timing) {
  std::string credentials, ca_file;
  bool have_credentials = r.string("credentials_file", credentials);
  bool have_ca = r.string("token_ca_file", ca_file);
  bool have_project = r.string("vertex_project", c.vertex_project);
  bool have_location = r.string("vertex_location", c.vertex_location);
  size_t count = 0;
  bool single = false;
  std::string_view single_value;
  bool have_keys = has_keys(r, count, single, single_value);
  if (r.failed()) return;
  if (have_project && !valid_project(c.vertex_project)) {
    r.fail("vertex_project must be a Google Cloud project id (lowercase letters, digits, -)");
    return;
  }
  if (have_location && !valid_location(c.vertex_location)) {
    r.fail("vertex_location must be a Google Cloud region such as \"us-central1\", or "
           "\"global\"");
    return;
  }
  if (have_project != have_location) {
    r.fail(have_project ? "vertex_location is required with vertex_project (a region such as "
                          "\"us-central1\", or \"global\")"
                        : "vertex_project is required with vertex_location");
    return;
  }
  if (have_credentials && have_keys) {
    r.fail("give credentials_file (a service account) or api_keys (Vertex express mode), "
           "not both");
    return;
  }
  if (!have_credentials && !have_keys) {
    r.fail("vertex = true needs credentials_file (a service-account key file, with "
           "vertex_project and vertex_location) or api_keys (Vertex express mode)");
    return;
  }
  if (have_keys) {
    if (have_ca) {
      r.fail("token_ca_file is for the service account's token endpoint; express mode "
             "(api_keys) has none");
      return;
    }
    c.auth = Auth::vertex_express;
    read_keys(r, c, count, single, single_value);
    c.model_prefix = vertex_model_prefix(c.vertex_project, c.vertex_location);
    return;
  }
  c.auth = Auth::vertex_oauth;
  if (!have_project) {
    r.fail("vertex_project and vertex_location are required with credentials_file");
    return;
  }
  if (credentials.empty()) {
    r.fail("credentials_file is empty");
    return;
  }
  std::string text, why;
  struct Wipe {
    std::string& s;
    ~Wipe() { sdk::wipe(s); }
  } wipe_text{text};
  if (!read_small_file(credentials, kMaxKeyFileBytes, text, why)) {
    r.fail("credentials_file: " + why);
    return;
  }
  ServiceAccount account;
  if (!parse_service_account(text, account, why)) {
    r.fail("credentials_file " + credentials + " " + why);
    return;
  }
  c.tokens = std::make_unique<TokenSource>();
  if (!c.tokens->init(account, have_ca ? ca_file : std::string(kSystemCaFile), timing, why)) {
    r.fail("credentials_file " + credentials + ": " + why);
    return;
  }
  c.model_prefix = vertex_model_prefix(c.vertex_project, c.vertex_location);
}

}  // namespace

Config::~Config() {
  tokens.reset();  // joins the refresher before anything it reads goes
  for (std::string& s : keys) sdk::wipe(s);
}

std::string vertex_host(std::string_view location) {
  if (location == "global") return std::string(kVertexDomain);
  return std::string(location) + "-" + std::string(kVertexDomain);
}

std::string vertex_model_prefix(std::string_view project, std::string_view location) {
  if (project.empty()) return "/v1/publishers/google/models/";
  std::string out = "/v1/projects/";
  out.append(project).append("/locations/").append(location).append("/publishers/google/models/");
  return out;
}

aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error, const RefreshTiming& timing) {
  Reader r(host, src, error);
  bool vertex = false;
  r.boolean("vertex", vertex);
  if (r.failed()) return AIGW_ERR_CONFIG;
  if (vertex) {
    read_vertex(r, out, timing);
  } else {
    for (std::string_view k : {"vertex_project", "vertex_location", "credentials_file", "token_ca_file"}) {
      std::string v;
      if (r.string(k, v) && !r.failed()) {
        r.fail(std::string(k) + " is a Vertex AI key: set vertex = true to use Vertex AI");
      }
      if (r.failed()) return AIGW_ERR_CONFIG;
    }
    size_t count = 0;
    bool single = false;
    std::string_view single_value;
    if (!has_keys(r, count, single, single_value)) {
      if (!r.failed()) {
        r.fail("api_keys is required: a list of Google AI Studio keys such as "
               "[\"env:GEMINI_API_KEY\"] (or api_key with one); for Vertex AI set vertex = true");
      }
      return AIGW_ERR_CONFIG;
    }
    read_keys(r, out, count, single, single_value);
    out.model_prefix = "/v1beta/models/";
  }
  if (!r.failed()) check_base_url(r, out);
  if (r.failed()) return AIGW_ERR_CONFIG;
  // The probe must cost nothing and prove the credential: AI Studio's
  // models.list with one entry; Vertex's endpoints.list of the project and
  // location with one entry (a free, authenticated read). Express mode
  // without a project has no such call: no probe.
  if (out.auth == Auth::ai_studio_key) {
    out.probe_path = "/v1beta/models?pageSize=1";
  } else if (!out.vertex_project.empty()) {
    out.probe_path = "/v1/projects/" + out.vertex_project + "/locations/" + out.vertex_location +
                     "/endpoints?pageSize=1";
  }
  return AIGW_OK;
}

bool start_config(Config& config, std::string& error) {
  if (!config.tokens) return true;
  return config.tokens->start(config.host, config.plugin, error);
}

}  // namespace aigw::gemini_plugin
