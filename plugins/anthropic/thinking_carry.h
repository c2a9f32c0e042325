// Tool-call ids that carry Claude's thinking blocks through an OpenAI client.
//
// With extended thinking on, Anthropic refuses a tool-use turn whose
// assistant message lacks the thinking (or redacted_thinking) blocks that
// came before its tool_use blocks, byte for byte with their signature. An
// OpenAI client keeps nothing of an answer but its content and its tool
// calls, and of a tool call only the id is echoed back verbatim (in the
// assistant message's tool_calls[].id and in each tool message's
// tool_call_id); reasoning_content is not sent back by most clients. So the
// blocks travel inside the id of the turn's first tool call:
//
//   toolu_...                                   no thinking before the call
//   toolu_...~<blocks as JSON, base64url, no padding>
//
// Anthropic's ids are [A-Za-z0-9_-], so the first '~' splits without
// ambiguity and the upstream sees its own id. Only tool turns need it
// (a turn that ended in text may drop its thinking), which is when an id
// exists to carry it.
#pragma once

#include <string>
#include <string_view>

namespace aigw::anthropic_plugin {

// `blocks_json` is a JSON array of Anthropic thinking/redacted_thinking
// blocks; empty means none.
std::string make_tool_call_id(std::string_view tool_use_id, std::string_view blocks_json);

// Splits an id made above. `tool_use_id` is the part Anthropic made;
// `blocks_json` the carried array, or empty. False when the carried part is
// not base64url (a mangled id: refused rather than sent corrupt).
bool split_tool_call_id(std::string_view id, std::string_view& tool_use_id,
                        std::string& blocks_json);

}  // namespace aigw::anthropic_plugin
