// A hash map from N label values to one series, for WorkerMetrics.
//
// Lookups take string_views, so the request path finds an existing series
// without building a key string; only the first sight of a label tuple
// allocates. std::unordered_map never moves its nodes (not even on rehash),
// which is what lets WorkerMetrics hand out stable series pointers.
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

  Series& get(const LabelViews& labels) {
    auto it = map_.find(labels);
    if (it != map_.end()) return it->second;
    Labels owned;
    for (size_t i = 0; i < N; ++i) owned[i] = std::string(labels[i]);
    return map_.emplace(std::move(owned), Series{}).first->second;
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

  std::unordered_map<Labels, Series, Hash, Equal> map_;
};

}  // namespace aigw::metrics
