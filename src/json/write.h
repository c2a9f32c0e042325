// The JSON string writer: every JSON string aigw writes itself (logs, the
// access log, error bodies, admin reports) goes through append_string, so
// they all follow one escaping and one UTF-8 rule.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "json/plain.h"

namespace aigw::json {

// Appends `s` to `out` as a JSON string, quotes included. The output is
// always valid JSON and valid UTF-8, whatever `s` holds:
//   - `"` and `\` are escaped; \b \f \n \r \t in their short forms, the other
//     control characters (U+0000..U+001F and DEL) as \u00XX;
//   - well-formed UTF-8 (json/utf8.h) is copied unchanged;
//   - each byte that does not start a well-formed sequence becomes one
//     \ufffd (U+FFFD), so a cut or forged sequence cannot break the output.
void append_string(std::string& out, std::string_view s);

// The most bytes append_string writes for one byte of `s` (\u00XX, \ufffd),
// besides its two quotes: a bound for writers that reserve room up front.
inline constexpr size_t kMaxEscapedBytesPerByte = 6;

// True when append_string writes `s` unchanged between its quotes: printable
// ASCII without `"` and `\`. A writer that places bytes itself may copy
// such a string as it is and leave every other one to append_string.
bool plain(std::string_view s);

// copy_if_plain(to, s), plain(s) and the copy in one pass: json/plain.h.

}  // namespace aigw::json
