#include "json_scan.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
// The stream shortcut's 32-wide search (detail::may_hold_32), chosen at
// run time: GCC and Clang on x86-64 compile one function for AVX2.
#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define AIGW_SCAN_AVX2 1
#include <immintrin.h>
#else
#define AIGW_SCAN_AVX2 0
#endif

namespace aigw::openai_plugin {
namespace {

// What a byte outside strings does: whitespace ends a literal, the seven
// structural bytes go to structural(), anything else is part of a number,
// true, false or null (the scanner does not check which).
enum ByteClass : uint8_t { kLiteral, kSpace, kStructural };

constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (unsigned char c : std::string_view(" \t\n\r")) t[c] = kSpace;
  for (unsigned char c : std::string_view("{}[],:\"")) t[c] = kStructural;
  return t;
}
constexpr std::array<uint8_t, 256> kClass = make_classes();

#if defined(__SSE2__)
__m128i load16(const char* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
#endif

// The first '"' or '\\' in [p, end), or end. Most of a document's bytes
// are inside strings, so this runs sixteen bytes per step with SSE2 (part
// of x86-64), then eight (the classic "has a zero byte" word trick: the
// lowest flagged byte is exact, which is the only one used). Big-endian
// machines take the byte loop.
const char* find_quote_or_backslash(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i x = load16(p);
    const int m = _mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
    if (m != 0) return p + std::countr_zero(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHighs = 0x8080808080808080ull;
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      const uint64_t q = w ^ (kOnes * '"');
      const uint64_t b = w ^ (kOnes * '\\');
      const uint64_t hit = (((q - kOnes) & ~q) | ((b - kOnes) & ~b)) & kHighs;
      if (hit != 0) return p + (std::countr_zero(hit) >> 3);
      p += 8;
    }
  }
  while (p < end && *p != '"' && *p != '\\') ++p;
  return p;
}

// The first '"' or bracket ('{', '}', '[', ']') in [p, end), or end: what
// a container nobody looks into is walked by. '[' and '{' differ only in
// bit 5, as do ']' and '}'.
const char* find_quote_or_bracket(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    const __m128i x = load16(p);
    const __m128i folded = _mm_or_si128(x, _mm_set1_epi8(0x20));
    const __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                     _mm_or_si128(_mm_cmpeq_epi8(folded, _mm_set1_epi8('{')),
                                                  _mm_cmpeq_epi8(folded, _mm_set1_epi8('}'))));
    const int m = _mm_movemask_epi8(hit);
    if (m != 0) return p + std::countr_zero(static_cast<unsigned>(m));
    p += 16;
  }
#endif
  while (p < end && *p != '"' && (*p | 0x20) != '{' && (*p | 0x20) != '}') ++p;
  return p;
}

}  // namespace

namespace {

constexpr std::string_view kFinishMarker = "\"finish_reason\"";
constexpr std::string_view kUsageMarker = "\"usage\"";

// Whether `rest`, what follows a marker, is something other than :null and
// then ',' or '}'. Anything else (a value, whitespace, a literal that merely
// starts with null, the end) may be something: scan.
bool not_plain_null(std::string_view rest) {
  static constexpr std::string_view kNull = ":null";
  if (!rest.starts_with(kNull) || rest.size() == kNull.size()) return true;
  return rest[kNull.size()] != ',' && rest[kNull.size()] != '}';
}

// The quote at `at` starts a marker that is not followed by a plain null.
bool marker_not_null(std::string_view payload, size_t at) {
  const std::string_view rest = payload.substr(at);
  if (rest.starts_with(kFinishMarker)) return not_plain_null(rest.substr(kFinishMarker.size()));
  if (rest.starts_with(kUsageMarker)) return not_plain_null(rest.substr(kUsageMarker.size()));
  return false;
}

}  // namespace

namespace detail {

bool may_hold_16(std::string_view payload) {
  // Every key the scanner takes for one of these is the marker's bytes,
  // quotes included (keys are compared raw), so no occurrence is missed;
  // look-alikes (escaped, inside strings, values) at worst cause a scan.
  // Both markers start with a quote and then 'f' or 'u': a chunk has some
  // thirty quotes but one or two such pairs, so the pairs are found sixteen
  // positions per step (SSE2), each checked for a marker.
  const char* const p = payload.data();
  const size_t n = payload.size();
  size_t i = 0;
#if defined(__SSE2__)
  auto pairs = [p](size_t at) {
    const __m128i quote = _mm_cmpeq_epi8(load16(p + at), _mm_set1_epi8('"'));
    const __m128i next = load16(p + at + 1);
    const __m128i fu = _mm_or_si128(_mm_cmpeq_epi8(next, _mm_set1_epi8('f')), _mm_cmpeq_epi8(next, _mm_set1_epi8('u')));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(quote, fu)));
  };
  for (; i + 17 <= n; i += 16) {
    for (unsigned m = pairs(i); m != 0; m &= m - 1) {
      if (marker_not_null(payload, i + static_cast<size_t>(std::countr_zero(m)))) return true;
    }
  }
  // The last pair positions as one step that overlaps those already looked
  // at (their bits are dropped).
  if (n >= 17 && i < n - 1) {
    const size_t from = n - 17;
    for (unsigned m = pairs(from) >> (i - from); m != 0; m &= m - 1) {
      if (marker_not_null(payload, i + static_cast<size_t>(std::countr_zero(m)))) return true;
    }
    return false;
  }
