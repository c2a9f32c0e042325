#include "openai_config.h"

#include <utility>

#include "aigw_plugin.hpp"

namespace aigw::openai_plugin {
namespace {

using Reader = sdk::ConfigReader;
using sdk::iequals;
using sdk::item_name;

constexpr size_t kMaxKeys = 1024;
constexpr size_t kMaxKeyBytes = 4096;
constexpr size_t kMaxHeaders = 64;
constexpr size_t kMaxHeaderBytes = 8192;
constexpr size_t kMaxApiVersionBytes = 64;

constexpr std::string_view kBearer = "Bearer ";

// Names the plugin or the host sets itself, or that only make sense per hop.
// Credentials in particular belong in api_keys, where they are secrets.
constexpr std::string_view kReservedHeaders[] = {
    "authorization", "api-key",          "content-type",     "accept",      "host",
    "content-length", "transfer-encoding", "connection",      "keep-alive",  "te",
    "trailer",       "upgrade",          "proxy-authorization", "proxy-connection", "expect"};

bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// Field-value bytes (RFC 9110): visible ASCII, space, tab, obs-text. CR and
// LF in particular would let a value smuggle a header of its own.
bool is_field_value(std::string_view v) {
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\t' || c >= 0x80) continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool add_credential(Reader& r, Config& c, std::string_view name, std::string_view key) {
  if (key.empty()) return r.fail(std::string(name) + " is empty");
  if (key.size() > kMaxKeyBytes) {
    return r.fail(std::string(name) + " is longer than " + std::to_string(kMaxKeyBytes) +
                  " bytes");
  }
  for (char ch : key) {
    auto c8 = static_cast<unsigned char>(ch);
    if (c8 <= 0x20 || c8 >= 0x7f) {
      return r.fail(std::string(name) +
                    " must be printable ASCII without spaces (is the environment variable "
                    "right?)");
    }
  }
  // Built in place in reserved storage: growing would leave an unwiped copy
  // in freed memory.
  std::string& v = c.credentials.emplace_back();
  if (c.style == ApiStyle::openai) {
    v.reserve(kBearer.size() + key.size());
    v.append(kBearer);
  } else {
    v.reserve(key.size());
  }
  v.append(key);
  return true;
}

void read_keys(Reader& r, Config& c) {
  size_t count = 0;
  bool have_list = r.array_len("api_keys", count);
  if (r.failed()) return;
  std::string_view single;
  bool have_single = r.secret("api_key", 0, "api_key", false, single);
  if (r.failed()) return;
  if (have_list && have_single) {
    r.fail("give either api_key or api_keys, not both");
    return;
  }
  if (have_single) {
    add_credential(r, c, "api_key", single);
    return;
  }
  if (!have_list) {
    r.fail(
        "api_keys is required: a list of keys such as [\"env:OPENAI_API_KEY\"] (or api_key "
        "with one); a server without authentication accepts any placeholder");
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
  c.credentials.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    std::string name = item_name("api_keys", i);
    std::string_view key;
    if (!r.secret("api_keys", i, name, true, key) || !add_credential(r, c, name, key)) return;
  }
}

void read_headers(Reader& r, Config& c) {
  size_t count = 0;
  if (!r.array_len("headers", count)) return;
  if (count > kMaxHeaders) {
    r.fail("headers must list at most " + std::to_string(kMaxHeaders) + " headers, got " +
           std::to_string(count));
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    std::string line;
    if (!r.array_string("headers", i, line)) return;
    std::string name = item_name("headers", i);
    // Values may be sensitive (tokens for a proxy in front of the provider),
    // so no message below quotes one.
    if (line.size() > kMaxHeaderBytes) {
      r.fail(name + " is longer than " + std::to_string(kMaxHeaderBytes) + " bytes");
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      r.fail(name + " must look like \"Name: value\"");
      return;
    }
    std::string_view hname(line.data(), colon);
    for (char ch : hname) {
      if (!is_tchar(static_cast<unsigned char>(ch))) {
        r.fail(name + " has an invalid header name (letters, digits and !#$%&'*+-.^_`|~ only, "
                      "no spaces before the colon)");
        return;
      }
    }
    std::string_view value = trim_ows(std::string_view(line).substr(colon + 1));
    if (!is_field_value(value)) {
      r.fail(name + " (" + std::string(hname) +
             ") has a control character (CR, LF, NUL...) in its value");
      return;
    }
    for (std::string_view reserved : kReservedHeaders) {
      if (iequals(hname, reserved)) {
        r.fail(name + ": " + std::string(hname) +
               " cannot be configured here (set by the plugin or the host; keys go in "
               "api_keys)");
        return;
      }
    }
    for (const ExtraHeader& h : c.extra_headers) {
      if (iequals(h.name, hname)) {
        r.fail(name + ": " + std::string(hname) + " is listed twice");
        return;
      }
    }
    c.extra_headers.push_back({std::string(hname), std::string(value)});
  }
}

void read_style(Reader& r, Config& c) {
  std::string style;
  if (r.string("api_style", style)) {
    if (style == "openai") {
      c.style = ApiStyle::openai;
    } else if (style == "azure") {
      c.style = ApiStyle::azure;
    } else {
      r.fail("api_style must be \"openai\" or \"azure\", got \"" + style.substr(0, 64) + "\"");
      return;
    }
  }
  if (r.failed()) return;
  std::string version;
  bool have_version = r.string("azure_api_version", version);
  if (r.failed()) return;
  if (c.style == ApiStyle::openai) {
    if (have_version) r.fail("azure_api_version is only used with api_style = \"azure\"");
    c.probe_path = "/models";
    return;
  }
  if (!have_version) {
    r.fail("azure_api_version is required with api_style = \"azure\" (e.g. \"2024-10-21\")");
    return;
  }
  bool ok = !version.empty() && version.size() <= kMaxApiVersionBytes;
  for (char ch : version) {
    // It goes into the query string as is.
    bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && ch != '-' && ch != '.' && ch != '_') ok = false;
  }
  if (!ok) {
    r.fail("azure_api_version must be a version such as \"2024-10-21\" (letters, digits, - . _)");
    return;
  }
  c.azure_api_version = version;
  c.probe_path = "/openai/models?api-version=" + version;
}

}  // namespace

Config::~Config() {
  for (std::string& s : credentials) sdk::wipe(s);
}

aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error) {
  Reader r(host, src, error);
  // The style first: it decides the credential header's form.
  read_style(r, out);
  if (!r.failed()) read_keys(r, out);
  if (!r.failed()) read_headers(r, out);
  if (!r.failed()) r.boolean("include_usage", out.include_usage);
  return r.failed() ? AIGW_ERR_CONFIG : AIGW_OK;
}

}  // namespace aigw::openai_plugin
