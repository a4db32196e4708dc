#include "harness/results_db.hpp"

#include <sqlite3.h>

#include "sim/sqlite_statement.hpp"

namespace s3chaos::harness {
namespace {

using sim::SqliteStatement;

ResultsError error_of(sqlite3* db) {
  return ResultsError(std::string("results database: ") + sqlite3_errmsg(db));
}

// A statement prepared on `db`, or the ResultsError saying why it could not be.
SqliteStatement prepare(sqlite3* db, const char* sql) {
  SqliteStatement statement(db, sql);
  if (!statement.ok()) throw error_of(db);
  return statement;
}

void check_done(sqlite3* db, int code) {
  if (code != SQLITE_DONE) throw error_of(db);
}

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
  SqliteStatement insert = prepare(
      db_, "INSERT OR REPLACE INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  insert.bind_text(1, summary.scenario)
      .bind_text(2, std::to_string(summary.seed))
      .bind_text(3, summary.policy)
      .bind_text(4, summary.holds ? "holds" : "violated")
      .bind(5, static_cast<std::int64_t>(summary.photos_acked))
      .bind(6, static_cast<std::int64_t>(summary.photos_lost))
      .bind(7, static_cast<std::int64_t>(summary.violations.size()))
      .bind(8, summary.drain_time_ms)
      .bind(9, static_cast<std::int64_t>(summary.cache_peak_bytes))
      .bind_text(10, summary.trace_hash)
      .bind(11, summary.simulated_seconds);
  check_done(db_, insert.step());
}

void ResultsDatabase::merge_from(const std::string& other_path) {
  SqliteStatement attach = prepare(db_, "ATTACH DATABASE ?1 AS other");
  attach.bind_text(1, other_path);
  check_done(db_, attach.step());
  try {
    execute("INSERT OR REPLACE INTO runs SELECT * FROM other.runs");
  } catch (...) {
    execute("DETACH DATABASE other");
    throw;
  }
  execute("DETACH DATABASE other");
}

std::vector<ResultRow> ResultsDatabase::rows() {
  SqliteStatement select =
      prepare(db_, "SELECT * FROM runs ORDER BY scenario, policy, CAST(seed AS INTEGER), seed");
  std::vector<ResultRow> rows;
  int code;
  while ((code = select.step()) == SQLITE_ROW) {
    auto text = [&](int column) { return select.column_text(column); };
    ResultRow row;
    row.scenario = text(0);
    row.seed = std::stoull(text(1));
    row.policy = text(2);
    row.verdict = text(3);
    row.photos_acked = static_cast<std::uint64_t>(select.column_int(4));
    row.photos_lost = static_cast<std::uint64_t>(select.column_int(5));
    row.violations = static_cast<std::uint64_t>(select.column_int(6));
    row.drain_time_ms = select.column_int(7);
    row.cache_peak_bytes = static_cast<std::uint64_t>(select.column_int(8));
    row.trace_hash = text(9);
    row.simulated_seconds = select.column_double(10);
    rows.push_back(std::move(row));
  }
  check_done(db_, code);
  return rows;
}

}  // namespace s3chaos::harness
