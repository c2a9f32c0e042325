#include "redis/reply.h"

#include <hiredis.h>

#include <algorithm>
#include <string_view>

namespace aigw::redis {

namespace {

// hiredis's own reply functions (those of the first reader capped; every
// reader made by hiredis shares them), which the capped table delegates to.
const redisReplyObjectFunctions* base_functions = nullptr;

// The element count's type is int in hiredis 0.14 and size_t in 1.x: the
// template takes whichever the installed header declares.
template <typename Count>
void* capped_array(const redisReadTask* task, Count elements) {
  auto* budget = static_cast<ReplyBudget*>(task->privdata);
  if (task->parent == nullptr) budget->left = kMaxReplyElements;  // the outermost array: a new reply
  const auto n = static_cast<long long>(elements);
  if (n < 0 || n > budget->left) return nullptr;  // the reader reports "Out of memory" and the command fails
  budget->left -= n;
  return base_functions->createArray(task, elements);
}

void flatten(const redisReply* r, std::string& out) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: out.append(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: out += std::to_string(r->integer); break;
    case REDIS_REPLY_ARRAY:
      for (size_t i = 0; i < r->elements; ++i) {
        if (i) out += '\n';
        flatten(r->element[i], out);
      }
      break;
    default: break;  // nil, and RESP3 types no command of ours asks for
  }
}

std::string_view text_of(const redisReply* r) { return r->str ? std::string_view(r->str, r->len) : std::string_view(); }

// An error reply's text for a log line; "-\r\n" is a valid error with none.
std::string error_text(const redisReply* r) {
  return text_of(r).empty() ? "empty error reply" : std::string(text_of(r));
}

}  // namespace

void cap_arrays(redisReader* reader, ReplyBudget& budget) {
  // Built once, from the first reader: hiredis gives every reader it
  // creates the same table, so later readers are recognised by it.
  static redisReplyObjectFunctions capped = [reader] {
    base_functions = reader->fn;
    redisReplyObjectFunctions f = *reader->fn;
    f.createArray = capped_array;
    return f;
  }();
  if (reader->fn != base_functions) return;
  budget.left = kMaxReplyElements;
  // hiredis hands the reader's privdata to every task it reads; it does not
  // use it itself.
  reader->privdata = &budget;
  reader->fn = &capped;
}

ScriptReply read_script_reply(const redisReply* r, std::vector<int64_t>& out, std::string& why) {
  out.clear();
  if (r->type == REDIS_REPLY_ERROR) {
    if (text_of(r).starts_with("NOSCRIPT")) return ScriptReply::noscript;
    why = "script error: " + error_text(r);
    return ScriptReply::error;
  }
  if (r->type != REDIS_REPLY_ARRAY) {
    why = "unexpected script reply";
    return ScriptReply::error;
  }
  for (size_t i = 0; i < r->elements; ++i) {
    out.push_back(r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0);
  }
  return ScriptReply::ok;
}

bool read_text_reply(const redisReply* r, std::string& out, std::string& why) {
  out.clear();
  if (r->type == REDIS_REPLY_ERROR) {
    why = error_text(r);
    return false;
  }
  flatten(r, out);
  return true;
}

bool read_sha_reply(const redisReply* r, std::string& sha, std::string& why) {
  if (r->type != REDIS_REPLY_STRING) {
    why = "SCRIPT LOAD: " + (r->type == REDIS_REPLY_ERROR ? error_text(r) : std::string("unexpected reply"));
    return false;
  }
  sha.assign(text_of(r));
  return true;
}

bool read_strings_reply(const redisReply* r, std::vector<std::string>& out, std::string& why) {
  out.clear();
  if (r->type != REDIS_REPLY_ARRAY) {
    why = r->type == REDIS_REPLY_ERROR ? error_text(r) : "unexpected reply (not an array)";
    return false;
  }
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_STRING) {
      out.clear();
      why = "unexpected reply (an array element is not a string)";
      return false;
    }
    out.emplace_back(text_of(e));
  }
  return true;
}

BudgetAnswer read_budget_answer(std::span<const int64_t> out, uint64_t asked) {
  BudgetAnswer a;
  // The scripts never grant more than asked (scripts.h); an answer that
  // does (a changed script, a proxy's garbage) must not mint budget.
  if (!out.empty()) a.granted = std::min(asked, static_cast<uint64_t>(std::max<int64_t>(0, out[0])));
  if (out.size() >= 2) {
    a.has_remaining = true;
    a.remaining = static_cast<uint64_t>(std::max<int64_t>(0, out[1]));
  }
  if (out.size() >= 3) {
    a.has_until_full = true;
    const int64_t us = std::clamp<int64_t>(out[2], 0, kMaxUntilFullNs / 1000);
    a.until_full_ns = us * 1000;
  }
  return a;
}

}  // namespace aigw::redis
