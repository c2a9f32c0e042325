#include "translate_response.h"

#include <simdjson.h>

#include <atomic>
#include <charconv>
#include <random>
#include <utility>

#include "aigw_plugin.hpp"
#include "tool_call_id.h"

namespace aigw::gemini_plugin {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// One DOM parser per worker thread, reused so that its buffers are
// allocated once. A parser keeps the capacity of the largest document it
// parsed, so an unusually big one (an image answer is megabytes) goes to
// `big`, a parser of the caller's that dies with the call, rather than
// pinning that memory for the worker's life.
constexpr size_t kKeepParserBelow = 4u << 20;
thread_local simdjson::dom::parser t_parser;

bool parse(std::string_view text, simdjson::dom::parser& big, element& root) {
  simdjson::dom::parser& p = text.size() > kKeepParserBelow ? big : t_parser;
  return p.parse(text.data(), text.size()).get(root) == simdjson::SUCCESS;
}

// Tool-call ids must not repeat within a conversation, which outlives this
// process: the client sends old ids back on every turn. So the serial is
// one process-wide counter that starts at a random point, rather than 0.
uint64_t next_tool_serial() {
  static std::atomic<uint64_t> counter{[] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ uint64_t{rd()};
  }()};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string_view string_field(object o, std::string_view key) {
  std::string_view s;
  if (o[key].get(s) != simdjson::SUCCESS) return {};
  return s;
}

// A failure to report. Code and message go to the client as they are.
struct Failure {
  int status = 502;
  std::string code;
  std::string message;
};

void set_failure(Outcome& outcome, Failure f) {
  outcome.error = true;
  outcome.finish = AIGW_FINISH_ERROR;
  outcome.status = f.status;
  outcome.code = std::move(f.code);
  outcome.message = std::move(f.message);
}

Failure bad_upstream(std::string message) {
  return {502, "bad_upstream_response", "Gemini answer: " + std::move(message)};
}

// {"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED"}}: the
// client gets Gemini's message, and its HTTP code when it is an error code.
Failure from_error_object(element err) {
  Failure f{502, "upstream_error", "Gemini error"};
  object o;
  if (err.get(o) != simdjson::SUCCESS) return f;
  int64_t code = 0;
  if (o["code"].get(code) == simdjson::SUCCESS && code >= 400 && code <= 599) {
    f.status = static_cast<int>(code);
  }
  std::string_view status = string_field(o, "status");
  if (!status.empty()) {
    f.code.clear();
    for (char c : status) f.code += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  std::string_view message = string_field(o, "message");
  f.message = "Gemini error";
  if (!status.empty()) f.message.append(" ").append(status);
  if (!message.empty()) f.message.append(": ").append(message);
  return f;
}

// --- finish reasons ---------------------------------------------------------

enum class FinishClass { stop, length, filter, error, other };

// Gemini's FinishReason values, by what the OpenAI client should see.
// Error ones are tool calls that went wrong: the answer holds no usable
// call, and an empty "stop" would read as the model having nothing to say.
FinishClass classify_finish(std::string_view r) {
  if (r.empty() || r == "STOP") return FinishClass::stop;
  if (r == "MAX_TOKENS") return FinishClass::length;
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY" || r == "IMAGE_PROHIBITED_CONTENT" ||
      r == "IMAGE_RECITATION" || r == "MODEL_ARMOR") {
    return FinishClass::filter;
  }
  if (r == "MALFORMED_FUNCTION_CALL" || r == "UNEXPECTED_TOOL_CALL" || r == "TOO_MANY_TOOL_CALLS" ||
      r == "MISSING_THOUGHT_SIGNATURE" || r == "MALFORMED_RESPONSE") {
    return FinishClass::error;
  }
  // OTHER, LANGUAGE, IMAGE_OTHER, NO_IMAGE, FINISH_REASON_UNSPECIFIED and
  // values newer than this code.
  return FinishClass::other;
}

Failure finish_failure(std::string_view r) {
  // A missing signature is the client's request at fault (it dropped the
  // id that carried it); the others are the model's output.
  if (r == "MISSING_THOUGHT_SIGNATURE") {
    return {400, "missing_thought_signature",
            "Gemini refused the request: a tool call in the conversation lost its thought "
            "signature (send tool_calls[].id back exactly as received)"};
  }
  std::string code = "upstream_";
  for (char c : r) code += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return {502, std::move(code),
          "Gemini ended the answer with " + std::string(r) + ": the model produced no usable tool call"};
}

// The OpenAI finish_reason and the host's enum, for a non-error class.
std::pair<std::string_view, aigw_finish_reason> openai_finish(FinishClass c, bool tool_calls) {
  switch (c) {
    case FinishClass::length: return {"length", AIGW_FINISH_LENGTH};
    case FinishClass::filter: return {"content_filter", AIGW_FINISH_CONTENT_FILTER};
    case FinishClass::other: return {tool_calls ? "tool_calls" : "stop", AIGW_FINISH_UNKNOWN};
    default: break;
  }
  if (tool_calls) return {"tool_calls", AIGW_FINISH_TOOL_CALLS};
  return {"stop", AIGW_FINISH_STOP};
}

// --- usage ------------------------------------------------------------------

void read_usage(object root, Usage& u) {
  object m;
  if (root["usageMetadata"].get(m) != simdjson::SUCCESS) return;
  auto count = [&](std::string_view key) {
    uint64_t v = 0;
    if (m[key].get(v) != simdjson::SUCCESS) return uint64_t{0};
    return v;
  };
  u.present = true;
  u.prompt = count("promptTokenCount");
  u.reasoning = count("thoughtsTokenCount");
  u.completion = count("candidatesTokenCount") + u.reasoning;
  u.cached = count("cachedContentTokenCount");
  uint64_t total = 0;
  u.total = m["totalTokenCount"].get(total) == simdjson::SUCCESS ? total : u.prompt + u.completion;
}

void append_usage(std::string& out, const Usage& u) {
  out.append("{\"prompt_tokens\":");
  append_uint(out, u.prompt);
  out.append(",\"completion_tokens\":");
  append_uint(out, u.completion);
  out.append(",\"total_tokens\":");
  append_uint(out, u.total);
  out.append(",\"prompt_tokens_details\":{\"cached_tokens\":");
  append_uint(out, u.cached);
  out.append("},\"completion_tokens_details\":{\"reasoning_tokens\":");
  append_uint(out, u.reasoning);
  out.append("}}");
}

// --- parts ------------------------------------------------------------------

struct CallPart {
  std::string_view name;
  std::string_view id;
  std::string arguments;
  std::string_view signature;
};

// Walks a candidate's content.parts in order: on_text(text, thought),
// on_call(CallPart&&), on_response(name, id). Other parts (inlineData,
// executableCode, ...) have no place in a chat completion and are skipped.
// Returns false with `f` set when the parts are not Gemini's shape.
template <typename OnText, typename OnCall, typename OnResponse>
bool walk_parts(object candidate, Failure& f, OnText&& on_text, OnCall&& on_call,
                OnResponse&& on_response) {
  element content_el;
  if (candidate["content"].get(content_el) != simdjson::SUCCESS) return true;  // e.g. SAFETY
  object content;
  if (content_el.get(content) != simdjson::SUCCESS) {
    f = bad_upstream("candidate content is not an object");
    return false;
  }
  element parts_el;
  if (content["parts"].get(parts_el) != simdjson::SUCCESS) return true;
  array parts;
  if (parts_el.get(parts) != simdjson::SUCCESS) {
    f = bad_upstream("content.parts is not an array");
    return false;
  }
  for (element part_el : parts) {
    object part;
    if (part_el.get(part) != simdjson::SUCCESS) {
      f = bad_upstream("a part is not an object");
      return false;
    }
    element v;
    if (part["functionCall"].get(v) == simdjson::SUCCESS) {
      object call;
      CallPart c;
      if (v.get(call) != simdjson::SUCCESS || call["name"].get(c.name) != simdjson::SUCCESS ||
          c.name.empty()) {
        f = {502, "upstream_malformed_function_call", "Gemini sent a functionCall without a name"};
        return false;
      }
      c.id = string_field(call, "id");
      element args;
      if (call["args"].get(args) == simdjson::SUCCESS && !args.is_null()) {
        if (!args.is_object()) {
          f = {502, "upstream_malformed_function_call",
               "Gemini sent functionCall.args that is not an object"};
          return false;
        }
        c.arguments = simdjson::minify(args);
      } else {
        c.arguments = "{}";
      }
      c.signature = string_field(part, "thoughtSignature");
      on_call(std::move(c));
    } else if (part["functionResponse"].get(v) == simdjson::SUCCESS) {
      object resp;
      if (v.get(resp) == simdjson::SUCCESS) on_response(string_field(resp, "name"), string_field(resp, "id"));
    } else if (part["text"].get(v) == simdjson::SUCCESS) {
      std::string_view text;
      if (v.get(text) != simdjson::SUCCESS) {
        f = bad_upstream("a part's text is not a string");
        return false;
      }
      bool thought = false;
      if (part["thought"].get(thought) != simdjson::SUCCESS) thought = false;
      on_text(text, thought);
    }
  }
  return true;
}

// Which held call a functionResponse answers: the same id when Gemini gave
// ids, else the first with the same name.
template <typename Call>
bool drop_answered(std::vector<Call>& held, std::string_view name, std::string_view id) {
  for (size_t i = 0; i < held.size(); ++i) {
    bool match = !id.empty() && !held[i].id.empty() ? held[i].id == id : held[i].name == name;
    if (match) {
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      return true;
    }
  }
  return false;
}

// The candidate's position in the OpenAI choices: its "index" when Gemini
// sent one, else its place in the array.
uint32_t candidate_index(object cand, size_t position) {
  uint64_t idx = 0;
  if (cand["index"].get(idx) == simdjson::SUCCESS && idx < 1024) return static_cast<uint32_t>(idx);
  return static_cast<uint32_t>(position);
}

// Root checks shared by whole answers and stream events: a JSON object
// that is not an error object. Candidates may be absent.
bool open_answer(std::string_view text, simdjson::dom::parser& big, object& root, Failure& f) {
  element doc;
  if (!parse(text, big, doc)) {
    f = bad_upstream("not valid JSON");
    return false;
  }
  if (doc.get(root) != simdjson::SUCCESS) {
    f = bad_upstream("not a JSON object");
    return false;
  }
  element err;
  if (root["error"].get(err) == simdjson::SUCCESS) {
    f = from_error_object(err);
    return false;
  }
  element cands;
  if (root["candidates"].get(cands) == simdjson::SUCCESS && !cands.is_array()) {
    f = bad_upstream("candidates is not an array");
    return false;
  }
  return true;
}

// promptFeedback.blockReason: Gemini refused the prompt and generated
// nothing.
bool prompt_blocked(object root, Failure& f) {
  object fb;
  if (root["promptFeedback"].get(fb) != simdjson::SUCCESS) return false;
  std::string_view reason = string_field(fb, "blockReason");
  if (reason.empty()) return false;
  f = {400, "content_filter", "Gemini blocked the prompt (blockReason " + std::string(reason) + ")"};
  return true;
}

// The candidates, when there is at least one.
bool candidates(object root, array& cands) {
  return root["candidates"].get(cands) == simdjson::SUCCESS && cands.size() > 0;
}

void append_tool_call(std::string& out, std::string_view id, std::string_view name,
                      std::string_view arguments) {
  out.append("{\"id\":");
  sdk::append_json_string(out, id);
  out.append(",\"type\":\"function\",\"function\":{\"name\":");
  sdk::append_json_string(out, name);
  out.append(",\"arguments\":");
  sdk::append_json_string(out, arguments);
  out.append("}}");
}

void open_object(std::string& out, const ChatContext& ctx, std::string_view object_type) {
  out.append("{\"id\":");
  sdk::append_json_string(out, ctx.id);
  out.append(",\"object\":\"");
  out.append(object_type);
  out.append("\",\"created\":");
  append_int(out, ctx.created);
  out.append(",\"model\":");
  sdk::append_json_string(out, ctx.model);
}

}  // namespace

