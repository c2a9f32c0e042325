// Deterministic demo embeddings: the same text always gives the same unit
// vector, different texts almost surely different ones. No model involved.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace aigw::local_plugin {

constexpr size_t kEmbeddingDims = 8;
using Embedding = std::array<float, kEmbeddingDims>;

// Dimension d is FNV-1a 64 over (d, text), mixed, mapped to [-1, 1); the
// vector is then scaled to unit length.
Embedding embed(std::string_view text);

// The float32 values as little-endian bytes, whatever the host's byte order
// (what OpenAI's encoding_format "base64" carries).
std::array<uint8_t, kEmbeddingDims * 4> to_le_bytes(const Embedding& e);

}  // namespace aigw::local_plugin
