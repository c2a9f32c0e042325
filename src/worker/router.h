// The route table: path -> allowed methods -> handler.
//
// Built once per config snapshot on the control thread and then only read by
// its worker. Exact paths are looked up in a hash map; later features add
// their routes here instead of growing a chain of string compares.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/request.h"

namespace aigw::worker {

class Worker;
class Exchange;

using Handler = void (*)(Exchange& ex);

constexpr uint32_t method_bit(http::Method m) { return 1u << static_cast<unsigned>(m); }

class Router {
 public:
  // Registers `handler` for `path` and the given methods. Adding GET also
  // allows HEAD (answered without a body), as every HTTP server does.
  void add(std::string_view path, std::initializer_list<http::Method> methods, Handler handler);

  enum class Match : uint8_t { found, not_found, method_not_allowed };

  struct Result {
    Match match;
    Handler handler = nullptr;
    std::string_view allow;  // for 405: "GET, HEAD"
  };

  Result find(std::string_view path, http::Method method) const;

 private:
  struct Entry {
    uint32_t methods = 0;
    std::string allow;
    std::vector<std::pair<uint32_t, Handler>> handlers;  // method mask -> handler
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> routes_;
};

}  // namespace aigw::worker