// --- whole answers ----------------------------------------------------------

void translate_chat_response(std::string_view gemini_json, const ChatContext& ctx, std::string& out,
                             Outcome& outcome) {
  outcome = Outcome();
  out.clear();
  Failure f;
  object root;
  simdjson::dom::parser big;  // elements point into it: lives to the end
  if (!open_answer(gemini_json, big, root, f)) return set_failure(outcome, std::move(f));
  read_usage(root, outcome.usage);
  array cands;
  if (!candidates(root, cands)) {
    if (!prompt_blocked(root, f)) f = bad_upstream("no candidates");
    return set_failure(outcome, std::move(f));
  }

  struct Call {
    std::string name, id, arguments, signature;
  };
  std::string body;
  bool first_choice = true;
  size_t position = 0;
  for (element cand_el : cands) {
    object cand;
    if (cand_el.get(cand) != simdjson::SUCCESS) {
      return set_failure(outcome, bad_upstream("a candidate is not an object"));
    }
    std::string_view reason = string_field(cand, "finishReason");
    FinishClass cls = classify_finish(reason);
    if (cls == FinishClass::error) return set_failure(outcome, finish_failure(reason));

    std::string text, reasoning;
    std::vector<Call> calls, held;
    // A call answered later in the same content was run by Gemini itself
    // (server-side tools), so only calls still unanswered at the next
    // text, or at the end, become the client's.
    auto settle = [&] {
      for (Call& c : held) calls.push_back(std::move(c));
      held.clear();
    };
    bool ok = walk_parts(
        cand, f,
        [&](std::string_view t, bool thought) {
          settle();
          (thought ? reasoning : text).append(t);
        },
        [&](CallPart&& c) {
          held.push_back({std::string(c.name), std::string(c.id), std::move(c.arguments),
                          std::string(c.signature)});
        },
        [&](std::string_view name, std::string_view id) { drop_answered(held, name, id); });
    if (!ok) return set_failure(outcome, std::move(f));
    settle();

    auto [finish_text, finish] = openai_finish(cls, !calls.empty());
    if (first_choice) outcome.finish = finish;
    if (!first_choice) body.push_back(',');
    first_choice = false;
    body.append("{\"index\":");
    append_uint(body, candidate_index(cand, position++));
    body.append(",\"message\":{\"role\":\"assistant\",\"content\":");
    if (text.empty() && !calls.empty()) {
      body.append("null");
    } else {
      sdk::append_json_string(body, text);
    }
    if (!reasoning.empty()) {
      body.append(",\"reasoning_content\":");
      sdk::append_json_string(body, reasoning);
    }
    if (!calls.empty()) {
      body.append(",\"tool_calls\":[");
      for (size_t i = 0; i < calls.size(); ++i) {
        if (i > 0) body.push_back(',');
        append_tool_call(body, make_tool_call_id(next_tool_serial(), calls[i].signature), calls[i].name,
                         calls[i].arguments);
      }
      body.push_back(']');
    }
    body.append("},\"finish_reason\":\"");
    body.append(finish_text);
    body.append("\"}");
  }

  open_object(out, ctx, "chat.completion");
  out.append(",\"choices\":[");
  out.append(body);
  out.append("],\"usage\":");
  append_usage(out, outcome.usage);
  out.push_back('}');
}

