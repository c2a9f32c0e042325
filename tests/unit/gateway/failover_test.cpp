// src/gateway/failover.cpp (with the response paths of runtime.cpp):
// failover to another channel while nothing has reached the client, the
// attempt limit, rate-limit cooling, and the hold-back of a stream until its
// first content: the plugin's commit (ABI 1.2), or for a 1.1 plugin the
// host's sniffing of OpenAI chunk fields.
//
// gateway::Runtime runs here on tests/support/fake_gateway_host.h instead
// of a worker, serving a generation built in the test around a scripted
// direct-mode plugin: each provider's script says what its requests do
// (respond_start, emit, finish) and where they pause. A pause is a plugin
// timer, so the steps after it run from on_timer, inside a hook, as a real
// plugin's would; the test decides when timers fire, which lets it look at
// what the client has received between two steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "aigw_plugin.h"
#include "config/config.h"
#include "gateway/abi_host.h"
#include "gateway/runtime.h"
#include "http/request.h"
#include "http/response.h"
#include "plugin/generation.h"
#include "routing/table.h"
#include "support/fake_gateway_host.h"

namespace aigw::gateway {
namespace {

using test::FakeGatewayHost;

// --- the scripted plugin -----------------------------------------------------

struct Step {
  enum Kind { respond, emit, commit, finish, pause } kind;
  int32_t status = 200;            // respond
  std::string bytes;               // emit; finish: the message
  aigw_status result = AIGW_OK;    // finish
  std::vector<std::pair<std::string, std::string>> headers;  // respond: sent after content-type
};

Step respond(int32_t status = 200) { return {Step::respond, status, {}, AIGW_OK, {}}; }
Step emit(std::string bytes) { return {Step::emit, 0, std::move(bytes), AIGW_OK, {}}; }
Step finish(aigw_status st, std::string message = {}) { return {Step::finish, 0, std::move(message), st, {}}; }
Step pause() { return {Step::pause, 0, {}, AIGW_OK, {}}; }
Step commit() { return {Step::commit, 0, {}, AIGW_OK, {}}; }

using Script = std::vector<Step>;

// SSE events as the plugins write them: the role-only preamble carries no
// content (its "content" is empty); the others do.
const std::string kRoleOnly = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
std::string content(const std::string& text) {
  return "data: {\"choices\":[{\"delta\":{\"content\":\"" + text + "\"}}]}\n\n";
}
const std::string kDone = "data: [DONE]\n\n";

// One provider of the test generation: its script (by upstream key) and
// what happened to its requests.
struct TestProvider {
  std::string name;
  uint32_t keys = 1;
  uint32_t priority = 0;
  uint16_t abi_minor = AIGW_ABI_MINOR;  // 1: the host sniffs instead of waiting for commit
  std::function<Script(uint32_t key)> script;
  int requests = 0;                // request_new calls
  int destroyed = 0;               // request_destroy calls
  std::vector<uint32_t> key_used;  // key_index of each request
  std::vector<aigw_status> refused;  // host answers other than AIGW_OK, in order
  bool native_messages = false;      // serves the Messages API natively (ABI 1.3)
  std::vector<aigw_endpoint> endpoints;  // what each request was asked as
  std::vector<std::string> bodies;       // ... with which body
};

struct Ctx {
  TestProvider* provider;
  aigw_request* req;
  Script steps;
  size_t next = 0;
};

// Runs steps until a pause (a timer continues) or the end of the script.
void run(Ctx* c) {
  const aigw_host* host = host_table();
  while (c->next < c->steps.size()) {
    const Step& s = c->steps[c->next++];
    aigw_status st = AIGW_OK;
    switch (s.kind) {
      case Step::respond: {
        static const char kName[] = "content-type";
        static const char kValue[] = "text/event-stream";
        std::vector<aigw_plugin_header> h{{{kName, sizeof kName - 1}, {kValue, sizeof kValue - 1}}};
        for (const auto& [name, value] : s.headers) h.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
        st = host->respond_start(c->req, s.status, h.data(), h.size());
        break;
      }
      case Step::emit: {
        aigw_plugin_bytes b{reinterpret_cast<const uint8_t*>(s.bytes.data()), s.bytes.size()};
        st = host->emit(c->req, &b, 1);
        break;
      }
      case Step::commit:
        st = host->commit(c->req);
        break;
      case Step::finish:
        st = host->finish(c->req, s.result, {s.bytes.data(), s.bytes.size()});
        break;
      case Step::pause:
        st = host->timer_start(c->req, 1'000'000, 0);
        if (st == AIGW_OK) return;
        break;
    }
    if (st != AIGW_OK) c->provider->refused.push_back(st);
  }
}

aigw_status instance_new(void* config, const aigw_worker_info*, void** out, aigw_errbuf*) {
  *out = config;  // the TestProvider: nothing per worker
  return AIGW_OK;
}
void instance_destroy(void*) {}
aigw_status request_new(void* instance, aigw_request* req, const aigw_client_request* client, void** ctx_out,
                        aigw_errbuf*) {
  auto* p = static_cast<TestProvider*>(instance);
  ++p->requests;
  p->key_used.push_back(client->key_index);
  p->endpoints.push_back(client->endpoint);
  std::string& b = p->bodies.emplace_back();
  for (size_t i = 0; i < client->body_count; ++i) {
    b.append(reinterpret_cast<const char*>(client->body[i].ptr), client->body[i].len);
  }
  *ctx_out = new Ctx{p, req, p->script(client->key_index), 0};
  return AIGW_OK;
}
void request_destroy(void* ctx) {
  auto* c = static_cast<Ctx*>(ctx);
  ++c->provider->destroyed;
  delete c;
}
aigw_status request_start(void* ctx) {
  run(static_cast<Ctx*>(ctx));
  return AIGW_OK;
}
void on_timer(void* ctx, uint64_t) { run(static_cast<Ctx*>(ctx)); }

aigw_hooks make_hooks() {
  aigw_hooks h{};
  h.struct_size = sizeof h;
  h.mode = AIGW_MODE_DIRECT;
  h.instance_new = instance_new;
  h.instance_destroy = instance_destroy;
  h.request_new = request_new;
  h.request_destroy = request_destroy;
  h.request_start = request_start;
  h.on_timer = on_timer;
  return h;
}
const aigw_hooks kHooks = make_hooks();
const aigw_plugin_def kDef = {sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, AIGW_ABI_MINOR, AIGW_ABI_SIGNATURE,
                              "scripted", "test", 0, 0, &kHooks};
const aigw_plugin_def kDef11 = {sizeof(aigw_plugin_def), AIGW_ABI_MAJOR, 1, AIGW_ABI_SIGNATURE,
                                "scripted", "test", 0, 0, &kHooks};

// --- the fixture -------------------------------------------------------------

class Failover : public ::testing::Test {
 protected:
  // Installs a generation serving model "m" from these providers, by
  // priority (the lowest first), so that the order of attempts is known.
  void install(std::vector<TestProvider*> providers, uint64_t max_attempts = 3) {
    auto cfg = std::make_shared<config::Config>();
    cfg->routing.max_attempts = max_attempts;
    config::RouteConfig route;
    route.model = "m";
    route.strategy = config::Strategy::priority;
    std::vector<uint32_t> keys;
    for (TestProvider* p : providers) {
      config::ProviderConfig pc;
      pc.name = p->name;
      pc.plugin = "scripted";
      pc.models = {"m"};
      pc.priority = p->priority;
      cfg->providers.push_back(pc);
      config::RouteTarget t;
      t.provider = p->name;
      route.targets.push_back(t);
      keys.push_back(p->keys);
    }
    cfg->routes = {route};
    auto gen = std::make_shared<plugin::Generation>();
    gen->id = 1;
    gen->config = cfg;
    for (size_t i = 0; i < providers.size(); ++i) {
      plugin::Provider& prov = gen->providers.emplace_back();
      prov.config = &cfg->providers[i];
      prov.def = providers[i]->abi_minor < 2 ? &kDef11 : &kDef;
      prov.hooks = &kHooks;
      prov.host_plugin.name = kDef.name;
      prov.plugin_config = providers[i];
      prov.keys = providers[i]->keys;
      if (providers[i]->native_messages) prov.native_dialects = AIGW_DIALECT_ANTHROPIC_MESSAGES;
    }
    gen->routes = routing::Table::build(*cfg, keys, gen->id);
    std::string why;
    ASSERT_TRUE(rt.install(gen, why)) << why;
  }