#endif
  for (; i + 1 < n; ++i) {
    if (p[i] == '"' && (p[i + 1] == 'f' || p[i + 1] == 'u') && marker_not_null(payload, i)) return true;
  }
  return false;
}

#if AIGW_SCAN_AVX2
// The same search thirty-two positions per step, compiled for AVX2 alone
// (the rest of the plugin stays x86-64 baseline) and called only where the
// CPU has it. Payloads under 33 bytes, and nothing else, go to the 16-wide
// search.
// The quote-then-'f'-or-'u' pairs at [at, at + 32), as bits. No vector
// crosses a function boundary (that would change the ABI), and a lambda
// would not inherit the target.
__attribute__((target("avx2"))) inline uint32_t pairs32(const char* at) {
  const __m256i quote =
      _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(at)), _mm256_set1_epi8('"'));
  const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + 1));
  const __m256i fu =
      _mm256_or_si256(_mm256_cmpeq_epi8(next, _mm256_set1_epi8('f')), _mm256_cmpeq_epi8(next, _mm256_set1_epi8('u')));
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_and_si256(quote, fu)));
}

__attribute__((target("avx2"))) bool may_hold_32(std::string_view payload) {
  const char* const p = payload.data();
  const size_t n = payload.size();
  if (n < 33) return may_hold_16(payload);
  size_t i = 0;
  for (; i + 33 <= n; i += 32) {
    for (uint32_t m = pairs32(p + i); m != 0; m &= m - 1) {
      if (marker_not_null(payload, i + static_cast<size_t>(std::countr_zero(m)))) return true;
    }
  }
  if (i < n - 1) {
    const size_t from = n - 33;
    for (uint32_t m = pairs32(p + from) >> (i - from); m != 0; m &= m - 1) {
      if (marker_not_null(payload, i + static_cast<size_t>(std::countr_zero(m)))) return true;
    }
  }
  return false;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#else
bool may_hold_32(std::string_view payload) { return may_hold_16(payload); }
bool has_avx2() { return false; }
#endif

}  // namespace detail

bool may_hold_usage_or_finish(std::string_view payload) {
  // Per event of every stream: the wider search halves the steps.
  return detail::has_avx2() ? detail::may_hold_32(payload) : detail::may_hold_16(payload);
}

bool braced(std::string_view payload) {
  size_t first = 0;
  while (first < payload.size() && is_json_space(payload[first])) ++first;
  size_t last = payload.size();
  while (last > first && is_json_space(payload[last - 1])) --last;
  return last - first >= 2 && payload[first] == '{' && payload[last - 1] == '}';
}

void JsonScanner::reset(uint32_t captures) {
  // Member-wise, so that the strings keep their capacity across events.
  captures_ = captures;
  consumed_ = 0;
  depth_ = 0;
  object_mask_ = 0;
  in_string_ = escape_ = string_is_key_ = expect_key_ = key_pending_ = literal_ = false;
  failed_ = root_seen_ = root_object_ = root_done_ = false;
  root_offset_ = 0;
  root_members_ = 0;
  key_len_ = 0;
  key_long_ = false;
  key_ = Key::other;
  top_ = Top::none;
  element_open_ = false;
  slot_ = Slot::none;
  capture_depth_ = 0;
  capture_long_ = false;
  capture_.clear();
  run_ = nullptr;
  skip_base_ = 0;
  usage_found_ = stream_options_found_ = choices_found_ = false;
  choice_count_ = 0;
  usage_.clear();
  stream_options_.clear();
  first_finish_.clear();
  last_finish_.clear();
}

// Inlined into both loops: a call per string cost more than the search.
[[gnu::always_inline]] inline const char* JsonScanner::string_end(const char* p, const char* end) {
  for (;;) {
    if (escape_) {  // the byte after a backslash, whatever it is
      if (p == end) return end;
      escape_ = false;
      ++p;
    }
    p = find_quote_or_backslash(p, end);
    if (p == end || *p == '"') return p;
    escape_ = true;
    ++p;
  }
}

