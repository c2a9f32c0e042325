#include "worker/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <stdexcept>

namespace aigw::worker {

Mailbox::Mailbox(uint32_t capacity) {
  uint32_t cap = 1;
  while (cap < capacity) cap <<= 1;
  slots_.resize(cap);
  mask_ = cap - 1;
  efd_ = eventfd(0, EFD_CLOEXEC);
  if (efd_ < 0) throw std::runtime_error("eventfd failed");
}

Mailbox::~Mailbox() {
  if (efd_ >= 0) close(efd_);
}

bool Mailbox::post(Message m) {
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - head_.load(std::memory_order_acquire) > mask_) return false;
  slots_[tail & mask_] = std::move(m);
  tail_.store(tail + 1, std::memory_order_release);
  uint64_t one = 1;
  // The counter only wakes the worker; a failed write (counter saturated) is
  // harmless because the worker drains the whole queue on every wake-up.
  [[maybe_unused]] ssize_t rc = write(efd_, &one, sizeof one);
  return true;
}

void Mailbox::notify() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t rc = write(efd_, &one, sizeof one);
}

bool Mailbox::pop(Message& out) {
  uint64_t head = head_.load(std::memory_order_relaxed);
  if (head == tail_.load(std::memory_order_acquire)) return false;
  out = std::move(slots_[head & mask_]);
  head_.store(head + 1, std::memory_order_release);
  return true;
}

}  // namespace aigw::worker

// ---- ControlInbox (declared in worker.h) ----
#include <mutex>

#include "worker/worker.h"

namespace aigw::worker {

ControlInbox::ControlInbox() {
  efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd_ < 0) throw std::runtime_error("eventfd failed");
}

ControlInbox::~ControlInbox() {
  if (efd_ >= 0) close(efd_);
}

void ControlInbox::post(const AdminRequest& r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    q_.push_back(r);
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t rc = write(efd_, &one, sizeof one);
}

bool ControlInbox::pop(AdminRequest& out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (q_.empty()) return false;
  out = q_.front();
  q_.pop_front();
  return true;
}

}  // namespace aigw::worker
