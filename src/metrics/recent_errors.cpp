#include "metrics/recent_errors.h"

#include <algorithm>
#include <cstring>

#include "json/write.h"

namespace aigw::metrics {

void RecentErrors::Text::set(std::string_view v) {
  len = static_cast<uint8_t>(std::min(v.size(), sizeof bytes));
  if (len != 0) std::memcpy(bytes, v.data(), len);  // an empty view may have a null data()
}

void RecentErrors::push(const RequestRecord& r, int64_t wall_us, unsigned worker) {
  if (r.status < 400) return;
  Entry& e = ring_[next_];
  e.wall_us = wall_us;
  const int64_t ns = r.end_ns - r.start_ns;
  e.latency_ms = static_cast<uint32_t>(ns > 0 ? ns / 1'000'000 : 0);
  e.status = static_cast<uint16_t>(r.status);
  e.attempts = static_cast<uint16_t>(std::min<uint32_t>(r.attempts, 0xFFFF));
  e.stream = r.stream;
  e.worker = static_cast<uint16_t>(worker);
  e.request_id.set(r.request_id);
  e.key.set(r.key);
  e.model.set(r.model);
  e.provider.set(r.provider);
  e.error.set(r.error);
  next_ = (next_ + 1) % kCapacity;
  if (count_ < kCapacity) ++count_;
}

void RecentErrors::copy_to(std::vector<Entry>& out) const {
  for (size_t i = 0; i < count_; ++i) out.push_back(ring_[(next_ + kCapacity - 1 - i) % kCapacity]);
}

void RecentErrors::write_json(std::string& out, const std::vector<Entry>& entries) {
  out += "{\"capacity_per_worker\":" + std::to_string(kCapacity) + ",\"errors\":[";
  bool first = true;
  for (const Entry& e : entries) {
    if (!first) out += ',';
    first = false;
    out += "{\"time_ms\":" + std::to_string(e.wall_us / 1000) + ",\"worker\":" + std::to_string(e.worker) +
           ",\"request_id\":";
    json::append_string(out, e.request_id.view());
    out += ",\"key\":";
    json::append_string(out, e.key.view());
    out += ",\"model\":";
    json::append_string(out, e.model.view());
    out += ",\"provider\":";
    json::append_string(out, e.provider.view());
    out += ",\"status\":" + std::to_string(e.status) + ",\"error\":";
    json::append_string(out, e.error.view());
    out += ",\"attempts\":" + std::to_string(e.attempts) + ",\"latency_ms\":" + std::to_string(e.latency_ms) +
           ",\"stream\":" + (e.stream ? "true" : "false") + '}';
  }
  out += "]}";
}

}  // namespace aigw::metrics
