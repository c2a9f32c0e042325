#include "redis/connection.h"

#include <hiredis.h>
#include <sys/time.h>

#include "redis/reply.h"

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
  cap_arrays(ctx_->reader, budget_);  // replies are read from the network: see reply.h
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
    if (!read_sha_reply(r, s->sha, why)) {
      close();
      return false;
    }
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
  ScriptReply got = read_script_reply(r, out, why);
  if (got == ScriptReply::noscript) {
    // EVAL also caches the script on the server, so the next EVALSHA hits.
    freeReplyObject(r);
    argv[0] = "EVAL";
    argv[1] = std::string(script.source);
    r = static_cast<redisReply*>(call(argv, why));
    if (r == nullptr) return false;
    got = read_script_reply(r, out, why);
    if (got == ScriptReply::noscript) why = "script error: NOSCRIPT after EVAL";
  }
  ReplyGuard g{r};
  if (got != ScriptReply::ok) {
    close();
    return false;
  }
  return true;
}

bool Connection::strings(std::span<const std::string> argv, std::vector<std::string>& out, std::string& why) {
  auto* r = static_cast<redisReply*>(call(argv, why));
  if (r == nullptr) return false;
  ReplyGuard g{r};
  return read_strings_reply(r, out, why);
}

bool Connection::command(std::span<const std::string> argv, std::string& out, std::string& why) {
  auto* r = static_cast<redisReply*>(call(argv, why));
  if (r == nullptr) return false;
  ReplyGuard g{r};
  return read_text_reply(r, out, why);
}

}  // namespace aigw::redis
