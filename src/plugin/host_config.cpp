// The configuration half of the aigw_host table: logging, the clock and the
// cfg_* callbacks a plugin reads its provider's keys with (control thread,
// during config_new). The table itself, with the per-request callbacks, is
// put together by the gateway (src/gateway/abi_host.cpp).
#include <string>

#include "config/schema_reader.h"
#include "io/clock.h"
#include "log/log.h"
#include "plugin/config_source.h"
#include "plugin/generation.h"
#include "plugin/host_config.h"

namespace aigw::plugin {
namespace {

std::string_view view(aigw_plugin_str s) { return {s.ptr ? s.ptr : "", s.ptr ? s.len : 0}; }

aigw_host_str host_str(const std::string& s) { return {s.data(), s.size()}; }

// Every callback reads through the schema reader (config/schema_reader.h):
// it marks the key as read and records a wrong value as a problem with its
// position. A getter's null result is then told apart: an absent key is
// the plugin's to default, a present one was wrong.
aigw_status missing_or_invalid(config::TableReader& r, std::string_view key) {
  return r.has(key) ? AIGW_ERR_INVALID : AIGW_ERR_NOT_FOUND;
}

}  // namespace

void host_log(aigw_host_plugin* plugin, aigw_log_level level, aigw_plugin_str msg) {
  log::Level l = level <= AIGW_LOG_DEBUG ? log::Level::debug
                 : level == AIGW_LOG_INFO ? log::Level::info
                 : level == AIGW_LOG_WARN ? log::Level::warn
                                          : log::Level::error;
  log::write(l, view(msg), {{"plugin", plugin ? std::string_view(plugin->name) : "?"}});
}

uint64_t host_now_ns() { return static_cast<uint64_t>(io::mono_ns()); }

aigw_status cfg_string(aigw_config_source* src, aigw_plugin_str key, aigw_host_str* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  std::string value;
  const toml::node* n = r.get_string(view(key), value);
  if (!n) return missing_or_invalid(r, view(key));
  *out = host_str(n->as_string()->get());  // the table's copy: it outlives config_new
  return AIGW_OK;
}

aigw_status cfg_int(aigw_config_source* src, aigw_plugin_str key, int64_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  if (!r.get_signed(view(key), *out)) return missing_or_invalid(r, view(key));
  return AIGW_OK;
}

aigw_status cfg_bool(aigw_config_source* src, aigw_plugin_str key, int32_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  bool value = false;
  if (!r.get_bool(view(key), value)) return missing_or_invalid(r, view(key));
  *out = value ? 1 : 0;
  return AIGW_OK;
}

aigw_status cfg_duration(aigw_config_source* src, aigw_plugin_str key, uint64_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  // Any duration the syntax can write: the plugin judges its own range.
  config::Duration d{};
  if (!r.get_duration(view(key), {config::Duration{0}, config::Duration::max()}, d)) {
    return missing_or_invalid(r, view(key));
  }
  *out = static_cast<uint64_t>(d.count());
  return AIGW_OK;
}

aigw_status cfg_array_len(aigw_config_source* src, aigw_plugin_str key, size_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  const toml::array* list = r.get_array(view(key));
  if (!list) return missing_or_invalid(r, view(key));
  *out = list->size();
  return AIGW_OK;
}

aigw_status cfg_array_string(aigw_config_source* src, aigw_plugin_str key, size_t index,
                             aigw_host_str* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  const toml::array* list = r.get_array(view(key));
  if (!list) return missing_or_invalid(r, view(key));
  const toml::node* item = list->get(index);
  if (!item) return AIGW_ERR_NOT_FOUND;
  if (!item->is_string()) {
    r.error(*item, r.path_of(view(key)) + "[" + std::to_string(index) + "]",
            config::type_error("a string", *item));
    return AIGW_ERR_INVALID;
  }
  *out = host_str(item->as_string()->get());
  return AIGW_OK;
}

aigw_status cfg_secret(aigw_config_source* src, aigw_plugin_str key, size_t index,
                       aigw_host_str* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  config::TableReader& r = src->reader();
  // One string, or an array of them (several upstream keys).
  const toml::node* n = r.get_node(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  std::string dotted = r.path_of(view(key));
  if (n->is_array()) {
    dotted.append("[").append(std::to_string(index)).append("]");
    n = n->as_array()->get(index);
    if (!n) return AIGW_ERR_NOT_FOUND;
  } else if (index != 0) {
    return AIGW_ERR_NOT_FOUND;
  }
  if (!n->is_string()) {
    r.error(*n, dotted, config::type_error("a string", *n));
    return AIGW_ERR_INVALID;
  }
  std::string why;
  std::string& slot = src->keep_secret();
  if (!config::resolve_secret(n->as_string()->get(), slot, why)) {
    r.error(*n, dotted, why);  // never the value itself
    return AIGW_ERR_INVALID;
  }
  *out = host_str(slot);
  return AIGW_OK;
}

}  // namespace aigw::plugin
