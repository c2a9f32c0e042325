#include "vertex_auth.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "aigw_plugin.hpp"
#include "jwt.h"
#include "token_exchange.h"

namespace aigw::gemini_plugin {
namespace {

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Google accepts an assertion for at most an hour; it is used at once, so a
// short life limits what a stolen one is worth.
constexpr int64_t kAssertionLifetimeS = 600;

}  // namespace

AuthState::~AuthState() { sdk::wipe(authorization); }

TokenSource::TokenSource() { mbedtls_pk_init(&key_); }

TokenSource::~TokenSource() {
  stopping_.store(true, std::memory_order_release);
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    // Wakes the refresher from its sleep and from any socket wait (the
    // token client polls this fd too), so joining takes no longer than
    // the name lookup in progress, if any.
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (nudge_fd_ >= 0) ::close(nudge_fd_);
  current_.store(nullptr, std::memory_order_release);
  states_.clear();  // each wipes its token
  mbedtls_pk_free(&key_);  // zeroises the key
}

bool TokenSource::init(const ServiceAccount& account, const std::string& ca_file,
                       const RefreshTiming& timing, std::string& error) {
  timing_ = timing;
  client_email_ = account.client_email;
  key_id_ = account.private_key_id;
  token_uri_text_ = account.token_uri;
  if (!parse_token_uri(account.token_uri, token_uri_, error)) {
    error = "the key file's " + error;
    return false;
  }
  // mbedtls_pk_parse_key wants the PEM's terminating NUL counted.
  int rc = mbedtls_pk_parse_key(&key_, reinterpret_cast<const unsigned char*>(account.private_key_pem.c_str()),
                                account.private_key_pem.size() + 1, nullptr, 0);
  if (rc != 0) {
    error = "the key file's private_key cannot be read as a PEM private key";
    return false;
  }
  if (!mbedtls_pk_can_do(&key_, MBEDTLS_PK_RSA)) {
    error = "the key file's private_key is not an RSA key (Google signs with RS256)";
    return false;
  }
  if (!client_.init(ca_file, error)) return false;
  auto first = std::make_unique<AuthState>();
  first->last_error = "no access token yet (the first token request is in progress)";
  publish(std::move(first));
  return true;
}

bool TokenSource::start(const aigw_host* host, aigw_host_plugin* plugin, std::string& error) {
  host_ = host;
  plugin_ = plugin;
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  nudge_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0 || nudge_fd_ < 0) {
    error = "cannot create the refresher's eventfds";
    return false;
  }
  // The thread starts with every signal blocked (a new thread inherits the
  // creator's mask): aigw may make configurations before it blocks
  // SIGTERM and friends for its signalfd, and a process-directed signal
  // delivered to this thread would then take its default action, ending
  // the process instead of starting aigw's graceful shutdown.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  bool started = true;
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::system_error&) {
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!started) error = "cannot start the token refresher thread";
  return started;
}

void TokenSource::refresh_soon() {
  if (nudge_fd_ < 0) return;
  uint64_t one = 1;
  // Non-blocking: a full counter already means "wake up".
  [[maybe_unused]] ssize_t n = ::write(nudge_fd_, &one, sizeof one);
}

void TokenSource::publish(std::unique_ptr<AuthState> state) {
  const AuthState* p = state.get();
  states_.push_back(std::move(state));
  current_.store(p, std::memory_order_release);
}

void TokenSource::log(aigw_log_level level, const std::string& message) const {
  if (host_ == nullptr || host_->log == nullptr) return;
  host_->log(plugin_, level, sdk::str(message));
}

bool TokenSource::make_assertion(int64_t now_s, std::string& jwt, std::string& error) {
  JwtClaims c;
  c.issuer = client_email_;
  c.scope = kCloudPlatformScope;
  c.audience = token_uri_text_;
  c.issued_at = now_s;
  c.expires_at = now_s + kAssertionLifetimeS;
  return sign_jwt_rs256(key_, client_.drbg(), jwt_header_json(key_id_), jwt_claims_json(c), jwt,
                        error);
}

