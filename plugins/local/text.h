// Text helpers shared by both modes: the token-counting rule, splitting a
// reply into stream chunks, and keeping child output valid UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::local_plugin {

// The token rule (README "Token counting"): a token is a maximal run of
// non-whitespace bytes (whitespace = ASCII space, \t, \n, \v, \f, \r); a
// non-empty text made only of whitespace still counts 1; an empty text 0.
uint64_t count_tokens(std::string_view text);

// Returns the offset just past `words` more words starting at `pos`. The
// whitespace before a word travels with it, and whitespace after the last
// word goes with the last chunk, so consecutive chunks concatenate to the
// original text exactly and the chunk count is ceil(count_tokens / words).
size_t advance_words(std::string_view text, size_t pos, uint32_t words);

// count_tokens over text that arrives in pieces (child stdout), giving the
// same answer as count_tokens over the concatenation.
class TokenCounter {
 public:
  void feed(std::string_view piece);
  uint64_t tokens() const;

 private:
  uint64_t words_ = 0;
  bool in_word_ = false;
  bool any_ = false;
};

// Turns arbitrary bytes that arrive in pieces into valid UTF-8: complete
// sequences pass through, invalid bytes become U+FFFD, and a sequence split
// across pieces is held back until its remaining bytes arrive. Child output
// is embedded in JSON strings, where a broken sequence would make the whole
// event invalid.
class Utf8Carry {
 public:
  // Appends the valid UTF-8 that `piece` completes to `out`.
  void feed(std::string_view piece, std::string& out);
  // End of input: a held-back incomplete sequence becomes U+FFFD.
  void flush(std::string& out);

 private:
  char tail_[4] = {};
  size_t tail_len_ = 0;
};

}  // namespace aigw::local_plugin
