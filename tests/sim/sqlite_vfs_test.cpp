// Tests of the SQLite VFS over a FileSystem: the real SQLite engine runs on SimDisk, committed
// data survives a crash when SQLite syncs as configured, errors of the disk reach SQLite as
// the right result codes, and the VFS draws time and randomness deterministically.
#include "sim/sqlite_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
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

// Opens `path` directly through the VFS's xOpen, as SQLite would.
struct DirectFile {
  sqlite3_vfs* vfs = nullptr;
  std::vector<char> memory;
  sqlite3_file* file = nullptr;
  int rc = SQLITE_ERROR;

  DirectFile(const std::string& vfs_name, const char* path, int flags) {
    vfs = sqlite3_vfs_find(vfs_name.c_str());
    EXPECT_NE(vfs, nullptr);
    memory.resize(static_cast<std::size_t>(vfs->szOsFile));
    file = reinterpret_cast<sqlite3_file*>(memory.data());
    int out_flags = 0;
    rc = vfs->xOpen(vfs, path, file, flags, &out_flags);
  }
  ~DirectFile() {
    if (file->pMethods != nullptr) file->pMethods->xClose(file);
  }
  int write(std::string_view bytes, sqlite3_int64 offset) {
    return file->pMethods->xWrite(file, bytes.data(), static_cast<int>(bytes.size()), offset);
  }
  int sync() { return file->pMethods->xSync(file, SQLITE_SYNC_NORMAL); }
};

