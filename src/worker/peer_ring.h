// Worker-to-worker messages: one bounded single-producer, single-consumer
// ring per ordered pair of workers, so no two threads ever write the same
// index and no lock is taken. Used for health news (a channel opened,
// closed, a key disabled): small, rare, and advisory, so a full ring drops
// the message (counted) instead of blocking the sender's event loop. The
// receiver is woken through its Mailbox eventfd and drains every inbound
// ring when it wakes.
#pragma once

#include "io/spsc_ring.h"

namespace aigw::worker {

template <typename T>
using PeerRing = io::SpscRing<T>;

}  // namespace aigw::worker
