// [state.redis]: limits shared by several aigw instances through one Redis.
// Only the Redis sub-table is read here; the keys of [state] itself (path,
// flush_interval, requests, keep, enabled: the usage store) have a reader of
// their own, which reports that table's unknown keys.
#include <charconv>
#include <string>

#include "config/sections.h"

namespace aigw::config {

bool parse_redis_url(std::string_view text, RedisConfig& out, std::string& why) {
  constexpr std::string_view scheme = "redis://";
  if (text.starts_with("rediss://")) {
    why = "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS; "
          "connect through a local stunnel or spiped (see docs/state.md)";
    return false;
  }
  if (!text.starts_with(scheme)) {
    why = "expected redis://host[:port][/db]";
    return false;
  }
  std::string_view rest = text.substr(scheme.size());
  if (rest.find('@') != std::string_view::npos) {
    why = "credentials do not belong in the URL: set password = \"env:NAME\"";
    return false;
  }
  std::string_view db;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  std::string_view host;
  uint16_t port = 0;
  if (!split_authority(rest, 6379, host, port, why)) {
    why = "the URL " + why;
    return false;
  }
  uint64_t d = 0;
  if (!db.empty()) {
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), d);
    if (ec != std::errc() || end != db.data() + db.size() || d > 1'000'000) {
      why = "invalid database number after '/'";
      return false;
    }
  }
  out.host = std::string(host);
  out.port = port;
  out.db = d;
  return true;
}

void read_state_redis(TableReader& state, RedisConfig& out) {
  if (!state.has("redis")) {
    state.table("redis");  // marks it known; nothing to read
    return;
  }
  TableReader r = state.table("redis");
  out.enabled = true;
  if (const toml::node* node = r.get_string("url", out.url)) {
    std::string why;
    if (!parse_redis_url(out.url, out, why)) r.error(*node, r.path_of("url"), why);
  } else if (!r.has("url")) {
    r.error_here(r.path_of("url"), "required: redis://host[:port][/db]");
  }
  r.get_string("username", out.username);
  std::string pw;
  if (const toml::node* node = r.get_string("password", pw)) {
    std::string why;
    if (!resolve_secret(pw, out.password, why)) r.error(*node, r.path_of("password"), why);
  }
  bool tls = false;
  if (const toml::node* node = r.get_bool("tls", tls); node != nullptr && tls) {
    r.error(*node, r.path_of("tls"),
            "not supported: Debian 12's hiredis 0.14 has no TLS; connect through a local "
            "stunnel or spiped and point url at it (see docs/state.md)");
  }
  std::string mode;
  if (const toml::node* node = r.get_string("on_unavailable", mode)) {
    if (mode == "local") {
      out.on_unavailable = RedisConfig::OnUnavailable::local;
    } else if (mode == "deny") {
      out.on_unavailable = RedisConfig::OnUnavailable::deny;
    } else {
      r.error(*node, r.path_of("on_unavailable"), "expected \"local\" or \"deny\"");
    }
  }
  r.get_integer("instances", {1, 1024}, out.instances);
  r.get_duration("connect_timeout", {Duration{10}, Duration{60'000}}, out.connect_timeout);
  r.get_duration("command_timeout", {Duration{10}, Duration{60'000}}, out.command_timeout);
  r.get_duration("slot_ttl", {Duration{1'000}, Duration{3'600'000}}, out.slot_ttl);
  r.report_unknown_keys();
}

}  // namespace aigw::config
