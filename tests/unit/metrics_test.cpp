#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace aigw::metrics;

TEST(MetricsHistogram, BucketsAreInclusiveAndCountEverything) {
  Histogram h;
  h.observe(0.005);  // on a bound: that bucket (le is <=)
  h.observe(0.007);
  h.observe(-1);     // counts as 0
  h.observe(400);    // past the last bound: +Inf
  h.observe(std::nan(""));
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.counts[kBuckets.size()], 1u);
  EXPECT_EQ(h.count, 4u);
  EXPECT_DOUBLE_EQ(h.sum, 0.005 + 0.007 + 400);
}

TEST(MetricsWorker, CountsAfterKnownSequence) {
  WorkerMetrics w;
  RequestSeries* s = w.series("gpt-4o", "openai", "team-a");
  s->count(200);
  s->count(200);
  s->count(429);
  s->count(42);  // not an HTTP status: kept visible as 0
  s->add_tokens(10, 20);
  s->add_tokens(1, 2);
  s->observe_duration(0.3);
  s->observe_ttft(0.05);
  w.series("gpt-4o", "openai", "none")->observe_duration(1.5);  // same route series
  w.provider("openai")->count_error(UpstreamError::timeout);
  w.provider("openai")->count_attempt(AttemptResult::failover);
  w.key("team-a")->count_rate_limited(RateLimit::tpm);
  w.count_auth_failure(AuthFailure::unknown);
  w.connection_opened();
  w.connection_opened();
  w.connection_closed();
  w.stream_opened();

  Snapshot snap = merge({w.snapshot()});
  ASSERT_EQ(snap.requests.size(), 2u);
  const Snapshot::Request& r = snap.requests[1];  // sorted: key "none" < "team-a"
  EXPECT_EQ(r.key, "team-a");
  ASSERT_EQ(r.statuses.size(), 3u);
  EXPECT_EQ(r.statuses[0].status, 0);
  EXPECT_EQ(r.statuses[1].status, 200);
  EXPECT_EQ(r.statuses[1].count, 2u);
  EXPECT_EQ(r.statuses[2].status, 429);
  EXPECT_EQ(r.prompt_tokens, 11u);
  EXPECT_EQ(r.completion_tokens, 22u);
  ASSERT_EQ(snap.routes.size(), 1u);
  EXPECT_EQ(snap.routes[0].series.duration.count, 2u);
  EXPECT_EQ(snap.routes[0].series.ttft.count, 1u);
  ASSERT_EQ(snap.providers.size(), 1u);
  EXPECT_EQ(snap.providers[0].counts.errors[static_cast<size_t>(UpstreamError::timeout)], 1u);
  EXPECT_EQ(snap.providers[0].counts.attempts[static_cast<size_t>(AttemptResult::failover)], 1u);
  ASSERT_EQ(snap.keys.size(), 1u);
  EXPECT_EQ(snap.keys[0].counts.rate_limited[static_cast<size_t>(RateLimit::tpm)], 1u);
  EXPECT_EQ(snap.auth_failures[static_cast<size_t>(AuthFailure::unknown)], 1u);
  EXPECT_EQ(snap.active_connections, 1);
  EXPECT_EQ(snap.active_streams, 1);
}

TEST(MetricsWorker, SnapshotIsADeepCopy) {
  WorkerMetrics w;
  RequestSeries* s = w.series("m", "p", "k");
  s->count(200);
  Snapshot before = w.snapshot();
  s->count(200);
  EXPECT_EQ(before.requests[0].statuses[0].count, 1u);
  EXPECT_EQ(w.snapshot().requests[0].statuses[0].count, 2u);
}

TEST(MetricsWorker, SeriesHandlesStayValidAfterManyInserts) {
  WorkerMetrics w;
  RequestSeries* first = w.series("m", "p", "k");
  ProviderCounts* prov = w.provider("p");
  first->count(200);
  for (int i = 0; i < 20000; ++i) {  // many rehashes
    std::string n = "model-" + std::to_string(i);
    w.series(n, "p", "k")->count(200);
    w.provider(n);
  }
  EXPECT_EQ(w.series("m", "p", "k"), first);
  EXPECT_EQ(w.provider("p"), prov);
  first->count(200);
  first->observe_duration(1);
  Snapshot snap = merge({w.snapshot()});
  EXPECT_EQ(snap.requests.size(), 20001u);
  for (const auto& r : snap.requests) {
    if (r.model == "m") {
      EXPECT_EQ(r.statuses[0].count, 2u);
    }
  }
}

