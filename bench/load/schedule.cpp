#include "load/schedule.h"

#include <cmath>

namespace aigw::bench {

uint64_t LoadPlan::intended(uint64_t seq) const {
  if (p_.rate <= 0) return p_.start_ns;
  // Computed from the start every time, not accumulated, so rounding never
  // drifts: request 10^9 is as punctual as request 1.
  double slot = static_cast<double>(seq) * p_.stride + p_.offset;
  return p_.start_ns + static_cast<uint64_t>(std::llround(slot * 1e9 / p_.rate));
}

bool LoadPlan::next(uint64_t now, Ticket& out) {
  if (budget_spent()) return false;
  if (p_.mode == Mode::closed) {
    if (now >= p_.stop_ns) return false;
    out.seq = next_seq_++;
    out.intended = now;
    out.measured = now >= p_.warmup_end_ns;
  } else {
    if (now >= hard_end()) return false;
    uint64_t due = intended(next_seq_);
    if (due > now || due >= p_.stop_ns) return false;
    out.seq = next_seq_++;
    out.intended = due;
    out.measured = due >= p_.warmup_end_ns;
  }
  if (out.measured) ++measured_taken_;
  return true;
}

uint64_t LoadPlan::wake_at() const {
  if (p_.mode == Mode::closed || budget_spent()) return UINT64_MAX;
  uint64_t due = intended(next_seq_);
  return due >= p_.stop_ns ? UINT64_MAX : due;
}

bool LoadPlan::issuing_over(uint64_t now) const {
  if (budget_spent()) return true;
  if (p_.mode == Mode::closed) return now >= p_.stop_ns;
  return now >= hard_end() || intended(next_seq_) >= p_.stop_ns;
}

uint64_t LoadPlan::count_before(uint64_t t) const {
  if (p_.rate <= 0 || t <= p_.start_ns) return 0;
  // Estimate from the inverse of intended(), then step to the exact answer
  // (rounding moves it by at most one or two either way).
  double slots = static_cast<double>(t - p_.start_ns) * p_.rate / 1e9;
  double k = std::ceil((slots - p_.offset) / p_.stride);
  uint64_t n = k > 0 ? static_cast<uint64_t>(k) : 0;
  while (n > 0 && intended(n - 1) >= t) --n;
  while (intended(n) < t) ++n;
  return n;
}

uint64_t LoadPlan::not_sent(uint64_t now) const {
  if (p_.mode == Mode::closed) return 0;
  uint64_t due_end = count_before(now >= p_.stop_ns ? p_.stop_ns : now + 1);
  uint64_t first = count_before(p_.warmup_end_ns);  // first measured request
  if (first < next_seq_) first = next_seq_;
  uint64_t n = due_end > first ? due_end - first : 0;
  if (p_.max_measured != 0) {
    uint64_t left = p_.max_measured > measured_taken_ ? p_.max_measured - measured_taken_ : 0;
    if (n > left) n = left;
  }
  return n;
}

}  // namespace aigw::bench