bool TokenSource::refresh_once(std::string& error, int64_t& lifetime_ms) {
  std::string jwt;
  if (!make_assertion(static_cast<int64_t>(std::time(nullptr)), jwt, error)) return false;
  std::string form = token_request_form(jwt);
  sdk::wipe(jwt);  // an assertion is worth a token until it expires
  HttpAnswer answer;
  int64_t sent_ns = mono_ns();
  bool ok = client_.post_form(token_uri_, form, stop_fd_, timing_.timeout_ms, answer, error);
  sdk::wipe(form);
  if (!ok) return false;
  TokenAnswer token;
  ok = parse_token_answer(answer.status, answer.body, token, error);
  sdk::wipe(answer.body);
  if (!ok) return false;
  // Lifetime counted from when the request left: the answer's expires_in
  // started no earlier. A margin keeps a token from expiring in flight.
  int64_t life_ns = token.expires_in_s * 1'000'000'000;
  int64_t margin_ns = std::min<int64_t>(30'000'000'000, life_ns / 10);
  auto state = std::make_unique<AuthState>();
  state->authorization.reserve(7 + token.access_token.size());
  state->authorization.append("Bearer ").append(token.access_token);
  state->usable_until_ns = sent_ns + life_ns - margin_ns;
  publish(std::move(state));
  lifetime_ms = token.expires_in_s * 1000;
  refreshes_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool TokenSource::sleep_ms(int64_t ms, bool nudge) {
  if (nudge && nudged_) {
    nudged_ = false;
    return !stopping_.load(std::memory_order_acquire);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (;;) {
    if (stopping_.load(std::memory_order_acquire)) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    pollfd p[2] = {{stop_fd_, POLLIN, 0}, {nudge_fd_, POLLIN, 0}};
    int n = ::poll(p, 2, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n < 0 && errno != EINTR) return !stopping_.load(std::memory_order_acquire);
    if (n <= 0) continue;
    if ((p[0].revents & POLLIN) != 0) return false;  // only the destructor writes it
    if ((p[1].revents & POLLIN) != 0) {
      uint64_t v = 0;
      [[maybe_unused]] ssize_t r = ::read(nudge_fd_, &v, sizeof v);  // drain: one refresh answers all
      if (nudge) return true;
      nudged_ = true;  // honoured when the quiet spell is over
    }
  }
}

void TokenSource::run() {
  int64_t retry_ms = timing_.retry_min_ms;
  bool failing = false;
  while (!stopping_.load(std::memory_order_acquire)) {
    std::string error;
    int64_t lifetime_ms = 0;
    if (refresh_once(error, lifetime_ms)) {
      if (failing) log(AIGW_LOG_INFO, "vertex: access token for " + client_email_ + " obtained again");
      failing = false;
      retry_ms = timing_.retry_min_ms;
      auto wait = std::max<int64_t>(
          static_cast<int64_t>(static_cast<double>(lifetime_ms) * timing_.refresh_at), 500);
      // A burst of 401s (each nudges) must not turn into a burst of token
      // requests: nudges count only after a quiet spell. Nudges from before
      // this token are answered by it.
      nudged_ = false;
      int64_t quiet = std::min<int64_t>(wait, timing_.nudge_gap_ms);
      if (!sleep_ms(quiet, false) || !sleep_ms(wait - quiet, true)) return;
      continue;
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    // Keep a token that is still usable; record why the refresh failed so
    // that, once it is not, requests say so. A new state only when the
    // story changes: a long outage publishes one, not one per retry.
    const AuthState* cur = current();
    if (cur->last_error != error) {
      auto next = std::make_unique<AuthState>();
      next->authorization = cur->authorization;
      next->usable_until_ns = cur->usable_until_ns;
      next->last_error = error;
      publish(std::move(next));
    }
    log(AIGW_LOG_WARN, "vertex: access token refresh for " + client_email_ + " failed (retry in " +
                           std::to_string(retry_ms) + "ms): " + error);
    failing = true;
    if (!sleep_ms(retry_ms, false)) return;
    retry_ms = std::min(retry_ms * 2, timing_.retry_max_ms);
  }
}

}  // namespace aigw::gemini_plugin