// --- streams ----------------------------------------------------------------

namespace {

// Every chunk of a stream starts with the same bytes up to the choice's
// index: written once per stream, not escaped again for every chunk.
std::string chunk_prefix(const ChatContext& ctx) {
  std::string p = "data: ";
  open_object(p, ctx, "chat.completion.chunk");
  p.append(",\"choices\":[{\"index\":");
  return p;
}

void open_chunk(std::string& out, std::string_view prefix, uint32_t index) {
  out.append(prefix);
  append_uint(out, index);
  out.append(",\"delta\":{");
}

// OpenAI puts "usage":null on every chunk before the usage chunk when the
// client asked for usage; some clients look for the key.
void close_chunk(std::string& out, const ChatContext& ctx, std::string_view finish_reason) {
  out.append("},\"finish_reason\":");
  if (finish_reason.empty()) {
    out.append("null");
  } else {
    sdk::append_json_string(out, finish_reason);
  }
  out.append("}]");
  if (ctx.include_usage) out.append(",\"usage\":null");
  out.append("}\n\n");
}

}  // namespace

StreamTranslator::StreamTranslator(ChatContext ctx)
    : ctx_(std::move(ctx)), chunk_prefix_(chunk_prefix(ctx_)) {}

bool StreamTranslator::fail(int status, std::string code, std::string message) {
  set_failure(outcome_, {status, std::move(code), std::move(message)});
  return false;
}

