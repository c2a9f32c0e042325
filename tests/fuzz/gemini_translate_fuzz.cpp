// libFuzzer target for the gemini plugin's translations, both ways
// (plugins/gemini/translate_request.cpp, translate_response.cpp). Their
// input is a client's body or a provider's answer: untrusted bytes that end
// up in JSON the gateway sends on.
//
// The first input byte picks what the rest is (mode & 3):
//   0  an OpenAI chat body -> a generateContent body (then, mode bit 2, as
//      an embeddings body -> batchEmbedContents);
//   1  a generateContent answer -> a chat.completion (and, bit 2, a
//      batchEmbedContents answer -> an embeddings list);
//   2  a streamGenerateContent?alt=sse body, read with the SDK's SSE
//      splitter and translated event by event;
//   3  the same as 2, cut into pieces at points taken from a hash of the
//      input (so every finding reproduces from the file alone).
// Besides crashes and sanitizer reports it aborts when a property breaks:
//   - a translation that succeeds gives one valid JSON value (valid UTF-8
//     included); one that fails gives an error with a status and a message;
//   - every stream event sent to the client is "data: <JSON>\n\n" or
//     "data: [DONE]\n\n", and [DONE] is the last;
//   - a stream gives the same bytes however it is cut (tool-call ids,
//     which come from a process-wide counter, compared masked).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "aigw_plugin.hpp"
#include "translate_request.h"
#include "translate_response.h"

namespace {

namespace g = aigw::gemini_plugin;

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "fuzz check failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ull;
  return h;
}

simdjson::dom::parser& json_checker() {
  static simdjson::dom::parser parser;
  return parser;
}

bool valid_json(std::string_view s) {
  simdjson::dom::element e;
  return json_checker().parse(s.data(), s.size()).get(e) == simdjson::SUCCESS;
}

void check_failure(const g::Outcome& oc) {
  FUZZ_CHECK(oc.error);
  FUZZ_CHECK(oc.status >= 400 && oc.status <= 599);
  FUZZ_CHECK(!oc.code.empty() && !oc.message.empty());
}

// Tool-call ids carry a process-wide serial: two runs over the same stream
// differ there and nowhere else.
std::string mask_ids(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (s.substr(i, 5) == "call_" && i + 21 <= s.size()) {
      out += "call_################";
      i += 21;
    } else {
      out += s[i++];
    }
  }
  return out;
}

void check_stream_output(std::string_view out) {
  size_t pos = 0;
  bool done = false;
  while (pos < out.size()) {
    FUZZ_CHECK(!done);  // nothing after [DONE]
    FUZZ_CHECK(out.substr(pos, 6) == "data: ");
    size_t end = out.find("\n\n", pos);
    FUZZ_CHECK(end != std::string_view::npos);
    std::string_view data = out.substr(pos + 6, end - pos - 6);
    if (data == "[DONE]") {
      done = true;
    } else {
      FUZZ_CHECK(data.find('\n') == std::string_view::npos);
      FUZZ_CHECK(valid_json(data));
    }
    pos = end + 2;
  }
}

// Feeds `body` to a StreamTranslator through the SDK's splitter, in pieces
// of the given lengths (0: all at once). Returns everything sent.
std::string run_stream(std::string_view body, const std::vector<size_t>& cuts) {
  g::ChatContext ctx;
  ctx.id = "chatcmpl-fuzz";
  ctx.model = "gemini-fuzz";
  ctx.created = 1;
  ctx.include_usage = true;
  g::StreamTranslator t(ctx);
  aigw::sdk::SseSplitter sse;  // the default bound: far above any input here, so cuts cannot change it
  std::string out;
  bool failed = false;
  auto on_event = [&](std::string_view event) {
    std::string data;
    int lines = 0;
    aigw::sdk::for_each_sse_field(event, [&](std::string_view name, std::string_view value) {
      if (name != "data") return;
      if (lines++ != 0) data.push_back('\n');
      data.append(value);
    });
    if (lines == 0) return true;
    if (!t.on_event(data, out)) {
      failed = true;
      return false;
    }
    return true;
  };
  size_t pos = 0;
  for (size_t i = 0; pos < body.size() && !failed; ++i) {
    size_t n = cuts.empty() ? body.size() : cuts[i % cuts.size()];
    if (n > body.size() - pos) n = body.size() - pos;
    if (!sse.feed(body.substr(pos, n), on_event)) break;
    pos += n;
  }
  if (failed) {
    check_failure(t.outcome());
  } else {
    t.finish(out);
    if (t.outcome().error) check_failure(t.outcome());
  }
  check_stream_output(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  static simdjson::dom::parser parser;

  switch (mode & 3) {
    case 0: {
      std::string out;
      g::ChatRequestInfo info;
      g::RequestError err;
      if (g::translate_chat_request(parser, body, out, info, err)) {
        FUZZ_CHECK(valid_json(out));
      } else {
        FUZZ_CHECK(!err.message.empty());
      }
      if (mode & 4) {
        std::string emb;
        g::RequestError eerr;
        if (g::translate_embeddings_request(parser, body, "text-embedding-004", emb, eerr)) {
          FUZZ_CHECK(valid_json(emb));
        } else {
          FUZZ_CHECK(!eerr.message.empty());
        }
      }
      break;
    }
    case 1: {
      g::ChatContext ctx;
      ctx.id = "chatcmpl-fuzz";
      ctx.model = "gemini-fuzz";
      std::string out;
      g::Outcome oc;
      g::translate_chat_response(body, ctx, out, oc);
      if (oc.error) {
        check_failure(oc);
        FUZZ_CHECK(out.empty());
      } else {
        FUZZ_CHECK(valid_json(out));
      }
      if (mode & 4) {
        std::string emb;
        g::Outcome eoc;
        g::translate_embeddings_response(body, "e", emb, eoc);
        if (eoc.error) {
          check_failure(eoc);
        } else {
          FUZZ_CHECK(valid_json(emb));
        }
      }
      break;
    }
    case 2:
      run_stream(body, {});
      break;
    case 3: {
      uint64_t h = fnv1a(data, size);
      std::vector<size_t> cuts;
      for (int i = 0; i < 8; ++i, h >>= 8) cuts.push_back(1 + (h & 0x3f));
      std::string whole = run_stream(body, {});
      std::string pieces = run_stream(body, cuts);
      FUZZ_CHECK(mask_ids(whole) == mask_ids(pieces));
      break;
    }
  }
  return 0;
}
