// Small helpers over simdjson's DOM shared by the translations: writing a
// parsed value back as compact JSON (tool inputs, schemas, arguments) and
// reading optional members without exceptions.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::translate::detail {

using simdjson::dom::element;

// Appends `v` as compact JSON. Strings and keys go through
// json::append_string (the one writer of JSON strings); numbers keep
// simdjson's value (integers exactly, doubles shortest round-trip).
void append_json(std::string& out, element v);

// The member `key` of `obj` when `obj` is an object that has it.
bool member(element obj, std::string_view key, element& out);

// The member as a string / as an object / as an array; false when absent or
// of another type.
bool string_member(element obj, std::string_view key, std::string_view& out);

// A non-negative integer member (tokens counts): 0 when absent, negative or
// not an integer, so a provider's odd usage cannot poison the answer.
uint64_t count_member(element obj, std::string_view key);

}  // namespace aigw::translate::detail