// Lookups go through a few remembered slots before the hash table: a slot
// is taken only for labels equal to its series', so a label buffer that
// holds another name by the next lookup (a reloaded config's) finds that
// name's series, and tuples sharing a slot each keep their own.
TEST(MetricsWorker, RecentLookupsAreCheckedByContent) {
  WorkerMetrics w;
  std::string model = "gpt-a1";
  RequestSeries* a = w.series(model, "p", "k");
  EXPECT_EQ(w.series(model, "p", "k"), a);
  model.replace(0, 5, "gpt-b");  // same buffer, same length and last byte
  RequestSeries* b = w.series(model, "p", "k");
  EXPECT_NE(b, a);
  EXPECT_EQ(w.series("gpt-a1", "p", "k"), a);
  EXPECT_EQ(w.series(model, "p", "k"), b);

  std::vector<RequestSeries*> seen;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      RequestSeries* s = w.series("m" + std::to_string(i % 10) + "x", "p" + std::to_string(i), "k");
      if (round == 0) {
        seen.push_back(s);
      } else {
        EXPECT_EQ(s, seen[static_cast<size_t>(i)]) << i;
      }
    }
  }
  std::set<RequestSeries*> distinct(seen.begin(), seen.end());
  EXPECT_EQ(distinct.size(), 100u);
  EXPECT_EQ(w.snapshot().requests.size(), 102u);
}

TEST(MetricsMerge, TwoWorkersSumByLabels) {
  WorkerMetrics a, b;
  a.series("m", "p", "k")->count(200);
  a.series("m", "p", "k")->add_tokens(5, 6);
  a.series("m", "p", "k")->observe_duration(0.2);
  b.series("m", "p", "k")->count(200);
  b.series("m", "p", "k")->count(500);
  b.series("m", "p", "k")->observe_duration(2);
  b.series("m", "q", "k")->count(200);
  a.provider("p")->count_error(UpstreamError::connect);
  b.provider("p")->count_error(UpstreamError::connect);
  a.connection_opened();
  b.connection_opened();
  b.stream_opened();
  Snapshot sa = a.snapshot(), sb = b.snapshot();
  sa.set_channel_state("p#0", ChannelState::closed);
  sb.set_channel_state("p#0", ChannelState::open);
  sa.set_channel_state("p#1", ChannelState::cooling);
  sb.set_channel_state("p#1", ChannelState::half_open);

  Snapshot m = merge({sa, sb});
  ASSERT_EQ(m.requests.size(), 2u);
  EXPECT_EQ(m.requests[0].provider, "p");
  ASSERT_EQ(m.requests[0].statuses.size(), 2u);
  EXPECT_EQ(m.requests[0].statuses[0].count, 2u);
  EXPECT_EQ(m.requests[0].statuses[1].status, 500);
  EXPECT_EQ(m.requests[0].prompt_tokens, 5u);
  EXPECT_EQ(m.requests[1].provider, "q");
  ASSERT_EQ(m.routes.size(), 2u);
  EXPECT_EQ(m.routes[0].series.duration.count, 2u);
  EXPECT_DOUBLE_EQ(m.routes[0].series.duration.sum, 2.2);
  EXPECT_EQ(m.providers[0].counts.errors[static_cast<size_t>(UpstreamError::connect)], 2u);
  EXPECT_EQ(m.active_connections, 2);
  EXPECT_EQ(m.active_streams, 1);
  ASSERT_EQ(m.channels.size(), 2u);
  EXPECT_EQ(m.channels[0].state, ChannelState::open);     // worst wins
  EXPECT_EQ(m.channels[1].state, ChannelState::cooling);
}