  // A client request on connection `conn`, as the worker starts it.
  uint32_t send(uint32_t conn, bool stream) {
    body = std::string("{\"model\":\"m\",\"stream\":") + (stream ? "true" : "false") +
           ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    http::RequestHead head;
    head.method_text = "POST";
    head.method = http::Method::post;
    head.target = head.path = "/v1/chat/completions";
    head.headers.push_back({"content-type", "application/json"});
    http::ResponseMeta meta;
    meta.date = host.date();
    RequestContext rc;
    rc.request_id = "req-1";
    uint32_t slot = rt.admit(conn, 1, head, body, AIGW_ENDPOINT_CHAT_COMPLETIONS, meta, rc);
    if (slot != Runtime::kNone) rt.begin(slot);
    rt.run_deferred();  // as the worker does at the end of each loop turn
    return slot;
  }

  // A Messages API request (POST /v1/messages), as the worker starts it:
  // Anthropic's error shape from the start.
  uint32_t send_messages(uint32_t conn, bool stream, std::string model = "m") {
    body = "{\"model\":\"" + model + "\",\"max_tokens\":20," + (stream ? "\"stream\":true," : "") +
           "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    http::RequestHead head;
    head.method_text = "POST";
    head.method = http::Method::post;
    head.target = head.path = "/v1/messages";
    head.headers.push_back({"content-type", "application/json"});
    http::ResponseMeta meta;
    meta.date = host.date();
    meta.errors = http::ErrorShape::anthropic;
    RequestContext rc;
    rc.request_id = "req-m";
    uint32_t slot = rt.admit(conn, 1, head, body, AIGW_ENDPOINT_MESSAGES, meta, rc);
    if (slot != Runtime::kNone) rt.begin(slot);
    rt.run_deferred();
    return slot;
  }

