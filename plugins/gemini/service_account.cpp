#include "service_account.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <simdjson.h>

#include "aigw_plugin.hpp"

namespace aigw::gemini_plugin {

ServiceAccount::~ServiceAccount() { sdk::wipe(private_key_pem); }

bool parse_service_account(std::string_view json, ServiceAccount& out, std::string& error) {
  // A parser of its own: the key file is read once, on the control thread,
  // and its padded copy (which holds the key) is wiped right after.
  std::string padded(json);
  padded.append(simdjson::SIMDJSON_PADDING, '\0');
  struct Wipe {
    std::string& s;
    ~Wipe() { sdk::wipe(s); }
  } wipe_padded{padded};
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(padded.data(), json.size(), false).get(root) != simdjson::SUCCESS ||
      !root.is_object()) {
    error = "is not a JSON object (expected a service-account key file)";
    return false;
  }
  auto field = [&](const char* name, std::string& dst) {
    std::string_view v;
    if (root[name].get(v) != simdjson::SUCCESS || v.empty()) {
      error = std::string("has no \"") + name + "\" string (expected a service-account key file)";
      return false;
    }
    dst.assign(v);
    return true;
  };
  std::string type;
  if (!field("type", type)) return false;
  if (type != "service_account") {
    // authorized_user files (gcloud's user login) hold a refresh token, a
    // different flow: refused by name rather than failing at the endpoint.
    error = "has \"type\": \"" + type.substr(0, 40) +
            "\"; only \"service_account\" key files are supported";
    return false;
  }
  if (!field("client_email", out.client_email) || !field("private_key_id", out.private_key_id) ||
      !field("token_uri", out.token_uri) || !field("private_key", out.private_key_pem)) {
    return false;
  }
  if (out.private_key_pem.find("-----BEGIN") == std::string::npos) {
    error = "has a \"private_key\" that is not PEM";
    return false;
  }
  return true;
}

bool read_small_file(const std::string& path, size_t max_bytes, std::string& out,
                     std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "cannot read " + path;
    return false;
  }
  if (out.size() > max_bytes) {
    sdk::wipe(out);
    error = path + " is larger than " + std::to_string(max_bytes) + " bytes";
    return false;
  }
  return true;
}

}  // namespace aigw::gemini_plugin
