#include "journal.hpp"

#include <sqlite3.h>

#include <array>
#include <cstdio>
#include <string_view>

#include "sim/assert.hpp"
#include "sim/sqlite_statement.hpp"

namespace s3chaos::uploader {
namespace {

// Each use of a statement of the journal's cache borrows it: reset at the end of the use,
// which ends its read, and kept prepared for the next one.
using sim::SqliteStatement;

// The SQL of each Journal::Sql, in the enum's order.
constexpr std::array<const char*, static_cast<std::size_t>(Journal::Sql::count)> statement_sql = {
    "BEGIN IMMEDIATE;",
    "COMMIT;",
    "ROLLBACK;",
    "SELECT value FROM meta WHERE name = 'boot_count';",
    "INSERT OR REPLACE INTO meta(name, value) VALUES('boot_count', ?1);",
    // A received row left by an ingest whose cleanup failed: never acknowledged, so replace it.
    "SELECT row_id FROM photos WHERE photo_id = ?1 AND state = 0;",
    "INSERT INTO photos(photo_id, object_key, content_name, size_bytes, md5_hex, "
    "checksum_algorithm, checksum_base64, state) "
    "VALUES(?1, '', ?7, ?2, ?3, ?4, ?5, ?6);",
    "UPDATE photos SET object_key = ?1 WHERE row_id = ?2;",
    "INSERT INTO copies(row_id, target, state, put_acked_ns, verified_ns) "
    "VALUES(?1, ?2, 0, 0, 0);",
    "UPDATE photos SET state = ?1 WHERE row_id = ?2;",
    "UPDATE copies SET state = ?1, put_acked_ns = ?2, verified_ns = ?3 "
    "WHERE row_id = ?4 AND target = ?5;",
    "INSERT INTO copies(state, put_acked_ns, verified_ns, row_id, target) "
    "VALUES(?1, ?2, ?3, ?4, ?5);",
    "DELETE FROM photos WHERE row_id = ?1;",
    "DELETE FROM copies WHERE row_id = ?1;",
    "SELECT row_id, photo_id, object_key, size_bytes, md5_hex, checksum_algorithm, "
    "checksum_base64, state, content_name FROM photos ORDER BY row_id;",
    "SELECT row_id, target, state, put_acked_ns, verified_ns FROM copies "
    "ORDER BY row_id, target;",
};

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS photos(
  row_id INTEGER PRIMARY KEY AUTOINCREMENT,
  photo_id TEXT NOT NULL UNIQUE,
  object_key TEXT NOT NULL,
  content_name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  md5_hex TEXT NOT NULL,
  checksum_algorithm TEXT NOT NULL,
  checksum_base64 TEXT NOT NULL,
  state INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS copies(
  row_id INTEGER NOT NULL,
  target INTEGER NOT NULL,
  state INTEGER NOT NULL,
  put_acked_ns INTEGER NOT NULL,
  verified_ns INTEGER NOT NULL,
  PRIMARY KEY(row_id, target));
)sql";

// Keys are 12 digits so that they sort as the row ids do.
constexpr int key_digits = 12;

}  // namespace

std::string durable_object_key(const std::string& key_prefix, std::int64_t row_id) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%0*lld", key_digits, static_cast<long long>(row_id));
  return key_prefix + digits;
}

Journal::~Journal() {
  // sqlite3_close_v2 never fails on a connection without unfinalised statements; after a
  // simulated crash its writes fail, which SQLite tolerates (the hot journal stays for the
  // next open to roll back).
  if (db_ != nullptr) {
    // Finalised first: a connection with live statements would only be closed later (a
    // zombie), keeping its database file open.
    finalize_statements();
    sqlite3_close_v2(db_);
  }
}

void Journal::finalize_statements() {
  for (sqlite3_stmt*& statement : statements_) {
    sqlite3_finalize(statement);
    statement = nullptr;
  }
}

