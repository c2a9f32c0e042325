// A hash map from N label values to one series, for WorkerMetrics.
//
// Lookups take string_views, so the request path finds an existing series
// without building a key string; only the first sight of a label tuple
// allocates. std::unordered_map never moves its nodes (not even on rehash),
// which is what lets WorkerMetrics hand out stable series pointers, and
// lets a few slots remember recent lookups without a hash (see get()).
// Nothing is ever erased.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace aigw::metrics {

template <size_t N, class Series>
class SeriesMap {
 public:
  using Labels = std::array<std::string, N>;
  using LabelViews = std::array<std::string_view, N>;

  SeriesMap() = default;
  // The recent-lookup slots point into this map's nodes.
  SeriesMap(const SeriesMap&) = delete;
  SeriesMap& operator=(const SeriesMap&) = delete;

  Series& get(const LabelViews& labels) {
    // A worker looks up the same few label tuples over and over: a slot
    // remembers the last node found for tuples of its shape, and is taken
    // when the labels are equal to that node's (by content, never by
    // address: a label's buffer may hold another name after a reload).
    // Hashing the labels was 350 instructions of a request's metrics.
    Node*& slot = recent_[slot_of(labels)];
    if (slot != nullptr && Equal{}(slot->first, labels)) return slot->second;
    auto it = map_.find(labels);
    if (it == map_.end()) {
      Labels owned;
      for (size_t i = 0; i < N; ++i) owned[i] = std::string(labels[i]);
      it = map_.emplace(std::move(owned), Series{}).first;
    }
    slot = &*it;
    return it->second;
  }

  size_t size() const { return map_.size(); }
  auto begin() const { return map_.begin(); }
  auto end() const { return map_.end(); }

 private:
  struct Hash {
    using is_transparent = void;
    template <class A>
    size_t operator()(const A& labels) const {
      size_t h = 0;
      for (const auto& v : labels) {
        // Boost's hash_combine: the order of the labels matters.
        h ^= std::hash<std::string_view>{}(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
      }
      return h;
    }
  };
  struct Equal {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      for (size_t i = 0; i < N; ++i) {
        if (std::string_view(a[i]) != std::string_view(b[i])) return false;
      }
      return true;
    }
  };

  using Map = std::unordered_map<Labels, Series, Hash, Equal>;
  using Node = typename Map::value_type;

  // From the labels' lengths and last bytes: cheap, and different for the
  // names a gateway usually has side by side.
  static constexpr size_t kRecent = 16;
  static size_t slot_of(const LabelViews& labels) {
    size_t h = 0;
    for (std::string_view v : labels) h = h * 31 + v.size() + (v.empty() ? 0 : static_cast<unsigned char>(v.back()));
    return h % kRecent;
  }

  Map map_;
  std::array<Node*, kRecent> recent_{};
};

}  // namespace aigw::metrics
