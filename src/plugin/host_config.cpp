// The configuration half of the aigw_host table: logging, the clock and the
// cfg_* callbacks a plugin reads its provider's keys with (control thread,
// during config_new). The table itself, with the per-request callbacks, is
// put together by the gateway (src/gateway/abi_host.cpp).
#include <string>

#include "config/provider_table.h"
#include "io/clock.h"
#include "log/log.h"
#include "plugin/config_source.h"
#include "plugin/generation.h"
#include "plugin/host_config.h"

namespace aigw::plugin {
namespace {

std::string_view view(aigw_plugin_str s) { return {s.ptr ? s.ptr : "", s.ptr ? s.len : 0}; }

aigw_host_str host_str(const std::string& s) { return {s.data(), s.size()}; }

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
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_string()) return src->type_error(view(key), *n, "a string");
  *out = host_str(n->as_string()->get());
  return AIGW_OK;
}

aigw_status cfg_int(aigw_config_source* src, aigw_plugin_str key, int64_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_integer()) return src->type_error(view(key), *n, "an integer");
  *out = n->as_integer()->get();
  return AIGW_OK;
}

aigw_status cfg_bool(aigw_config_source* src, aigw_plugin_str key, int32_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_boolean()) return src->type_error(view(key), *n, "a boolean");
  *out = n->as_boolean()->get() ? 1 : 0;
  return AIGW_OK;
}

aigw_status cfg_duration(aigw_config_source* src, aigw_plugin_str key, uint64_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_string()) return src->type_error(view(key), *n, "a duration string such as \"10s\"");
  config::Duration d{};
  std::string why;
  if (!config::parse_duration(n->as_string()->get(), d, why)) {
    return src->value_error(view(key), *n, "invalid duration: " + why);
  }
  *out = static_cast<uint64_t>(d.count());
  return AIGW_OK;
}

aigw_status cfg_array_len(aigw_config_source* src, aigw_plugin_str key, size_t* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_array()) return src->type_error(view(key), *n, "an array");
  *out = n->as_array()->size();
  return AIGW_OK;
}

aigw_status cfg_array_string(aigw_config_source* src, aigw_plugin_str key, size_t index,
                             aigw_host_str* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  if (!n->is_array()) return src->type_error(view(key), *n, "an array");
  const toml::node* item = n->as_array()->get(index);
  if (!item) return AIGW_ERR_NOT_FOUND;
  if (!item->is_string()) {
    return src->type_error(std::string(view(key)) + "[" + std::to_string(index) + "]", *item,
                           "a string");
  }
  *out = host_str(item->as_string()->get());
  return AIGW_OK;
}

aigw_status cfg_secret(aigw_config_source* src, aigw_plugin_str key, size_t index,
                       aigw_host_str* out) {
  if (!src || !out) return AIGW_ERR_INVALID;
  const toml::node* n = src->get(view(key));
  if (!n) return AIGW_ERR_NOT_FOUND;
  std::string dotted(view(key));
  if (n->is_array()) {
    dotted.append("[").append(std::to_string(index)).append("]");
    n = n->as_array()->get(index);
    if (!n) return AIGW_ERR_NOT_FOUND;
  } else if (index != 0) {
    return AIGW_ERR_NOT_FOUND;
  }
  if (!n->is_string()) return src->type_error(dotted, *n, "a string");
  std::string why;
  std::string& slot = src->keep_secret();
  if (!config::resolve_secret(n->as_string()->get(), slot, why)) {
    return src->value_error(dotted, *n, why);
  }
  *out = host_str(slot);
  return AIGW_OK;
}

}  // namespace aigw::plugin