sqlite3_stmt* Journal::prepared(Sql sql) {
  const auto index = static_cast<std::size_t>(sql);
  S3CHAOS_ASSERT(index < statements_.size());
  if (statements_[index] == nullptr) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, statement_sql[index], -1, &statement, nullptr) != SQLITE_OK) {
      sqlite3_finalize(statement);
      return nullptr;
    }
    statements_[index] = statement;
  }
  return statements_[index];
}

bool Journal::run(Sql sql) {
  auto statement = SqliteStatement::borrow(prepared(sql));
  return statement.ok() && statement.step() == SQLITE_DONE;
}

template <typename Body>
bool Journal::transaction(Body&& body) {
  if (!run(Sql::begin)) return false;
  // The staged records first: the body's own writes, made later, win over them.
  const auto write_staged = [&] {
    for (const auto& [copy_key, copy] : staged_) {
      if (!write_copy(copy_key.first, copy_key.second, copy)) return false;
    }
    return true;
  };
  if (write_staged() && body() && run(Sql::commit)) {
    staged_.clear();
    return true;
  }
  run(Sql::rollback);
  return false;
}

bool Journal::open(const std::string& path, const std::string& vfs_name,
                   const std::string& journal_mode, std::string& error) {
  S3CHAOS_ASSERT(db_ == nullptr);
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_, flags, vfs_name.empty() ? nullptr : vfs_name.c_str());
  if (rc != SQLITE_OK) {
    error = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  // Extended codes tell SQLITE_IOERR_FSYNC from SQLITE_FULL in logs.
  sqlite3_extended_result_codes(db_, 1);
  const std::string mode_sql = "PRAGMA journal_mode=" + journal_mode + ";";
  if (!exec("PRAGMA synchronous=FULL;") || !exec(mode_sql.c_str()) || !exec(schema_sql)) {
    error = last_error();
    sqlite3_close_v2(db_);
    db_ = nullptr;
    return false;
  }
  return true;
}

std::string Journal::last_error() const {
  return db_ != nullptr ? sqlite3_errmsg(db_) : "journal not open";
}

bool Journal::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

std::optional<std::uint32_t> Journal::next_boot() {
  std::int64_t boot = 1;
  const bool done = transaction([&] {
    {
      auto select = SqliteStatement::borrow(prepared(Sql::select_boot));
      if (!select.ok()) return false;
      const int rc = select.step();
      if (rc == SQLITE_ROW) {
        boot = select.column_int(0) + 1;
      } else if (rc != SQLITE_DONE) {
        return false;
      }
    }
    auto upsert = SqliteStatement::borrow(prepared(Sql::upsert_boot));
    if (!upsert.ok()) return false;
    upsert.bind(1, boot);
    return upsert.step() == SQLITE_DONE;
  });
  if (!done) return std::nullopt;
  return static_cast<std::uint32_t>(boot);
}

std::optional<std::int64_t> Journal::insert_photo(const PhotoView& photo, std::size_t target_count,
                                                  const std::string& key_prefix,
                                                  const std::optional<std::string>& fixed_key,
                                                  std::string& object_key) {
  std::optional<std::int64_t> row_id;
  const bool done = transaction([&] {
    row_id = insert_row(photo, target_count, key_prefix, fixed_key, object_key);
    return row_id.has_value();
  });
  if (!done) return std::nullopt;
  return row_id;
}

bool Journal::insert_photos(const std::vector<PhotoView>& photos, std::size_t target_count,
                            const std::string& key_prefix,
                            const std::vector<std::optional<std::string>>& fixed_keys,
                            std::vector<std::int64_t>& row_ids,
                            std::vector<std::string>& object_keys) {
  row_ids.clear();
  object_keys.clear();
  const bool done = transaction([&] {
    for (std::size_t i = 0; i < photos.size(); ++i) {
      std::string object_key;
      const std::optional<std::string> fixed = fixed_keys.empty() ? std::nullopt : fixed_keys.at(i);
      const auto row_id = insert_row(photos[i], target_count, key_prefix, fixed, object_key);
      if (!row_id.has_value()) return false;
      row_ids.push_back(*row_id);
      object_keys.push_back(std::move(object_key));
    }
    return true;
  });
  if (!done) {
    row_ids.clear();
    object_keys.clear();
  }
  return done;
}

