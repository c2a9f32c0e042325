#include "config/suggest.h"

#include <algorithm>
#include <vector>

namespace aigw::config {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Three rows: a transposition looks two characters back.
  std::vector<size_t> before(b.size() + 1), above(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) above[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = above[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above[j] + 1, row[j - 1] + 1, substitute});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, above);
    std::swap(above, row);
  }
  return above[b.size()];
}

std::string_view closest_key(std::string_view key, std::span<const std::string> candidates) {
  std::string_view best;
  size_t best_distance = 3;  // suggest only within two edits
  for (const std::string& candidate : candidates) {
    const size_t d = edit_distance(key, candidate);
    if (d == 0) return {};
    // A suggestion that rewrites most of the word is noise, not help.
    if (d < best_distance && d < candidate.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace aigw::config
