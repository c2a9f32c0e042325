// UTF-8 validation, one rule for every output that must stay valid UTF-8
// whatever bytes it is given: JSON strings (json::append_string), the
// Prometheus exposition (Prometheus rejects a whole scrape over one bad byte)
// and the request body check that names the first bad byte.
#pragma once

#include <cstddef>
#include <string_view>

namespace aigw::json {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF) that starts s[i], or 0 when s[i]
// does not start one.
size_t utf8_sequence_length(std::string_view s, size_t i);

// Length of the longest prefix of s[i..] made of well-formed sequences.
size_t utf8_valid_run(std::string_view s, size_t i);

}  // namespace aigw::json
