// The last failed requests one worker answered (status >= 400), for
// GET /admin/errors and the dashboard's Recent errors panel. A fixed ring of
// fixed-size entries, written on the worker's own thread when a request is
// recorded and read on that thread when the control thread asks for a
// report: no lock and no allocation on the request path. It keeps names and
// codes only (key name, model, provider, error code), never a secret, a
// body or a prompt.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/record.h"

namespace aigw::metrics {

class RecentErrors {
 public:
  static constexpr size_t kCapacity = 256;  // per worker

  // A name cut to 63 bytes (names in the config are at most 64; request ids
  // are shorter), stored inline so a push never allocates.
  struct Text {
    char bytes[63];
    uint8_t len = 0;
    void set(std::string_view v);
    std::string_view view() const { return {bytes, len}; }
  };
  struct Entry {
    int64_t wall_us = 0;  // when it ended, microseconds since the epoch (the merge's order)
    uint32_t latency_ms = 0;
    uint16_t status = 0;
    uint16_t attempts = 0;
    uint16_t worker = 0;
    bool stream = false;
    Text request_id, key, model, provider, error;
  };

  RecentErrors() : ring_(kCapacity) {}

  // Keeps `r` if it failed (status >= 400), over the oldest entry when full.
  void push(const RequestRecord& r, int64_t wall_us, unsigned worker);

  // Appends the entries held to `out`, newest first.
  void copy_to(std::vector<Entry>& out) const;

  // {"capacity_per_worker":N,"errors":[{...}, ...]} for `entries`, in their order.
  static void write_json(std::string& out, const std::vector<Entry>& entries);

  size_t size() const { return count_; }

 private:
  std::vector<Entry> ring_;
  size_t next_ = 0;   // where the next entry goes
  size_t count_ = 0;  // entries held, up to kCapacity
};

}  // namespace aigw::metrics
