// Per-worker channel health: circuit breakers, disabled keys, rate-limit
// cooldowns, and the choice of a channel for each attempt.
//
// One Health per worker thread, used by that thread only, so nothing here is
// atomic or locked. Workers keep each other informed by passing News values
// (the transport is the caller's): whenever success/failure/probe_result
// return true, post the News to the other workers, which apply() it.
// All times are CLOCK_MONOTONIC nanoseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "routing/table.h"

namespace aigw::routing {

// A channel's last failure, for reports: the Failure kinds, and a response
// cut short after a good head (completed(ok = false)).
enum class LastError : uint8_t { none, connect, timeout, server_error, rate_limited, key_invalid, cut };

enum class Failure : uint8_t {
  connect,       // breaker failure
  timeout,       // breaker failure
  server_error,  // breaker failure
  rate_limited,  // cools the channel; not a breaker failure
  key_invalid,   // disables the key; not a breaker failure
};

struct News {
  uint64_t table_id;  // ignored by a worker on another table
  uint32_t channel;
  enum class Kind : uint8_t {
    opened,        // breaker open until until_ns
    closed,        // breaker closed at until_ns (the time of the close)
    key_disabled,
    key_enabled,   // the key worked again: re-enabled and breaker closed, at until_ns
    rate_limited,  // cooling until until_ns
  } kind;
  int64_t until_ns;
};

struct Pick {
  int32_t target = -1;   // index into Route::targets
  int32_t channel = -1;  // index into Table::channels()
  enum class None : uint8_t {
    none,          // a channel was picked
    all_tried,     // every channel of the route is in `tried`
    all_open,      // breakers open (or a half-open trial is already in flight)
    all_cooling,   // rate limited: retry_at_ns is the earliest end of a cooldown
    all_disabled,  // every untried key is disabled (or every target has weight 0)
  } why = None::none;
  int64_t retry_at_ns = 0;  // all_cooling; all_open: earliest breaker cooldown end (0: unknown)
};

class Health {
 public:
  Health(std::shared_ptr<const Table> table, const config::RoutingConfig& cfg, uint64_t seed);

  const Table& table() const { return *table_; }

  // Chooses a channel of `route`, skipping the channels in tried[0..n).
  // Picking a channel whose breaker cooldown has ended claims its half-open
  // trial. Does not allocate. A route that is not from table() gets
  // all_disabled.
  Pick pick(const Route& route, int64_t now_ns, const uint32_t* tried, size_t n);

  void begin(uint32_t channel);  // an attempt starts
  // The attempt got a good first byte / response. True (and *news filled)
  // when peers must hear: a half-open trial closed the breaker, or a disabled
  // key worked again. ttfb_ns < 0: no latency sample.
  bool success(uint32_t channel, int64_t now_ns, int64_t ttfb_ns, News* news);
  // A success in two steps, for a response that arrives over time (an
  // upstream stream): first_byte when its head was good (ends the in-flight
  // count, takes the latency sample, closes a half-open trial or re-enables
  // the key, with News as success gives), then completed when it ended.
  // completed(ok = false) is a response cut short after a good head: it
  // counts toward the breaker like a server error. A client that leaves in
  // between gets neither.
  bool first_byte(uint32_t channel, int64_t now_ns, int64_t ttfb_ns, News* news);
  bool completed(uint32_t channel, bool ok, int64_t now_ns, News* news);
  // True (and *news filled) when the channel's state changed: breaker
  // opened, key disabled, rate-limit cooldown set or extended.
  // retry_after_ns > 0 overrides RoutingConfig::rate_limit_cooldown.
  bool failure(uint32_t channel, Failure f, int64_t now_ns, int64_t retry_after_ns, News* news);
  // The attempt ended with no verdict (client left): releases a half-open trial.
  void abandon(uint32_t channel);
  void apply(const News& n);
  // An active health probe: ok re-enables a disabled key (News key_enabled)
  // or closes an open breaker (News closed); !ok opens the breaker.
  bool probe_result(uint32_t channel, bool ok, int64_t now_ns, News* news);

  // {"worker":0,"channels":[{"channel":"openai#1","provider":"openai","key":1,
  //  "state":"closed|open|half_open|key_disabled","cooling_ms":0,"open_ms":0,
  //  "in_flight":0,"requests":N,"failures":N,"consecutive_failures":N,
  //  "ewma_ttfb_ms":1.5,"last_error":"timeout"|null,"last_error_ago_ms":N|null,
  //  "probe":"ok"|"failed"|null,"probe_ago_ms":N|null}, ...]}
  void write_json(std::string& out, unsigned worker_index, int64_t now_ns) const;

  // One channel's state in a word, for the aigw_channel_state metric.
  enum class View : uint8_t { closed, open, half_open, key_disabled, cooling };
  View view(uint32_t channel, int64_t now_ns) const;

 private:
  struct State {
    int64_t open_until = 0;    // breaker open while set; half-open once passed
    int64_t cool_until = 0;    // rate limited until
    int64_t closed_since = 0;  // for resetting `opens` after max_cooldown closed
    int64_t window_start = 0;
    uint64_t requests = 0, failures = 0;
    uint32_t in_flight = 0, consecutive = 0, opens = 0;
    uint32_t window_attempts = 0, window_failures = 0;
    double ewma_ttfb_ns = 0;
    bool open = false, trial = false, disabled = false, has_ttfb = false;
    // What an operator asks first about a failing channel (the dashboard,
    // /admin/providers): the kind and time of its last failure, and its
    // last active probe.
    int64_t last_error_at = 0, probe_at = 0;  // 0: none yet
    LastError last_error = LastError::none;
    bool probe_ok = false;
  };

  bool usable(uint32_t c, int64_t now, const uint32_t* tried, size_t n) const;
  bool target_usable(const Target& t, int64_t now, const uint32_t* tried, size_t n) const;
  int32_t choose_target(const Route& route, int64_t now, const uint32_t* tried, size_t n);
  Pick explain(const Route& route, int64_t now, const uint32_t* tried, size_t n) const;
  uint64_t next_random();
  uint64_t below(uint64_t bound);  // uniform in [0, bound)
  void refresh(uint32_t c);
  void done(uint32_t c);
  void count_in_window(State& s, int64_t now, bool failed);
  void open(uint32_t c, int64_t now, News* news);
  bool breaker_failure(uint32_t c, int64_t now, News* news);  // counts one; may open the breaker
  void close(uint32_t c, int64_t now);
  bool tell(News* news, uint32_t c, News::Kind k, int64_t until) const;

  std::shared_ptr<const Table> table_;
  int64_t failure_threshold_, min_requests_, window_ns_, cooldown_ns_, max_cooldown_ns_, rate_limit_ns_;
  double error_ratio_;
  uint64_t rng_;
  // Earliest time each channel may be picked, folding disabled keys,
  // cooldowns, open breakers and in-flight trials into one compare.
  std::vector<int64_t> ready_at_;
  std::vector<State> state_;
  std::vector<uint32_t> cursor_;           // next key to try, per Target::slot
  std::vector<uint32_t> provider_flight_;  // in flight per provider (a target's channels are its provider's)
  std::vector<double> provider_ttfb_;      // EWMA per provider; 0 until the first sample
};

}  // namespace aigw::routing
