#include "state/store.h"

#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace aigw::state {
namespace {

// Migration i takes the schema from version i to i + 1. Never edit one that
// has shipped: add the next. Version 1 kept no cached/reasoning token
// columns; version 2 adds them; version 3 the latency buckets.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    "CREATE TABLE usage_daily ("
    " day TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL,"
    " requests INTEGER NOT NULL DEFAULT 0, errors_4xx INTEGER NOT NULL DEFAULT 0,"
    " errors_429 INTEGER NOT NULL DEFAULT 0, errors_5xx INTEGER NOT NULL DEFAULT 0,"
    " client_closed INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    " completion_tokens INTEGER NOT NULL DEFAULT 0, total_tokens INTEGER NOT NULL DEFAULT 0,"
    " latency_ms_sum INTEGER NOT NULL DEFAULT 0, ttft_ms_sum INTEGER NOT NULL DEFAULT 0,"
    " ttft_count INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (day, key, model, provider)) WITHOUT ROWID;"
    "CREATE TABLE requests ("
    " ts_ms INTEGER NOT NULL, request_id TEXT NOT NULL, key TEXT NOT NULL, model TEXT NOT NULL,"
    " provider TEXT NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL, stream INTEGER NOT NULL,"
    " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL,"
    " latency_ms INTEGER NOT NULL, ttft_ms INTEGER);"
    "CREATE INDEX requests_ts ON requests (ts_ms);",
    // 1 -> 2
    "ALTER TABLE usage_daily ADD COLUMN cached_tokens INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0;",
    // 2 -> 3: latency and time-to-first-byte buckets (rows from before
    // have none: 0 in every bucket)
    "ALTER TABLE usage_daily ADD COLUMN latency_le_100ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN latency_le_500ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN latency_le_1s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN latency_le_5s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN latency_le_30s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN ttft_le_100ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN ttft_le_500ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN ttft_le_1s INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE usage_daily ADD COLUMN ttft_le_5s INTEGER NOT NULL DEFAULT 0;",
    // 3 -> 4: request rows without the ts_ms index, which doubled the cost
    // of each insert; they are appended in time order, so pruning walks
    // them from the oldest rowid instead (Store::prune).
    "DROP INDEX IF EXISTS requests_ts;",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// A prepared statement, finalized on every path.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
  bool prepare(sqlite3* db, const char* sql) { return sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK; }
  void text(int i, std::string_view v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  // For bytes that outlive the statement's next step (no copy).
  void text_kept(int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void num(int i, uint64_t v) { sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(v)); }
  std::string col_text(int i) {
    const unsigned char* t = sqlite3_column_text(s, i);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s, i))) : "";
  }
  uint64_t col_num(int i) { return static_cast<uint64_t>(sqlite3_column_int64(s, i)); }
};

constexpr size_t kTotals = std::size(kTotalColumns);

}  // namespace

