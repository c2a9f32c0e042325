// src/routing/table.cpp: route construction, lookup precedence, channel
// layout, public model list. Configs are built in code so that these tests
// do not depend on the [[route]] parser.
#include "routing/table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aigw::routing {
namespace {

using config::Strategy;

config::ProviderConfig provider(std::string name, std::vector<std::string> models, uint32_t weight = 1,
                                uint32_t priority = 0) {
  config::ProviderConfig p;
  p.name = std::move(name);
  p.plugin = "openai";
  p.models = std::move(models);
  p.weight = weight;
  p.priority = priority;
  return p;
}

config::RouteTarget target(std::string provider, std::string model = {}, uint32_t weight = 0) {
  config::RouteTarget t;
  t.provider = std::move(provider);
  t.model = std::move(model);
  t.weight = weight;
  t.weight_set = weight != 0;
  return t;
}

std::vector<std::string> names(const std::vector<Channel>& cs) {
  std::vector<std::string> out;
  for (const Channel& c : cs) out.push_back(c.name);
  return out;
}

TEST(RoutingTable, ChannelLayoutIsContiguousInProviderOrder) {
  config::Config cfg;
  cfg.providers = {provider("openai", {"gpt-4o"}), provider("azure", {"gpt-4o"}), provider("local", {"demo"})};
  auto t = Table::build(cfg, {2, 1, 3}, 7);
  EXPECT_EQ(t->id(), 7u);
  EXPECT_EQ(names(t->channels()),
            (std::vector<std::string>{"openai#0", "openai#1", "azure#0", "local#0", "local#1", "local#2"}));
  EXPECT_EQ(t->channels()[4].provider, 2u);
  EXPECT_EQ(t->channels()[4].key, 1u);

  const Route* r = t->find("gpt-4o");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].first_channel, 0u);
  EXPECT_EQ(r->targets[0].channel_count, 2u);
  EXPECT_EQ(r->targets[1].first_channel, 2u);
  EXPECT_EQ(r->targets[1].channel_count, 1u);
  const Route* d = t->find("demo");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->targets[0].first_channel, 3u);
  EXPECT_EQ(d->targets[0].channel_count, 3u);
}

TEST(RoutingTable, ZeroKeysCountAsOne) {
  config::Config cfg;
  cfg.providers = {provider("a", {"m"}), provider("b", {"m"})};
  auto t = Table::build(cfg, {0}, 1);
  EXPECT_EQ(names(t->channels()), (std::vector<std::string>{"a#0", "b#0"}));
}

TEST(RoutingTable, ImplicitRouteGathersProvidersWithWeights) {
  config::Config cfg;
  cfg.providers = {provider("a", {"m", "x"}, 3, 1), provider("b", {"m"}, 5, 2)};
  auto t = Table::build(cfg, {1, 1}, 1);
  const Route* r = t->find("m");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->strategy, Strategy::weighted);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].provider, 0u);
  EXPECT_EQ(r->targets[0].weight, 3u);
  EXPECT_EQ(r->targets[0].priority, 1u);
  EXPECT_EQ(r->targets[0].model, "");
  EXPECT_EQ(r->targets[1].provider, 1u);
  EXPECT_EQ(r->targets[1].weight, 5u);
  EXPECT_EQ(r->targets[1].priority, 2u);
  EXPECT_EQ(t->find("x")->targets.size(), 1u);
  EXPECT_EQ(t->find("nope"), nullptr);
}