  // Fires the timers due first (one paused step per request), then what
  // the worker runs at the end of that loop turn.
  void step() {
    if (uint64_t t = rt.next_timer_ns(); t != 0) rt.run_timers(t);
    rt.run_deferred();
  }
  // Steps until nothing is left to run.
  void settle() {
    for (int i = 0; i < 100 && (rt.next_timer_ns() != 0 || rt.has_deferred()); ++i) step();
    ASSERT_EQ(rt.next_timer_ns(), 0u);
  }

  // Providers are declared before the runtime: requests still live when a
  // test ends are destroyed by its destructor, which calls their plugin.
  TestProvider& add(std::string name, uint32_t keys, uint32_t priority, std::function<Script(uint32_t)> script) {
    TestProvider& p = providers_.emplace_back();
    p.name = std::move(name);
    p.keys = keys;
    p.priority = priority;
    p.script = std::move(script);
    return p;
  }
  std::deque<TestProvider> providers_;
  FakeGatewayHost host;
  Runtime rt{host};
  std::string body;
};

// --- failover ----------------------------------------------------------------

TEST_F(Failover, FirstChannelFailingBeforeContentIsReplacedBySecond) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), finish(AIGW_ERR_INTERNAL, "boom")};
                 });
  TestProvider& b = add("b", 1, 1, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), emit(content("hello")), emit(kDone), finish(AIGW_OK)};
                 });
  install({&a, &b});
  ASSERT_NE(send(7, true), Runtime::kNone);
  settle();

  EXPECT_EQ(a.requests, 1);
  EXPECT_EQ(a.destroyed, 1);  // the failed attempt was torn down
  EXPECT_EQ(b.requests, 1);
  EXPECT_EQ(b.destroyed, 1);
  FakeGatewayHost::Answer ans = host.answer(7);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "2");
  EXPECT_EQ(ans.header("x-aigw-provider"), "b");
  EXPECT_EQ(ans.body, kRoleOnly + content("hello") + kDone);  // b's stream alone, once
  EXPECT_EQ(ans.rest, "");
  EXPECT_EQ(ans.body.find("boom"), std::string::npos);
  ASSERT_TRUE(host.outputs.back().done);
  ASSERT_EQ(host.records.size(), 1u);
  EXPECT_EQ(host.records[0].status, 200);
  EXPECT_EQ(host.records[0].attempts, 2u);
  EXPECT_EQ(host.records[0].provider, "b");
}

