// Vertex AI's OAuth2 access token for one service account: fetched and
// refreshed on a thread this object owns (started by start(), stopped and
// joined by the destructor: one per provider configuration, so a reload or
// a hot swap ends it with the configuration it belongs to). Workers read
// the current state through one atomic pointer, never a lock, and never
// wait for a refresh: without a usable token a request fails at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <mbedtls/pk.h>

#include "aigw_plugin.h"
#include "service_account.h"
#include "token_client.h"

namespace aigw::gemini_plugin {

// What workers read. Immutable once published; a newer one replaces it and
// the old one stays alive until the TokenSource goes (a worker may still be
// reading it), so a reader never sees freed memory.
struct AuthState {
  AuthState() = default;
  AuthState(const AuthState&) = delete;
  AuthState& operator=(const AuthState&) = delete;
  ~AuthState();  // wipes the header value
  // "Bearer <token>", empty when there is none.
  std::string authorization;
  // Monotonic (CLOCK_MONOTONIC, ns): the token is not sent after this, a
  // margin before Google's expiry.
  int64_t usable_until_ns = 0;
  // Why there is no usable token (the last refresh's failure), for the
  // error a request gets; never a secret.
  std::string last_error;
};

struct RefreshTiming {
  // Refresh when this share of the token's lifetime has passed (Google's
  // tokens last an hour: refresh after 48 minutes, leaving 12 for retries).
  double refresh_at = 0.8;
  // Retries after a failed refresh: doubling from `retry_min_ms` to
  // `retry_max_ms`.
  int64_t retry_min_ms = 1000;
  int64_t retry_max_ms = 30000;
  // Bound on one token request (connect, TLS, answer).
  int timeout_ms = 10000;
  // refresh_soon is honoured no sooner than this after a refresh: a burst
  // of 401s must not become a burst of token requests.
  int64_t nudge_gap_ms = 5000;
};

class TokenSource {
 public:
  TokenSource();
  ~TokenSource();  // stops and joins the thread; wipes every secret
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // Parses the key and the token_uri and prepares the client (control
  // thread, in config_new). False with a message naming what is wrong.
  bool init(const ServiceAccount& account, const std::string& ca_file, const RefreshTiming& timing,
            std::string& error);
  // Starts the refresher, which fetches the first token at once. `host` and
  // `plugin` are for log lines (host->log is callable from any thread).
  bool start(const aigw_host* host, aigw_host_plugin* plugin, std::string& error);

  // Any thread, lock-free: the current state (never null after init).
  const AuthState* current() const { return current_.load(std::memory_order_acquire); }
  // Any thread, lock-free: ask for a refresh now (Vertex said 401: the
  // token may have been revoked). Coalesces; never blocks.
  void refresh_soon();
  // How many token requests succeeded (tests, logs).
  uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

  // Signs one assertion for `now_s` (tests check it against the public key).
  bool make_assertion(int64_t now_s, std::string& jwt, std::string& error);

 private:
  void run();
  bool refresh_once(std::string& error, int64_t& lifetime_ms);
  void publish(std::unique_ptr<AuthState> state);
  // Waits up to `ms` or until stopped (false), or nudged by refresh_soon
  // when `nudge` (true, early).
  bool sleep_ms(int64_t ms, bool nudge);
  void log(aigw_log_level level, const std::string& message) const;

  std::string client_email_;
  std::string key_id_;
  std::string token_uri_text_;
  TokenUri token_uri_;
  RefreshTiming timing_;
  mbedtls_pk_context key_;
  TokenClient client_;

  const aigw_host* host_ = nullptr;
  aigw_host_plugin* plugin_ = nullptr;
  // eventfds. stop: the destructor's; it also aborts a token request in
  // flight. nudge: refresh_soon's; it only shortens a sleep (a request in
  // flight is the refresh it asks for).
  int stop_fd_ = -1;
  int nudge_fd_ = -1;
  bool nudged_ = false;  // a nudge came during a sleep that ignores them
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refreshes_{0};
  std::atomic<const AuthState*> current_{nullptr};
  // Every state ever published, owned here (refresher thread and
  // destructor only): one per refresh, a few dozen a day.
  std::vector<std::unique_ptr<AuthState>> states_;
  std::thread thread_;
};

}  // namespace aigw::gemini_plugin