void JsonScanner::feed(std::string_view bytes) {
  const char* const begin = bytes.data();
  const char* const end = begin + bytes.size();
  const char* p = begin;
  // A value being captured continues with these bytes. It is copied as
  // runs (up to its end, or to the end of these bytes), not byte by byte.
  run_ = begin;
  while (p < end && !failed_) {
    if (skip_base_ != 0) {
      p = skipped(p, end);
      continue;
    }
    if (in_string_) {
      const char* start = p;
      p = string_end(p, end);
      if (p == end) {
        if (string_is_key_) key_bytes(start, static_cast<size_t>(p - start));
        break;
      }
      if (string_is_key_) key_done(start, p);
      ++p;  // the closing quote
      in_string_ = false;
      continue;
    }
    switch (kClass[static_cast<unsigned char>(*p)]) {
      case kSpace:
        literal_ = false;
        ++p;
        continue;
      case kLiteral:
        if (root_done_) {
          fail();  // something after the root value
          break;
        }
        // Numbers, true, false, null: only their first byte starts a value.
        if (!literal_) {
          literal_ = true;
          if (depth_ == 0) {
            if (root_seen_) {
              fail();
              break;
            }
            root_seen_ = true;
          } else {
            value_start();
          }
        }
        do {
          ++p;
        } while (p < end && kClass[static_cast<unsigned char>(*p)] == kLiteral);
        continue;
      default:
        structural(p, consumed_ + static_cast<uint64_t>(p - begin));
        ++p;
        continue;
    }
  }
  if (slot_ != Slot::none) take(run_, end);
  run_ = nullptr;
  consumed_ += bytes.size();
}

const char* JsonScanner::skipped(const char* p, const char* end) {
  while (p < end) {
    if (in_string_) {  // never a key in here
      p = string_end(p, end);
      if (p == end) return end;
      in_string_ = false;
      ++p;
      continue;
    }
    p = find_quote_or_bracket(p, end);
    if (p == end) return end;
    const char c = *p++;
    if (c == '"') {
      in_string_ = true;
      string_is_key_ = false;
      continue;
    }
    const bool opens = (c | 0x20) == '{';
    const bool object = opens ? c == '{' : c == '}';
    if (opens) {
      ++depth_;
      if (depth_ <= kTypedDepth) {
        const uint64_t bit = uint64_t{1} << (depth_ - 1);
        object_mask_ = object ? (object_mask_ | bit) : (object_mask_ & ~bit);
      }
      continue;
    }
    if (depth_ <= kTypedDepth && is_object(depth_) != object) {
      fail();
      return p - 1;
    }
    --depth_;
    if (depth_ < skip_base_) {  // the skipped value ended: as after any close
      skip_base_ = 0;
      expect_key_ = false;
      literal_ = false;
      return p;
    }
  }
  return p;
}

inline void JsonScanner::structural(const char* at, uint64_t offset) {
  const char c = *at;
  if (root_done_) {
    fail();  // something after the root value
    return;
  }
  switch (c) {
    case '{':
    case '[': {
      literal_ = false;
      bool object = c == '{';
      if (depth_ == 0) {
        if (root_seen_) return fail();
        root_seen_ = true;
        root_object_ = object;
        root_offset_ = offset;
      } else {
        value_start();
      }
      bool choices_array = !object && depth_ == 1 && top_ == Top::choices;
      ++depth_;
      if (depth_ <= kTypedDepth) {
        uint64_t bit = uint64_t{1} << (depth_ - 1);
        object_mask_ = object ? (object_mask_ | bit) : (object_mask_ & ~bit);
      }
      expect_key_ = object;
      if (choices_array) {
        element_open_ = false;
        choice_count_ = 0;
      }
      // Only the root, the choices array and its objects hold keys that
      // matter; any other container is walked to its end by its brackets
      // and strings alone (a captured value's text is copied all the same).
      if (depth_ > 1 && !choices_array && !in_choice_object()) skip_base_ = depth_;
      return;
    }
    case '}':
    case ']': {
      literal_ = false;
      bool object = c == '}';
      if (depth_ == 0 || key_pending_) return fail();
      if (depth_ <= kTypedDepth && is_object(depth_) != object) return fail();
      if (slot_ != Slot::none && depth_ == capture_depth_) end_capture(at);
      --depth_;
      expect_key_ = false;
      if (depth_ == 0) root_done_ = true;
      return;
    }
    case ',':
      literal_ = false;
      if (depth_ == 0 || key_pending_) return fail();
      if (slot_ != Slot::none && depth_ == capture_depth_) end_capture(at);
      if (depth_ == 1) top_ = Top::none;
      if (depth_ == 2 && top_ == Top::choices && !is_object(2)) element_open_ = false;
      expect_key_ = is_object(depth_);
      return;
    case ':':
      literal_ = false;
      if (!key_pending_) return fail();
      key_pending_ = false;
      colon(at);
      return;
    default:  // '"'
      literal_ = false;
      string_is_key_ = expect_key_ && is_object(depth_);
      if (string_is_key_) {
        key_len_ = 0;
        key_long_ = false;
        if (depth_ == 1) ++root_members_;
      } else if (depth_ == 0) {
        if (root_seen_) return fail();
        root_seen_ = true;
      } else {
        value_start();
      }
      in_string_ = true;
      escape_ = false;
      return;
  }
}

