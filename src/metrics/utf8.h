// UTF-8 validation shared by the exposition and the access log: both outputs
// must be valid UTF-8 (Prometheus rejects a whole scrape over one bad byte,
// JSON parsers reject the line), and log::json_escape copies bytes >= 0x80
// through unchecked.
#pragma once

#include <cstddef>
#include <string_view>

namespace aigw::metrics {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF) that starts s[i], or 0 when s[i]
// does not start one.
size_t utf8_sequence_length(std::string_view s, size_t i);

// Length of the longest prefix of s[i..] made of well-formed sequences.
size_t utf8_valid_run(std::string_view s, size_t i);

}  // namespace aigw::metrics
