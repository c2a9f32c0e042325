#include "dashboard/assets.h"

namespace aigw::dashboard {

const Asset* find(std::string_view path) {
  // A handful of files: a linear scan is cheaper than any table.
  for (const Asset& a : assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

bool etag_matches(std::string_view list, std::string_view etag) {
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) ++i;
    if (i >= list.size()) break;
    if (list[i] == '*') return true;
    if (list.substr(i, 2) == "W/") i += 2;
    if (i >= list.size() || list[i] != '"') return false;  // malformed: no match, send the page
    const size_t close = list.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    if (list.substr(i, close + 1 - i) == etag) return true;
    i = close + 1;
  }
  return false;
}

}  // namespace aigw::dashboard
