#include "redis/connection.h"

#include <hiredis.h>
#include <sys/time.h>

namespace aigw::redis {

namespace {

timeval to_timeval(config::Duration d) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

struct ReplyGuard {
  redisReply* r;
  ~ReplyGuard() {
    if (r) freeReplyObject(r);
  }
};

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
    default: break;  // nil
  }
}

}  // namespace

Connection::~Connection() { close(); }

void Connection::close() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void* Connection::call(std::span<const std::string> argv, std::string& why) {
  if (!ctx_) {
    why = "not connected";
    return nullptr;
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  void* reply = redisCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data());
  if (reply == nullptr) {
    // hiredis's messages name the failure (timeout, reset), never the data.
    why = ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
    close();
  }
  return reply;
}

bool Connection::connect(std::span<Script* const> scripts, std::string& why) {
  close();
  ctx_ = redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, to_timeval(cfg_.connect_timeout));
  if (ctx_ == nullptr) {
    why = "cannot allocate a connection";
    return false;
  }
  if (ctx_->err) {
    why = ctx_->errstr;
    close();
    return false;
  }
  redisSetTimeout(ctx_, to_timeval(cfg_.command_timeout));
  redisEnableKeepAlive(ctx_);
  auto ok_reply = [&](std::span<const std::string> argv, std::string_view what) {
    auto* r = static_cast<redisReply*>(call(argv, why));
    if (r == nullptr) return false;
    ReplyGuard g{r};
    if (r->type == REDIS_REPLY_ERROR) {
      // The server's own message (WRONGPASS, NOAUTH, ...) never contains
      // the password that was sent.
      why = std::string(what) + ": " + std::string(r->str, r->len);
      close();
      return false;
    }
    return true;
  };
  if (!cfg_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!cfg_.username.empty()) auth.push_back(cfg_.username);
    auth.push_back(cfg_.password);
    if (!ok_reply(auth, "AUTH")) return false;
  }
  if (cfg_.db != 0) {
    const std::string argv[] = {"SELECT", std::to_string(cfg_.db)};
    if (!ok_reply(argv, "SELECT")) return false;
  }
  for (Script* s : scripts) {
    const std::string argv[] = {"SCRIPT", "LOAD", std::string(s->source)};
    auto* r = static_cast<redisReply*>(call(argv, why));
    if (r == nullptr) return false;
    ReplyGuard g{r};
    if (r->type != REDIS_REPLY_STRING) {
      why = "SCRIPT LOAD: " + (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply");
      close();
      return false;
    }
    s->sha.assign(r->str, r->len);
  }
  return true;
}

bool Connection::eval(Script& script, std::span<const std::string> keys,
                      std::span<const std::string> args, std::vector<int64_t>& out, std::string& why) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(script.sha);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto* r = static_cast<redisReply*>(call(argv, why));
  if (r == nullptr) return false;
  if (r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
    // EVAL also caches the script on the server, so the next EVALSHA hits.
    freeReplyObject(r);
    argv[0] = "EVAL";
    argv[1] = std::string(script.source);
    r = static_cast<redisReply*>(call(argv, why));
    if (r == nullptr) return false;
  }
  ReplyGuard g{r};
  if (r->type != REDIS_REPLY_ARRAY) {
    why = r->type == REDIS_REPLY_ERROR ? "script error: " + std::string(r->str, r->len)
                                       : "unexpected script reply";
    close();
    return false;
  }
  out.clear();
  for (size_t i = 0; i < r->elements; ++i) {
    out.push_back(r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0);
  }
  return true;
}

bool Connection::strings(std::span<const std::string> argv, std::vector<std::string>& out, std::string& why) {
  auto* r = static_cast<redisReply*>(call(argv, why));
  if (r == nullptr) return false;
  ReplyGuard g{r};
  out.clear();
  if (r->type != REDIS_REPLY_ARRAY) {
    why = r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "unexpected reply (not an array)";
    return false;
  }
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    if (e->type != REDIS_REPLY_STRING) {
      why = "unexpected reply (an array element is not a string)";
      return false;
    }
    out.emplace_back(e->str, e->len);
  }
  return true;
}

bool Connection::command(std::span<const std::string> argv, std::string& out, std::string& why) {
  auto* r = static_cast<redisReply*>(call(argv, why));
  if (r == nullptr) return false;
  ReplyGuard g{r};
  out.clear();
  if (r->type == REDIS_REPLY_ERROR) {
    why = std::string(r->str, r->len);
    return false;
  }
  flatten(r, out);
  return true;
}

}  // namespace aigw::redis