StreamTranslator::Choice& StreamTranslator::choice(uint32_t index) {
  for (Choice& c : choices_) {
    if (c.index == index) return c;
  }
  choices_.push_back(Choice());
  choices_.back().index = index;
  return choices_.back();
}

void StreamTranslator::flush_held(Choice& c, std::string& out) {
  for (HeldCall& call : c.held) {
    open_chunk(out, chunk_prefix_, c.index);
    out.append("\"tool_calls\":[{\"index\":");
    append_uint(out, c.next_tool_index++);
    out.push_back(',');
    // append_tool_call writes "{...}": splice its members into this one.
    std::string one;
    append_tool_call(one, make_tool_call_id(next_tool_serial(), call.signature), call.name,
                     call.arguments);
    out.append(std::string_view(one).substr(1));
    out.push_back(']');
    close_chunk(out, ctx_, {});
    c.saw_tool_call = true;
    content_started_ = true;
  }
  c.held.clear();
}

bool StreamTranslator::on_event(std::string_view data, std::string& out) {
  if (outcome_.error || finished_) return false;
  Failure f;
  object root;
  simdjson::dom::parser big;  // elements point into it: lives to the end
  if (!open_answer(data, big, root, f)) return fail(f.status, std::move(f.code), std::move(f.message));
  // Gemini repeats usageMetadata on events, each time the totals so far.
  read_usage(root, outcome_.usage);
  array cands;
  if (!candidates(root, cands)) {
    if (prompt_blocked(root, f)) return fail(f.status, std::move(f.code), std::move(f.message));
    // A usage-only event is fine; an object with nothing Gemini sends is not
    // an event of this stream.
    element ignored;
    if (root["usageMetadata"].get(ignored) != simdjson::SUCCESS &&
        root["candidates"].get(ignored) != simdjson::SUCCESS &&
        root["promptFeedback"].get(ignored) != simdjson::SUCCESS) {
      return fail(502, "bad_upstream_response", "Gemini answer: a stream event that is not a GenerateContentResponse");
    }
    return true;
  }

  size_t position = 0;
  for (element cand_el : cands) {
    object cand;
    if (cand_el.get(cand) != simdjson::SUCCESS) {
      return fail(502, "bad_upstream_response", "Gemini answer: a candidate is not an object");
    }
    // A failed tool call ends the stream before anything of its event.
    std::string_view reason = string_field(cand, "finishReason");
    if (classify_finish(reason) == FinishClass::error) {
      Failure ff = finish_failure(reason);
      return fail(ff.status, std::move(ff.code), std::move(ff.message));
    }
    Choice& c = choice(candidate_index(cand, position++));
    auto role = [&] {
      if (c.role_sent) return;
      open_chunk(out, chunk_prefix_, c.index);
      out.append("\"role\":\"assistant\",\"content\":\"\"");
      close_chunk(out, ctx_, {});
      c.role_sent = true;
    };
    role();
    // Consecutive text parts of one kind go out as one delta.
    std::string run;
    bool run_thought = false;
    auto flush_run = [&] {
      if (run.empty()) return;
      open_chunk(out, chunk_prefix_, c.index);
      out.append(run_thought ? "\"reasoning_content\":" : "\"content\":");
      sdk::append_json_string(out, run);
      close_chunk(out, ctx_, {});
      run.clear();
      content_started_ = true;
    };
    bool ok = walk_parts(
        cand, f,
        [&](std::string_view t, bool thought) {
          if (t.empty()) return;
          // Calls held from before this text were not answered by Gemini.
          flush_held(c, out);
          if (thought != run_thought) flush_run();
          run_thought = thought;
          run.append(t);
        },
        [&](CallPart&& call) {
          flush_run();
          c.held.push_back({std::string(call.name), std::string(call.id), std::move(call.arguments),
                            std::string(call.signature)});
        },
        [&](std::string_view name, std::string_view id) {
          flush_run();
          drop_answered(c.held, name, id);
        });
    flush_run();
    if (!ok) return fail(f.status, std::move(f.code), std::move(f.message));
    if (!reason.empty()) {
      c.finish_reason.assign(reason);
      finish_reason_seen_ = true;
    }
  }
  return true;
}