std::string day_of_s(int64_t wall_s) {
  time_t t = static_cast<time_t>(wall_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}
std::string day_of_ms(int64_t wall_ms) { return day_of_s(wall_ms / 1000); }

std::string default_path(const config::Config& cfg) {
  const char* sd = std::getenv("STATE_DIRECTORY");
  if (sd != nullptr && *sd != '\0') {
    std::string dir(sd);
    if (size_t colon = dir.find(':'); colon != std::string::npos) dir.resize(colon);
    return dir + "/aigw-state.db";
  }
  if (cfg.source != "<built-in>" && !cfg.source.empty()) {
    size_t slash = cfg.source.rfind('/');
    return slash == std::string::npos ? "aigw-state.db" : cfg.source.substr(0, slash + 1) + "aigw-state.db";
  }
  return "aigw-state.db";
}

std::string path_of(const config::Config& cfg) {
  return cfg.state.path.empty() ? default_path(cfg) : cfg.state.path;
}

void Totals::add(const UsageRecord& r) {
  ++requests;
  if (r.status == 429) {
    ++errors_429;
  } else if (r.status == 499) {
    ++client_closed;
  } else if (r.status >= 500) {
    ++errors_5xx;
  } else if (r.status >= 400) {
    ++errors_4xx;
  }
  prompt_tokens += stored_tokens(r.prompt_tokens);
  completion_tokens += stored_tokens(r.completion_tokens);
  total_tokens += stored_tokens(r.total_tokens);
  cached_tokens += stored_tokens(r.cached_tokens);
  reasoning_tokens += stored_tokens(r.reasoning_tokens);
  latency_ms_sum += r.latency_ms;
  latency_le_100ms += r.latency_ms <= 100;
  latency_le_500ms += r.latency_ms <= 500;
  latency_le_1s += r.latency_ms <= 1000;
  latency_le_5s += r.latency_ms <= 5000;
  latency_le_30s += r.latency_ms <= 30000;
  if (r.has_ttft) {
    ttft_ms_sum += r.ttft_ms;
    ++ttft_count;
    ttft_le_100ms += r.ttft_ms <= 100;
    ttft_le_500ms += r.ttft_ms <= 500;
    ttft_le_1s += r.ttft_ms <= 1000;
    ttft_le_5s += r.ttft_ms <= 5000;
  }
}

void Totals::add(const Totals& t) {
  for (const TotalColumn& c : kTotalColumns) this->*c.field += t.*c.field;
}

std::string Store::problem(int rc) const {
  std::string what;
  switch (rc & 0xff) {
    case SQLITE_FULL: what = "the disk is full"; break;
    case SQLITE_READONLY: what = "the file is read-only"; break;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: what = "the file is not a sound SQLite database (corrupt?)"; break;
    case SQLITE_CANTOPEN: what = "the file cannot be opened (does its directory exist, may aigw write there?)"; break;
    case SQLITE_BUSY: case SQLITE_LOCKED: what = "the database is locked by another process"; break;
    case SQLITE_PERM: case SQLITE_AUTH: what = "permission denied"; break;
    case SQLITE_IOERR: what = "an I/O error"; break;
    default: what = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  }
  return "state file " + path_ + ": " + what;
}

bool Store::exec(const char* sql, std::string& why) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  return true;
}

std::unique_ptr<Store> Store::open(const std::string& path, bool read_only, std::string& why) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Store> s(new Store(db, path));
  if (rc != SQLITE_OK) {
    why = s->problem(rc);
    return nullptr;
  }
  // SQLite opens a write-protected file read-only without a word: say so.
  if (!read_only && sqlite3_db_readonly(db, "main") == 1) {
    why = s->problem(SQLITE_READONLY);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_extended_result_codes(db, 1);
  // Reading the schema fails on a file that is not a database at all.
  int version = 0;
  {
    Stmt st;
    if (!st.prepare(db, "PRAGMA user_version") || sqlite3_step(st.s) != SQLITE_ROW) {
      why = s->problem(sqlite3_extended_errcode(db));
      return nullptr;
    }
    version = static_cast<int>(st.col_num(0));
  }
  {
    Stmt st;
    if (!st.prepare(db, "PRAGMA quick_check") || sqlite3_step(st.s) != SQLITE_ROW || st.col_text(0) != "ok") {
      why = s->problem(SQLITE_CORRUPT);
      return nullptr;
    }
  }
  if (version > kSchemaVersion) {
    why = "state file " + path + ": schema version " + std::to_string(version) +
          " is newer than this aigw understands (" + std::to_string(kSchemaVersion) + ")";
    return nullptr;
  }
  if (read_only) {
    if (version < kSchemaVersion) {
      why = "state file " + path + ": schema version " + std::to_string(version) +
            " (start the gateway once to migrate it)";
      return nullptr;
    }
    return s;
  }
  // WAL: readers (the admin endpoint, `aigw usage`) never wait for the
  // writer; synchronous=NORMAL: a commit is durable against a crash of the
  // process (what the flush guarantee needs), not against power loss.
  if (!s->exec("PRAGMA journal_mode=WAL", why) || !s->exec("PRAGMA synchronous=NORMAL", why)) return nullptr;
  // The migrations, and a write even when there is none, so a full disk
  // or a locked file shows now and not at the first flush.
  if (!s->exec("BEGIN IMMEDIATE", why)) return nullptr;
  for (int v = version; v < kSchemaVersion; ++v) {
    if (!s->exec(kMigrations[v], why)) {
      s->exec("ROLLBACK", why);
      why = s->problem(sqlite3_extended_errcode(db));
      return nullptr;
    }
  }
  std::string set = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
  std::string ignore;
  if (!s->exec(set.c_str(), why) || !s->exec("COMMIT", why)) {
    s->exec("ROLLBACK", ignore);
    return nullptr;
  }
  return s;
}

