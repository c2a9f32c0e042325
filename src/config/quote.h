// How a problem line shows a value from the file: in double quotes, written
// as a TOML basic string would write it. Problem lines are one printable
// line each (check-config prints them, the log carries them), whatever bytes
// the file held: quotes, backslashes and control characters are escaped.
#pragma once

#include <string>
#include <string_view>

namespace aigw::config {

std::string quoted(std::string_view s);

// The same escapes without the quotes: for text that is not ours but goes
// into a problem line, such as the TOML parser's description of a syntax
// error, which quotes the file's bytes as they are.
std::string printable(std::string_view s);

}  // namespace aigw::config