void StreamTranslator::finish(std::string& out) {
  if (outcome_.error || finished_) return;
  finished_ = true;
  if (choices_.empty()) {
    set_failure(outcome_, bad_upstream("the stream ended without a candidate"));
    return;
  }
  // Every choice's held calls before any finish chunk: a client may stop
  // reading at the finish chunks.
  for (Choice& c : choices_) flush_held(c, out);
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    auto [finish_text, finish] = openai_finish(classify_finish(c.finish_reason), c.saw_tool_call);
    if (i == 0) outcome_.finish = finish;
    open_chunk(out, chunk_prefix_, c.index);
    close_chunk(out, ctx_, finish_text);
  }
  if (ctx_.include_usage) {
    out.append("data: ");
    open_object(out, ctx_, "chat.completion.chunk");
    out.append(",\"choices\":[],\"usage\":");
    append_usage(out, outcome_.usage);
    out.append("}\n\n");
  }
  out.append("data: [DONE]\n\n");
}

// --- embeddings -------------------------------------------------------------

void translate_embeddings_response(std::string_view gemini_json, std::string_view model, std::string& out,
                                   Outcome& outcome, bool vertex_predict) {
  outcome = Outcome();
  out.clear();
  Failure f;
  object root;
  simdjson::dom::parser big;  // elements point into it: lives to the end
  if (!open_answer(gemini_json, big, root, f)) return set_failure(outcome, std::move(f));
  array embeddings;
  if (root[vertex_predict ? "predictions" : "embeddings"].get(embeddings) != simdjson::SUCCESS) {
    return set_failure(outcome, bad_upstream(vertex_predict ? "no predictions array" : "no embeddings array"));
  }
  std::string body;
  size_t i = 0;
  uint64_t tokens = 0;
  for (element e : embeddings) {
    object emb;
    array values;
    if (vertex_predict) {
      // Each prediction wraps its embedding, with the input's token count.
      object pred;
      if (e.get(pred) != simdjson::SUCCESS || pred["embeddings"].get(emb) != simdjson::SUCCESS) {
        return set_failure(outcome, bad_upstream("a prediction without embeddings"));
      }
      double count = 0;
      if (emb["statistics"]["token_count"].get(count) == simdjson::SUCCESS && count > 0 &&
          count < 1e12) {
        tokens += static_cast<uint64_t>(count);
      }
    } else if (e.get(emb) != simdjson::SUCCESS) {
      return set_failure(outcome, bad_upstream("an embedding without values"));
    }
    if (emb["values"].get(values) != simdjson::SUCCESS) {
      return set_failure(outcome, bad_upstream("an embedding without values"));
    }
    if (i > 0) body.push_back(',');
    body.append("{\"object\":\"embedding\",\"index\":");
    append_uint(body, i++);
    body.append(",\"embedding\":[");
    bool first = true;
    for (element v : values) {
      if (!v.is_number()) return set_failure(outcome, bad_upstream("an embedding value is not a number"));
      if (!first) body.push_back(',');
      first = false;
      // simdjson writes the shortest text that reads back as the same
      // double, so the client parses the value Gemini sent.
      body.append(simdjson::minify(v));
    }
    body.append("]}");
  }
  out.append("{\"object\":\"list\",\"data\":[");
  out.append(body);
  out.append("],\"model\":");
  sdk::append_json_string(out, model);
  out.append(",\"usage\":{\"prompt_tokens\":");
  append_uint(out, tokens);
  out.append(",\"total_tokens\":");
  append_uint(out, tokens);
  out.append("}}");
  if (tokens > 0) {
    outcome.usage.present = true;
    outcome.usage.prompt = outcome.usage.total = tokens;
  }
  outcome.finish = AIGW_FINISH_STOP;
}

}  // namespace aigw::gemini_plugin