TEST_F(Failover, NonStreamFailureBeforeAnyResponseFailsOver) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) { return Script{finish(AIGW_ERR_INTERNAL)}; });
  TestProvider& b = add("b", 1, 1, [](uint32_t) {
                   return Script{respond(), emit("{\"ok\":"), emit("true}"), finish(AIGW_OK)};
                 });
  install({&a, &b});
  send(3, false);
  settle();

  FakeGatewayHost::Answer ans = host.answer(3);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "2");
  EXPECT_EQ(ans.body, "{\"ok\":true}");
  EXPECT_EQ(ans.rest, "");
  EXPECT_EQ(host.outputs.size(), 1u);  // a buffered answer goes out whole
}

TEST_F(Failover, NoFailoverOnceContentReachedTheClient) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(content("Hel")), commit(), pause(), finish(AIGW_ERR_INTERNAL, "cut")};
                 });
  TestProvider& b = add("b", 1, 1, [](uint32_t) { return Script{respond(), emit(content("x")), finish(AIGW_OK)}; });
  install({&a, &b});
  send(1, true);
  ASSERT_EQ(host.outputs.size(), 1u);  // committed: head and first event are out
  EXPECT_FALSE(host.outputs[0].done);
  settle();

  EXPECT_EQ(b.requests, 0);
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "1");
  EXPECT_EQ(ans.header("x-aigw-provider"), "a");
  // The stream ends with an error event, not a silent cut or a second head.
  EXPECT_EQ(ans.body.rfind(content("Hel"), 0), 0u);
  EXPECT_NE(ans.body.find("data: {\"error\":"), std::string::npos);
  EXPECT_NE(ans.body.find("cut"), std::string::npos);
  EXPECT_EQ(ans.rest, "");
  ASSERT_EQ(host.records.size(), 1u);
  EXPECT_EQ(host.records[0].attempts, 1u);
  EXPECT_EQ(host.records[0].status, 502);
}

TEST_F(Failover, MaxAttemptsIsRespected) {
  auto fails = [](uint32_t) { return Script{finish(AIGW_ERR_INTERNAL, "down")}; };
  TestProvider& a = add("a", 1, 0, fails);
  TestProvider& b = add("b", 1, 1, fails);
  // c would answer: only the limit keeps it from being tried.
  TestProvider& c = add("c", 1, 2, [](uint32_t) { return Script{respond(), emit("{}"), finish(AIGW_OK)}; });
  install({&a, &b, &c}, /*max_attempts=*/2);
  send(1, false);
  settle();

  EXPECT_EQ(a.requests, 1);
  EXPECT_EQ(b.requests, 1);
  EXPECT_EQ(c.requests, 0);
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 502);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "2");
  EXPECT_EQ(ans.header("x-aigw-provider"), "b");
  EXPECT_NE(ans.body.find("provider_error"), std::string::npos);
  EXPECT_EQ(ans.rest, "");
}

TEST_F(Failover, ThirdChannelAnswersWhenAttemptsAllowIt) {
  auto fails = [](uint32_t) { return Script{finish(AIGW_ERR_INTERNAL, "down")}; };
  TestProvider& a = add("a", 1, 0, fails);
  TestProvider& b = add("b", 1, 1, fails);
  TestProvider& c = add("c", 1, 2, [](uint32_t) { return Script{respond(), emit("{}"), finish(AIGW_OK)}; });
  install({&a, &b, &c}, /*max_attempts=*/3);
  send(1, false);
  settle();

  EXPECT_EQ(c.requests, 1);
  FakeGatewayHost::Answer ans = host.answer(1);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "3");
}

TEST_F(Failover, RateLimitedKeyCoolsAndLaterRequestsAvoidIt) {
  // One provider, two upstream keys (two channels): key 0 answers 429.
  TestProvider& a = add("a", 2, 0, [](uint32_t key) {
                   if (key == 0) return Script{finish(AIGW_ERR_LIMIT, "slow down")};
                   return Script{respond(), emit("{}"), finish(AIGW_OK)};
                 });
  install({&a});
  // Weighted between the two keys: send until key 0 has had its turn.
  uint32_t conn = 0;
  while (a.key_used.empty() || a.key_used.front() != 0) {
    ASSERT_LT(conn, 64u) << "key 0 never picked";
    a.key_used.clear();
    send(++conn, false);
    settle();
  }
  // That request failed over to key 1 and was answered.
  FakeGatewayHost::Answer ans = host.answer(conn);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-attempts"), "2");
  EXPECT_EQ(a.key_used, (std::vector<uint32_t>{0, 1}));
  ASSERT_EQ(host.news.size(), 1u);
  EXPECT_EQ(host.news[0].kind, routing::News::Kind::rate_limited);
  EXPECT_EQ(host.news[0].channel, 0u);  // "a#0"
  EXPECT_GT(host.news[0].until_ns, 0);

  // Key 0 is cooling: every later request goes to key 1 at once.
  a.key_used.clear();
  for (int i = 0; i < 20; ++i) {
    send(++conn, false);
    settle();
    EXPECT_EQ(host.answer(conn).header("x-aigw-attempts"), "1");
  }
  EXPECT_EQ(a.key_used, std::vector<uint32_t>(20, 1));
}

