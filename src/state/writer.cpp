#include "state/writer.h"

#include <pthread.h>

#include <chrono>

#include "io/clock.h"
#include "log/log.h"

namespace aigw::state {
namespace {

int64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

Writer::Writer(std::unique_ptr<Store> store, const config::StateConfig& cfg, unsigned queues,
               AggregateSink* sink)
    : store_(std::move(store)), cfg_(cfg), sink_(sink) {
  for (unsigned i = 0; i < queues; ++i) queues_.push_back(std::make_unique<UsageQueue>());
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "aigw-state");
}

Writer::~Writer() { stop(); }

uint64_t Writer::dropped() const {
  uint64_t n = 0;
  for (const auto& q : queues_) n += q->dropped();
  return n;
}

void Writer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::drain() {
  UsageRecord r;
  for (auto& q : queues_) {
    while (q->pop(r)) {
      const int64_t day = r.wall_ms / 86'400'000;
      if (last_ == nullptr || day != day_number_ || r.key.view() != last_rec_.key.view() ||
          r.model.view() != last_rec_.model.view() || r.provider.view() != last_rec_.provider.view()) {
        if (day != day_number_) {
          day_number_ = day;
          day_ = day_of_ms(r.wall_ms);
        }
        last_ = &sums_[{day_, std::string(r.key.view()), std::string(r.model.view()), std::string(r.provider.view())}];
        last_rec_ = r;
      }
      last_->add(r);
      if (cfg_.requests) requests_.push_back(r);
      ++pending_;
    }
  }
}

void Writer::commit() {
  int64_t now = wall_ms();
  if (cfg_.requests && now >= next_prune_ms_) {
    next_prune_ms_ = now + 60'000;
    std::string why;
    if (!store_->prune(now - cfg_.keep.count(), why)) log::warn("state: pruning request rows failed", {{"error", why}});
  }
  if (pending_ == 0) return;
  std::string why;
  if (store_->write(sums_, requests_, why)) {
    written_.fetch_add(pending_, std::memory_order_relaxed);
  } else {
    // Keeping the batch for a retry would grow without bound on a full
    // disk; the loss is counted (aigw_state_records_failed_total) instead.
    failed_.fetch_add(pending_, std::memory_order_relaxed);
    unlogged_failures_ += pending_;
    if (now - last_log_ms_ >= 60'000) {
      log::error("state: usage could not be written; the gateway goes on serving",
                 {{"error", why}, {"records_lost", static_cast<unsigned long long>(unlogged_failures_)}});
      last_log_ms_ = now;
      unlogged_failures_ = 0;
    }
  }
  if (sink_ != nullptr) sink_->add(sums_);
  sums_.clear();
  last_ = nullptr;
  requests_.clear();
  pending_ = 0;
}

void Writer::run() {
  int64_t next_commit = io::mono_ns() + cfg_.flush_interval.count() * 1'000'000;
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kDrainMs), [this] { return stopping_; });
      stop = stopping_;
    }
    drain();
    if (stop) break;
    if (io::mono_ns() >= next_commit) {
      commit();
      next_commit = io::mono_ns() + cfg_.flush_interval.count() * 1'000'000;
    }
  }
  commit();
}

}  // namespace aigw::state
