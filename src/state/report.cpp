#include "state/report.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "http/query.h"
#include "json/write.h"

namespace aigw::state {
namespace {

constexpr std::string_view kGroups[] = {"day", "key", "model", "provider"};

// The columns of every answer, in this order, after the grouped ones.
using Column = TotalColumn;
constexpr const auto& kColumns = kTotalColumns;

bool valid_day(std::string_view d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (d[i] < '0' || d[i] > '9') return false;
  }
  const int year = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
  const int month = (d[5] - '0') * 10 + (d[6] - '0');
  const int day = (d[8] - '0') * 10 + (d[9] - '0');
  if (month < 1 || month > 12 || day < 1) return false;
  // A day that does not exist (November 31, February 29 of a common year)
  // would be counted as the next one by the day arithmetic: refuse it.
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

const std::string& group_value(const UsageRow& r, std::string_view g) {
  if (g == "day") return r.day;
  if (g == "key") return r.key;
  if (g == "model") return r.model;
  return r.provider;
}

// A CSV field: quoted when it holds a comma, quote or line break.
void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

bool set_param(UsageQuery& q, std::string_view name, std::string_view value, std::string& why) {
  if (name == "from" || name == "to") {
    if (!valid_day(value)) {
      why = std::string(name) + " must be a UTC day as YYYY-MM-DD";
      return false;
    }
    (name == "from" ? q.from : q.to) = std::string(value);
    return true;
  }
  if (name == "group_by") {
    q.group_by.clear();
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string_view g = value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (!g.empty()) {
        if (std::find(std::begin(kGroups), std::end(kGroups), g) == std::end(kGroups)) {
          why = "group_by takes day, key, model and provider, separated by commas (not \"" +
                std::string(g.substr(0, 32)) + "\")";
          return false;
        }
        if (std::find(q.group_by.begin(), q.group_by.end(), g) == q.group_by.end()) q.group_by.emplace_back(g);
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return true;
  }
  if (name == "key" || name == "model" || name == "provider") {
    if (value.empty() || value.size() > 256) {
      why = std::string(name) + " must be a name of 1 to 256 bytes";
      return false;
    }
    (name == "key" ? q.key : name == "model" ? q.model : q.provider) = std::string(value);
    return true;
  }
  if (name == "source") {
    if (value != "all" && value != "local") {
      why = "source is all (every instance, from Redis) or local (this instance's store)";
      return false;
    }
    q.source = std::string(value);
    return true;
  }
  why = "unknown parameter \"" + std::string(name.substr(0, 32)) +
        "\" (use from, to, group_by, key, model, provider, source)";
  return false;
}

bool finish(UsageQuery& q, const std::string& today, std::string& why) {
  if (q.to.empty()) q.to = q.from.empty() || q.from <= today ? today : q.from;
  if (q.from.empty()) q.from = q.to.substr(0, 8) + "01";
  if (q.from > q.to) {
    why = "from (" + q.from + ") is after to (" + q.to + ")";
    return false;
  }
  return true;
}

bool parse_url_query(std::string_view query, const std::string& today, UsageQuery& q, std::string& why) {
  bool grouped = false;
  const bool ok = http::for_each_query_param(query, [&](const std::string& name, const std::string& value) {
    grouped |= name == "group_by";
    return set_param(q, name, value, why);
  }, why);
  if (!ok) return false;
  if (!grouped) q.group_by = {"key", "model"};
  return finish(q, today, why);
}

namespace {

// Days since 1970-01-01 of a civil date (proleptic Gregorian), and back.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t day_number(const std::string& day) {
  auto num = [&](size_t at, size_t n) {
    int64_t v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (day[i] - '0');
    return v;
  };
  return days_from_civil(num(0, 4), static_cast<unsigned>(num(5, 2)), static_cast<unsigned>(num(8, 2)));
}

}  // namespace

bool days_of(const UsageQuery& q, size_t max_days, std::vector<std::string>& out, std::string& why) {
  out.clear();
  if (!valid_day(q.from) || !valid_day(q.to) || q.from > q.to) {
    why = "from and to must be UTC days as YYYY-MM-DD, from first";
    return false;
  }
  const int64_t first = day_number(q.from), last = day_number(q.to);
  if (last - first + 1 > static_cast<int64_t>(max_days)) {
    why = "at most " + std::to_string(max_days) + " days at once from every instance (ask again for the rest)";
    return false;
  }
  for (int64_t d = first; d <= last; ++d) out.push_back(day_of_s(d * 86400));
  return true;
}

void group_rows(const UsageQuery& q, const std::vector<UsageRow>& detail, std::vector<UsageRow>& out) {
  // Ordered as the file's GROUP BY ... ORDER BY answers: by the grouped
  // columns in the asked order, bytewise.
  std::map<std::vector<std::string>, Totals> groups;
  for (const UsageRow& r : detail) {
    if (r.day < q.from || r.day > q.to) continue;
    if ((!q.key.empty() && r.key != q.key) || (!q.model.empty() && r.model != q.model) ||
        (!q.provider.empty() && r.provider != q.provider)) {
      continue;
    }
    std::vector<std::string> id;
    for (const std::string& g : q.group_by) id.push_back(group_value(r, g));
    groups[id].add(r.totals);
  }
  for (const auto& [id, totals] : groups) {
    UsageRow row;
    for (size_t i = 0; i < q.group_by.size(); ++i) {
      const std::string& g = q.group_by[i];
      (g == "day" ? row.day : g == "key" ? row.key : g == "model" ? row.model : row.provider) = id[i];
    }
    row.totals = totals;
    out.push_back(std::move(row));
  }
}

void format_json(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out) {
  out += "{\"from\":\"" + q.from + "\",\"to\":\"" + q.to + "\",";
  if (!q.source.empty()) out += "\"source\":\"" + q.source + "\",";
  out += "\"group_by\":[";
  for (size_t i = 0; i < q.group_by.size(); ++i) {
    if (i) out += ',';
    json::append_string(out, q.group_by[i]);
  }
  out += "],\"data\":[";
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r) out += ',';
    out += '{';
    for (const std::string& g : q.group_by) {
      json::append_string(out, g);
      out += ':';
      json::append_string(out, group_value(rows[r], g));
      out += ',';
    }
    for (size_t c = 0; c < std::size(kColumns); ++c) {
      if (c) out += ',';
      out += '"';
      out += kColumns[c].name;
      out += "\":" + std::to_string(rows[r].totals.*kColumns[c].field);
    }
    out += '}';
  }
  out += "]}\n";
}