TEST_F(Failover, RateLimitedOnlyChannelAnswers429AndAdmissionRefusesWhileCooling) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) { return Script{finish(AIGW_ERR_LIMIT, "slow down")}; });
  install({&a});
  send(1, false);
  settle();
  FakeGatewayHost::Answer first = host.answer(1);
  EXPECT_EQ(first.status, 429);
  EXPECT_EQ(first.header("x-aigw-attempts"), "1");

  // Cooling: refused at admission, with when to come back, and the
  // plugin is not asked again.
  EXPECT_EQ(send(2, false), Runtime::kNone);
  FakeGatewayHost::Answer second = host.answer(2);
  EXPECT_EQ(second.status, 429);
  EXPECT_NE(second.header("retry-after"), "");
  EXPECT_EQ(a.requests, 1);
}

// --- hold-back ---------------------------------------------------------------

TEST_F(Failover, BytesBeforeCommitAreHeldThenSentTogether) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), emit(": keep-alive\n\n"), pause(),
                                 emit(content("hi")), commit(), pause(), emit(kDone), finish(AIGW_OK)};
                 });
  install({&a});
  send(1, true);
  EXPECT_TRUE(host.outputs.empty());  // head and preamble held back

  step();
  ASSERT_EQ(host.outputs.size(), 1u);  // one output: head + held bytes + the content event
  const std::string& first = host.outputs[0].bytes;
  EXPECT_EQ(first.rfind("HTTP/1.1 200", 0), 0u);
  FakeGatewayHost::Answer partial = host.answer(1);
  EXPECT_TRUE(partial.parsed);
  EXPECT_FALSE(partial.complete);
  EXPECT_EQ(partial.body, kRoleOnly + ": keep-alive\n\n" + content("hi"));

  settle();
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.body, kRoleOnly + ": keep-alive\n\n" + content("hi") + kDone);
  EXPECT_EQ(ans.rest, "");
}

// A plugin's response headers reach the client only when they cannot end
// their line or change the framing: names with a control byte, space,
// colon or DEL, values with CR, LF or NUL, and the framing headers the host
// owns are dropped; the rest go out as given.
TEST_F(Failover, PluginHeadersThatCouldSplitTheResponseAreDropped) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
    Step r = respond();
    r.headers = {{"x-kept", "plain value\twith a tab"},
                 {"x-name\r\nx-injected", "1"},
                 {"x-value", "a\r\nx-injected: 1"},
                 {"x-lf", "a\nb"},
                 {std::string("x-nul", 5), std::string("a\0b", 3)},
                 {std::string("x-\0name", 7), "v"},
                 {"x-tab\tname", "v"},
                 {"x space", "v"},
                 {"x:colon", "v"},
                 {"", "empty name"},
                 {"Transfer-Encoding", "chunked"},
                 {"content-length", "5"},
                 {"x-also-kept", "caf\xc3\xa9"}};
    return Script{r, emit(content("hi")), emit(kDone), finish(AIGW_OK)};
  });
  install({&a});
  send(1, true);
  settle();
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.body, content("hi") + kDone);
  EXPECT_EQ(ans.header("x-kept"), "plain value\twith a tab");
  EXPECT_EQ(ans.header("x-also-kept"), "caf\xc3\xa9");
  EXPECT_EQ(ans.header("content-length"), "");
  EXPECT_EQ(ans.header("x-injected"), "");
  for (const auto& [name, value] : ans.headers) {
    EXPECT_TRUE(name != "x-value" && name != "x-lf" && name.find("x-nul") == std::string::npos &&
                name.find("name") == std::string::npos && name.find("x space") == std::string::npos &&
                name.find("colon") == std::string::npos)
        << name << ": " << value;
  }
  int transfer_encodings = 0;
  for (const auto& h : ans.headers) transfer_encodings += http::iequals(h.first, "transfer-encoding");
  EXPECT_EQ(transfer_encodings, 1) << "only the host's own";
}