TEST(MetricsRender, ExactOutputForASmallCase) {
  WorkerMetrics w;
  RequestSeries* s = w.series("gpt-4o", "openai", "team-a");
  s->count(200);
  s->count(200);
  s->count(502);
  s->add_tokens(10, 20);
  s->observe_duration(0.3);
  s->observe_ttft(0.05);
  w.provider("openai")->count_attempt(AttemptResult::ok);
  w.provider("openai")->count_error(UpstreamError::timeout);
  w.provider("openai")->count_finish(FinishReason::length);
  w.key("team-a")->count_rate_limited(RateLimit::rpm);
  w.count_auth_failure(AuthFailure::missing);
  w.connection_opened();
  w.connection_opened();
  w.stream_opened();
  Snapshot snap = w.snapshot();
  snap.set_channel_state("openai#0", ChannelState::half_open);
  Info info;
  info.version = "0.1.0";
  info.plugin_generation = 3;
  info.config_reloads_ok = 1;

  std::string out;
  render({snap}, info, out);
  const char* expected = R"(# HELP aigw_build_info Build of this aigw process; always 1.
# TYPE aigw_build_info gauge
aigw_build_info{version="0.1.0"} 1
# HELP aigw_requests_total Requests answered, by route, provider, client key and HTTP status.
# TYPE aigw_requests_total counter
aigw_requests_total{model="gpt-4o",provider="openai",key="team-a",status="200"} 2
aigw_requests_total{model="gpt-4o",provider="openai",key="team-a",status="502"} 1
# HELP aigw_request_duration_seconds Time from the request head to the last byte of the response.
# TYPE aigw_request_duration_seconds histogram
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.005"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.01"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.025"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.05"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.1"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.25"} 0
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.5"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="1"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="2.5"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="5"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="10"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="30"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="60"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="120"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="300"} 1
aigw_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="+Inf"} 1
aigw_request_duration_seconds_sum{model="gpt-4o",provider="openai"} 0.3
aigw_request_duration_seconds_count{model="gpt-4o",provider="openai"} 1
# HELP aigw_time_to_first_token_seconds Time from the request head to the first token sent to the client.
# TYPE aigw_time_to_first_token_seconds histogram
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.005"} 0
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.01"} 0
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.025"} 0
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.05"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.1"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.25"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="0.5"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="1"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="2.5"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="5"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="10"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="30"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="60"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="120"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="300"} 1
aigw_time_to_first_token_seconds_bucket{model="gpt-4o",provider="openai",le="+Inf"} 1
aigw_time_to_first_token_seconds_sum{model="gpt-4o",provider="openai"} 0.05
aigw_time_to_first_token_seconds_count{model="gpt-4o",provider="openai"} 1
# HELP aigw_tokens_total Tokens reported by providers, by type.
# TYPE aigw_tokens_total counter
aigw_tokens_total{model="gpt-4o",provider="openai",key="team-a",type="prompt"} 10
aigw_tokens_total{model="gpt-4o",provider="openai",key="team-a",type="completion"} 20
# HELP aigw_attempts_total Upstream attempts, by provider and outcome.
# TYPE aigw_attempts_total counter
aigw_attempts_total{provider="openai",result="ok"} 1
aigw_attempts_total{provider="openai",result="failover"} 0
aigw_attempts_total{provider="openai",result="failed"} 0
# HELP aigw_upstream_errors_total Failed upstream attempts, by provider and kind.
# TYPE aigw_upstream_errors_total counter
aigw_upstream_errors_total{provider="openai",kind="connect"} 0
aigw_upstream_errors_total{provider="openai",kind="timeout"} 1
aigw_upstream_errors_total{provider="openai",kind="status_5xx"} 0
aigw_upstream_errors_total{provider="openai",kind="status_429"} 0
aigw_upstream_errors_total{provider="openai",kind="status_401"} 0
aigw_upstream_errors_total{provider="openai",kind="protocol"} 0
aigw_upstream_errors_total{provider="openai",kind="tls"} 0
aigw_upstream_errors_total{provider="openai",kind="interrupted"} 0
aigw_upstream_errors_total{provider="openai",kind="pool_full"} 0
# HELP aigw_finish_reasons_total Responses by why the model stopped, as the provider's plugin reported it.
# TYPE aigw_finish_reasons_total counter
aigw_finish_reasons_total{provider="openai",reason="unknown"} 0
aigw_finish_reasons_total{provider="openai",reason="stop"} 0
aigw_finish_reasons_total{provider="openai",reason="length"} 1
aigw_finish_reasons_total{provider="openai",reason="tool_calls"} 0
aigw_finish_reasons_total{provider="openai",reason="content_filter"} 0
aigw_finish_reasons_total{provider="openai",reason="error"} 0
# HELP aigw_rate_limited_total Requests refused by a client key's limit.
# TYPE aigw_rate_limited_total counter
aigw_rate_limited_total{key="team-a",limit="rpm"} 1
aigw_rate_limited_total{key="team-a",limit="tpm"} 0
aigw_rate_limited_total{key="team-a",limit="concurrent"} 0
aigw_rate_limited_total{key="team-a",limit="daily_tokens"} 0
aigw_rate_limited_total{key="team-a",limit="monthly_tokens"} 0
# HELP aigw_auth_failures_total Requests refused by authentication, by reason.
# TYPE aigw_auth_failures_total counter
aigw_auth_failures_total{reason="missing"} 1
aigw_auth_failures_total{reason="unknown"} 0
aigw_auth_failures_total{reason="model_not_allowed"} 0
# HELP aigw_channel_state Channel health: 0 closed, 1 open, 2 half_open, 3 key_disabled, 4 cooling.
# TYPE aigw_channel_state gauge
aigw_channel_state{channel="openai#0"} 2
# HELP aigw_connections_refused_total Client connections answered 503 and closed at accept, by the limit that was reached.
# TYPE aigw_connections_refused_total counter
aigw_connections_refused_total{reason="connection_limit"} 0
aigw_connections_refused_total{reason="fd_limit"} 0
# HELP aigw_active_connections Client connections open.
# TYPE aigw_active_connections gauge
aigw_active_connections 2
# HELP aigw_active_streams Streaming responses in progress.
# TYPE aigw_active_streams gauge
aigw_active_streams 1
# HELP aigw_access_log_dropped_lines_total Access-log lines dropped because the log destination fell behind.
# TYPE aigw_access_log_dropped_lines_total counter
aigw_access_log_dropped_lines_total 0
# HELP aigw_health_news_dropped_total Channel health messages to another worker dropped because its queue was full.
# TYPE aigw_health_news_dropped_total counter
aigw_health_news_dropped_total 0
# HELP aigw_plugin_generation Generation of the loaded plugin set.
# TYPE aigw_plugin_generation gauge
aigw_plugin_generation 3
# HELP aigw_config_reloads_total Configuration reloads, by result.
# TYPE aigw_config_reloads_total counter
aigw_config_reloads_total{result="ok"} 1
aigw_config_reloads_total{result="error"} 0
)";
  EXPECT_EQ(out, expected);
}

