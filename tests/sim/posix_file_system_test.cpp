// Tests of PosixFileSystem in a fresh temporary directory: every FileSystem call works on real
// files, hostile paths are rejected, and random operation sequences give the same results
// (errors and contents) on PosixFileSystem as on SimDisk, so code tested on the simulated disk
// behaves the same on the real one. SQLite also runs on it through the VFS.
#include "sim/posix_file_system.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "property_cases.hpp"
#include "sim/disk.hpp"
#include "sim/sqlite_vfs.hpp"

namespace s3chaos::sim {
namespace {

const std::error_code ok{};

// A temporary directory removed with everything in it at the end of the test.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/s3chaos-posix-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_all(FileSystem& file_system, std::string_view path) {
  std::string out;
  EXPECT_EQ(file_system.read_at(path, 0, 1 << 20, out), ok) << path;
  return out;
}

// Every call of the interface on real files: create, write with a gap, read, size, truncate,
// sync, rename over a file, remove, list sorted, nested directories.
TEST(PosixFileSystem, WorksOnRealFiles) {
  TemporaryDirectory directory;
  PosixFileSystem file_system(directory.path());
  ASSERT_EQ(file_system.make_directory("photos/2008/07"), ok);
  ASSERT_EQ(file_system.make_directory("photos/2008"), ok);  // Already there: fine.
  ASSERT_EQ(file_system.create_file("photos/2008/07/b.jpg"), ok);
  ASSERT_EQ(file_system.write_at("photos/2008/07/b.jpg", 2, "xyz"), ok);
  EXPECT_EQ(read_all(file_system, "photos/2008/07/b.jpg"), std::string("\0\0xyz", 5));
  std::string out;
  EXPECT_EQ(file_system.read_at("photos/2008/07/b.jpg", 3, 100, out), ok);
  EXPECT_EQ(out, "yz");
  EXPECT_EQ(file_system.read_at("photos/2008/07/b.jpg", 100, 5, out), ok);
  EXPECT_EQ(out, "");
  std::uint64_t size = 0;
  EXPECT_EQ(file_system.file_size("photos/2008/07/b.jpg", size), ok);
  EXPECT_EQ(size, 5u);
  EXPECT_EQ(file_system.truncate("photos/2008/07/b.jpg", 3), ok);
  EXPECT_EQ(read_all(file_system, "photos/2008/07/b.jpg"), std::string("\0\0x", 3));
  ASSERT_EQ(file_system.create_file("photos/2008/07/b.jpg"), ok);  // Never truncates.
  EXPECT_EQ(read_all(file_system, "photos/2008/07/b.jpg"), std::string("\0\0x", 3));
  EXPECT_EQ(file_system.sync_file("photos/2008/07/b.jpg"), ok);
  EXPECT_EQ(file_system.sync_directory("photos/2008/07"), ok);
  EXPECT_EQ(file_system.sync_directory(""), ok);

  ASSERT_EQ(file_system.create_file("photos/2008/07/a.tmp"), ok);
  ASSERT_EQ(file_system.write_at("photos/2008/07/a.tmp", 0, "new"), ok);
  ASSERT_EQ(file_system.rename("photos/2008/07/a.tmp", "photos/2008/07/b.jpg"), ok);
  EXPECT_EQ(read_all(file_system, "photos/2008/07/b.jpg"), "new");
  EXPECT_FALSE(file_system.exists("photos/2008/07/a.tmp"));
  ASSERT_EQ(file_system.create_file("photos/2008/07/0.jpg"), ok);
  std::vector<std::string> names;
  EXPECT_EQ(file_system.list_directory("photos/2008/07", names), ok);
  EXPECT_EQ(names, (std::vector<std::string>{"0.jpg", "b.jpg"}));
  EXPECT_EQ(file_system.remove("photos/2008/07/0.jpg"), ok);
  EXPECT_FALSE(file_system.exists("photos/2008/07/0.jpg"));
  EXPECT_TRUE(file_system.exists("photos"));
  EXPECT_TRUE(file_system.exists(""));
}

// Errors come back as std::errc values; hostile paths never reach the real file system.
TEST(PosixFileSystem, ReportsErrorsAndRejectsHostilePaths) {
  TemporaryDirectory directory;
  PosixFileSystem file_system(directory.path());
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  const std::vector<std::string_view> hostile = {
      "/etc/passwd", "../escape", "a/../../b", "..",
      "a//b",        "a/",        ".",         std::string_view("a\0b", 3)};
  for (std::string_view path : hostile) {
    EXPECT_EQ(file_system.create_file(path), invalid) << path;
    EXPECT_EQ(file_system.write_at(path, 0, "x"), invalid) << path;
    EXPECT_FALSE(file_system.exists(path)) << path;
  }
  EXPECT_FALSE(std::filesystem::exists(directory.path() + "/../escape"));
  std::string out;
  EXPECT_EQ(file_system.read_at("missing", 0, 1, out),
            std::make_error_code(std::errc::no_such_file_or_directory));
  EXPECT_EQ(file_system.remove("missing"),
            std::make_error_code(std::errc::no_such_file_or_directory));
  ASSERT_EQ(file_system.make_directory("d"), ok);
  EXPECT_EQ(file_system.remove("d"), std::make_error_code(std::errc::is_a_directory));
  EXPECT_EQ(file_system.read_at("d", 0, 1, out), std::make_error_code(std::errc::is_a_directory));
  ASSERT_EQ(file_system.create_file("f"), ok);
  EXPECT_EQ(file_system.create_file("f/g"), std::make_error_code(std::errc::not_a_directory));
  EXPECT_EQ(file_system.make_directory("f"), std::make_error_code(std::errc::file_exists));
  EXPECT_EQ(file_system.read_at("f", 0, PosixFileSystem::read_bytes_max + 1, out), invalid);
}

// A symbolic link planted inside the root is not followed for the file it names.
TEST(PosixFileSystem, DoesNotFollowASymbolicLinkAsTheLastComponent) {
  TemporaryDirectory outside;
  TemporaryDirectory directory;
  const std::string victim = outside.path() + "/victim";
  ASSERT_EQ(::symlink(victim.c_str(), (directory.path() + "/link").c_str()), 0);
  PosixFileSystem file_system(directory.path());
  EXPECT_NE(file_system.create_file("link"), ok);
  EXPECT_NE(file_system.write_at("link", 0, "x"), ok);
  EXPECT_FALSE(std::filesystem::exists(victim));
}

// SQLite runs through the VFS on real files and reads its data back after reopening.
TEST(PosixFileSystem, RunsSqliteThroughTheVfs) {
  TemporaryDirectory directory;
  PosixFileSystem file_system(directory.path());
  ASSERT_EQ(file_system.make_directory("db"), ok);
  ASSERT_EQ(register_sqlite_vfs(file_system, "posix-test"), SQLITE_OK);
  for (int round = 0; round < 2; ++round) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2("db/journal.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                              "posix-test"),
              SQLITE_OK);
    if (round == 0) {
      ASSERT_EQ(sqlite3_exec(db,
                             "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                             "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('kept')",
                             nullptr, nullptr, nullptr),
                SQLITE_OK)
          << sqlite3_errmsg(db);
    } else {
      sqlite3_stmt* statement = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT v FROM t", -1, &statement, nullptr), SQLITE_OK);
      ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)), "kept");
      sqlite3_finalize(statement);
    }
    ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
  }
  unregister_sqlite_vfs("posix-test");
  EXPECT_TRUE(std::filesystem::exists(directory.path() + "/db/journal.db"));
}

