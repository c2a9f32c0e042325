// Tool-call ids that carry Gemini's thought signature through an OpenAI
// client. Gemini 2.5/3 returns `thoughtSignature` beside a functionCall and
// refuses the next turn without it; an OpenAI client keeps nothing of a
// tool call but its id, which it echoes twice (the assistant message's
// tool_calls[].id and the tool message's tool_call_id). So the signature
// travels inside the id:
//
//   call_<16 hex digits>                      no signature
//   call_<16 hex digits>.<signature, base64url without padding>
//
// Gemini's signature is standard base64; base64url keeps the id free of
// '/', '+' and '=' that some clients mangle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aigw::gemini_plugin {

// `serial` makes ids unique within the process (the plugin's counter).
std::string make_tool_call_id(uint64_t serial, std::string_view thought_signature);

// The signature carried by an id made above, in Gemini's standard base64
// (padding restored); empty for any other id, which is passed on without a
// signature.
std::string signature_from_tool_call_id(std::string_view id);

}  // namespace aigw::gemini_plugin
