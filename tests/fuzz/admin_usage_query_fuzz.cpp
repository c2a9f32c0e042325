// libFuzzer target for the usage report's question and answer
// (src/state/report.cpp): the query string of GET /admin/usage, which any
// holder of the admin key sends, the same parameters as `aigw usage` takes
// them on its command line, and the JSON and CSV answers, whose names
// (key, route and provider names) are whatever an operator's config holds.
//
// The input is split at 0xFF bytes: the first part is the URL query; the
// others, four at a time, are the day, key, model and provider of up to 16
// answer rows (0xFF itself is left out of the names; other invalid UTF-8 is
// not), whose counts come from a hash of the input. Besides crashes and
// sanitizer reports it aborts when:
//   - a refused query has no reason, or an accepted one leaves a day that is
//     not YYYY-MM-DD, from after to, an unknown or repeated group, or a
//     filter outside 1 to 256 bytes;
//   - the command-line path (set_param for each name=value, then finish, as
//     src/main.cpp does) does not give the same answer and reason as the
//     URL path for a query that has nothing to percent-decode;
//   - format_json does not give one valid JSON object (simdjson DOM, UTF-8
//     included) with the query's from, to and group_by and one object per
//     row holding its names (where valid UTF-8) and every count;
//   - format_csv does not read back (RFC 4180) as a header and one record
//     per row, with the names byte for byte and every count;
//   - days_of does not give the days from `from` to `to` in order, or
//     refuses without a reason; group_rows does not add up exactly the
//     rows the query's filters keep.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "fuzz_check.h"
#include "json/utf8.h"
#include "state/report.h"

namespace {

using aigw::state::Totals;
using aigw::state::UsageQuery;
using aigw::state::UsageRow;

using aigw::state::kTotalColumns;

simdjson::dom::parser& parser() {
  static simdjson::dom::parser p;
  return p;
}

bool valid_utf8(std::string_view s) { return aigw::json::utf8_valid_run(s, 0) == s.size(); }

bool is_day(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  return true;
}

const std::string& group_value(const UsageRow& r, std::string_view g) {
  if (g == "day") return r.day;
  if (g == "key") return r.key;
  if (g == "model") return r.model;
  return r.provider;
}

void check_accepted(const UsageQuery& q) {
  FUZZ_CHECK(is_day(q.from) && is_day(q.to) && q.from <= q.to);
  std::set<std::string> seen;
  for (const std::string& g : q.group_by) {
    FUZZ_CHECK(g == "day" || g == "key" || g == "model" || g == "provider");
    FUZZ_CHECK(seen.insert(g).second);
  }
  for (const std::string* f : {&q.key, &q.model, &q.provider}) FUZZ_CHECK(f->size() <= 256);
}

// As `aigw usage --NAME=VALUE ...` does it (src/main.cpp): no decoding.
bool cli_path(std::string_view query, const std::string& today, UsageQuery& q, std::string& why) {
  bool grouped = false;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    start = amp == std::string_view::npos ? query.size() : amp + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view name = part.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    if (!aigw::state::set_param(q, name, value, why)) return false;
    grouped |= name == "group_by";
  }
  if (!grouped) q.group_by = {"key", "model"};
  return aigw::state::finish(q, today, why);
}

uint64_t count(uint64_t& h) {
  h = h * 6364136223846793005ull + 1442695040888963407ull;
  switch (h >> 61) {
    case 0: return 0;
    case 1: return UINT64_MAX;  // sums are unsigned 64-bit; the largest must print whole
    case 2: return h >> 62;
    default: return h >> (h & 63);
  }
}

void check_json(const UsageQuery& q, const std::vector<UsageRow>& rows) {
  std::string out;
  aigw::state::format_json(q, rows, out);
  FUZZ_CHECK(!out.empty() && out.back() == '\n');
  simdjson::dom::element doc;
  FUZZ_CHECK(!parser().parse(out).get(doc));
  simdjson::dom::object o;
  FUZZ_CHECK(!doc.get_object().get(o));
  std::string_view s;
  FUZZ_CHECK(!o["from"].get_string().get(s) && s == q.from);
  FUZZ_CHECK(!o["to"].get_string().get(s) && s == q.to);
  simdjson::dom::array groups, data;
  FUZZ_CHECK(!o["group_by"].get_array().get(groups));
  size_t i = 0;
  for (simdjson::dom::element g : groups) {
    FUZZ_CHECK(i < q.group_by.size() && !g.get_string().get(s) && s == q.group_by[i]);
    ++i;
  }
  FUZZ_CHECK(i == q.group_by.size());
  FUZZ_CHECK(!o["data"].get_array().get(data));
  size_t r = 0;
  for (simdjson::dom::element e : data) {
    FUZZ_CHECK(r < rows.size());
    simdjson::dom::object row;
    FUZZ_CHECK(!e.get_object().get(row));
    for (const std::string& g : q.group_by) {
      FUZZ_CHECK(!row[g].get_string().get(s));
      const std::string& want = group_value(rows[r], g);
      if (valid_utf8(want)) FUZZ_CHECK(s == want);
    }
    for (const auto& c : kTotalColumns) {
      uint64_t v = 0;
      FUZZ_CHECK(!row[c.name].get_uint64().get(v) && v == rows[r].totals.*c.field);
    }
    FUZZ_CHECK(row.size() == q.group_by.size() + std::size(kTotalColumns));
    ++r;
  }
  FUZZ_CHECK(r == rows.size());
}