// Random sequences of calls (no crashes: a real disk cannot be crashed here) give the same
// error or success and the same contents on PosixFileSystem as on SimDisk.
TEST(PosixFileSystem, AgreesWithSimDiskOnRandomOperations) {
  const std::vector<std::string> paths = {"a", "b", "d/a", "d/b", "d", "e/x"};
  test::check_property(
      [&] {
        TemporaryDirectory directory;
        PosixFileSystem posix(directory.path());
        SimDisk disk(RandomStream::named(4, "disk.posix"));
        const auto steps = *rc::gen::inRange(1, 40);
        std::string history;
        for (int step = 0; step < steps; ++step) {
          const int kind = *rc::gen::inRange(0, 8);
          const std::string& path = paths[*rc::gen::inRange<std::size_t>(0, paths.size())];
          const std::string& other = paths[*rc::gen::inRange<std::size_t>(0, paths.size())];
          const auto offset = *rc::gen::inRange<std::uint64_t>(0, 6);
          const std::string bytes = *rc::gen::container<std::string>(
              *rc::gen::inRange<std::size_t>(0, 5), rc::gen::inRange('a', 'e'));
          auto both = [&](auto&& call) {
            const std::error_code on_posix = call(static_cast<FileSystem&>(posix));
            const std::error_code on_disk = call(static_cast<FileSystem&>(disk));
            if (on_posix.value() != on_disk.value()) {
              RC_FAIL(history + "posix: " + on_posix.message() + ", disk: " + on_disk.message());
            }
          };
          history += std::to_string(kind) + "(" + path + ", " + other + ", " +
                     std::to_string(offset) + ", '" + bytes + "'); ";
          switch (kind) {
            case 0:
              both([&](FileSystem& fs) { return fs.create_file(path); });
              break;
            case 1:
              both([&](FileSystem& fs) { return fs.write_at(path, offset, bytes); });
              break;
            case 2:
              both([&](FileSystem& fs) { return fs.truncate(path, offset); });
              break;
            case 3:
              both([&](FileSystem& fs) { return fs.sync_file(path); });
              break;
            case 4:
              // Renames of or onto directories are outside SimDisk's model (it answers
              // operation_not_supported or is_a_directory where POSIX has several answers).
              if (std::vector<std::string> names; !disk.list_directory(path, names)) break;
              if (std::vector<std::string> names; !disk.list_directory(other, names)) break;
              both([&](FileSystem& fs) { return fs.rename(path, other); });
              break;
            case 5:
              both([&](FileSystem& fs) { return fs.remove(path); });
              break;
            case 6:
              both([&](FileSystem& fs) { return fs.make_directory(path); });
              break;
            case 7:
              both([&](FileSystem& fs) { return fs.sync_directory(path); });
              break;
          }
          for (const std::string& check : paths) {
            RC_ASSERT(posix.exists(check) == disk.exists(check));
            std::string posix_contents;
            std::string disk_contents;
            const auto posix_error = posix.read_at(check, 0, 100, posix_contents);
            const auto disk_error = disk.read_at(check, 0, 100, disk_contents);
            if (posix_error.value() != disk_error.value() || posix_contents != disk_contents)
              RC_FAIL(history + "differ on " + check);
          }
        }
      },
      60);
}

}  // namespace
}  // namespace s3chaos::sim
