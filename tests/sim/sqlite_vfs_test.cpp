// Tests of the SQLite VFS over a FileSystem: the real SQLite engine runs on SimDisk, committed
// data survives a crash when SQLite syncs as configured, errors of the disk reach SQLite as
// the right result codes, and the VFS draws time and randomness deterministically.
#include "sim/sqlite_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "sim/disk.hpp"

namespace s3chaos::sim {
namespace {

const std::error_code ok{};

// Registers the VFS for the test's lifetime.
class RegisteredVfs {
 public:
  RegisteredVfs(FileSystem& file_system, std::string name,
                const SqliteVfsOptions& options = SqliteVfsOptions{})
      : name_(std::move(name)) {
    EXPECT_EQ(register_sqlite_vfs(file_system, name_, options), SQLITE_OK);
  }
  ~RegisteredVfs() { unregister_sqlite_vfs(name_); }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

sqlite3* open_db(const std::string& path, const std::string& vfs) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.c_str());
  EXPECT_EQ(rc, SQLITE_OK) << (db ? sqlite3_errmsg(db) : "no db");
  return db;
}

int exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

// The first column of every row of `sql`, as text.
std::vector<std::string> query(sqlite3* db, const std::string& sql) {
  std::vector<std::string> rows;
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("error: ") + sqlite3_errmsg(db));
    return rows;
  }
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement, 0);
    rows.emplace_back(text ? reinterpret_cast<const char*>(text) : "NULL");
  }
  sqlite3_finalize(statement);
  return rows;
}

// SQLite creates, fills and reads back a database on SimDisk; the data is in the disk's files.
TEST(SqliteVfs, RunsSqliteOnSimDisk) {
  SimDisk disk(RandomStream::named(1, "disk"));
  ASSERT_EQ(disk.make_directory("data"), ok);
  RegisteredVfs vfs(disk, "sim-basic");
  sqlite3* db = open_db("data/app.db", vfs.name());
  ASSERT_EQ(exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"), SQLITE_OK);
  ASSERT_EQ(exec(db, "INSERT INTO t(v) VALUES ('a'), ('b'), ('c')"), SQLITE_OK);
  EXPECT_EQ(query(db, "SELECT group_concat(v, ',') FROM t"), std::vector<std::string>{"a,b,c"});
  sqlite3_close(db);
  std::uint64_t size = 0;
  ASSERT_EQ(disk.file_size("data/app.db", size), ok);
  EXPECT_GE(size, 4096u);
  std::string header;
  ASSERT_EQ(disk.read_at("data/app.db", 0, 15, header), ok);
  EXPECT_EQ(header, "SQLite format 3");
}

// With a durable configuration, committed rows survive a crash right after COMMIT.
TEST(SqliteVfs, CommittedDataSurvivesCrash) {
  for (const char* mode : {"TRUNCATE", "PERSIST", "WAL"}) {
    SimDisk disk(RandomStream::named(2, "disk"));
    ASSERT_EQ(disk.make_directory("data"), ok);
    ASSERT_EQ(disk.sync_directory(""), ok);
    RegisteredVfs vfs(disk, "sim-durable");
    sqlite3* db = open_db("data/app.db", vfs.name());
    ASSERT_EQ(exec(db, std::string("PRAGMA journal_mode=") + mode), SQLITE_OK);
    ASSERT_EQ(exec(db, "PRAGMA synchronous=FULL"), SQLITE_OK);
    ASSERT_EQ(exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)"), SQLITE_OK);
    ASSERT_EQ(exec(db, "INSERT INTO t(v) VALUES ('committed')"), SQLITE_OK);
    // The process dies with the connection open: whatever it did not sync is gone.
    disk.arm_crash_point(disk.mutating_call_count() + 1);
    sqlite3_close(db);
    disk.crash();
    db = open_db("data/app.db", vfs.name());
    EXPECT_EQ(query(db, "SELECT v FROM t"), std::vector<std::string>{"committed"}) << mode;
    EXPECT_EQ(query(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"}) << mode;
    sqlite3_close(db);
  }
}

}  // namespace
}  // namespace s3chaos::sim