// RFC 4180 records (CRLF-separated; a field in quotes may hold anything, a
// quote doubled). False when the text is not well-formed CSV.
bool read_csv(std::string_view text, std::vector<std::vector<std::string>>& records) {
  size_t i = 0;
  while (i < text.size()) {
    std::vector<std::string> fields;
    for (;;) {
      std::string f;
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size()) return false;  // unterminated quote
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              f += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          f += text[i++];
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\r' && text[i] != '\n') {
          if (text[i] == '"') return false;  // a quote inside an unquoted field
          f += text[i++];
        }
      }
      fields.push_back(std::move(f));
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (text.substr(i, 2) != "\r\n") return false;  // a field ends at a comma or CRLF, nothing else
      i += 2;
      break;
    }
    records.push_back(std::move(fields));
  }
  return true;
}

void check_csv(const UsageQuery& q, const std::vector<UsageRow>& rows) {
  std::string out;
  aigw::state::format_csv(q, rows, out);
  std::vector<std::vector<std::string>> records;
  FUZZ_CHECK(read_csv(out, records));
  FUZZ_CHECK(records.size() == rows.size() + 1);
  const size_t width = q.group_by.size() + std::size(kTotalColumns);
  for (const auto& rec : records) FUZZ_CHECK(rec.size() == width);
  for (size_t i = 0; i < q.group_by.size(); ++i) FUZZ_CHECK(records[0][i] == q.group_by[i]);
  for (size_t c = 0; c < std::size(kTotalColumns); ++c) FUZZ_CHECK(records[0][q.group_by.size() + c] == kTotalColumns[c].name);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& rec = records[r + 1];
    for (size_t i = 0; i < q.group_by.size(); ++i) FUZZ_CHECK(rec[i] == group_value(rows[r], q.group_by[i]));
    for (size_t c = 0; c < std::size(kTotalColumns); ++c) {
      FUZZ_CHECK(rec[q.group_by.size() + c] == std::to_string(rows[r].totals.*kTotalColumns[c].field));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    const size_t cut = in.find('\xff', start);
    parts.push_back(in.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start));
    if (cut == std::string_view::npos || parts.size() == 1 + 4 * 16) break;
    start = cut + 1;
  }
  uint64_t h = fuzz_fnv1a(in);
  // Today at a month's and a year's edges too (finish() fills from/to from it).
  static const std::string kToday[] = {"2026-12-06", "2026-12-01", "2026-01-31", "2026-12-31"};
  const std::string& today = kToday[h % 4];

  const std::string_view query = parts[0];
  UsageQuery q;
  std::string why;
  const bool ok = aigw::state::parse_url_query(query, today, q, why);
  if (ok) {
    FUZZ_CHECK(why.empty());
    check_accepted(q);
  } else {
    FUZZ_CHECK(!why.empty());
  }

  UsageQuery cq;
  std::string cwhy;
  const bool cok = cli_path(query, today, cq, cwhy);
  FUZZ_CHECK(cok ? cwhy.empty() : !cwhy.empty());
  if (cok) check_accepted(cq);
  if (query.find_first_of("%+") == std::string_view::npos) {
    FUZZ_CHECK(ok == cok && why == cwhy);
    if (ok) {
      FUZZ_CHECK(q.from == cq.from && q.to == cq.to && q.group_by == cq.group_by && q.key == cq.key &&
                 q.model == cq.model && q.provider == cq.provider);
    }
  }
  if (!ok) return 0;

  std::vector<UsageRow> rows;
  for (size_t p = 1; p < parts.size(); p += 4) {
    UsageRow r;
    r.day = std::string(parts[p]);
    if (p + 1 < parts.size()) r.key = std::string(parts[p + 1]);
    if (p + 2 < parts.size()) r.model = std::string(parts[p + 2]);
    if (p + 3 < parts.size()) r.provider = std::string(parts[p + 3]);
    for (const auto& c : kTotalColumns) r.totals.*c.field = count(h);
    rows.push_back(std::move(r));
  }
  check_json(q, rows);
  check_csv(q, rows);
  // The terminal table: no property beyond running clean (a name holding a
  // newline may take two lines there; names come from the operator's config).
  std::string table;
  aigw::state::format_table(q, rows, table);
  FUZZ_CHECK(!table.empty());

  // The days a question from every instance reads (the Redis copy, a hash
  // per day): from to to, one each, or refused with a reason.
  std::vector<std::string> days;
  why.clear();
  if (aigw::state::days_of(q, 400, days, why)) {
    FUZZ_CHECK(!days.empty() && days.size() <= 400 && days.front() == q.from && days.back() == q.to);
    for (size_t i = 1; i < days.size(); ++i) FUZZ_CHECK(is_day(days[i]) && days[i - 1] < days[i]);
  } else {
    FUZZ_CHECK(!why.empty());
  }

  // The rows as full detail, grouped as the query asks (what the Redis copy
  // answers): every row the filters keep is counted once, none other.
  std::vector<UsageRow> grouped;
  aigw::state::group_rows(q, rows, grouped);
  Totals kept, sum;
  for (const UsageRow& r : rows) {
    if (r.day < q.from || r.day > q.to || (!q.key.empty() && r.key != q.key) ||
        (!q.model.empty() && r.model != q.model) || (!q.provider.empty() && r.provider != q.provider)) {
      continue;
    }
    kept.add(r.totals);
  }
  for (const UsageRow& r : grouped) sum.add(r.totals);
  for (const auto& c : kTotalColumns) FUZZ_CHECK(sum.*c.field == kept.*c.field);
  return 0;
}