std::optional<std::int64_t> Journal::insert_row(const PhotoView& photo, std::size_t target_count,
                                                const std::string& key_prefix,
                                                const std::optional<std::string>& fixed_key,
                                                std::string& object_key) {
  auto fail = []() -> std::optional<std::int64_t> { return std::nullopt; };
  std::int64_t row_id = 0;
  {
    // A received row left by an ingest whose cleanup failed: never acknowledged, so replace it.
    // Looked up first, because nearly every ingest finds none: a DELETE with the lookup as a
    // subquery built a temporary table on every ingest (a fifth of the photoshare run).
    std::optional<std::int64_t> stale_row;
    {
      auto stale = SqliteStatement::borrow(prepared(Sql::select_stale_row));
      if (!stale.ok()) return fail();
      stale.bind_text(1, photo.photo_id);
      const int rc = stale.step();
      if (rc == SQLITE_ROW) {
        stale_row = stale.column_int(0);
      } else if (rc != SQLITE_DONE) {
        return fail();
      }
    }
    if (stale_row.has_value() && !delete_rows(*stale_row)) return fail();
  }
  {
    auto insert = SqliteStatement::borrow(prepared(Sql::insert_photo));
    if (!insert.ok()) return fail();
    insert.bind_text(1, photo.photo_id);
    insert.bind(2, static_cast<std::int64_t>(photo.size_bytes));
    insert.bind_text(3, photo.md5_hex);
    insert.bind_text(4, s3proto::checksum_algorithm_name(photo.checksum_algorithm));
    insert.bind_text(5, photo.checksum_base64);
    insert.bind(6, static_cast<std::int64_t>(photo.state));
    insert.bind_text(7, photo.content_name);
    if (insert.step() != SQLITE_DONE) return fail();
    row_id = sqlite3_last_insert_rowid(db_);
  }
  object_key = fixed_key.has_value() ? *fixed_key : durable_object_key(key_prefix, row_id);
  {
    auto update = SqliteStatement::borrow(prepared(Sql::update_object_key));
    if (!update.ok()) return fail();
    update.bind_text(1, object_key);
    update.bind(2, row_id);
    if (update.step() != SQLITE_DONE) return fail();
  }
  for (std::size_t target = 0; target < target_count; ++target) {
    auto copy = SqliteStatement::borrow(prepared(Sql::insert_copy));
    if (!copy.ok()) return fail();
    copy.bind(1, row_id);
    copy.bind(2, static_cast<std::int64_t>(target));
    if (copy.step() != SQLITE_DONE) return fail();
  }
  return row_id;
}

bool Journal::set_state(std::int64_t row_id, PhotoState state) {
  return transaction([&] { return write_state(row_id, state); });
}

void Journal::stage_copy(std::int64_t row_id, std::size_t target, const CopyView& copy) {
  staged_[{row_id, target}] = copy;
}

bool Journal::flush_staged() {
  if (staged_.empty()) return true;
  return transaction([] { return true; });
}

bool Journal::write_state(std::int64_t row_id, PhotoState state) {
  auto update = SqliteStatement::borrow(prepared(Sql::set_state));
  if (!update.ok()) return false;
  update.bind(1, static_cast<std::int64_t>(state));
  update.bind(2, row_id);
  return update.step() == SQLITE_DONE && sqlite3_changes(db_) == 1;
}

