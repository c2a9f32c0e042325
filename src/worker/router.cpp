#include "worker/router.h"

namespace aigw::worker {

void Router::add(std::string_view path, std::initializer_list<http::Method> methods,
                 Handler handler) {
  Entry& e = routes_[std::string(path)];
  uint32_t mask = 0;
  for (http::Method m : methods) {
    mask |= method_bit(m);
    if (m == http::Method::get) mask |= method_bit(http::Method::head);
  }
  e.methods |= mask;
  e.handlers.emplace_back(mask, handler);

  // The Allow header lists methods in a fixed order so it reads the same
  // whatever order routes were added in.
  e.allow.clear();
  for (unsigned m = 0; m <= static_cast<unsigned>(http::Method::trace); ++m) {
    if (e.methods & (1u << m)) {
      if (!e.allow.empty()) e.allow += ", ";
      e.allow += http::method_name(static_cast<http::Method>(m));
    }
  }
}

Router::Result Router::find(std::string_view path, http::Method method) const {
  auto it = routes_.find(path);
  if (it == routes_.end()) return {Match::not_found, nullptr, {}};
  const Entry& e = it->second;
  uint32_t bit = method_bit(method);
  if (method != http::Method::other) {
    for (const auto& [mask, handler] : e.handlers) {
      if (mask & bit) return {Match::found, handler, e.allow};
    }
  }
  return {Match::method_not_allowed, nullptr, e.allow};
}

}  // namespace aigw::worker
