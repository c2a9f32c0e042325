// [server]: listen addresses, workers, shutdown, and its sub-tables
// [server.limits], [server.timeouts], [server.io] and [server.tls].
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "config/sections.h"

namespace aigw::config {

// One element of server.listen; `dotted` names it in messages.
void read_listen_entry(TableReader& r, const toml::node& node, const std::string& dotted,
                       std::vector<ListenAddr>& out) {
  if (!node.is_string()) {
    r.error(node, dotted, type_error("a string", node));
    return;
  }
  const std::string& text = node.as_string()->get();
  ListenAddr addr;
  std::string why;
  if (!parse_listen_addr(text, addr, why)) {
    r.error(node, dotted, "invalid address " + quoted(text) + ": " + why);
    return;
  }
  for (const ListenAddr& seen : out) {
    if (seen.text == addr.text) {
      r.error(node, dotted, "duplicate address " + quoted(addr.text));
      return;
    }
  }
  out.push_back(std::move(addr));
}

namespace {

constexpr std::string_view kDefaultListen = "127.0.0.1:8080";

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

void require_power_of_two(TableReader& r, std::string_view key, const toml::node* node,
                          uint64_t value) {
  if (node != nullptr && !is_power_of_two(value)) {
    r.error(*node, r.path_of(key), "must be a power of two, got " + std::to_string(value));
  }
}

void read_listen(TableReader& r, std::vector<ListenAddr>& out) {
  const std::string key = r.path_of("listen");
  const toml::node* node = r.get_node("listen");
  if (node == nullptr) {
    std::string why;
    ListenAddr addr;
    parse_listen_addr(kDefaultListen, addr, why);
    out.push_back(std::move(addr));
    return;
  }
  if (node->is_string()) {
    read_listen_entry(r, *node, key, out);
    return;
  }
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.error(*node, key, type_error("a string or an array of strings", *node));
    return;
  }
  if (list->empty()) {
    r.error(*node, key, "must list at least one address");
    return;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    read_listen_entry(r, *list->get(i), key + "[" + std::to_string(i) + "]", out);
  }
}

void read_limits(TableReader r, ServerLimits& out) {
  constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
  const toml::node* header = r.get_size("max_header_bytes", {1 * KiB, 1 * MiB}, out.max_header_bytes);
  r.get_integer("max_header_count", {1, 10'000}, out.max_header_count);
  const toml::node* uri = r.get_size("max_uri_bytes", {256, 1 * MiB}, out.max_uri_bytes);
  r.get_size("max_body_bytes", {0, 4 * GiB}, out.max_body_bytes);
  r.get_integer("max_requests_per_connection", {1, 1'000'000'000}, out.max_requests_per_connection);
  r.get_integer("max_connections_per_worker", {1, 1'048'576}, out.max_connections_per_worker);

  // The request line is part of the head, so a URI limit above the head limit
  // could never be reached. Blame whichever of the two the user wrote.
  if (out.max_uri_bytes > out.max_header_bytes) {
    if (uri != nullptr) {
      r.error(*uri, r.path_of("max_uri_bytes"),
              "must not exceed " + r.path_of("max_header_bytes") + " (" +
                  format_size(out.max_header_bytes) + "), got " + format_size(out.max_uri_bytes));
    } else if (header != nullptr) {
      r.error(*header, r.path_of("max_header_bytes"),
              "must be at least " + r.path_of("max_uri_bytes") + " (" +
                  format_size(out.max_uri_bytes) + "), got " + format_size(out.max_header_bytes));
    }
  }
  r.report_unknown_keys();
}

void read_timeouts(TableReader r, ServerTimeouts& out) {
  using std::chrono::hours;
  const DurationRange positive{Duration{100}, hours{1}};
  r.get_duration("header_read", positive, out.header_read);
  r.get_duration("body_read_gap", positive, out.body_read_gap);
  r.get_duration("keepalive_idle", {Duration{0}, hours{1}}, out.keepalive_idle);
  r.get_duration("send", positive, out.send);
  r.report_unknown_keys();
}

void read_io(TableReader r, ServerIo& out) {
  const toml::node* ring = r.get_integer("ring_entries", {64, 32768}, out.ring_entries);
  require_power_of_two(r, "ring_entries", ring, out.ring_entries);
  r.get_size("buffer_size", {4 * 1024, 1024 * 1024}, out.buffer_size);
  const toml::node* count = r.get_integer("buffer_count", {16, 32768}, out.buffer_count);
  require_power_of_two(r, "buffer_count", count, out.buffer_count);
  r.get_size("send_buffer", {4 * 1024, 64 * 1024 * 1024}, out.send_buffer);
  r.report_unknown_keys();
}

}  // namespace

void read_server(TableReader r, ServerConfig& out) {
  read_listen(r, out.listen);
  r.get_integer("workers", {0, 1024}, out.workers);
  r.get_bool("pin_workers", out.pin_workers);
  r.get_duration("shutdown_delay", {Duration{0}, std::chrono::minutes{10}}, out.shutdown_delay);
  r.get_duration("shutdown_grace", {Duration{0}, std::chrono::hours{1}}, out.shutdown_grace);
  read_limits(r.table("limits"), out.limits);
  read_timeouts(r.table("timeouts"), out.timeouts);
  read_io(r.table("io"), out.io);
  {
    TableReader t = r.table("tls");
    const toml::node* cert = t.get_string("cert_file", out.tls.cert_file);
    const toml::node* key = t.get_string("key_file", out.tls.key_file);
    if ((cert != nullptr) != (key != nullptr)) {
      t.error_here(t.path_of(cert ? "key_file" : "cert_file"),
                   "is required when the other of cert_file and key_file is given");
    }
    t.report_unknown_keys();
  }
  r.report_unknown_keys();
}

}  // namespace aigw::config