bool Journal::write_copy(std::int64_t row_id, std::size_t target, const CopyView& copy) {
  // An upsert: a target added to the settings since the photo was ingested has no row yet.
  // Not INSERT OR REPLACE, which deletes and reinserts the row every time: a copy's state
  // changes a few times per photo, and its row nearly always exists.
  const auto write = [&](Sql sql) {
    auto statement = SqliteStatement::borrow(prepared(sql));
    if (!statement.ok()) return false;
    statement.bind(1, static_cast<std::int64_t>(copy.state));
    statement.bind(2, copy.put_acked_ns);
    statement.bind(3, copy.verified_ns);
    statement.bind(4, row_id);
    statement.bind(5, static_cast<std::int64_t>(target));
    return statement.step() == SQLITE_DONE;
  };
  if (!write(Sql::update_copy)) return false;
  if (sqlite3_changes(db_) == 1) return true;
  return write(Sql::insert_copy_state) && sqlite3_changes(db_) == 1;
}

bool Journal::delete_rows(std::int64_t row_id) {
  auto photos = SqliteStatement::borrow(prepared(Sql::delete_photo));
  auto copies = SqliteStatement::borrow(prepared(Sql::delete_copies));
  if (!photos.ok() || !copies.ok()) return false;
  photos.bind(1, row_id);
  copies.bind(1, row_id);
  return photos.step() == SQLITE_DONE && copies.step() == SQLITE_DONE;
}

bool Journal::delete_photo(std::int64_t row_id) {
  return transaction([&] { return delete_rows(row_id); });
}

std::optional<std::vector<PhotoView>> Journal::load() {
  std::vector<PhotoView> photos;
  {
    auto select = SqliteStatement::borrow(prepared(Sql::load_photos));
    if (!select.ok()) return std::nullopt;
    int rc = SQLITE_ROW;
    while ((rc = select.step()) == SQLITE_ROW) {
      PhotoView photo;
      photo.row_id = select.column_int(0);
      photo.photo_id = select.column_text(1);
      photo.object_key = select.column_text(2);
      photo.size_bytes = static_cast<std::uint64_t>(select.column_int(3));
      photo.md5_hex = select.column_text(4);
      const auto algorithm = s3proto::parse_checksum_algorithm(select.column_text(5));
      if (!algorithm.has_value()) return std::nullopt;
      photo.checksum_algorithm = *algorithm;
      photo.checksum_base64 = select.column_text(6);
      const std::int64_t state = select.column_int(7);
      if (state < 0 || state > static_cast<std::int64_t>(PhotoState::lost)) return std::nullopt;
      photo.state = static_cast<PhotoState>(state);
      photo.content_name = select.column_text(8);
      photos.push_back(std::move(photo));
    }
    if (rc != SQLITE_DONE) return std::nullopt;
  }
  auto select = SqliteStatement::borrow(prepared(Sql::load_copies));
  if (!select.ok()) return std::nullopt;
  std::size_t photo_index = 0;
  int rc = SQLITE_ROW;
  while ((rc = select.step()) == SQLITE_ROW) {
    const std::int64_t row_id = select.column_int(0);
    while (photo_index < photos.size() && photos[photo_index].row_id < row_id) ++photo_index;
    if (photo_index == photos.size() || photos[photo_index].row_id != row_id) continue;
    const std::int64_t target = select.column_int(1);
    const std::int64_t state = select.column_int(2);
    if (target < 0 || state < 0 || state > static_cast<std::int64_t>(CopyState::verified)) {
      return std::nullopt;
    }
    auto& copies = photos[photo_index].copies;
    if (copies.size() <= static_cast<std::size_t>(target)) {
      copies.resize(static_cast<std::size_t>(target) + 1);
    }
    CopyView& copy = copies[static_cast<std::size_t>(target)];
    copy.state = static_cast<CopyState>(state);
    copy.put_acked_ns = select.column_int(3);
    copy.verified_ns = select.column_int(4);
  }
  if (rc != SQLITE_DONE) return std::nullopt;
  return photos;
}

}  // namespace s3chaos::uploader
