#include "embedding.h"

#include <bit>
#include <cmath>

namespace aigw::local_plugin {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnvPrime;
  }
  return h;
}

// FNV's high bits depend weakly on the last bytes; a finaliser spreads them
// so that texts differing at the end still differ in every dimension.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

Embedding embed(std::string_view text) {
  std::array<double, kEmbeddingDims> v{};
  double norm = 0;
  for (size_t d = 0; d < kEmbeddingDims; ++d) {
    char seed = static_cast<char>(d);
    uint64_t h = mix(fnv1a(fnv1a(kFnvOffset, std::string_view(&seed, 1)), text));
    double unit = static_cast<double>(h >> 11) * 0x1.0p-53;  // [0, 1)
    v[d] = unit * 2.0 - 1.0;
    norm += v[d] * v[d];
  }
  norm = std::sqrt(norm);
  Embedding out{};
  if (norm == 0) {
    out[0] = 1.0f;  // unreachable in practice, but a unit vector regardless
    return out;
  }
  for (size_t d = 0; d < kEmbeddingDims; ++d) out[d] = static_cast<float>(v[d] / norm);
  return out;
}

std::array<uint8_t, kEmbeddingDims * 4> to_le_bytes(const Embedding& e) {
  std::array<uint8_t, kEmbeddingDims * 4> out{};
  for (size_t d = 0; d < kEmbeddingDims; ++d) {
    auto bits = std::bit_cast<uint32_t>(e[d]);
    for (size_t b = 0; b < 4; ++b) out[d * 4 + b] = static_cast<uint8_t>(bits >> (8 * b));
  }
  return out;
}

}  // namespace aigw::local_plugin