TEST_F(Failover, HeldBytesBeyondTheCapAreCommittedWithoutContent) {
  const std::string comment = ": " + std::string(40 * 1024, 'x') + "\n\n";
  TestProvider& a = add("a", 1, 0, [comment](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), emit(comment), pause(), emit(comment), pause(),
                                 finish(AIGW_ERR_INTERNAL, "late")};
                 });
  TestProvider& b = add("b", 1, 1, [](uint32_t) { return Script{respond(), emit(content("b")), finish(AIGW_OK)}; });
  install({&a, &b});
  send(1, true);
  EXPECT_TRUE(host.outputs.empty());  // ~40 KiB: still under the cap

  step();
  ASSERT_EQ(host.outputs.size(), 1u);  // past the cap: out, though no content came
  FakeGatewayHost::Answer partial = host.answer(1);
  EXPECT_EQ(partial.status, 200);
  EXPECT_EQ(partial.body, kRoleOnly + comment + comment);

  // Committed, so the failure that follows cannot fail over any more.
  settle();
  EXPECT_EQ(b.requests, 0);
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_NE(ans.body.find("data: {\"error\":"), std::string::npos);
  EXPECT_EQ(ans.rest, "");
}

TEST_F(Failover, FinishBeforeContentGivesAnErrorAnswerNotAHalfStream) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), pause(), finish(AIGW_ERR_INTERNAL, "gone")};
                 });
  install({&a});  // nowhere to fail over to
  send(1, true);
  settle();

  ASSERT_EQ(host.outputs.size(), 1u);
  EXPECT_TRUE(host.outputs[0].done);
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 502);
  EXPECT_EQ(ans.header("transfer-encoding"), "");
  EXPECT_NE(ans.body.find("gone"), std::string::npos);
  EXPECT_EQ(ans.body.find("assistant"), std::string::npos);  // the held preamble was dropped
  EXPECT_EQ(ans.rest, "");
  ASSERT_EQ(host.records.size(), 1u);
  EXPECT_EQ(host.records[0].status, 502);
}

TEST_F(Failover, OldAttemptIsClosedToThePluginAfterFailover) {
  // The failed attempt's hook goes on calling the host after its finish:
  // those calls are refused and nothing of them reaches the client.
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), finish(AIGW_ERR_INTERNAL), emit(content("stale"))};
                 });
  TestProvider& b = add("b", 1, 1, [](uint32_t) { return Script{respond(), emit(content("fresh")), finish(AIGW_OK)}; });
  install({&a, &b});
  send(1, true);
  settle();

  EXPECT_EQ(a.refused, (std::vector<aigw_status>{AIGW_ERR_CLOSED}));
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.body, content("fresh"));
}

TEST_F(Failover, A12PluginsContentIsNotSniffedOnlyItsCommitSendsIt) {
  // Any dialect: a 1.2 plugin's bytes are held until it commits, even when
  // they look like OpenAI content.
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(content("looks like content")), pause(),
                                 emit("event: content_block_delta\ndata: {}\n\n"), commit(), pause(),
                                 finish(AIGW_OK)};
                 });
  install({&a});
  send(1, true);
  EXPECT_TRUE(host.outputs.empty());  // not sniffed
  step();
  ASSERT_EQ(host.outputs.size(), 1u);  // the commit: head and both events at once
  EXPECT_EQ(host.answer(1).body, content("looks like content") + "event: content_block_delta\ndata: {}\n\n");
  settle();
  EXPECT_TRUE(host.answer(1).complete);
  EXPECT_TRUE(a.refused.empty());
}

TEST_F(Failover, A11PluginsStreamIsSniffedForTheFirstContent) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), pause(), emit(content("hi")), pause(),
                                 emit(kDone), finish(AIGW_OK)};
                 });
  a.abi_minor = 1;
  install({&a});
  send(1, true);
  EXPECT_TRUE(host.outputs.empty());  // the role chunk is not content
  step();
  ASSERT_EQ(host.outputs.size(), 1u);  // the content event, found by sniffing
  EXPECT_EQ(host.answer(1).body, kRoleOnly + content("hi"));
  settle();
  EXPECT_EQ(host.answer(1).body, kRoleOnly + content("hi") + kDone);
}