Store::~Store() { sqlite3_close_v2(db_); }

int Store::schema_version() {
  Stmt st;
  if (!st.prepare(db_, "PRAGMA user_version") || sqlite3_step(st.s) != SQLITE_ROW) return -1;
  return static_cast<int>(st.col_num(0));
}

bool Store::write(const Aggregates& aggregates,
                  const std::vector<UsageRecord>& requests, std::string& why) {
  std::string sql = "INSERT INTO usage_daily (day, key, model, provider";
  for (const TotalColumn& c : kTotalColumns) sql += std::string(", ") + c.name;
  sql += ") VALUES (?, ?, ?, ?";
  for (size_t i = 0; i < kTotals; ++i) sql += ", ?";
  sql += ") ON CONFLICT (day, key, model, provider) DO UPDATE SET ";
  for (size_t i = 0; i < kTotals; ++i) {
    if (i) sql += ", ";
    const std::string c = kTotalColumns[i].name;
    sql += c + " = " + c + " + excluded." + c;
  }
  if (!exec("BEGIN IMMEDIATE", why)) return false;
  std::string ignore;
  auto fail = [&] {
    why = problem(sqlite3_extended_errcode(db_));
    exec("ROLLBACK", ignore);
    return false;
  };
  {
    Stmt up;
    if (!up.prepare(db_, sql.c_str())) return fail();
    for (const auto& [k, t] : aggregates) {
      sqlite3_reset(up.s);
      up.text(1, std::get<0>(k));
      up.text(2, std::get<1>(k));
      up.text(3, std::get<2>(k));
      up.text(4, std::get<3>(k));
      for (size_t i = 0; i < kTotals; ++i) up.num(static_cast<int>(5 + i), t.*kTotalColumns[i].field);
      if (sqlite3_step(up.s) != SQLITE_DONE) return fail();
    }
  }
  if (!requests.empty()) {
    Stmt ins;
    if (!ins.prepare(db_,
                     "INSERT INTO requests (ts_ms, request_id, key, model, provider, status, error, stream,"
                     " prompt_tokens, completion_tokens, total_tokens, latency_ms, ttft_ms)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")) {
      return fail();
    }
    for (const UsageRecord& r : requests) {
      sqlite3_reset(ins.s);
      ins.num(1, static_cast<uint64_t>(r.wall_ms));
      // The record outlives the step: no copy of its names.
      ins.text_kept(2, r.request_id.view());
      ins.text_kept(3, r.key.view());
      ins.text_kept(4, r.model.view());
      ins.text_kept(5, r.provider.view());
      ins.num(6, r.status);
      ins.text_kept(7, r.error.view());
      ins.num(8, r.stream ? 1 : 0);
      ins.num(9, stored_tokens(r.prompt_tokens));
      ins.num(10, stored_tokens(r.completion_tokens));
      ins.num(11, stored_tokens(r.total_tokens));
      ins.num(12, r.latency_ms);
      if (r.has_ttft) {
        ins.num(13, r.ttft_ms);
      } else {
        sqlite3_bind_null(ins.s, 13);
      }
      if (sqlite3_step(ins.s) != SQLITE_DONE) return fail();
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail();
  return true;
}

bool Store::prune(int64_t before_ms, std::string& why) {
  Stmt st;
  // Rows are appended in time order (to within one flush, across workers),
  // so the old ones are the lowest rowids: delete below the first row that
  // is recent enough, found by walking from the oldest, which costs about
  // what is deleted and needs no index on ts_ms. A row out of order by less
  // than a flush waits for the next prune.
  if (!st.prepare(db_,
                  "DELETE FROM requests WHERE rowid < COALESCE("
                  "(SELECT rowid FROM requests WHERE ts_ms >= ?1 ORDER BY rowid LIMIT 1),"
                  " (SELECT MAX(rowid) FROM requests) + 1)")) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  st.num(1, static_cast<uint64_t>(before_ms));
  if (sqlite3_step(st.s) != SQLITE_DONE) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  return true;
}

int64_t Store::request_rows() {
  Stmt st;
  if (!st.prepare(db_, "SELECT COUNT(*) FROM requests") || sqlite3_step(st.s) != SQLITE_ROW) return -1;
  return static_cast<int64_t>(st.col_num(0));
}

bool Store::usage(const UsageQuery& q, std::vector<UsageRow>& out, std::string& why) {
  // Column names come from the fixed list in the query's validation
  // (report.cpp), never from the request as such; values are bound.
  std::string cols;
  for (const std::string& g : q.group_by) cols += g + ", ";
  std::string sql = "SELECT " + cols;
  for (size_t i = 0; i < kTotals; ++i) {
    if (i) sql += ", ";
    sql += std::string("SUM(") + kTotalColumns[i].name + ")";
  }
  sql += " FROM usage_daily WHERE day >= ?1 AND day <= ?2";
  if (!q.key.empty()) sql += " AND key = ?3";
  if (!q.model.empty()) sql += " AND model = ?4";
  if (!q.provider.empty()) sql += " AND provider = ?5";
  if (!q.group_by.empty()) {
    std::string list = cols.substr(0, cols.size() - 2);
    sql += " GROUP BY " + list + " ORDER BY " + list;
  } else {
    sql += " HAVING COUNT(*) > 0";
  }
  Stmt st;
  if (!st.prepare(db_, sql.c_str())) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  st.text(1, q.from);
  st.text(2, q.to);
  if (!q.key.empty()) st.text(3, q.key);
  if (!q.model.empty()) st.text(4, q.model);
  if (!q.provider.empty()) st.text(5, q.provider);
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    UsageRow row;
    int c = 0;
    for (const std::string& g : q.group_by) {
      std::string v = st.col_text(c++);
      if (g == "day") row.day = v;
      if (g == "key") row.key = v;
      if (g == "model") row.model = v;
      if (g == "provider") row.provider = v;
    }
    for (const TotalColumn& col : kTotalColumns) row.totals.*col.field = st.col_num(c++);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  return true;
}

bool Store::quota_use(int64_t wall_s, std::map<std::string, QuotaUse>& out, std::string& why) {
  std::string day = day_of_s(wall_s);
  std::string month_first = day.substr(0, 8) + "01";
  Stmt st;
  if (!st.prepare(db_,
                  "SELECT key, SUM(CASE WHEN day = ?1 THEN total_tokens ELSE 0 END), SUM(total_tokens)"
                  " FROM usage_daily WHERE day >= ?2 AND day <= ?1 AND key != '' GROUP BY key")) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  st.text(1, day);
  st.text(2, month_first);
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out[st.col_text(0)] = QuotaUse{st.col_num(1), st.col_num(2)};
  }
  if (rc != SQLITE_DONE) {
    why = problem(sqlite3_extended_errcode(db_));
    return false;
  }
  return true;
}

}  // namespace aigw::state
