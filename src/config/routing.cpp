// [[route]] and [routing]: which providers serve a model name, and how
// requests are retried and spread over them.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "config/sections.h"

namespace aigw::config {
namespace {

bool parse_strategy(std::string_view text, Strategy& out) {
  static constexpr std::pair<std::string_view, Strategy> kNames[] = {
      {"weighted", Strategy::weighted},
      {"priority", Strategy::priority},
      {"least_inflight", Strategy::least_inflight},
      {"latency", Strategy::latency}};
  for (const auto& [name, s] : kNames) {
    if (text == name) {
      out = s;
      return true;
    }
  }
  return false;
}

void read_route_target(TableReader& r, const toml::node& node, const std::string& dotted,
                       const Config& config, RouteTarget& out, bool& ok) {
  ok = false;
  if (const auto* name = node.as_string()) {
    out.provider = name->get();
  } else if (const toml::table* t = node.as_table()) {
    TableReader tr(t, dotted, t->source(), r.problems());
    if (!tr.get_string("provider", out.provider)) {
      if (!t->contains("provider")) tr.error_here(tr.path_of("provider"), "is required");
      tr.report_unknown_keys();
      return;
    }
    if (const toml::node* m = tr.get_string("model", out.model)) {
      if (!valid_model_name(out.model)) {
        tr.error(*m, tr.path_of("model"), "expected a model name without spaces or quotes");
      }
    }
    uint64_t v = 0;
    if (tr.get_integer("weight", {0, 1'000'000}, v)) {
      out.weight = static_cast<uint32_t>(v);
      out.weight_set = true;
    }
    if (tr.get_integer("priority", {0, 1000}, v)) {
      out.priority = static_cast<uint32_t>(v);
      out.priority_set = true;
    }
    tr.report_unknown_keys();
  } else {
    r.error(node, dotted, type_error("a provider name or a table {provider, model, weight, priority}", node));
    return;
  }
  if (config.provider_index(out.provider) < 0) {
    r.error(node, dotted, "no [[provider]] named " + quoted(out.provider));
    return;
  }
  ok = true;
}

}  // namespace

void read_routes(TableReader& top, Config& config) {
  read_table_array(top, "route", [&](TableReader r, const toml::table& t, size_t) {
    RouteConfig route;
    if (const toml::node* node = r.get_string("model", route.model)) {
      if (!valid_model_name(route.model)) {
        r.error(*node, r.path_of("model"),
                "expected 1 to 256 printable characters without spaces or quotes");
      }
      for (const RouteConfig& seen : config.routes) {
        if (seen.model == route.model) {
          r.error(*node, r.path_of("model"), "a route for " + quoted(route.model) + " is declared twice");
        }
      }
    } else if (!t.contains("model")) {
      r.error_here(r.path_of("model"), "is required (the public model name or pattern)");
    }
    std::string strategy;
    if (const toml::node* node = r.get_string("strategy", strategy)) {
      if (!parse_strategy(strategy, route.strategy)) {
        r.error(*node, r.path_of("strategy"),
                "expected \"weighted\", \"priority\", \"least_inflight\" or \"latency\", got " +
                    quoted(strategy));
      }
    }
    if (const toml::node* node = r.get_node("providers")) {
      const toml::array* list = node->as_array();
      if (list == nullptr || list->empty()) {
        r.error(*node, r.path_of("providers"), "expected a non-empty array of providers");
      } else {
        for (size_t i = 0; i < list->size(); ++i) {
          RouteTarget target;
          bool ok = false;
          read_route_target(r, *list->get(i), r.path_of("providers") + "[" + std::to_string(i) + "]",
                            config, target, ok);
          if (ok) route.targets.push_back(std::move(target));
        }
      }
    } else {
      r.error_here(r.path_of("providers"), "is required (the providers that serve this model)");
    }
    r.report_unknown_keys();
    config.routes.push_back(std::move(route));
  });
}

void read_routing(TableReader r, RoutingConfig& out) {
  using std::chrono::hours;
  r.get_integer("max_attempts", {1, 10}, out.max_attempts);
  r.get_duration("attempt_deadline", {Duration{100}, hours{1}}, out.attempt_deadline);
  r.get_integer("failure_threshold", {1, 1000}, out.failure_threshold);
  if (const toml::node* node = r.get_node("error_ratio")) {
    double v = -1;
    if (node->is_floating_point()) v = node->as_floating_point()->get();
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    if (!(v > 0.0 && v <= 1.0)) {
      r.error(*node, r.path_of("error_ratio"), "expected a number above 0 and at most 1");
    } else {
      out.error_ratio = v;
    }
  }
  r.get_integer("min_requests", {1, 1'000'000}, out.min_requests);
  r.get_duration("window", {Duration{1000}, hours{1}}, out.window);
  r.get_duration("cooldown", {Duration{100}, hours{1}}, out.cooldown);
  const toml::node* max = r.get_duration("max_cooldown", {Duration{100}, hours{24}}, out.max_cooldown);
  r.get_duration("rate_limit_cooldown", {Duration{100}, hours{1}}, out.rate_limit_cooldown);
  if (out.max_cooldown < out.cooldown) {
    if (max) {
      r.error(*max, r.path_of("max_cooldown"), "must be at least routing.cooldown (" + format_duration(out.cooldown) + ")");
    } else {
      r.error_here(r.path_of("max_cooldown"), "must be at least routing.cooldown (" + format_duration(out.cooldown) + ")");
    }
  }
  r.report_unknown_keys();
}

std::string_view strategy_name(Strategy s) {
  switch (s) {
    case Strategy::weighted: return "weighted";
    case Strategy::priority: return "priority";
    case Strategy::least_inflight: return "least_inflight";
    case Strategy::latency: return "latency";
  }
  return "weighted";
}

}  // namespace aigw::config
