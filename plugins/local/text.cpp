#include "text.h"

#include <algorithm>
#include <cstring>

#include "aigw_plugin.hpp"

namespace aigw::local_plugin {
namespace {

using sdk::kReplacementChar;
using sdk::Utf8Kind;
using sdk::Utf8Seq;
using sdk::utf8_sequence;

bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Appends the valid UTF-8 of s to out and returns how many bytes it used;
// the rest (at most 3 bytes) is an incomplete sequence at the very end.
size_t scan(std::string_view s, std::string& out) {
  auto p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  size_t i = 0;
  size_t run = 0;  // start of the pending run of valid bytes
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    Utf8Seq seq = utf8_sequence(p + i, n - i);
    if (seq.kind == Utf8Kind::complete) {
      i += seq.len;
      continue;
    }
    out.append(s.data() + run, i - run);
    if (seq.kind == Utf8Kind::incomplete) return i;
    out.append(kReplacementChar);
    i += seq.len;
    run = i;
  }
  out.append(s.data() + run, n - run);
  return n;
}

}  // namespace

uint64_t count_tokens(std::string_view text) {
  TokenCounter counter;
  counter.feed(text);
  return counter.tokens();
}

size_t advance_words(std::string_view text, size_t pos, uint32_t words) {
  auto at = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  for (uint32_t w = 0; w < words && pos < text.size(); ++w) {
    while (pos < text.size() && is_space(at(pos))) ++pos;
    while (pos < text.size() && !is_space(at(pos))) ++pos;
  }
  size_t rest = pos;
  while (rest < text.size() && is_space(at(rest))) ++rest;
  return rest == text.size() ? rest : pos;
}

void TokenCounter::feed(std::string_view piece) {
  if (!piece.empty()) any_ = true;
  for (char ch : piece) {
    bool space = is_space(static_cast<unsigned char>(ch));
    if (!space && !in_word_) ++words_;
    in_word_ = !space;
  }
}

uint64_t TokenCounter::tokens() const {
  if (!any_) return 0;
  return words_ == 0 ? 1 : words_;
}

void Utf8Carry::feed(std::string_view piece, std::string& out) {
  if (tail_len_ == 0) {
    size_t used = scan(piece, out);
    // scan() stops only before an incomplete sequence, which is shorter
    // than tail_; the clamp says so to the compiler too.
    tail_len_ = std::min(piece.size() - used, sizeof tail_);
    std::memcpy(tail_, piece.data() + used, tail_len_);
    return;
  }
  // Only the split sequence needs the copy; the rest is scanned in place.
  std::string joined(tail_, tail_len_);
  size_t take = piece.size() < 4 ? piece.size() : 4;
  joined.append(piece.data(), take);
  auto p = reinterpret_cast<const unsigned char*>(joined.data());
  Utf8Seq seq = utf8_sequence(p, joined.size());
  if (seq.kind == Utf8Kind::incomplete) {
    // Still short: the whole piece (fewer than 4 bytes) joins the tail; a
    // sequence is at most 4 bytes, so tail and piece fit together.
    take = std::min(take, sizeof tail_ - tail_len_);
    std::memcpy(tail_ + tail_len_, piece.data(), take);
    tail_len_ += take;
    return;
  }
  // The tail was a valid prefix, so a failure lies inside the piece: seq.len
  // never ends before the tail does.
  if (seq.kind == Utf8Kind::complete) {
    out.append(joined.data(), seq.len);
  } else {
    out.append(kReplacementChar);
  }
  size_t from_piece = seq.len - tail_len_;
  tail_len_ = 0;
  feed(piece.substr(from_piece), out);
}

void Utf8Carry::flush(std::string& out) {
  if (tail_len_ > 0) out.append(kReplacementChar);
  tail_len_ = 0;
}

}  // namespace aigw::local_plugin