void JsonScanner::value_start() {
  if (depth_ == 2 && top_ == Top::choices && !is_object(2) && !element_open_) {
    element_open_ = true;
    ++choice_count_;
  }
}

void JsonScanner::key_bytes(const char* p, size_t n) {
  if (n == 0 || !(depth_ == 1 || in_choice_object())) return;
  if (key_long_ || key_len_ + n > kMaxKey) {
    key_long_ = true;
  } else {
    std::memcpy(key_text_ + key_len_, p, n);
    key_len_ += n;
  }
}

void JsonScanner::key_done(const char* last, const char* quote) {
  key_pending_ = true;
  expect_key_ = false;
  key_ = Key::other;
  if (!(depth_ == 1 || in_choice_object())) return;  // no key there matters
  std::string_view key(last, static_cast<size_t>(quote - last));
  if (key_len_ > 0 || key_long_) {  // the key began in earlier bytes
    key_bytes(last, key.size());
    if (key_long_) return;
    key = std::string_view(key_text_, key_len_);
  }
  // Named once here, so that the colon after it compares nothing.
  if (key == "usage") {
    key_ = Key::usage;
  } else if (key == "choices") {
    key_ = Key::choices;
  } else if (key == "finish_reason") {
    key_ = Key::finish_reason;
  } else if (key == "stream_options") {
    key_ = Key::stream_options;
  }
}

void JsonScanner::colon(const char* at) {
  if (depth_ == 1) {
    Slot slot = Slot::none;
    if (key_ == Key::usage) {
      top_ = Top::usage;
      usage_found_ = true;
      usage_.clear();
      if (captures_ & kUsage) slot = Slot::usage;
    } else if (key_ == Key::stream_options) {
      top_ = Top::stream_options;
      stream_options_found_ = true;
      stream_options_.clear();
      if (captures_ & kStreamOptions) slot = Slot::stream_options;
    } else if (key_ == Key::choices) {
      top_ = Top::choices;
      choices_found_ = true;
      choice_count_ = 0;
    } else {
      top_ = Top::other;
    }
    if (slot != Slot::none) start_capture(slot, at + 1);
    return;
  }
  if ((captures_ & kFinishReasons) && in_choice_object() && key_ == Key::finish_reason) {
    start_capture(Slot::finish_reason, at + 1);
  }
}

void JsonScanner::start_capture(Slot slot, const char* from) {
  slot_ = slot;
  capture_depth_ = depth_;
  capture_long_ = false;
  capture_.clear();
  run_ = from;
}

void JsonScanner::take(const char* from, const char* to) {
  if (capture_long_) return;
  if (capture_.empty()) {
    while (from < to && is_json_space(*from)) ++from;  // the value starts at its first byte
  }
  const size_t n = static_cast<size_t>(to - from);
  if (capture_.size() + n > kMaxCapture) {
    capture_long_ = true;
    capture_.clear();
    return;
  }
  capture_.append(from, n);
}

void JsonScanner::end_capture(const char* at) {
  std::string_view text;
  if (capture_.empty() && !capture_long_) {
    // Wholly inside these bytes (the usual case): no copy until it is kept.
    const char* from = run_;
    while (from < at && is_json_space(*from)) ++from;
    text = std::string_view(from, static_cast<size_t>(at - from));
    if (text.size() > kMaxCapture) capture_long_ = true;
  } else {
    take(run_, at);
    text = capture_;
  }
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  if (capture_long_) text = {};
  switch (slot_) {
    case Slot::usage:
      usage_.assign(text);
      break;
    case Slot::stream_options:
      stream_options_.assign(text);
      break;
    case Slot::finish_reason:
      if (choice_count_ == 1) first_finish_.assign(text);
      if (!text.empty() && text != "null") last_finish_.assign(text);
      break;
    case Slot::none:
      break;
  }
  slot_ = Slot::none;
  capture_.clear();
}

}  // namespace aigw::openai_plugin
