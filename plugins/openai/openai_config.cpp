#include "openai_config.h"

#include <utility>

namespace aigw::openai_plugin {
namespace {

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

aigw_plugin_str key_str(std::string_view key) { return {key.data(), key.size()}; }

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

std::string indexed(std::string_view key, size_t index) {
  return std::string(key) + "[" + std::to_string(index) + "]";
}

class Reader {
 public:
  Reader(const aigw_host* host, aigw_config_source* src, std::string& error)
      : host_(host), src_(src), error_(error) {}

  // Each getter returns true when the key was read, false when it is absent
  // or wrong; a wrong one also sets the error (failed() becomes true).
  bool string(std::string_view key, std::string& out) {
    aigw_host_str s{};
    if (!check(host_->config_string(src_, key_str(key), &s), key, "a string")) return false;
    out.assign(s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
    return true;
  }
  bool boolean(std::string_view key, bool& out) {
    int32_t b = 0;
    if (!check(host_->config_bool(src_, key_str(key), &b), key, "true or false")) return false;
    out = b != 0;
    return true;
  }
  bool array_len(std::string_view key, size_t& out) {
    return check(host_->config_array_len(src_, key_str(key), &out), key, "an array of strings");
  }
  bool array_string(std::string_view key, size_t index, std::string& out) {
    aigw_host_str s{};
    std::string name = indexed(key, index);
    if (!check(host_->config_array_string(src_, key_str(key), index, &s), name, "a string")) {
      if (!failed_) fail(name + " is missing");
      return false;
    }
    out.assign(s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
    return true;
  }
  // The secret stays in host memory: the caller copies it straight into
  // its final place, so no temporary copy is left behind unwiped. An absent
  // item of a list is an error; an absent single key is not.
  bool secret(std::string_view key, size_t index, std::string_view name, bool required,
              std::string_view& out) {
    aigw_host_str s{};
    if (!check(host_->config_secret(src_, key_str(key), index, &s), name,
               "a string, or \"env:NAME\" naming a set environment variable")) {
      if (required && !failed_) fail(std::string(name) + " is missing");
      return false;
    }
    out = std::string_view(s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
    return true;
  }

  bool fail(std::string message) {
    if (!failed_) error_ = std::move(message);
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_; }

 private:
  bool check(aigw_status st, std::string_view key, const char* expected) {
    if (st == AIGW_OK) return true;
    if (st == AIGW_ERR_NOT_FOUND) return false;
    if (st == AIGW_ERR_INVALID) return fail(std::string(key) + " must be " + expected);
    return fail("reading " + std::string(key) + " failed (status " + std::to_string(st) + ")");
  }

  const aigw_host* host_;
  aigw_config_source* src_;
  std::string& error_;
  bool failed_ = false;
};

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
    std::string name = indexed("api_keys", i);
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
    std::string name = indexed("headers", i);
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
  for (std::string& s : credentials) wipe(s);
}

void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
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
