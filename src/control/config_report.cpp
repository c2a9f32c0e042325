#include "control/config_report.h"

#include <algorithm>
#include <cstdio>

#include "config/provider_table.h"
#include "json/write.h"

namespace aigw::control {

namespace {

// A small writer for one JSON document: commas between members are its
// business, so the sections below read as lists of fields.
class Out {
 public:
  explicit Out(std::string& s) : s_(s) {}

  void open(char c) {
    s_ += c;
    first_ = true;
  }
  void close(char c) {
    s_ += c;
    first_ = false;
  }
  // The key of the next member (objects) or just the separator (arrays).
  Out& key(std::string_view k) {
    sep();
    json::append_string(s_, k);
    s_ += ':';
    first_ = true;  // the value that follows needs no comma
    return *this;
  }
  Out& item() {
    sep();
    first_ = true;
    return *this;
  }
  void str(std::string_view v) {
    done();
    json::append_string(s_, v);
  }
  void num(uint64_t v) {
    done();
    s_ += std::to_string(v);
  }
  void integer(int64_t v) {
    done();
    s_ += std::to_string(v);
  }
  void dbl(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    done();
    s_ += buf;
  }
  void boolean(bool v) {
    done();
    s_ += v ? "true" : "false";
  }
  void null() {
    done();
    s_ += "null";
  }
  void dur(config::Duration d) { str(config::format_duration(d)); }
  void size(uint64_t v) { str(config::format_size(v)); }
  void strings(const std::vector<std::string>& v) {
    done();
    open('[');
    for (const std::string& x : v) item().str(x);
    close(']');
  }
  void addrs(const std::vector<config::ListenAddr>& v) {
    done();
    open('[');
    for (const config::ListenAddr& a : v) item().str(a.text);
    close(']');
  }
  // A secret the host holds: whether one is set, never what it is.
  void secret(const std::string& v) {
    if (v.empty()) {
      null();
    } else {
      str(kRedacted);
    }
  }
 private:
  void sep() {
    if (!first_) s_ += ',';
  }
  void done() { first_ = false; }
  std::string& s_;
  bool first_ = true;
};

// "env:NAME" with a plain variable name: a reference, safe to show.
bool env_reference(std::string_view v) {
  if (v.size() <= 4 || v.substr(0, 4) != "env:") return false;
  return std::all_of(v.begin() + 4, v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A value of a plugin's own key. The host cannot tell an API key or a
// service account's JSON from a region name, so every string is treated
// as a secret unless it is an env: reference.
void plugin_value(Out& o, const toml::node& n) {
  if (const auto* s = n.as_string()) {
    const std::string& v = s->get();
    o.str(env_reference(v) ? std::string_view(v) : kRedacted);
  } else if (const auto* i = n.as_integer()) {
    o.integer(i->get());
  } else if (const auto* f = n.as_floating_point()) {
    o.dbl(f->get());
  } else if (const auto* b = n.as_boolean()) {
    o.boolean(b->get());
  } else if (const auto* a = n.as_array()) {
    o.open('[');
    for (const toml::node& e : *a) plugin_value(o.item(), e);
    o.close(']');
  } else if (const auto* t = n.as_table()) {
    o.open('{');
    for (auto&& [k, v] : *t) plugin_value(o.key(k.str()), v);
    o.close('}');
  } else {
    o.str(kRedacted);  // dates and times: treated as the strings they were written as
  }
}

void provider_json(Out& o, const config::ProviderConfig& p) {
  o.open('{');
  o.key("name").str(p.name);
  o.key("plugin").str(p.plugin);
  o.key("models").strings(p.models);
  o.key("model_map").open('{');
  for (const auto& [from, to] : p.model_map) o.key(from).str(to);
  o.close('}');
  if (p.has_upstream) {
    const config::UpstreamConfig& u = p.upstream;
    // parse_base_url refuses user info, a query and a fragment: no secret.
    o.key("base_url").str(u.base_url);
    o.key("connect_timeout").dur(u.connect_timeout);
    o.key("first_byte_timeout").dur(u.first_byte_timeout);
    o.key("stream_idle_timeout").dur(u.stream_idle_timeout);
    o.key("request_timeout").dur(u.request_timeout);
    o.key("max_connections").num(u.max_connections);
    o.key("max_idle_connections").num(u.max_idle_connections);
    o.key("ca_file").str(u.ca_file);
    o.key("tls_verify").boolean(u.tls_verify);
  }
  o.key("weight").num(p.weight);
  o.key("priority").num(p.priority);
  o.key("probe_interval").dur(p.probe_interval);
  o.key("probe_timeout").dur(p.probe_timeout);
  // The plugin's own keys: every key of the table the host did not read.
  o.key("plugin_settings").open('{');
  if (p.table && p.table->table) {
    const auto& host = p.table->host_keys;
    for (auto&& [k, v] : *p.table->table) {
      if (std::find(host.begin(), host.end(), k.str()) != host.end()) continue;
      plugin_value(o.key(k.str()), v);
    }
  }
  o.close('}');
  o.close('}');
}

}  // namespace

void write_config_json(std::string& out, const config::Config& running, const config::Config& current) {
  Out o(out);
  o.open('{');
  o.key("source").str(current.source);

  const config::ServerConfig& s = running.server;
  o.key("server").open('{');
  o.key("listen").addrs(s.listen);
  o.key("workers").num(s.workers);
  o.key("pin_workers").boolean(s.pin_workers);
  o.key("shutdown_delay").dur(current.server.shutdown_delay);  // read at SIGTERM: reloadable
  o.key("shutdown_grace").dur(s.shutdown_grace);
  o.key("tls").open('{');
  o.key("cert_file").str(s.tls.cert_file);
  o.key("key_file").str(s.tls.key_file);  // a path; the key itself is never read here
  o.close('}');
  o.key("limits").open('{');
  o.key("max_header_bytes").size(s.limits.max_header_bytes);
  o.key("max_header_count").num(s.limits.max_header_count);
  o.key("max_uri_bytes").size(s.limits.max_uri_bytes);
  o.key("max_body_bytes").size(s.limits.max_body_bytes);
  o.key("max_requests_per_connection").num(s.limits.max_requests_per_connection);
  o.key("max_connections_per_worker").num(s.limits.max_connections_per_worker);
  o.close('}');
  o.key("timeouts").open('{');
  o.key("header_read").dur(s.timeouts.header_read);
  o.key("body_read_gap").dur(s.timeouts.body_read_gap);
  o.key("keepalive_idle").dur(s.timeouts.keepalive_idle);
  o.key("send").dur(s.timeouts.send);
  o.close('}');
  o.key("io").open('{');
  o.key("ring_entries").num(s.io.ring_entries);
  o.key("buffer_size").size(s.io.buffer_size);
  o.key("buffer_count").num(s.io.buffer_count);
  if (s.io.send_buffer != 0) {
    o.key("send_buffer").size(s.io.send_buffer);
  } else {
    o.key("send_buffer").null();  // the kernel's default
  }
  o.close('}');
  o.close('}');

  o.key("log").open('{');
  o.key("level").str(config::log_level_name(running.log.level));
  o.close('}');
  o.key("admin").open('{');
  o.key("listen").addrs(running.admin.listen);
  o.key("api_key").secret(running.admin.api_key);
  o.close('}');

  o.key("plugins").open('[');
  for (const config::PluginConfig& p : current.plugins) {
    o.item().open('{');
    o.key("name").str(p.name);
    o.key("path").str(p.path);
    o.close('}');
  }
  o.close(']');
  o.key("providers").open('[');
  for (const config::ProviderConfig& p : current.providers) provider_json(o.item(), p);
  o.close(']');
  o.key("routes").open('[');
  for (const config::RouteConfig& r : current.routes) {
    o.item().open('{');
    o.key("model").str(r.model);
    o.key("strategy").str(config::strategy_name(r.strategy));
    o.key("providers").open('[');
    for (const config::RouteTarget& t : r.targets) {
      o.item().open('{');
      o.key("provider").str(t.provider);
      o.key("model").str(t.model);
      if (t.weight_set) o.key("weight").num(t.weight);
      if (t.priority_set) o.key("priority").num(t.priority);
      o.close('}');
    }
    o.close(']');
    o.close('}');
  }
  o.close(']');
  const config::RoutingConfig& rt = current.routing;
  o.key("routing").open('{');
  o.key("max_attempts").num(rt.max_attempts);
  o.key("attempt_deadline").dur(rt.attempt_deadline);
  o.key("failure_threshold").num(rt.failure_threshold);
  o.key("error_ratio").dbl(rt.error_ratio);
  o.key("min_requests").num(rt.min_requests);
  o.key("window").dur(rt.window);
  o.key("cooldown").dur(rt.cooldown);
  o.key("max_cooldown").dur(rt.max_cooldown);
  o.key("rate_limit_cooldown").dur(rt.rate_limit_cooldown);
  o.close('}');
  // Client keys: the secret is not kept (only its SHA-256), and even the
  // digest stays out: it would let anyone test guesses offline.
  o.key("keys").open('[');
  for (const config::KeyConfig& k : current.keys) {
    o.item().open('{');
    o.key("name").str(k.name);
    o.key("secret").str(kRedacted);
    o.key("models").strings(k.models);
    o.key("rpm").num(k.rpm);
    o.key("tpm").num(k.tpm);
    o.key("max_concurrent").num(k.max_concurrent);
    o.key("daily_tokens").num(k.daily_tokens);
    o.key("monthly_tokens").num(k.monthly_tokens);
    o.close('}');
  }
  o.close(']');
  o.key("limits").open('{');
  o.key("default_max_tokens").num(current.limits.default_max_tokens);
  o.close('}');
  o.key("access_log").open('{');
  o.key("enabled").boolean(current.access_log.enabled);
  o.key("path").str(running.access_log.path);
  o.key("sample").dbl(current.access_log.sample);
  o.close('}');

  const config::StateConfig& st = running.state;
  o.key("state").open('{');
  o.key("enabled").boolean(st.enabled);
  o.key("path").str(st.path);
  o.key("flush_interval").dur(st.flush_interval);
  o.key("requests").boolean(st.requests);
  o.key("keep").dur(st.keep);
  const config::RedisConfig& r = running.redis;
  if (r.enabled) {
    o.key("redis").open('{');
    o.key("url").str(r.url);  // parse_redis_url refuses credentials in it
    o.key("username").str(r.username);
    o.key("password").secret(r.password);
    o.key("on_unavailable").str(r.on_unavailable == config::RedisConfig::OnUnavailable::deny ? "deny" : "local");
    o.key("instances").num(r.instances);
    o.key("connect_timeout").dur(r.connect_timeout);
    o.key("command_timeout").dur(r.command_timeout);
    o.key("slot_ttl").dur(r.slot_ttl);
    o.close('}');
  } else {
    o.key("redis").null();
  }
  o.close('}');
  o.close('}');
}

void write_plugins_json(std::string& out, const plugin::Generation& gen) {
  Out o(out);
  o.open('[');
  std::vector<const aigw_plugin_def*> seen;
  for (const plugin::Provider& p : gen.providers) {
    if (p.def == nullptr || std::find(seen.begin(), seen.end(), p.def) != seen.end()) continue;
    seen.push_back(p.def);
    const plugin::LoadedPlugin* obj = nullptr;
    for (const auto& l : gen.objects) {
      if (l->def == p.def) obj = l.get();
    }
    // The built-in local plugin has no object: it negotiates as load() would.
    const unsigned minor = obj ? obj->negotiated_minor : std::min<unsigned>(AIGW_ABI_MINOR, p.def->abi_minor);
    std::vector<std::string> providers;
    for (const plugin::Provider& q : gen.providers) {
      if (q.def == p.def) providers.push_back(q.config->name);
    }
    o.item().open('{');
    o.key("name").str(p.def->name);
    if (obj) {
      o.key("file").str(obj->source_path);
      o.key("sha256").str(obj->sha256_hex);
    } else {
      o.key("file").null();
      o.key("sha256").null();
    }
    o.key("builtin").boolean(obj == nullptr);
    o.key("abi").str(std::to_string(AIGW_ABI_MAJOR) + "." + std::to_string(minor));
    o.key("plugin_abi").str(std::to_string(p.def->abi_major) + "." + std::to_string(p.def->abi_minor));
    o.key("version").str(p.def->version ? p.def->version : "");
    o.key("mode").str(p.hooks->mode == AIGW_MODE_DIRECT ? "direct" : "http");
    o.key("providers").strings(providers);
    o.close('}');
  }
  o.close(']');
}

}  // namespace aigw::control
