// One synchronous connection to Redis (hiredis), used by one thread only:
// the RedisLeaseSource's background thread, and the tests. Every call is
// bounded by the connect or command timeout of [state.redis]; a failure
// closes the connection, and the caller decides when to connect again.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "redis/reply.h"

struct redisContext;

namespace aigw::redis {

// A Lua script run with EVALSHA, falling back to EVAL when the server does
// not have it (NOSCRIPT: a restarted or flushed server, a failover).
struct Script {
  std::string_view source;
  std::string sha;  // filled by Connection::connect (SCRIPT LOAD)
};

class Connection {
 public:
  explicit Connection(const config::RedisConfig& cfg) : cfg_(cfg) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects, authenticates, selects the database and loads `scripts`.
  // On failure `why` says what failed, without the password.
  bool connect(std::span<Script* const> scripts, std::string& why);
  bool connected() const { return ctx_ != nullptr; }
  void close();

  // Runs `script`; its reply must be an array of integers (every script of
  // scripts.h answers so), returned in `out`. False (and closed) on a
  // connection error, timeout or error reply.
  bool eval(Script& script, std::span<const std::string> keys, std::span<const std::string> args,
            std::vector<int64_t>& out, std::string& why);

  // A command whose reply is an array of strings (HGETALL, KEYS): its
  // elements, whole (they may hold any byte). False on an error reply or
  // another type; closed on a connection error.
  bool strings(std::span<const std::string> argv, std::vector<std::string>& out, std::string& why);

  // Any command; the reply as text ("" for nil; integers as digits; an
  // array as its elements, one per line). For tests and SCRIPT FLUSH.
  bool command(std::span<const std::string> argv, std::string& out, std::string& why);

 private:
  // Sends argv, returns the reply (owned: freeReplyObject) or null with
  // `why` set and the connection closed.
  void* call(std::span<const std::string> argv, std::string& why);

  config::RedisConfig cfg_;
  redisContext* ctx_ = nullptr;
  ReplyBudget budget_;  // ctx_'s reader counts each reply's arrays here
};

}  // namespace aigw::redis