TEST_F(Failover, CommitAnswers) {
  // Before respond_start: invalid. Twice: still OK. Not a stream: OK and
  // nothing sent before finish. After finish: closed.
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{commit(), respond(), emit(content("x")), commit(), commit(), finish(AIGW_OK),
                                 commit()};
                 });
  install({&a});
  send(1, true);
  settle();
  EXPECT_EQ(a.refused, (std::vector<aigw_status>{AIGW_ERR_INVALID, AIGW_ERR_CLOSED}));
  EXPECT_TRUE(host.answer(1).complete);

  TestProvider& b = add("b", 1, 0, [](uint32_t) {
                   return Script{respond(), emit("{\"ok\":"), commit(), pause(), emit("true}"), finish(AIGW_OK)};
                 });
  install({&b});
  send(2, false);
  EXPECT_TRUE(host.outputs_for(2).empty());  // a whole answer waits for finish
  settle();
  EXPECT_TRUE(b.refused.empty());
  EXPECT_EQ(host.answer(2).body, "{\"ok\":true}");
}

// --- the Messages API (messages_api.cpp) ---------------------------------------

// Anthropic events of an answer, in order: ("message_start", ...).
std::vector<std::string> event_names(const std::string& body) {
  std::vector<std::string> out;
  for (size_t at = body.find("event: "); at != std::string::npos; at = body.find("event: ", at + 1)) {
    size_t end = body.find('\n', at);
    out.push_back(body.substr(at + 7, end - at - 7));
  }
  return out;
}

TEST_F(Failover, MessagesFailOverFromANativeProviderToATranslatedOne) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) { return Script{finish(AIGW_ERR_INTERNAL, "overloaded")}; });
  a.native_messages = true;
  TestProvider& b = add("b", 1, 1, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), emit(content("hello")), commit(), emit(kDone),
                                 finish(AIGW_OK)};
                 });
  install({&a, &b});
  ASSERT_NE(send_messages(5, true), Runtime::kNone);
  settle();

  // a got the client's own bytes; b the Chat Completions translation.
  ASSERT_EQ(a.endpoints.size(), 1u);
  EXPECT_EQ(a.endpoints[0], AIGW_ENDPOINT_MESSAGES);
  EXPECT_EQ(a.bodies[0], body);
  ASSERT_EQ(b.endpoints.size(), 1u);
  EXPECT_EQ(b.endpoints[0], AIGW_ENDPOINT_CHAT_COMPLETIONS);
  EXPECT_NE(b.bodies[0].find("\"stream_options\":{\"include_usage\":true}"), std::string::npos) << b.bodies[0];
  FakeGatewayHost::Answer ans = host.answer(5);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("x-aigw-provider"), "b");
  std::vector<std::string> names = event_names(ans.body);
  ASSERT_GE(names.size(), 6u) << ans.body;
  EXPECT_EQ(names.front(), "message_start");
  EXPECT_EQ(std::vector<std::string>(names.end() - 3, names.end()),
            (std::vector<std::string>{"content_block_stop", "message_delta", "message_stop"}));
  EXPECT_NE(ans.body.find("\"text_delta\",\"text\":\"hello\""), std::string::npos) << ans.body;
  EXPECT_EQ(ans.body.find("overloaded"), std::string::npos);  // a's failure never reached the client
  EXPECT_EQ(ans.body.find("data: {\"choices\""), std::string::npos);  // no OpenAI chunk leaked
}

TEST_F(Failover, MessagesNativeAnswerGoesBackUnchanged) {
  const std::string events =
      "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\"}\n\n";
  TestProvider& a = add("a", 1, 0, [&](uint32_t) {
                   return Script{respond(), emit(events), commit(), finish(AIGW_OK)};
                 });
  a.native_messages = true;
  install({&a});
  send_messages(2, true);
  settle();
  EXPECT_EQ(host.answer(2).body, events);
}

