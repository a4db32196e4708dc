#include "harness/results_db.hpp"

#include <sqlite3.h>

namespace s3chaos::harness {
namespace {

// A prepared statement that finalises itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw ResultsError(std::string("results database: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  sqlite3_stmt* get() { return statement_; }
  void done(int code) {
    if (code != SQLITE_DONE)
      throw ResultsError(std::string("results database: ") + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

constexpr const char* schema = R"(
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = FULL;
  CREATE TABLE IF NOT EXISTS runs (
    scenario TEXT NOT NULL,
    seed TEXT NOT NULL,            -- decimal: SQLite integers are signed 64-bit
    policy TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('holds', 'violated')),
    photos_acked INTEGER NOT NULL,
    photos_lost INTEGER NOT NULL,
    violations INTEGER NOT NULL,
    drain_time_ms INTEGER NOT NULL,
    cache_peak_bytes INTEGER NOT NULL,
    trace_hash TEXT NOT NULL,
    simulated_seconds REAL NOT NULL,
    PRIMARY KEY (scenario, seed, policy)
  );
)";

}  // namespace

ResultsDatabase::ResultsDatabase(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw ResultsError("results database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, 10'000);
  execute(schema);
}

ResultsDatabase::~ResultsDatabase() {
  sqlite3_close(db_);
}

void ResultsDatabase::execute(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw ResultsError("results database: " + message);
  }
}

void ResultsDatabase::record(const RunSummary& summary) {
  Statement insert(
      db_, "INSERT OR REPLACE INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  sqlite3_stmt* s = insert.get();
  const std::string seed = std::to_string(summary.seed);
  sqlite3_bind_text(s, 1, summary.scenario.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, seed.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, summary.policy.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, summary.holds ? "holds" : "violated", -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, static_cast<sqlite3_int64>(summary.photos_acked));
  sqlite3_bind_int64(s, 6, static_cast<sqlite3_int64>(summary.photos_lost));
  sqlite3_bind_int64(s, 7, static_cast<sqlite3_int64>(summary.violations.size()));
  sqlite3_bind_int64(s, 8, summary.drain_time_ms);
  sqlite3_bind_int64(s, 9, static_cast<sqlite3_int64>(summary.cache_peak_bytes));
  sqlite3_bind_text(s, 10, summary.trace_hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_double(s, 11, summary.simulated_seconds);
  insert.done(sqlite3_step(s));
}

void ResultsDatabase::merge_from(const std::string& other_path) {
  Statement attach(db_, "ATTACH DATABASE ?1 AS other");
  sqlite3_bind_text(attach.get(), 1, other_path.c_str(), -1, SQLITE_TRANSIENT);
  attach.done(sqlite3_step(attach.get()));
  try {
    execute("INSERT OR REPLACE INTO runs SELECT * FROM other.runs");
  } catch (...) {
    execute("DETACH DATABASE other");
    throw;
  }
  execute("DETACH DATABASE other");
}

std::vector<ResultRow> ResultsDatabase::rows() {
  Statement select(db_,
                   "SELECT * FROM runs ORDER BY scenario, policy, CAST(seed AS INTEGER), seed");
  std::vector<ResultRow> rows;
  sqlite3_stmt* s = select.get();
  int code;
  while ((code = sqlite3_step(s)) == SQLITE_ROW) {
    auto text = [&](int column) {
      const unsigned char* value = sqlite3_column_text(s, column);
      return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
    };
    ResultRow row;
    row.scenario = text(0);
    row.seed = std::stoull(text(1));
    row.policy = text(2);
    row.verdict = text(3);
    row.photos_acked = static_cast<std::uint64_t>(sqlite3_column_int64(s, 4));
    row.photos_lost = static_cast<std::uint64_t>(sqlite3_column_int64(s, 5));
    row.violations = static_cast<std::uint64_t>(sqlite3_column_int64(s, 6));
    row.drain_time_ms = sqlite3_column_int64(s, 7);
    row.cache_peak_bytes = static_cast<std::uint64_t>(sqlite3_column_int64(s, 8));
    row.trace_hash = text(9);
    row.simulated_seconds = sqlite3_column_double(s, 10);
    rows.push_back(std::move(row));
  }
  select.done(code);
  return rows;
}

}  // namespace s3chaos::harness
