// src/worker/mailbox.cpp: the control thread's queue to a worker (Mailbox)
// and the workers' queue back to the control thread (ControlInbox). Order,
// refusal when full, the eventfd wake-up, payloads released once delivered,
// and no loss between two threads. Also built and run under ThreadSanitizer
// (scripts/run-tests): the payloads are shared_ptrs handed across threads.
#include "worker/mailbox.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "worker/worker.h"

namespace aigw::worker {
namespace {

using Kind = Message::Kind;

Message with_payload(uint64_t value) {
  return Message{Kind::plugins, std::make_shared<const uint64_t>(value)};
}
uint64_t payload_of(const Message& m) { return *static_cast<const uint64_t*>(m.payload.get()); }

// Whether `fd` is readable now; reads (and so clears) the eventfd count.
bool woken(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  uint64_t count = 0;
  return read(fd, &count, sizeof count) == static_cast<ssize_t>(sizeof count) && count > 0;
}

TEST(Mailbox, DeliversInOrderAndRefusesWhenFull) {
  Mailbox box(3);  // 4 slots
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(box.post(with_payload(i))) << i;
  EXPECT_FALSE(box.post(with_payload(99)));  // the producer keeps it and retries later
  Message m;
  ASSERT_TRUE(box.pop(m));
  EXPECT_EQ(payload_of(m), 0u);
  EXPECT_TRUE(box.post(Message{Kind::drain, nullptr}));
  for (uint64_t i = 1; i < 4; ++i) {
    ASSERT_TRUE(box.pop(m));
    EXPECT_EQ(m.kind, Kind::plugins);
    EXPECT_EQ(payload_of(m), i);
  }
  ASSERT_TRUE(box.pop(m));
  EXPECT_EQ(m.kind, Kind::drain);
  EXPECT_EQ(m.payload, nullptr);
  EXPECT_FALSE(box.pop(m));
}

TEST(Mailbox, PostAndNotifyWakeTheConsumer) {
  Mailbox box;
  EXPECT_FALSE(woken(box.event_fd()));
  ASSERT_TRUE(box.post(Message{Kind::all_ready, nullptr}));
  EXPECT_TRUE(woken(box.event_fd()));
  EXPECT_FALSE(woken(box.event_fd()));  // one read takes the whole count
  box.notify();                          // news from another worker: a wake-up, no message
  EXPECT_TRUE(woken(box.event_fd()));
  Message m;
  ASSERT_TRUE(box.pop(m));
  EXPECT_EQ(m.kind, Kind::all_ready);
  EXPECT_FALSE(box.pop(m));
}

TEST(Mailbox, RefusedPostWakesNobody) {
  Mailbox box(1);
  ASSERT_TRUE(box.post(Message{Kind::drain, nullptr}));
  ASSERT_TRUE(woken(box.event_fd()));
  EXPECT_FALSE(box.post(Message{Kind::stop, nullptr}));
  EXPECT_FALSE(woken(box.event_fd()));
}

// A delivered message's payload (a whole plugin generation, in production)
// must not stay alive in its slot until the ring comes round again.
TEST(Mailbox, PopReleasesThePayloadFromItsSlot) {
  Mailbox box(8);
  auto payload = std::make_shared<const uint64_t>(7);
  std::weak_ptr<const uint64_t> watch = payload;
  ASSERT_TRUE(box.post(Message{Kind::plugins, std::move(payload)}));
  {
    Message m;
    ASSERT_TRUE(box.pop(m));
    EXPECT_EQ(payload_of(m), 7u);
  }
  EXPECT_TRUE(watch.expired());
}

// The control thread posts faster than a small mailbox drains, retrying
// what is refused; the worker sleeps on the eventfd as its ring would. Every
// message arrives once and in order with its payload intact.
TEST(Mailbox, TwoThreadsLoseNothingAndKeepOrder) {
  constexpr uint64_t kCount = 50'000;
  Mailbox box(8);
  std::thread control([&] {
    for (uint64_t i = 0; i < kCount; ++i) {
      Message m = with_payload(i);
      while (!box.post(m)) std::this_thread::yield();
    }
  });
  uint64_t expect = 0;
  uint64_t bad = 0;
  bool stalled = false;
  Message m;
  while (expect < kCount) {
    if (box.pop(m)) {
      if (m.kind != Kind::plugins || !m.payload || payload_of(m) != expect) ++bad;
      expect = m.payload ? payload_of(m) + 1 : expect + 1;
      continue;
    }
    // Empty: wait for a wake-up. A post that lands after the pop above
    // still bumps the counter, so this cannot miss it; the timeout only
    // turns a lost wake-up into a failure instead of a hang.
    if (!woken(box.event_fd(), 10'000)) {
      stalled = true;
      break;
    }
  }
  control.join();
  EXPECT_FALSE(stalled) << "no wake-up with " << kCount - expect << " messages to go";
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(expect, kCount);
  EXPECT_FALSE(box.pop(m));
}

TEST(ControlInbox, WorkersPostingAtOnceLoseNothing) {
  constexpr uint32_t kWorkers = 4;
  constexpr uint32_t kEach = 5'000;
  ControlInbox inbox;
  std::vector<std::thread> workers;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&inbox, w] {
      for (uint32_t i = 0; i < kEach; ++i) {
        inbox.post(AdminRequest{AdminRequest::Kind::providers, w, i, 0, {}, false});
      }
    });
  }
  std::vector<uint32_t> next(kWorkers, 0);  // per worker: its posts arrive in its order
  uint32_t bad = 0, got = 0;
  bool stalled = false;
  AdminRequest r{};
  while (got < kWorkers * kEach) {
    if (!inbox.pop(r)) {
      pollfd p{inbox.event_fd(), POLLIN, 0};
      if (poll(&p, 1, 10'000) != 1) {
        stalled = true;  // a lost wake-up: fail, after joining the posters
        break;
      }
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(inbox.event_fd(), &count, sizeof count);  // non-blocking
      continue;
    }
    if (r.worker >= kWorkers || r.conn_index != next[r.worker]) ++bad;
    if (r.worker < kWorkers) next[r.worker] = r.conn_index + 1;
    ++got;
  }
  for (std::thread& t : workers) t.join();
  EXPECT_FALSE(stalled) << "no wake-up with " << kWorkers * kEach - got << " to go";
  EXPECT_EQ(bad, 0u);
  EXPECT_FALSE(inbox.pop(r));
}

}  // namespace
}  // namespace aigw::worker