TEST_F(Failover, MessagesErrorAfterContentIsAnAnthropicErrorEvent) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit(kRoleOnly), emit(content("Hel")), commit(), pause(),
                                 finish(AIGW_ERR_INTERNAL, "cut short")};
                 });
  install({&a});
  send_messages(1, true);
  settle();
  FakeGatewayHost::Answer ans = host.answer(1);
  ASSERT_TRUE(ans.complete);
  std::vector<std::string> names = event_names(ans.body);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "error") << ans.body;
  EXPECT_EQ(std::count(names.begin(), names.end(), "message_stop"), 0);
  EXPECT_NE(ans.body.find("cut short"), std::string::npos);
  EXPECT_EQ(ans.body.find("data: {\"error\""), std::string::npos);  // not OpenAI's error event
}

TEST_F(Failover, MessagesProviderErrorToAStreamIsSentWholeInAnthropicShape) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(429), emit("{\"error\":{\"message\":\"slow down\",\"type\":\"requests\"}}"),
                                 commit(), finish(AIGW_OK)};
                 });
  install({&a});
  send_messages(3, true);
  settle();
  FakeGatewayHost::Answer ans = host.answer(3);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 429);
  EXPECT_EQ(ans.header("content-type"), "application/json");
  EXPECT_EQ(ans.header("transfer-encoding"), "");  // whole, with a length
  EXPECT_NE(ans.body.find("\"type\":\"error\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("\"rate_limit_error\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("slow down"), std::string::npos);
}

TEST_F(Failover, MessagesWholeAnswerIsTranslated) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) {
                   return Script{respond(), emit("{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"message\":"
                                                 "{\"role\":\"assistant\",\"content\":\"hi there\"},"
                                                 "\"finish_reason\":\"length\"}],\"usage\":"
                                                 "{\"prompt_tokens\":4,\"completion_tokens\":2}}"),
                                 finish(AIGW_OK)};
                 });
  install({&a});
  send_messages(4, false);
  settle();
  FakeGatewayHost::Answer ans = host.answer(4);
  ASSERT_TRUE(ans.complete);
  EXPECT_EQ(ans.status, 200);
  EXPECT_EQ(ans.header("content-type"), "application/json");
  EXPECT_NE(ans.body.find("\"type\":\"message\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("\"stop_reason\":\"max_tokens\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("\"text\":\"hi there\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("\"model\":\"m\""), std::string::npos) << ans.body;
}

TEST_F(Failover, MessagesUnreadableAnswerIsA502InAnthropicShape) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) { return Script{respond(), emit("not json"), finish(AIGW_OK)}; });
  install({&a});
  send_messages(6, false);
  settle();
  FakeGatewayHost::Answer ans = host.answer(6);
  EXPECT_EQ(ans.status, 502);
  EXPECT_NE(ans.body.find("\"api_error\""), std::string::npos) << ans.body;
  ASSERT_EQ(host.records.size(), 1u);
  EXPECT_EQ(host.records[0].status, 502);
}

TEST_F(Failover, MessagesRefusalsAndUntranslatableRequestsInAnthropicShape) {
  TestProvider& a = add("a", 1, 0, [](uint32_t) { return Script{finish(AIGW_OK)}; });
  install({&a});
  send_messages(8, false, "nope");
  FakeGatewayHost::Answer ans = host.answer(8);
  EXPECT_EQ(ans.status, 404);
  EXPECT_NE(ans.body.find("\"not_found_error\""), std::string::npos) << ans.body;

  // No max_tokens: the translation refuses it before any provider is asked.
  http::RequestHead head;
  head.method_text = "POST";
  head.method = http::Method::post;
  head.target = head.path = "/v1/messages";
  head.headers.push_back({"content-type", "application/json"});
  http::ResponseMeta meta;
  meta.date = host.date();
  meta.errors = http::ErrorShape::anthropic;
  RequestContext rc;
  body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  uint32_t slot = rt.admit(9, 1, head, body, AIGW_ENDPOINT_MESSAGES, meta, rc);
  ASSERT_NE(slot, Runtime::kNone);
  rt.begin(slot);
  settle();
  ans = host.answer(9);
  EXPECT_EQ(ans.status, 400);
  EXPECT_NE(ans.body.find("\"invalid_request_error\""), std::string::npos) << ans.body;
  EXPECT_NE(ans.body.find("max_tokens"), std::string::npos) << ans.body;
  EXPECT_EQ(a.requests, 0);
}

}  // namespace
}  // namespace aigw::gateway