// A read past the end zero-fills the buffer and returns SQLITE_IOERR_SHORT_READ, as SQLite
// requires; a missing file without SQLITE_OPEN_CREATE cannot be opened.
TEST(SqliteVfs, ShortReadsZeroFill) {
  SimDisk disk(RandomStream::named(3, "disk"));
  RegisteredVfs vfs(disk, "sim-short");
  DirectFile file(vfs.name(), "f.db",
                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB);
  ASSERT_EQ(file.rc, SQLITE_OK);
  ASSERT_EQ(file.write("abc", 0), SQLITE_OK);
  char buffer[8];
  std::memset(buffer, 'x', sizeof buffer);
  EXPECT_EQ(file.file->pMethods->xRead(file.file, buffer, 8, 1), SQLITE_IOERR_SHORT_READ);
  EXPECT_EQ(std::string(buffer, 8), std::string("bc\0\0\0\0\0\0", 8));
  EXPECT_EQ(file.file->pMethods->xRead(file.file, buffer, 3, 0), SQLITE_OK);
  DirectFile missing(vfs.name(), "missing.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB);
  EXPECT_EQ(missing.rc, SQLITE_CANTOPEN);
  EXPECT_EQ(missing.file->pMethods, nullptr);
}

// A newly created rollback journal (or WAL) gets its directory synced at its first xSync, as
// in os_unix.c, so it survives a crash; a new main database file does not.
TEST(SqliteVfs, NewJournalEntryIsDurableAfterItsFirstSync) {
  SimDisk disk(RandomStream::named(4, "disk"));
  ASSERT_EQ(disk.make_directory("data"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  RegisteredVfs vfs(disk, "sim-dirsync");
  {
    DirectFile journal(vfs.name(), "data/x.db-journal",
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_JOURNAL);
    DirectFile database(vfs.name(), "data/y.db",
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MAIN_DB);
    ASSERT_EQ(journal.write("journal", 0), SQLITE_OK);
    ASSERT_EQ(database.write("database", 0), SQLITE_OK);
    ASSERT_EQ(database.sync(), SQLITE_OK);  // No directory sync for the main database...
    EXPECT_FALSE([&] {
      SimDisk probe = disk;
      probe.crash();
      return probe.exists("data/y.db");
    }());
    ASSERT_EQ(journal.sync(), SQLITE_OK);  // ...but the journal's sync syncs "data".
  }
  disk.crash();
  EXPECT_TRUE(disk.exists("data/x.db-journal"));
  EXPECT_TRUE(disk.exists("data/y.db"));  // Carried by the same directory sync.
}

// xDelete with syncDir makes the removal durable; without it a crash brings the file back.
TEST(SqliteVfs, DeleteWithDirectorySyncIsDurable) {
  SimDisk disk(RandomStream::named(5, "disk"));
  RegisteredVfs vfs(disk, "sim-delete");
  // In two directories, so the sync for one removal does not carry the other.
  for (const std::string name : {"a/f", "b/f"}) {
    ASSERT_EQ(disk.make_directory(name.substr(0, 1)), ok);
    ASSERT_EQ(disk.create_file(name), ok);
    ASSERT_EQ(disk.sync_directory(name.substr(0, 1)), ok);
  }
  ASSERT_EQ(disk.sync_directory(""), ok);
  sqlite3_vfs* raw = sqlite3_vfs_find(vfs.name().c_str());
  EXPECT_EQ(raw->xDelete(raw, "a/f", 0), SQLITE_OK);
  EXPECT_EQ(raw->xDelete(raw, "b/f", 1), SQLITE_OK);
  EXPECT_EQ(raw->xDelete(raw, "b/f", 1), SQLITE_IOERR_DELETE_NOENT);
  disk.crash();
  EXPECT_TRUE(disk.exists("a/f"));
  EXPECT_FALSE(disk.exists("b/f"));
}

// Like os_unix.c, xAccess(EXISTS) says no for an empty file: a truncated journal is no journal.
TEST(SqliteVfs, AccessTreatsAnEmptyFileAsAbsent) {
  SimDisk disk(RandomStream::named(6, "disk"));
  RegisteredVfs vfs(disk, "sim-access");
  ASSERT_EQ(disk.create_file("empty"), ok);
  ASSERT_EQ(disk.create_file("full"), ok);
  ASSERT_EQ(disk.write_at("full", 0, "x"), ok);
  sqlite3_vfs* raw = sqlite3_vfs_find(vfs.name().c_str());
  int result = -1;
  EXPECT_EQ(raw->xAccess(raw, "empty", SQLITE_ACCESS_EXISTS, &result), SQLITE_OK);
  EXPECT_EQ(result, 0);
  EXPECT_EQ(raw->xAccess(raw, "empty", SQLITE_ACCESS_READWRITE, &result), SQLITE_OK);
  EXPECT_EQ(result, 1);
  EXPECT_EQ(raw->xAccess(raw, "full", SQLITE_ACCESS_EXISTS, &result), SQLITE_OK);
  EXPECT_EQ(result, 1);
  EXPECT_EQ(raw->xAccess(raw, "missing", SQLITE_ACCESS_EXISTS, &result), SQLITE_OK);
  EXPECT_EQ(result, 0);
}

// A full disk reaches SQLite as SQLITE_FULL, and the database stays usable once space frees.
TEST(SqliteVfs, NoSpaceIsSqliteFull) {
  SimDisk disk(RandomStream::named(7, "disk"));
  RegisteredVfs vfs(disk, "sim-full");
  sqlite3* db = open_db("full.db", vfs.name());
  ASSERT_EQ(exec(db, "PRAGMA journal_mode=TRUNCATE; CREATE TABLE t(v BLOB)"), SQLITE_OK);
  disk.set_faults(DiskFaults{.capacity_bytes = disk.used_bytes() + 20000});
  int rc = SQLITE_OK;
  int inserted = 0;
  for (; inserted < 100 && rc == SQLITE_OK; ++inserted)
    rc = exec(db, "INSERT INTO t VALUES (zeroblob(1000))");
  EXPECT_EQ(rc, SQLITE_FULL) << sqlite3_errmsg(db);
  EXPECT_LT(inserted, 100);
  disk.set_faults(DiskFaults{});
  EXPECT_EQ(exec(db, "INSERT INTO t VALUES (zeroblob(1000))"), SQLITE_OK);
  EXPECT_EQ(query(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  sqlite3_close(db);
}

// EIO on write or on sync reaches SQLite as SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC, the
// transaction fails, and the database is intact afterwards.
TEST(SqliteVfs, IoErrorsAreSqliteIoerr) {
  SimDisk disk(RandomStream::named(8, "disk"));
  RegisteredVfs vfs(disk, "sim-eio");
  sqlite3* db = open_db("eio.db", vfs.name());
  ASSERT_EQ(exec(db,
                 "PRAGMA journal_mode=TRUNCATE; PRAGMA synchronous=FULL;"
                 "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('before')"),
            SQLITE_OK);
  disk.inject_write_error_after(1);
  EXPECT_EQ(exec(db, "INSERT INTO t VALUES ('lost')"), SQLITE_IOERR);
  EXPECT_EQ(sqlite3_extended_errcode(db), SQLITE_IOERR_WRITE);
  disk.inject_sync_error_after(1);
  EXPECT_EQ(exec(db, "INSERT INTO t VALUES ('lost too')"), SQLITE_IOERR);
  EXPECT_EQ(sqlite3_extended_errcode(db), SQLITE_IOERR_FSYNC);
  EXPECT_EQ(query(db, "SELECT group_concat(v) FROM t"), std::vector<std::string>{"before"});
  EXPECT_EQ(exec(db, "INSERT INTO t VALUES ('after')"), SQLITE_OK);
  sqlite3_close(db);
}

// SQLite's clock is the simulated one: a fixed instant by default, the given clock otherwise.
TEST(SqliteVfs, CurrentTimeIsSimulated) {
  SimDisk disk(RandomStream::named(9, "disk"));
  {
    RegisteredVfs vfs(disk, "sim-time");
    sqlite3* db = open_db("t.db", vfs.name());
    EXPECT_EQ(query(db, "SELECT datetime('now')"), std::vector<std::string>{"2008-07-20 08:40:00"});
    sqlite3_close(db);
  }
  TimeNs now = from_seconds(86400);
  SqliteVfsOptions options;
  options.now = [&now] { return now; };
  RegisteredVfs vfs(disk, "sim-time", options);
  sqlite3* db = open_db("t.db", vfs.name());
  EXPECT_EQ(query(db, "SELECT datetime('now')"), std::vector<std::string>{"1970-01-02 00:00:00"});
  now += from_seconds(90);
  EXPECT_EQ(query(db, "SELECT datetime('now')"), std::vector<std::string>{"1970-01-02 00:01:30"});
  sqlite3_close(db);
}

// Locking is a no-op, so a second connection to an open database is refused, not allowed to
// corrupt it; once the first closes, the file opens again.
TEST(SqliteVfs, SecondConnectionToAnOpenDatabaseIsRefused) {
  SimDisk disk(RandomStream::named(12, "disk"));
  RegisteredVfs vfs(disk, "sim-single");
  sqlite3* first = open_db("one.db", vfs.name());
  ASSERT_EQ(exec(first, "CREATE TABLE t(v)"), SQLITE_OK);
  sqlite3* second = nullptr;
  EXPECT_EQ(sqlite3_open_v2("one.db", &second, SQLITE_OPEN_READWRITE, vfs.name().c_str()),
            SQLITE_CANTOPEN);
  sqlite3_close(second);
  sqlite3* other = open_db("two.db", vfs.name());  // Another file is fine.
  sqlite3_close(other);
  sqlite3_close(first);
  sqlite3* again = open_db("one.db", vfs.name());
  EXPECT_EQ(exec(again, "INSERT INTO t VALUES (1)"), SQLITE_OK);
  sqlite3_close(again);
}

// Registration rejects bad or duplicate names with SQLITE_MISUSE; unregistering frees the name.
TEST(SqliteVfs, RegistrationRejectsBadNames) {
  SimDisk disk(RandomStream::named(10, "disk"));
  EXPECT_EQ(register_sqlite_vfs(disk, ""), SQLITE_MISUSE);
  EXPECT_EQ(register_sqlite_vfs(disk, std::string(sqlite_vfs_name_bytes_max + 1, 'n')),
            SQLITE_MISUSE);
  ASSERT_EQ(register_sqlite_vfs(disk, "sim-twice"), SQLITE_OK);
  EXPECT_EQ(register_sqlite_vfs(disk, "sim-twice"), SQLITE_MISUSE);
  unregister_sqlite_vfs("sim-twice");
  EXPECT_EQ(sqlite3_vfs_find("sim-twice"), nullptr);
  EXPECT_EQ(register_sqlite_vfs(disk, "sim-twice"), SQLITE_OK);
  unregister_sqlite_vfs("sim-twice");
  unregister_sqlite_vfs("never-registered");  // Harmless.
}

// Records every byte SQLite writes, to compare two runs.
class RecordingFileSystem final : public FileSystem {
 public:
  explicit RecordingFileSystem(FileSystem& inner) : inner_(inner) {}
  std::string log;

  std::error_code make_directory(std::string_view p) override { return inner_.make_directory(p); }
  std::error_code create_file(std::string_view p) override {
    log += "create " + std::string(p) + "\n";
    return inner_.create_file(p);
  }
  std::error_code write_at(std::string_view p, std::uint64_t offset,
                           std::string_view bytes) override {
    log +=
        "write " + std::string(p) + " " + std::to_string(offset) + " " + std::string(bytes) + "\n";
    return inner_.write_at(p, offset, bytes);
  }
  std::error_code read_at(std::string_view p, std::uint64_t offset, std::uint64_t length,
                          std::string& out) override {
    return inner_.read_at(p, offset, length, out);
  }
  std::error_code truncate(std::string_view p, std::uint64_t size) override {
    return inner_.truncate(p, size);
  }
  std::error_code file_size(std::string_view p, std::uint64_t& size) override {
    return inner_.file_size(p, size);
  }
  std::error_code sync_file(std::string_view p) override { return inner_.sync_file(p); }
  std::error_code sync_directory(std::string_view p) override { return inner_.sync_directory(p); }
  std::error_code rename(std::string_view from, std::string_view to) override {
    return inner_.rename(from, to);
  }
  std::error_code remove(std::string_view p) override { return inner_.remove(p); }
  bool exists(std::string_view p) override { return inner_.exists(p); }
  std::error_code list_directory(std::string_view p, std::vector<std::string>& names) override {
    return inner_.list_directory(p, names);
  }

 private:
  FileSystem& inner_;
};

// Everything SQLite writes (journal nonces, WAL salts, randomblob() rows) is the same in two
// runs with the same seeds, and differs when SQLite's seed differs: SQLite stays deterministic
// inside the simulation.
TEST(SqliteVfs, RunsAreDeterministic) {
  auto run = [](std::uint32_t sqlite_seed, const char* journal_mode) {
    SimDisk disk(RandomStream::named(11, "disk"));
    RecordingFileSystem recording(disk);
    EXPECT_EQ(register_sqlite_vfs(recording, "sim-determinism"), SQLITE_OK);
    seed_sqlite_randomness(sqlite_seed);
    sqlite3* db = open_db("d.db", "sim-determinism");
    EXPECT_EQ(exec(db, std::string("PRAGMA journal_mode=") + journal_mode +
                           "; CREATE TABLE t(v BLOB); INSERT INTO t VALUES (randomblob(64));"
                           "INSERT INTO t VALUES (randomblob(64))"),
              SQLITE_OK);
    sqlite3_close(db);
    unregister_sqlite_vfs("sim-determinism");
    return recording.log;
  };
  for (const char* mode : {"DELETE", "WAL"}) {
    const std::string first = run(5, mode);
    EXPECT_GT(first.size(), 4096u);
    EXPECT_EQ(first, run(5, mode)) << mode;
    EXPECT_NE(first, run(6, mode)) << mode;
  }
}

}  // namespace
}  // namespace s3chaos::sim