void format_csv(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out) {
  for (const std::string& g : q.group_by) out += g + ",";
  for (size_t c = 0; c < std::size(kColumns); ++c) {
    if (c) out += ',';
    out += kColumns[c].name;
  }
  out += "\r\n";
  for (const UsageRow& row : rows) {
    for (const std::string& g : q.group_by) {
      csv_field(out, group_value(row, g));
      out += ',';
    }
    for (size_t c = 0; c < std::size(kColumns); ++c) {
      if (c) out += ',';
      out += std::to_string(row.totals.*kColumns[c].field);
    }
    out += "\r\n";
  }
}

void format_table(const UsageQuery& q, const std::vector<UsageRow>& rows, std::string& out) {
  // The columns people read first; json and csv have them all.
  const Column shown[] = {kColumns[0], kColumns[1], kColumns[2], kColumns[3],
                          kColumns[5], kColumns[7], kColumns[9]};
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head(q.group_by.begin(), q.group_by.end());
  for (const Column& c : shown) head.emplace_back(c.name);
  cells.push_back(head);
  for (const UsageRow& row : rows) {
    std::vector<std::string> line;
    for (const std::string& g : q.group_by) line.push_back(group_value(row, g).empty() ? "-" : group_value(row, g));
    for (const Column& c : shown) line.push_back(std::to_string(row.totals.*c.field));
    cells.push_back(std::move(line));
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  }
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) {
      bool number = i >= q.group_by.size();
      std::string pad(width[i] - line[i].size(), ' ');
      if (i) out += "  ";
      out += number ? pad + line[i] : line[i] + (i + 1 < line.size() ? pad : "");
    }
    out += '\n';
  }
}

}  // namespace aigw::state
