// OpenAI -> Gemini: a Chat Completions body as a generateContent body, an
// embeddings body as a batchEmbedContents body. Pure functions over bytes
// (no host calls), so unit tests drive them directly; request.cpp calls
// them from request_new, so that a refusal is a 400 before any upstream
// traffic.
#pragma once

#include <string>
#include <string_view>

#include <simdjson.h>

namespace aigw::gemini_plugin {

// What the rest of the request needs from the client's body.
struct ChatRequestInfo {
  bool stream = false;         // "stream": true
  bool include_usage = false;  // "stream_options": {"include_usage": true}
};

// Why a body was refused: the client gets HTTP 400 with `message`, which
// names the parameter (`param`, e.g. "messages[2].content[0].image_url").
struct RequestError {
  std::string param;
  std::string message;
};

// `openai_json` need not be padded; `parser` is reused across calls (one per
// worker). On success `out` holds the whole generateContent body (always
// valid JSON, strings under the SDK's UTF-8 policy); on failure `out` is
// unspecified and `error` says why.
bool translate_chat_request(simdjson::dom::parser& parser, std::string_view openai_json,
                            std::string& out, ChatRequestInfo& info, RequestError& error);

// Which embeddings call the body is for.
enum class EmbedApi {
  batch_embed_contents,  // AI Studio: {requests: [{model, content, outputDimensionality}]}
  vertex_predict,        // Vertex: {instances: [{content}], parameters: {outputDimensionality}}
};

// /v1/embeddings: `upstream_model` is the model after model_map, which each
// batchEmbedContents request names as "models/<upstream_model>" (Vertex's
// :predict names it in the path only).
bool translate_embeddings_request(simdjson::dom::parser& parser, std::string_view openai_json,
                                  std::string_view upstream_model, std::string& out,
                                  RequestError& error,
                                  EmbedApi api = EmbedApi::batch_embed_contents);

// thinkingConfig.thinkingBudget for an OpenAI reasoning_effort; false for
// a value OpenAI does not define.
bool thinking_budget_for(std::string_view effort, int& budget);

}  // namespace aigw::gemini_plugin
