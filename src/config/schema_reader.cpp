#include "config/schema_reader.h"

#include <algorithm>
#include <charconv>
#include <tuple>
#include <utility>

#include "config/suggest.h"

namespace aigw::config {

std::string_view with_article(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string type_error(std::string_view expected, const toml::node& got) {
  return "expected " + std::string(expected) + ", got " + std::string(with_article(got.type()));
}

std::string problem_line(std::string_view source, const toml::source_region& where,
                         std::string_view key, std::string_view message) {
  std::string text(source);
  text += ':';
  text += std::to_string(where.begin.line);
  text += ':';
  text += std::to_string(where.begin.column);
  text += ": ";
  // A key path holds the file's keys as written, and TOML's quoted keys may
  // hold any character: escaped like the values, so each problem stays one
  // printable line. The message's values are quoted() already; printable()
  // changes nothing there.
  if (!key.empty()) {
    text += printable(key);
    text += ": ";
  }
  text += printable(message);
  return text;
}

void Problems::add(const toml::source_region& where, std::string_view key,
                   std::string_view message) {
  list_.push_back({where.begin.line, where.begin.column, problem_line(source_, where, key, message)});
}

std::vector<std::string> Problems::take_sorted() {
  std::stable_sort(list_.begin(), list_.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  return take();
}

std::vector<std::string> Problems::take() {
  std::vector<std::string> out;
  out.reserve(list_.size());
  for (Problem& p : list_) out.push_back(std::move(p.text));
  list_.clear();
  return out;
}

std::string TableReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* TableReader::get_node(std::string_view key) {
  known_.emplace_back(key);
  return table_ ? table_->get(key) : nullptr;
}

TableReader TableReader::table(std::string_view key) {
  const toml::node* node = get_node(key);
  if (node != nullptr && !node->is_table()) {
    error(*node, path_of(key), type_error("a table", *node));
    node = nullptr;
  }
  const toml::table* sub = node ? node->as_table() : nullptr;
  return TableReader(sub, path_of(key), sub ? sub->source() : where_, problems_);
}

const toml::node* TableReader::get_bool(std::string_view key, bool& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (!node->is_boolean()) return wrong_type(key, "a boolean", *node);
  out = node->as_boolean()->get();
  return node;
}

const toml::node* TableReader::get_string(std::string_view key, std::string& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (!node->is_string()) return wrong_type(key, "a string", *node);
  out = node->as_string()->get();
  return node;
}

const toml::node* TableReader::get_integer(std::string_view key, IntRange range, uint64_t& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (!node->is_integer()) return wrong_type(key, "an integer", *node);
  const int64_t value = node->as_integer()->get();
  if (value < 0 || static_cast<uint64_t>(value) < range.min ||
      static_cast<uint64_t>(value) > range.max) {
    return out_of_range(key, *node, std::to_string(range.min), std::to_string(range.max),
                        std::to_string(value));
  }
  out = static_cast<uint64_t>(value);
  return node;
}

const toml::node* TableReader::get_signed(std::string_view key, int64_t& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (!node->is_integer()) return wrong_type(key, "an integer", *node);
  out = node->as_integer()->get();
  return node;
}

const toml::node* TableReader::get_size(std::string_view key, IntRange range, uint64_t& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  uint64_t value = 0;
  std::string as_written;
  if (node->is_integer()) {
    const int64_t n = node->as_integer()->get();
    as_written = std::to_string(n);
    if (n < 0) {
      return out_of_range(key, *node, format_size(range.min), format_size(range.max), as_written);
    }
    value = static_cast<uint64_t>(n);
  } else if (node->is_string()) {
    as_written = node->as_string()->get();
    std::string why;
    if (!parse_size(as_written, value, why)) {
      error(*node, path_of(key), "invalid size " + quoted(as_written) + ": " + why);
      return nullptr;
    }
  } else {
    return wrong_type(key, "an integer or a size string such as \"32KiB\"", *node);
  }
  if (value < range.min || value > range.max) {
    return out_of_range(key, *node, format_size(range.min), format_size(range.max), as_written);
  }
  out = value;
  return node;
}

const toml::node* TableReader::get_duration(std::string_view key, DurationRange range,
                                            Duration& out) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (node->is_integer()) {
    // A bare number has no unit; name both likely meanings instead of guessing.
    const std::string n = std::to_string(node->as_integer()->get());
    error(*node, path_of(key),
          type_error("a duration string", *node) + " (write \"" + n + "s\" or \"" + n + "ms\")");
    return nullptr;
  }
  if (!node->is_string()) return wrong_type(key, "a duration string such as \"10s\"", *node);
  const std::string& text = node->as_string()->get();
  Duration value{};
  std::string why;
  if (!parse_duration(text, value, why)) {
    error(*node, path_of(key), "invalid duration " + quoted(text) + ": " + why);
    return nullptr;
  }
  if (value < range.min || value > range.max) {
    return out_of_range(key, *node, format_duration(range.min), format_duration(range.max), text);
  }
  out = value;
  return node;
}

const toml::array* TableReader::get_array(std::string_view key) {
  const toml::node* node = get_node(key);
  if (node == nullptr) return nullptr;
  if (!node->is_array()) {
    wrong_type(key, "an array", *node);
    return nullptr;
  }
  return node->as_array();
}

void TableReader::mark_known(std::span<const std::string> keys) {
  known_.insert(known_.end(), keys.begin(), keys.end());
}

void TableReader::report_unknown_keys() { report_unknown({}, false); }

void TableReader::report_unknown_plugin_keys(std::string_view plugin, bool complete) {
  report_unknown("unknown key for plugin " + quoted(plugin), !complete);
}

void TableReader::report_unknown(std::string_view what, bool only_near) {
  if (table_ == nullptr) return;
  for (auto&& [key, node] : *table_) {
    if (is_known(key.str())) continue;
    const std::string_view near = closest_key(key.str(), known_);
    if (only_near && near.empty()) continue;
    std::string message = what.empty() ? "unknown key " + quoted(path_of(key.str()))
                                        : std::string(what);
    if (!near.empty()) message += " (did you mean " + quoted(path_of(near)) + "?)";
    // The key's own position is where the typo is; a table's node would
    // point at its header instead.
    const toml::source_region& where = key.source().begin.line ? key.source() : node.source();
    problems_.add(where, path_of(key.str()), message);
  }
}

const toml::node* TableReader::wrong_type(std::string_view key, std::string_view expected,
                                          const toml::node& node) {
  error(node, path_of(key), type_error(expected, node));
  return nullptr;
}

const toml::node* TableReader::out_of_range(std::string_view key, const toml::node& node,
                                            const std::string& min, const std::string& max,
                                            const std::string& got) {
  error(node, path_of(key), "must be between " + min + " and " + max + ", got " + got);
  return nullptr;
}

bool TableReader::is_known(std::string_view key) const {
  return std::find(known_.begin(), known_.end(), key) != known_.end();
}

void in_file_order(std::vector<std::string>& problems, std::string_view source) {
  struct Line {
    bool positioned;
    unsigned long line;
    unsigned long column;
    std::string text;
  };
  // Reads the "<source>:<line>:<column>:" every positioned line starts with
  // (problem_line's form).
  auto position = [&](std::string_view text, unsigned long& line, unsigned long& column) {
    if (!text.starts_with(source) || text.size() <= source.size() || text[source.size()] != ':') {
      return false;
    }
    const char* p = text.data() + source.size() + 1;
    const char* end = text.data() + text.size();
    auto l = std::from_chars(p, end, line);
    if (l.ec != std::errc() || l.ptr == end || *l.ptr != ':') return false;
    auto c = std::from_chars(l.ptr + 1, end, column);
    return c.ec == std::errc() && c.ptr != end && *c.ptr == ':';
  };
  std::vector<Line> lines;
  lines.reserve(problems.size());
  for (std::string& text : problems) {
    Line l{false, 0, 0, std::move(text)};
    l.positioned = position(l.text, l.line, l.column);
    lines.push_back(std::move(l));
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::tuple(!a.positioned, a.line, a.column) < std::tuple(!b.positioned, b.line, b.column);
  });
  problems.clear();
  for (Line& l : lines) {
    if (std::find(problems.begin(), problems.end(), l.text) == problems.end()) {
      problems.push_back(std::move(l.text));
    }
  }
}

}  // namespace aigw::config
