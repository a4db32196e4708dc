// One prepared SQLite statement: binds by index, steps, reads columns.
//
// Owning: prepared from SQL here and finalised at the end. Borrowed (SqliteStatement::borrow)
// from a cache of prepared statements: reset at the end instead, on every path out of the
// caller, which ends its read, if any, as finalising it would, and keeps it prepared for the
// next use. A reset keeps the bindings, so every use binds all of its parameters anew.
//
// A statement that failed to prepare (!ok()) is harmless to use: binds do nothing, step()
// returns SQLITE_ERROR and nothing is read.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace s3chaos::sim {

class SqliteStatement {
 public:
  // Prepares `sql` on `db`; !ok() if that failed (sqlite3_errmsg(db) says why).
  SqliteStatement(sqlite3* db, std::string_view sql) : owned_(true) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &statement_, nullptr) !=
        SQLITE_OK) {
      sqlite3_finalize(statement_);
      statement_ = nullptr;
    }
  }
  // A use of `statement`, prepared and finalised by its owner; null gives !ok().
  static SqliteStatement borrow(sqlite3_stmt* statement) { return SqliteStatement(statement); }

  ~SqliteStatement() { release(); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  SqliteStatement(SqliteStatement&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)), owned_(other.owned_) {}
  SqliteStatement& operator=(SqliteStatement&& other) noexcept {
    if (this != &other) {
      release();
      statement_ = std::exchange(other.statement_, nullptr);
      owned_ = other.owned_;
    }
    return *this;
  }

  bool ok() const { return statement_ != nullptr; }
  sqlite3_stmt* get() const { return statement_; }

  SqliteStatement& bind(int index, std::int64_t value) {
    if (ok()) sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  SqliteStatement& bind(int index, double value) {
    if (ok()) sqlite3_bind_double(statement_, index, value);
    return *this;
  }
  // A copy of `text`, as TEXT.
  SqliteStatement& bind_text(int index, std::string_view text) {
    if (ok()) {
      sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT);
    }
    return *this;
  }
  // A copy of `bytes`, as a BLOB.
  SqliteStatement& bind_blob(int index, std::string_view bytes) {
    if (ok()) sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    return *this;
  }
  SqliteStatement& bind_null(int index) {
    if (ok()) sqlite3_bind_null(statement_, index);
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE or an error code; SQLITE_ERROR when !ok().
  int step() { return ok() ? sqlite3_step(statement_) : SQLITE_ERROR; }

  // Columns of the current row (after step() returned SQLITE_ROW).
  std::int64_t column_int(int column) const {
    return ok() ? sqlite3_column_int64(statement_, column) : 0;
  }
  double column_double(int column) const {
    return ok() ? sqlite3_column_double(statement_, column) : 0.0;
  }
  bool is_null(int column) const {
    return !ok() || sqlite3_column_type(statement_, column) == SQLITE_NULL;
  }
  // The column's bytes, TEXT or BLOB alike (embedded NULs included); "" for NULL.
  std::string column_text(int column) const {
    if (!ok()) return {};
    // The blob accessor never converts TEXT or BLOB; the size is read after it, as SQLite asks.
    const void* data = sqlite3_column_blob(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    return data != nullptr
               ? std::string(static_cast<const char*>(data), static_cast<std::size_t>(size))
               : std::string();
  }

 private:
  explicit SqliteStatement(sqlite3_stmt* borrowed) : statement_(borrowed), owned_(false) {}

  void release() {
    if (statement_ == nullptr) return;
    if (owned_) {
      sqlite3_finalize(statement_);
    } else {
      sqlite3_reset(statement_);
    }
    statement_ = nullptr;
  }

  sqlite3_stmt* statement_ = nullptr;
  bool owned_ = false;
};

}  // namespace s3chaos::sim