TEST(RoutingTable, ExplicitRouteReplacesImplicit) {
  config::Config cfg;
  cfg.providers = {provider("a", {"m"}, 3, 1), provider("b", {"m"}, 5, 2)};
  config::RouteConfig rc;
  rc.model = "m";
  rc.strategy = Strategy::priority;
  rc.targets = {target("b", "m-large", 9), target("a")};
  rc.targets[1].priority = 0;
  rc.targets[1].priority_set = true;
  cfg.routes = {rc};
  auto t = Table::build(cfg, {1, 1}, 1);
  ASSERT_EQ(t->routes().size(), 1u);
  const Route* r = t->find("m");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->strategy, Strategy::priority);
  ASSERT_EQ(r->targets.size(), 2u);
  EXPECT_EQ(r->targets[0].provider, 1u);
  EXPECT_EQ(r->targets[0].model, "m-large");
  EXPECT_EQ(r->targets[0].weight, 9u);
  EXPECT_EQ(r->targets[0].priority, 2u);  // priority not set: the provider's
  EXPECT_EQ(r->targets[1].provider, 0u);
  EXPECT_EQ(r->targets[1].weight, 3u);    // weight not set: the provider's
  EXPECT_EQ(r->targets[1].priority, 0u);  // set explicitly to 0
  EXPECT_EQ(r->targets[1].first_channel, 0u);

  // A weight set to 0 on the route takes that provider out of it.
  cfg.routes[0].targets[1].weight = 0;
  cfg.routes[0].targets[1].weight_set = true;
  auto t0 = Table::build(cfg, {1, 1}, 2);
  EXPECT_EQ(t0->find("m")->targets[1].weight, 0u);
}

TEST(RoutingTable, TargetSlotsAreDense) {
  config::Config cfg;
  cfg.providers = {provider("a", {"m", "n"}), provider("b", {"m"})};
  auto t = Table::build(cfg, {1, 1}, 1);
  std::vector<uint32_t> slots;
  for (const Route& r : t->routes()) {
    for (const Target& tg : r.targets) slots.push_back(tg.slot);
  }
  EXPECT_EQ(slots, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(t->target_count(), 3u);
  EXPECT_EQ(t->provider_count(), 2u);
}

TEST(RoutingTable, ExactBeatsPatternAndLongestPatternWins) {
  config::Config cfg;
  cfg.providers = {provider("a", {"gpt-4o", "*"}), provider("b", {"gpt-4o*"}), provider("c", {"gpt-*"})};
  auto t = Table::build(cfg, {1, 1, 1}, 1);
  EXPECT_EQ(t->find("gpt-4o")->model, "gpt-4o");
  EXPECT_EQ(t->find("gpt-4o-mini")->model, "gpt-4o*");
  EXPECT_EQ(t->find("gpt-3.5")->model, "gpt-*");
  EXPECT_EQ(t->find("claude")->model, "*");
}

TEST(RoutingTable, MostLiteralPatternWinsThenFirstDeclared) {
  config::Config cfg;
  cfg.providers = {provider("a", {"*-mini"}), provider("b", {"gpt-*"})};
  config::RouteConfig rc;
  rc.model = "gpt*";
  rc.targets = {target("a")};
  cfg.routes = {rc};
  auto t = Table::build(cfg, {1, 1}, 1);
  EXPECT_EQ(t->find("gpt-mini")->model, "*-mini");  // 5 literal characters against 4 and 3
  EXPECT_EQ(t->find("gpt-4")->model, "gpt-*");      // implicit, but more specific than "gpt*"
  EXPECT_EQ(t->find("gptx")->model, "gpt*");

  config::Config tie;
  tie.providers = {provider("a", {"a*"}), provider("b", {"*b"})};
  auto t2 = Table::build(tie, {1, 1}, 1);
  EXPECT_EQ(t2->find("ab")->model, "a*");
  config::RouteConfig first;
  first.model = "*b";
  first.targets = {target("b")};
  tie.routes = {first};  // [[route]] entries count as declared before provider models
  auto t3 = Table::build(tie, {1, 1}, 1);
  EXPECT_EQ(t3->find("ab")->model, "*b");
}

TEST(RoutingTable, PublicModelsExactOnceInConfigOrder) {
  config::Config cfg;
  cfg.providers = {provider("a", {"m1", "m*", "m2"}), provider("b", {"m2", "m3"})};
  config::RouteConfig r1;
  r1.model = "alias";
  r1.targets = {target("a", "m1")};
  config::RouteConfig r2;
  r2.model = "m3";
  r2.targets = {target("b")};
  config::RouteConfig r3;
  r3.model = "z*";
  r3.targets = {target("b")};
  cfg.routes = {r1, r2, r3};
  auto t = Table::build(cfg, {1, 1}, 1);
  EXPECT_EQ(t->public_models(), (std::vector<std::string>{"alias", "m3", "m1", "m2"}));
  EXPECT_EQ(t->find("alias")->targets[0].model, "m1");
  EXPECT_EQ(t->find("zed")->model, "z*");
}

}  // namespace
}  // namespace aigw::routing
