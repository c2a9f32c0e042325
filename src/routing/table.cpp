#include "routing/table.h"

#include <algorithm>

namespace aigw::routing {

namespace {

int find_provider(const config::Config& cfg, std::string_view name) {
  for (size_t i = 0; i < cfg.providers.size(); ++i) {
    if (cfg.providers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

size_t literal_chars(std::string_view pattern) {
  return pattern.size() - static_cast<size_t>(std::count(pattern.begin(), pattern.end(), '*'));
}

}  // namespace

std::shared_ptr<const Table> Table::build(const config::Config& cfg,
                                          const std::vector<uint32_t>& keys_per_provider,
                                          uint64_t id) {
  auto t = std::make_shared<Table>();
  t->id_ = id;
  t->provider_count_ = static_cast<uint32_t>(cfg.providers.size());

  std::vector<uint32_t> first(cfg.providers.size()), count(cfg.providers.size());
  for (size_t p = 0; p < cfg.providers.size(); ++p) {
    uint32_t k = p < keys_per_provider.size() ? std::max<uint32_t>(keys_per_provider[p], 1) : 1;
    first[p] = static_cast<uint32_t>(t->channels_.size());
    count[p] = k;
    for (uint32_t i = 0; i < k; ++i) {
      t->channels_.push_back({static_cast<uint32_t>(p), i, cfg.providers[p].name + "#" + std::to_string(i)});
    }
  }
  auto target_of = [&](uint32_t p, std::string model, uint32_t weight, uint32_t priority) {
    return Target{p, std::move(model), weight, priority, first[p], count[p], t->target_count_++};
  };

  // Explicit routes first: they win over implicit ones of the same name, and
  // "earlier route" breaks pattern ties in their favour.
  std::unordered_map<std::string_view, bool> taken;
  for (const config::RouteConfig& rc : cfg.routes) {
    if (!taken.emplace(rc.model, true).second) continue;
    Route r{rc.model, rc.strategy, {}};
    for (const config::RouteTarget& rt : rc.targets) {
      int p = find_provider(cfg, rt.provider);
      if (p < 0) continue;
      const config::ProviderConfig& pc = cfg.providers[static_cast<size_t>(p)];
      r.targets.push_back(target_of(static_cast<uint32_t>(p), rt.model, rt.weight_set ? rt.weight : pc.weight,
                                    rt.priority_set ? rt.priority : pc.priority));
    }
    t->routes_.push_back(std::move(r));
  }
  for (size_t p = 0; p < cfg.providers.size(); ++p) {
    for (const std::string& m : cfg.providers[p].models) {
      if (!taken.emplace(m, true).second) continue;
      Route r{m, config::Strategy::weighted, {}};
      for (size_t q = p; q < cfg.providers.size(); ++q) {
        const config::ProviderConfig& pc = cfg.providers[q];
        if (std::find(pc.models.begin(), pc.models.end(), m) != pc.models.end()) {
          r.targets.push_back(target_of(static_cast<uint32_t>(q), {}, pc.weight, pc.priority));
        }
      }
      t->routes_.push_back(std::move(r));
    }
  }

  for (uint32_t i = 0; i < t->routes_.size(); ++i) {
    const std::string& m = t->routes_[i].model;
    if (config::is_pattern(m)) {
      t->patterns_.push_back(i);
    } else {
      t->exact_.emplace(m, i);
    }
  }
  std::stable_sort(t->patterns_.begin(), t->patterns_.end(), [&](uint32_t a, uint32_t b) {
    return literal_chars(t->routes_[a].model) > literal_chars(t->routes_[b].model);
  });

  // Routes and implicit routes are already in config order and unique.
  for (const Route& r : t->routes_) {
    if (!config::is_pattern(r.model)) t->public_models_.push_back(r.model);
  }
  return t;
}

const Route* Table::find(std::string_view model) const {
  if (auto it = exact_.find(model); it != exact_.end()) return &routes_[it->second];
  for (uint32_t i : patterns_) {
    if (config::glob_match(routes_[i].model, model)) return &routes_[i];
  }
  return nullptr;
}

}  // namespace aigw::routing
