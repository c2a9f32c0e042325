// Re-serialising a parsed JSON value, shared by both translation directions.
#pragma once

#include <string>

#include <simdjson.h>

namespace aigw::anthropic_plugin {

// Every string goes through the SDK's writer (so a client's invalid UTF-8
// cannot make the upstream body invalid JSON), integers exactly, doubles in
// the shortest form that reads back to the same value.
void write_value(std::string& out, simdjson::dom::element e);

}  // namespace aigw::anthropic_plugin
