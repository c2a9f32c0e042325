// The routing table: which providers and upstream keys serve a public model.
//
// Built once per config (and per change of key counts) on the control thread,
// then shared read-only by every worker as std::shared_ptr<const Table>; the
// mutable per-worker side is Health (health.h). A channel is one upstream key
// of one provider, the unit the circuit breaker and key disabling act on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"

namespace aigw::routing {

struct Channel {
  uint32_t provider;  // index into Config::providers
  uint32_t key;       // index of the provider's upstream key
  std::string name;   // "providername#key": safe to log, never the secret
};

struct Target {
  uint32_t provider;  // index into Config::providers
  std::string model;  // model to ask this provider for (before its model_map); empty: as asked
  uint32_t weight;    // 0: never picked
  uint32_t priority;  // lower tiers first (Strategy::priority)
  uint32_t first_channel, channel_count;  // range in Table::channels(); shared by all targets of a provider
  uint32_t slot;      // dense index over every route's targets, for per-worker state (Health)
};

struct Route {
  std::string model;  // exact name or pattern ('*')
  config::Strategy strategy;
  std::vector<Target> targets;
};

class Table {
 public:
  // keys_per_provider[i] >= 1 for each cfg.providers[i] (0 is taken as 1).
  // cfg is validated: route targets name real providers.
  static std::shared_ptr<const Table> build(const config::Config& cfg,
                                            const std::vector<uint32_t>& keys_per_provider,
                                            uint64_t id);

  uint64_t id() const { return id_; }

  // The exact name first; otherwise the matching pattern with the most
  // non-'*' characters, the earlier route on ties; nullptr when none.
  const Route* find(std::string_view model) const;

  // Every exact (non-pattern) routable name once, in config order: [[route]]
  // entries first, then provider models.
  const std::vector<std::string>& public_models() const { return public_models_; }
  const std::vector<Channel>& channels() const { return channels_; }
  // [[route]] entries in config order, then the implicit routes of provider
  // models (in the order they first appear) that no [[route]] replaced.
  const std::vector<Route>& routes() const { return routes_; }
  uint32_t target_count() const { return target_count_; }
  uint32_t provider_count() const { return provider_count_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  uint64_t id_ = 0;
  uint32_t target_count_ = 0;
  uint32_t provider_count_ = 0;
  std::vector<Route> routes_;
  std::vector<Channel> channels_;
  std::vector<std::string> public_models_;
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> exact_;  // -> routes_ index
  std::vector<uint32_t> patterns_;  // routes_ indexes, most specific first
};

}  // namespace aigw::routing
