#include "anthropic_config.h"

#include "aigw_plugin.hpp"

namespace aigw::anthropic_plugin {
namespace {

using Reader = sdk::ConfigReader;

constexpr size_t kMaxKeys = 1024;
constexpr size_t kMaxKeyBytes = 4096;

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
    add_key(r, c, "api_key", single);
    return;
  }
  if (!have_list) {
    r.fail("api_keys is required: a list of Anthropic API keys such as "
           "[\"env:ANTHROPIC_API_KEY\"] (or api_key with one)");
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

}  // namespace

Config::~Config() {
  for (std::string& s : keys) sdk::wipe(s);
}

aigw_status load_config(const aigw_host* host, aigw_config_source* src, Config& out,
                        std::string& error) {
  Reader r(host, src, error);
  read_keys(r, out);
  return r.failed() ? AIGW_ERR_CONFIG : AIGW_OK;
}

}  // namespace aigw::anthropic_plugin