TEST(MetricsRender, LabelValuesAreEscaped) {
  std::string out;
  append_label_value("a\"b\\c\nd", out);
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd");
  out.clear();
  append_label_value("caf\xC3\xA9 \xFF x\xE2\x82", out);  // valid é, stray byte, cut sequence
  EXPECT_EQ(out, "caf\xC3\xA9 \xEF\xBF\xBD x\xEF\xBF\xBD\xEF\xBF\xBD");

  WorkerMetrics w;
  w.series("m\"1", "p\\2", "k\n3")->count(200);
  out.clear();
  render({w.snapshot()}, Info{}, out);
  EXPECT_NE(out.find("aigw_requests_total{model=\"m\\\"1\",provider=\"p\\\\2\",key=\"k\\n3\",status=\"200\"} 1\n"),
            std::string::npos);
}

// Every family once, declared by HELP then TYPE before its samples, and its
// samples contiguous: what the text format requires of an exposition.
TEST(MetricsRender, FamiliesAreWholeAndNotRepeated) {
  WorkerMetrics a, b;
  a.series("m", "p", "k")->count(200);
  b.series("n", "p", "k")->count(200);
  b.provider("q");
  std::string out;
  render({a.snapshot(), b.snapshot()}, Info{}, out);
  std::istringstream in(out);
  std::string line, current;
  std::set<std::string> seen;
  bool help_pending = false;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(name).second) << "repeated family " << name;
      current = name;
      help_pending = true;
    } else if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_TRUE(help_pending);
      EXPECT_EQ(line.substr(7, current.size() + 1), current + " ");
      help_pending = false;
    } else {
      ASSERT_FALSE(current.empty());
      EXPECT_EQ(line.rfind(current, 0), 0u) << line << " outside its family " << current;
    }
  }
  EXPECT_EQ(seen.size(), 18u);
}

bool have_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

TEST(MetricsRender, PromtoolAcceptsAFullExposition) {
  if (!have_promtool()) GTEST_SKIP() << "promtool not on PATH (Debian package prometheus)";
  std::vector<Snapshot> snaps;
  for (int worker = 0; worker < 2; ++worker) {
    WorkerMetrics w;
    for (const char* model : {"gpt-4o", "claude\"x", "llama\\3"}) {
      RequestSeries* s = w.series(model, "prov\nnewline", "key-" + std::to_string(worker));
      s->count(200);
      s->count(429);
      s->add_tokens(3, 4);
      s->observe_duration(0.7 * worker + 0.01);
      s->observe_ttft(1e9);  // +Inf bucket
    }
    w.series("none", "none", "none")->count(401);
    w.provider("prov\nnewline")->count_error(UpstreamError::tls);
    w.provider("prov\nnewline")->count_attempt(AttemptResult::failed);
    w.key("key-0")->count_rate_limited(RateLimit::monthly_tokens);
    w.count_auth_failure(AuthFailure::model_not_allowed);
    w.connection_opened();
    snaps.push_back(w.snapshot());
    snaps.back().set_channel_state("prov#0", ChannelState::key_disabled);
  }
  Info info;
  info.version = "0.1.0";
  info.config_reloads_error = 2;
  std::string out;
  render(snaps, info, out);

  FILE* p = popen("promtool check metrics", "w");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(std::fwrite(out.data(), 1, out.size(), p), out.size());
  int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
}

}  // namespace
