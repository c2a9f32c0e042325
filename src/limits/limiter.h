// The per-worker half of rate limits and quotas (the shared half is
// source.h). One WorkerLimiter per worker thread, used only by that thread:
// it spends units leased in small batches from the LeaseSource, so a request
// normally touches no shared memory for rpm, tpm and the token quotas.
//
// Request path (see README.md for the whole story):
//   key = KeyTable::lookup(...)                      // auth
//   est = estimate_tokens(body, limits.default_max_tokens)   // estimate.h
//   Decision d = limiter.admit(key, est, now_ns, wall_s);
//   write_headers(d, headers);                       // on every answer
//   if (!d.ok) -> 429 with error_code(d) / message(d)
//   ... proxy the request ...
//   limiter.settle(d.ticket, actual_tokens, now_ns, wall_s);   // when it ends
//
// Tolerance. W workers share a source; each leases in batches of
//   b = batch(limit, W) = max(1, floor(limit / (8 * W)))
// and holds at most b requests (rpm) or 2 b tokens (tpm, after refunds)
// that the source already counts as used. So over any interval of length t
// a key is admitted at most
//   limit + limit * t / 1min + W * b          requests   (W * b <= max(W, limit / 8))
//   limit + limit * t / 1min + 2 * W * b_tpm  tokens (+ settle corrections)
// i.e. bucket capacity + refill + what workers held when the interval began
// (and, for tokens, settle corrections). The other way round, a worker can
// be refused while other workers hold up to (W - 1) * b unused units (2 b for
// tokens); tick() hands back credit idle for a second.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "limits/source.h"

namespace aigw::limits {

// What an admitted request holds until settle(). Plain data: store it in the
// request's state.
struct Ticket {
  uint32_t key = 0;
  uint32_t generation = 0;  // which reload of the limiter admitted it
  uint64_t estimate = 0;    // tokens charged up front
  int64_t wall_s = 0;       // admission time: corrections go to its quota windows
  bool slot = false;        // holds a concurrency slot
  bool valid = false;       // false: nothing to settle (refused, or already settled)
};

struct Decision {
  bool ok = true;
  Resource failed = Resource::rpm;  // which limit refused, when !ok
  uint64_t retry_after_ms = 0;      // when !ok: when trying again can succeed

  // Values for the OpenAI-style x-ratelimit-* headers, for the limits the key
  // has (has_* false: rpm / tpm unlimited, headers left out). Remaining
  // counts are after this request's charge; resets are the time until the
  // bucket is full again.
  bool has_requests = false;
  uint64_t limit_requests = 0, remaining_requests = 0, reset_requests_ms = 0;
  bool has_tokens = false;
  uint64_t limit_tokens = 0, remaining_tokens = 0, reset_tokens_ms = 0;

  Ticket ticket;  // pass to settle() when ok
};

class WorkerLimiter {
 public:
  // `workers`: how many WorkerLimiters share `source` (sets the batch size).
  WorkerLimiter(std::shared_ptr<LeaseSource> source, uint32_t workers);
  ~WorkerLimiter();  // gives back what it holds
  WorkerLimiter(const WorkerLimiter&) = delete;
  WorkerLimiter& operator=(const WorkerLimiter&) = delete;

  // A new configuration: a source from LocalLeaseSource::rebuild() (same
  // key order as the new KeyTable). Credit held from the old source is given
  // back; requests admitted before the reload still settle correctly against
  // the old source (kept alive until its last ticket settles), and since the
  // sources share state by key name nothing resets.
  void reload(std::shared_ptr<LeaseSource> source);

  // Decides whether `key` (a KeyTable index; keys out of range are not
  // limited) may start a request estimated at `estimated_tokens`. On ok, one
  // request and the whole estimate are charged (rpm, tpm, daily, monthly)
  // and a concurrency slot is held until settle().
  //   rpm/tpm: the request must fit in what is left; one larger than the whole
  //     tpm is admitted only into a full bucket (and overdraws it).
  //   daily/monthly: admitted while the quota is not exhausted; the estimate
  //     is then charged in full, so a quota can end over by the estimates of
  //     the last requests admitted (about one per worker) plus their settle
  //     corrections.
  // Checked in the order monthly, daily, rpm, tpm, concurrent; the first that
  // refuses is reported.
  Decision admit(uint32_t key, uint64_t estimated_tokens, int64_t now_ns, int64_t wall_s);

  // When the response has ended (also on error, upstream failure or client
  // abort; pass the usage known so far, or the estimate when unknown):
  // releases the slot and corrects the token charges by actual - estimate.
  // Corrections to a quota window that has ended since admission are
  // dropped. Clears ticket.valid, so a second call does nothing; a ticket
  // that was never valid (refused, unlimited key) does nothing either.
  void settle(Ticket& ticket, uint64_t actual_tokens, int64_t now_ns, int64_t wall_s);

  // Optional, about once a second from the worker's timer: gives back
  // credit idle for more than kIdleNs, so an idle worker does not sit on
  // budget other workers could use.
  void tick(int64_t now_ns, int64_t wall_s);
  static constexpr int64_t kIdleNs = 1'000'000'000;

  // Units leased in a batch: max(1, floor(limit / (8 * workers))).
  static uint64_t batch(uint64_t limit, uint32_t workers);

  // Units of `key`'s budget `r` this worker holds (tests, metrics).
  uint64_t held(uint32_t key, Resource r) const;

 private:
  struct Generation;
  struct KeySlot;
  void release_all(Generation& g, uint32_t key);
  bool ensure(Generation& g, uint32_t key, Resource r, uint64_t need, uint64_t cover, Now now);
  void spend(Generation& g, uint32_t key, Resource r, uint64_t amount, Now now);
  void correct(Generation& g, uint32_t key, Resource r, uint64_t est, uint64_t actual, Now now);
  Decision refuse(Generation& g, uint32_t key, Resource r, uint64_t need, Now now);
  void fill_headers(Generation& g, uint32_t key, Now now, Decision& d);
  Generation* find(uint32_t id);

  uint32_t workers_;
  std::unique_ptr<Generation> current_;
  std::vector<std::unique_ptr<Generation>> retired_;  // reloaded, tickets outstanding
};

// The x-ratelimit-* headers for `d` (only those of the limits the key has),
// and on a refusal also retry-after (whole seconds, rounded up) and
// retry-after-ms. Appends to `out`.
// Names are static strings (no allocation per response); values are short.
using HeaderList = std::vector<std::pair<std::string_view, std::string>>;
void write_headers(const Decision& d, HeaderList& out);

// A reset time as OpenAI writes it, Go duration style: "0s", "20ms", "1s",
// "1.5s", "6m0s", "1h2m3.5s".
std::string format_reset(uint64_t ms);

// For the 429 body: "rate_limit_exceeded" (rpm, tpm, concurrent) or
// "insufficient_quota" (daily, monthly), and a sentence naming the limit.
std::string_view error_code(const Decision& d);
std::string message(const Decision& d);
std::string_view resource_name(Resource r);  // "rpm", "tpm", "daily", "monthly", "concurrent"

}  // namespace aigw::limits
