// The one mechanism that reads a TOML table against the keys a schema knows,
// for the host's own sections and for the keys a plugin reads of its
// [[provider]] table (src/plugin/config_source.h) alike.
//
// A reader never stops at the first problem: a user fixing a config file
// wants every mistake in one run. Each getter marks its key as known,
// records a type or range problem at the value's own position, and leaves
// the default in place; report_unknown_keys() then names whatever keys
// nobody asked for, with a "did you mean" when one is close.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "config/quote.h"

#include "config/config.h"

namespace aigw::config {

// "a string", "an integer", ...: a TOML type as messages name it.
std::string_view with_article(toml::node_type type);

// "expected <expected>, got <the node's type>".
std::string type_error(std::string_view expected, const toml::node& got);


// "<source>:<line>:<column>: <key>: <message>", the form of every problem
// line (without "<key>: " when `key` is empty). in_file_order() reads it back.
std::string problem_line(std::string_view source, const toml::source_region& where,
                         std::string_view key, std::string_view message);

// All problems of one file, each with its position.
class Problems {
 public:
  explicit Problems(std::string_view source) : source_(source) {}

  void add(const toml::source_region& where, std::string_view key, std::string_view message);

  bool empty() const { return list_.empty(); }

  // In file order, so the output reads top to bottom; empties the list.
  std::vector<std::string> take_sorted();
  // In the order they were added; empties the list.
  std::vector<std::string> take();

 private:
  struct Problem {
    toml::source_index line;
    toml::source_index column;
    std::string text;
  };
  std::string source_;
  std::vector<Problem> list_;
};

struct IntRange {
  uint64_t min;
  uint64_t max;
};

struct DurationRange {
  Duration min;
  Duration max;
};

// Reads one TOML table of the schema. Every getter marks its key as known
// (present or not), so report_unknown_keys() can name the rest. Getters store
// into `out` and return the node only when the value is present and valid;
// otherwise `out` keeps its default and a problem has been recorded if the
// value was present but wrong.
class TableReader {
 public:
  // `table` may be null: a section that is absent reads as empty, and
  // `where` is then the enclosing table's position. `path` is the table's
  // dotted name in messages ("server.limits", "provider[1]"; "" at the root).
  TableReader(const toml::table* table, std::string path, toml::source_region where,
              Problems& problems)
      : table_(table), path_(std::move(path)), where_(std::move(where)), problems_(problems) {}

  static TableReader root(const toml::table& table, Problems& problems) {
    return TableReader(&table, "", table.source(), problems);
  }

  // The dotted name of `key` in this table, as used in messages.
  std::string path_of(std::string_view key) const;

  Problems& problems() { return problems_; }

  void error(const toml::node& node, std::string_view dotted_key, std::string_view message) {
    problems_.add(node.source(), dotted_key, message);
  }

  // A problem about a value that is absent: reported at the table.
  void error_here(std::string_view dotted_key, std::string_view message) {
    problems_.add(where_, dotted_key, message);
  }

  // Whether `key` is present; does not mark it as known.
  bool has(std::string_view key) const { return table_ != nullptr && table_->contains(key); }

  // The node under `key`, for values with a shape of their own (see read_listen).
  const toml::node* get_node(std::string_view key);

  // The sub-table under `key`; absent (or not a table, which is reported)
  // reads as an empty table.
  TableReader table(std::string_view key);

  const toml::node* get_bool(std::string_view key, bool& out);
  const toml::node* get_string(std::string_view key, std::string& out);
  // A non-negative integer within `range`.
  const toml::node* get_integer(std::string_view key, IntRange range, uint64_t& out);
  // Any integer TOML can hold, negative ones included (plugins judge their own ranges).
  const toml::node* get_signed(std::string_view key, int64_t& out);
  // A byte size: an integer (bytes) or a size string such as "32KiB".
  const toml::node* get_size(std::string_view key, IntRange range, uint64_t& out);
  // A duration string such as "10s"; a bare integer is refused with a hint.
  const toml::node* get_duration(std::string_view key, DurationRange range, Duration& out);
  // An array of any elements.
  const toml::array* get_array(std::string_view key);

  // Keys asked for so far, in the order they were first asked.
  const std::vector<std::string>& known() const { return known_; }
  // Counts `keys` as asked for: another reader of the same table read them
  // (the host's keys of a [[provider]] table, for its plugin's reader).
  void mark_known(std::span<const std::string> keys);

  // Call last: every key present that no getter asked for is a mistake,
  // reported as unknown key "server.wrokers" (did you mean "server.workers"?).
  void report_unknown_keys();

  // The same for the keys of a plugin's table: unknown key for plugin
  // "local" (did you mean "provider[0].chunk_words"?). `complete`: the
  // plugin read every key it knows. A plugin that gave up early may not
  // have asked for all of them yet; then only keys near one that was asked
  // for (and so most likely typos of it) are reported.
  void report_unknown_plugin_keys(std::string_view plugin, bool complete);

 private:
  const toml::node* wrong_type(std::string_view key, std::string_view expected,
                               const toml::node& node);
  const toml::node* out_of_range(std::string_view key, const toml::node& node,
                                 const std::string& min, const std::string& max,
                                 const std::string& got);
  bool is_known(std::string_view key) const;
  // `what`: the message's start, "unknown key for plugin \"local\""; empty
  // for the host's own form. `only_near`: skip keys with no suggestion.
  void report_unknown(std::string_view what, bool only_near);

  const toml::table* table_;
  std::string path_;
  toml::source_region where_;
  Problems& problems_;
  std::vector<std::string> known_;
};

// Arrays of tables ([[plugin]], [[provider]], ...): `each(reader, table, i)`
// for every entry, the reader named "<key>[<i>]".
template <typename Fn>
void read_table_array(TableReader& top, std::string_view key, Fn each) {
  const toml::node* node = top.get_node(key);
  if (node == nullptr) return;
  const toml::array* list = node->as_array();
  if (list == nullptr || !list->is_array_of_tables()) {
    top.error(*node, key, type_error("an array of tables ([[" + std::string(key) + "]])", *node));
    return;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const toml::table* t = list->get(i)->as_table();
    each(TableReader(t, std::string(key) + "[" + std::to_string(i) + "]", t->source(),
                     top.problems()),
         *t, i);
  }
}

}  // namespace aigw::config
