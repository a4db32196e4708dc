// Unit tests of SimDisk's semantics: each test drives the disk through one durability rule
// (file sync, directory sync, rename, remove, torn writes, ENOSPC, EIO, crash points) and
// checks what reads see before and after crash().
#include "sim/disk.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace s3chaos::sim {
namespace {

const std::error_code ok{};
const std::error_code io_error = std::make_error_code(std::errc::io_error);
const std::error_code no_space = std::make_error_code(std::errc::no_space_on_device);
const std::error_code not_found = std::make_error_code(std::errc::no_such_file_or_directory);

SimDisk make_disk(std::uint64_t seed = 1) {
  return SimDisk(RandomStream::named(seed, "disk"));
}

std::string read_all(SimDisk& disk, std::string_view path) {
  std::string out;
  EXPECT_EQ(disk.read_at(path, 0, 1 << 20, out), ok) << path;
  return out;
}

// A file created in a directory, written, and made durable by both syncs.
void make_durable_file(SimDisk& disk, std::string_view path, std::string_view contents) {
  ASSERT_EQ(disk.create_file(path), ok);
  ASSERT_EQ(disk.write_at(path, 0, contents), ok);
  ASSERT_EQ(disk.sync_file(path), ok);
  const std::size_t slash = path.rfind('/');
  ASSERT_EQ(disk.sync_directory(slash == std::string_view::npos ? "" : path.substr(0, slash)), ok);
}

// Reads and writes see current contents; gaps read as zeros; reads stop at end of file.
TEST(SimDisk, ReadsSeeCurrentContents) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.create_file("a"), ok);
  ASSERT_EQ(disk.write_at("a", 3, "xyz"), ok);
  EXPECT_EQ(read_all(disk, "a"), std::string("\0\0\0xyz", 6));
  std::string out;
  EXPECT_EQ(disk.read_at("a", 4, 100, out), ok);
  EXPECT_EQ(out, "yz");
  EXPECT_EQ(disk.read_at("a", 100, 5, out), ok);
  EXPECT_EQ(out, "");
  std::uint64_t size = 0;
  EXPECT_EQ(disk.file_size("a", size), ok);
  EXPECT_EQ(size, 6u);
  EXPECT_EQ(disk.truncate("a", 4), ok);
  EXPECT_EQ(read_all(disk, "a"), std::string("\0\0\0x", 4));
  EXPECT_EQ(disk.read_at("missing", 0, 1, out), not_found);
}

// Unsynced data is lost on crash; synced data survives; later unsynced data reverts to it.
TEST(SimDisk, UnsyncedDataIsLostOnCrash) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "f", "durable");
  ASSERT_EQ(disk.write_at("f", 0, "CHANGED-AND-LONGER"), ok);
  EXPECT_EQ(read_all(disk, "f"), "CHANGED-AND-LONGER");
  disk.crash();
  EXPECT_EQ(read_all(disk, "f"), "durable");
  ASSERT_EQ(disk.truncate("f", 0), ok);
  disk.crash();
  EXPECT_EQ(read_all(disk, "f"), "durable");
}

// A file whose entry is durable but whose data was never synced comes back empty.
TEST(SimDisk, DurableEntryWithoutDataSyncIsEmpty) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.create_file("f"), ok);
  ASSERT_EQ(disk.write_at("f", 0, "data"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  disk.crash();
  EXPECT_TRUE(disk.exists("f"));
  EXPECT_EQ(read_all(disk, "f"), "");
}

// A created file disappears on crash unless its directory was synced, even if the file was.
TEST(SimDisk, CreatedFileNeedsDirectorySync) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.make_directory("d"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  ASSERT_EQ(disk.create_file("d/f"), ok);
  ASSERT_EQ(disk.write_at("d/f", 0, "x"), ok);
  ASSERT_EQ(disk.sync_file("d/f"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);  // The wrong directory: d's entries stay volatile.
  disk.crash();
  EXPECT_TRUE(disk.exists("d"));
  EXPECT_FALSE(disk.exists("d/f"));

  ASSERT_EQ(disk.create_file("d/f"), ok);
  ASSERT_EQ(disk.sync_directory("d"), ok);
  disk.crash();
  EXPECT_TRUE(disk.exists("d/f"));
}

// A directory made but not made durable in its parent vanishes with everything inside it.
TEST(SimDisk, NewDirectoryNeedsParentSync) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.make_directory("a/b"), ok);
  ASSERT_EQ(disk.create_file("a/b/f"), ok);
  ASSERT_EQ(disk.sync_directory("a/b"), ok);
  ASSERT_EQ(disk.sync_directory("a"), ok);
  disk.crash();
  EXPECT_FALSE(disk.exists("a"));
  std::vector<std::string> names;
  EXPECT_EQ(disk.list_directory("", names), ok);
  EXPECT_TRUE(names.empty());
}

// rename replaces the target atomically; without a directory sync a crash reverts it, and
// with one the new contents are durable under the new name.
TEST(SimDisk, RenameIsAtomicAndDurableAfterDirectorySync) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "target", "old");
  make_durable_file(disk, "tmp", "new");
  ASSERT_EQ(disk.rename("tmp", "target"), ok);
  EXPECT_EQ(read_all(disk, "target"), "new");
  EXPECT_FALSE(disk.exists("tmp"));
  disk.crash();
  EXPECT_EQ(read_all(disk, "target"), "old");
  EXPECT_EQ(read_all(disk, "tmp"), "new");

  ASSERT_EQ(disk.rename("tmp", "target"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  disk.crash();
  EXPECT_EQ(read_all(disk, "target"), "new");
  EXPECT_FALSE(disk.exists("tmp"));
}

// A rename across directories with only the target directory synced leaves the file under
// both names after a crash (as a hard link would), never under neither.
TEST(SimDisk, RenameAcrossDirectoriesNeedsBothSynced) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.make_directory("in"), ok);
  ASSERT_EQ(disk.make_directory("out"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  make_durable_file(disk, "in/f", "photo");
  ASSERT_EQ(disk.rename("in/f", "out/f"), ok);
  ASSERT_EQ(disk.sync_directory("out"), ok);
  disk.crash();
  EXPECT_EQ(read_all(disk, "in/f"), "photo");
  EXPECT_EQ(read_all(disk, "out/f"), "photo");
  // Both names are one inode: a write through one is seen through the other.
  ASSERT_EQ(disk.write_at("out/f", 0, "P"), ok);
  EXPECT_EQ(read_all(disk, "in/f"), "Photo");
  // Renaming one name onto the other drops a name and keeps the file.
  ASSERT_EQ(disk.rename("in/f", "out/f"), ok);
  EXPECT_FALSE(disk.exists("in/f"));
  EXPECT_EQ(read_all(disk, "out/f"), "Photo");
}

// Names that were just used (and so resolved through the disk's small cache of recent paths)
// follow every rename and remove at once: the replaced name reaches the moved file, the old
// name is gone, and an unrelated name still reaches its own file.
TEST(SimDisk, RecentlyUsedNamesFollowRenamesAndRemoves) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "journal", "j");
  make_durable_file(disk, "tmp", "new");
  make_durable_file(disk, "photo", "old");
  ASSERT_EQ(disk.write_at("photo", 0, "OLD"), ok);
  ASSERT_EQ(disk.write_at("tmp", 0, "NEW"), ok);
  ASSERT_EQ(disk.write_at("journal", 1, "2"), ok);
  ASSERT_EQ(disk.rename("tmp", "photo"), ok);
  EXPECT_EQ(disk.write_at("tmp", 0, "x"), not_found);
  ASSERT_EQ(disk.write_at("photo", 3, "!"), ok);
  EXPECT_EQ(read_all(disk, "photo"), "NEW!");
  EXPECT_EQ(read_all(disk, "journal"), "j2");
  ASSERT_EQ(disk.remove("photo"), ok);
  EXPECT_EQ(disk.sync_file("photo"), not_found);
  ASSERT_EQ(disk.create_file("photo"), ok);
  EXPECT_EQ(read_all(disk, "photo"), "");
  ASSERT_EQ(disk.write_at("journal", 2, "3"), ok);
  EXPECT_EQ(read_all(disk, "journal"), "j23");
}

// remove is immediate for reads, but reverts on crash until the directory is synced.
TEST(SimDisk, RemoveNeedsDirectorySync) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "f", "keep");
  ASSERT_EQ(disk.remove("f"), ok);
  EXPECT_FALSE(disk.exists("f"));
  EXPECT_EQ(disk.remove("f"), not_found);
  disk.crash();
  EXPECT_EQ(read_all(disk, "f"), "keep");
  ASSERT_EQ(disk.remove("f"), ok);
  ASSERT_EQ(disk.sync_directory(""), ok);
  disk.crash();
  EXPECT_FALSE(disk.exists("f"));
}

// Bad paths and wrong kinds get clear errors, never a crash.
TEST(SimDisk, RejectsBadPathsAndKinds) {
  SimDisk disk = make_disk();
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  const std::vector<std::string_view> bad_paths = {
      "/abs", "a/../b", "..", "a//b", "a/", ".", std::string_view("a\0b", 3)};
  for (std::string_view path : bad_paths) EXPECT_EQ(disk.create_file(path), invalid) << path;
  EXPECT_EQ(disk.create_file(std::string(300, 'n')),
            std::make_error_code(std::errc::filename_too_long));
  ASSERT_EQ(disk.make_directory("d"), ok);
  EXPECT_EQ(disk.write_at("d", 0, "x"), std::make_error_code(std::errc::is_a_directory));
  EXPECT_EQ(disk.remove("d"), std::make_error_code(std::errc::is_a_directory));
  EXPECT_EQ(disk.rename("d", "e"), std::make_error_code(std::errc::operation_not_supported));
  ASSERT_EQ(disk.create_file("f"), ok);
  EXPECT_EQ(disk.create_file("f/g"), std::make_error_code(std::errc::not_a_directory));
  EXPECT_EQ(disk.sync_directory("f"), std::make_error_code(std::errc::not_a_directory));
  EXPECT_EQ(disk.make_directory("f"), std::make_error_code(std::errc::file_exists));
  EXPECT_EQ(disk.write_at("f", SimDisk::file_bytes_max, "x"),
            std::make_error_code(std::errc::file_too_large));
  EXPECT_EQ(disk.write_at("f", UINT64_MAX, "x"), std::make_error_code(std::errc::file_too_large));
}

// Writes beyond the capacity fail with ENOSPC and change nothing; freeing space helps.
TEST(SimDisk, CapacityGivesNoSpace) {
  SimDisk disk = make_disk();
  disk.set_faults(DiskFaults{.capacity_bytes = 10});
  ASSERT_EQ(disk.create_file("a"), ok);
  ASSERT_EQ(disk.write_at("a", 0, "12345678"), ok);
  EXPECT_EQ(disk.write_at("a", 8, "abc"), no_space);
  EXPECT_EQ(read_all(disk, "a"), "12345678");
  EXPECT_EQ(disk.write_at("a", 0, "overwrite"), ok);  // No growth, no new space needed.
  EXPECT_EQ(disk.truncate("a", 11), no_space);
  EXPECT_EQ(disk.used_bytes(), 9u);
  ASSERT_EQ(disk.create_file("b"), ok);
  EXPECT_EQ(disk.write_at("b", 0, "xy"), no_space);
  ASSERT_EQ(disk.remove("a"), ok);
  EXPECT_EQ(disk.write_at("b", 0, "xy"), ok);
  EXPECT_EQ(disk.used_bytes(), 2u);
}

// EIO injected at the N-th write or sync fails exactly that call, which changes nothing; a
// failed sync leaves the data volatile until a later sync succeeds.
TEST(SimDisk, InjectedIoErrors) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "f", "v1");
  disk.inject_write_error_after(2);
  EXPECT_EQ(disk.write_at("f", 0, "a"), ok);
  EXPECT_EQ(disk.write_at("f", 0, "b"), io_error);
  EXPECT_EQ(disk.write_at("f", 1, "c"), ok);
  EXPECT_EQ(read_all(disk, "f"), "ac");
  disk.inject_sync_error_after(1);
  EXPECT_EQ(disk.sync_file("f"), io_error);
  disk.crash();
  EXPECT_EQ(read_all(disk, "f"), "v1");
  ASSERT_EQ(disk.write_at("f", 0, "v2"), ok);
  EXPECT_EQ(disk.sync_file("f"), ok);
  disk.crash();
  EXPECT_EQ(read_all(disk, "f"), "v2");
}

// With failed_sync_drops_changes, a sync that failed loses the changes before it for good:
// the retry succeeds, reads still see the data, and a crash loses it (fsyncgate), except on
// pages written again after the failure, which go out whole. Without the setting the retry
// persists everything.
TEST(SimDisk, FailedSyncCanDropChangesForGood) {
  const std::uint64_t page = SimDisk::page_bytes;
  for (const bool drops : {false, true}) {
    SimDisk disk = make_disk();
    disk.set_faults(DiskFaults{.failed_sync_drops_changes = drops});
    make_durable_file(disk, "f", std::string(3 * page, 'a'));
    ASSERT_EQ(disk.write_at("f", 0, "X"), ok);     // Page 0: dropped by the failure.
    ASSERT_EQ(disk.write_at("f", page, "Y"), ok);  // Page 1: dropped, but written again below.
    disk.inject_sync_error_after(1);
    EXPECT_EQ(disk.sync_file("f"), io_error);
    std::string out;
    ASSERT_EQ(disk.read_at("f", 0, 1, out), ok);
    EXPECT_EQ(out, "X");  // Reads still see the dropped change.
    ASSERT_EQ(disk.write_at("f", page + 1, "Z"), ok);
    EXPECT_EQ(disk.sync_file("f"), ok);  // The retry "succeeds".
    disk.crash();
    ASSERT_EQ(disk.read_at("f", 0, 1, out), ok);
    EXPECT_EQ(out, drops ? "a" : "X") << drops;
    ASSERT_EQ(disk.read_at("f", page, 3, out), ok);
    EXPECT_EQ(out, "YZa") << drops;
  }
}

// With a write error probability, some writes fail and the failures depend only on the seed.
TEST(SimDisk, ProbabilisticIoErrorsFollowTheSeed) {
  auto failures = [](std::uint64_t seed) {
    SimDisk disk = make_disk(seed);
    disk.set_faults(DiskFaults{.write_error_probability = 0.3, .sync_error_probability = 0.3});
    EXPECT_EQ(disk.create_file("f"), ok);
    std::vector<int> failed;
    for (int i = 0; i < 200; ++i) {
      if (disk.write_at("f", 0, "x") == io_error) failed.push_back(i);
      if (disk.sync_file("f") == io_error) failed.push_back(1000 + i);
    }
    return failed;
  };
  const std::vector<int> first = failures(5);
  EXPECT_GT(first.size(), 60u);
  EXPECT_LT(first.size(), 180u);
  EXPECT_EQ(first, failures(5));
  EXPECT_NE(first, failures(6));
}

// With torn writes, a crash keeps the durable contents plus an ordered prefix of the unsynced
// writes, the last one cut short; across seeds every prefix length shows up.
TEST(SimDisk, TornWritesKeepAPrefix) {
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    SimDisk disk = make_disk(seed);
    disk.set_faults(DiskFaults{.torn_write_probability = 1.0});
    make_durable_file(disk, "f", "....");
    ASSERT_EQ(disk.write_at("f", 0, "AB"), ok);
    ASSERT_EQ(disk.write_at("f", 2, "CDEF"), ok);
    disk.crash();
    const std::string contents = read_all(disk, "f");
    outcomes.insert(contents);
    // Never anything but an ordered prefix of the two writes over the durable bytes.
    const std::set<std::string> allowed = {"....", "A...", "AB..", "ABC.", "ABCD", "ABCDE"};
    EXPECT_TRUE(allowed.contains(contents)) << contents << " seed " << seed;
  }
  EXPECT_EQ(outcomes.size(), 6u);
}

// With reordering, a crash may keep a later unsynced write without an earlier one; across
// seeds every subset of two writes (and prefixes) shows up, and nothing else.
TEST(SimDisk, ReorderedTornWritesKeepAnySubset) {
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    SimDisk disk = make_disk(seed);
    disk.set_faults(DiskFaults{.torn_write_probability = 1.0, .torn_writes_reorder = true});
    make_durable_file(disk, "f", "....");
    ASSERT_EQ(disk.write_at("f", 0, "AB"), ok);
    ASSERT_EQ(disk.write_at("f", 2, "CD"), ok);
    disk.crash();
    const std::string contents = read_all(disk, "f");
    outcomes.insert(contents);
    const std::set<std::string> allowed = {"....", "A...", "AB..", "..C.", "..CD",
                                           "A.C.", "A.CD", "ABC.", "ABCD"};
    EXPECT_TRUE(allowed.contains(contents)) << contents << " seed " << seed;
  }
  EXPECT_EQ(outcomes.size(), 9u);
}

// A torn crash never resurrects data from before the last sync, nor tears synced data.
TEST(SimDisk, TornWritesNeverTouchSyncedData) {
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    SimDisk disk = make_disk(seed);
    disk.set_faults(DiskFaults{.torn_write_probability = 1.0});
    make_durable_file(disk, "f", "old");
    ASSERT_EQ(disk.write_at("f", 0, "new"), ok);
    ASSERT_EQ(disk.sync_file("f"), ok);
    disk.crash();
    EXPECT_EQ(read_all(disk, "f"), "new");
  }
}

// An armed crash point fails the call that reaches it without applying it, and every later
// call, until crash(); counting covers every mutating method.
TEST(SimDisk, CrashPointStopsTheDiskAtTheArmedCall) {
  SimDisk disk = make_disk();
  EXPECT_EQ(disk.mutating_call_count(), 0u);
  make_durable_file(disk, "f", "v1");  // create, write, sync file, sync dir: 4 calls.
  EXPECT_EQ(disk.mutating_call_count(), 4u);
  disk.arm_crash_point(6);
  EXPECT_EQ(disk.write_at("f", 0, "v2"), ok);  // Call 5 still happens.
  EXPECT_FALSE(disk.crash_point_reached());
  EXPECT_EQ(disk.sync_file("f"), io_error);  // Call 6: the machine dies before the sync.
  EXPECT_TRUE(disk.crash_point_reached());
  std::string out;
  EXPECT_EQ(disk.read_at("f", 0, 2, out), io_error);
  EXPECT_FALSE(disk.exists("f"));
  EXPECT_EQ(disk.create_file("g"), io_error);
  disk.crash();
  EXPECT_FALSE(disk.crash_point_reached());
  EXPECT_EQ(read_all(disk, "f"), "v1");
  EXPECT_FALSE(disk.exists("g"));
  // Disarmed by crash(): the disk works again and keeps counting.
  EXPECT_EQ(disk.write_at("f", 0, "v3"), ok);
  EXPECT_EQ(disk.mutating_call_count(), 8u);
  // Every mutating method counts, failed calls included.
  const std::uint64_t before = disk.mutating_call_count();
  disk.make_directory("d");
  disk.create_file("d/x");
  disk.write_at("d/x", 0, "1");
  disk.truncate("d/x", 0);
  disk.sync_file("d/x");
  disk.sync_directory("d");
  disk.rename("d/x", "d/y");
  disk.remove("d/y");
  disk.remove("d/y");  // Fails with ENOENT, still counted.
  EXPECT_EQ(disk.mutating_call_count(), before + 9);
}

// Copies are independent disks in the same state.
TEST(SimDisk, CopiesAreIndependent) {
  SimDisk disk = make_disk();
  make_durable_file(disk, "f", "base");
  SimDisk copy = disk;
  ASSERT_EQ(copy.write_at("f", 0, "COPY"), ok);
  EXPECT_EQ(read_all(disk, "f"), "base");
  EXPECT_EQ(read_all(copy, "f"), "COPY");
}

// Rename onto a directory is refused; unsynced growth is given back by a crash.
TEST(SimDisk, RenameOntoDirectoryAndCapacityAfterCrash) {
  SimDisk disk = make_disk();
  ASSERT_EQ(disk.make_directory("d"), ok);
  ASSERT_EQ(disk.create_file("f"), ok);
  EXPECT_EQ(disk.rename("f", "d"), std::make_error_code(std::errc::is_a_directory));
  ASSERT_EQ(disk.sync_directory(""), ok);
  ASSERT_EQ(disk.write_at("f", 0, std::string(100, 'x')), ok);
  EXPECT_EQ(disk.used_bytes(), 100u);
  disk.crash();
  EXPECT_EQ(disk.used_bytes(), 0u);
}

// The same seed and the same calls give the same torn contents: a crash replays exactly.
TEST(SimDisk, TornCrashReplaysForTheSameSeed) {
  auto run = [](std::uint64_t seed) {
    SimDisk disk = make_disk(seed);
    disk.set_faults(DiskFaults{.torn_write_probability = 0.7});
    std::string contents;
    for (int file = 0; file < 20; ++file) {
      const std::string name = "f" + std::to_string(file);
      EXPECT_EQ(disk.create_file(name), ok);
      EXPECT_EQ(disk.sync_directory(""), ok);
      for (int write = 0; write < 5; ++write)
        EXPECT_EQ(disk.write_at(name, write * 7, "0123456789"), ok);
    }
    disk.crash();
    for (int file = 0; file < 20; ++file)
      contents += read_all(disk, "f" + std::to_string(file)) + "|";
    return contents;
  };
  EXPECT_EQ(run(9), run(9));
  EXPECT_NE(run(9), run(10));
}

// The safe way to replace a file (write a temporary, sync it, rename, sync the directory)
// leaves the old or the new contents at every crash point, torn writes included; the unsafe
// way (no sync before the rename) has points where the file is empty or partial, and the
// enumeration finds them.
TEST(SimDisk, EnumerateCrashPointsOfAFileReplacement) {
  const std::string old_contents = "old photo bytes";
  const std::string new_contents = "new photo bytes, longer";
  auto count_bad_points = [&](bool sync_before_rename) {
    SimDisk disk = make_disk();
    make_durable_file(disk, "photo", old_contents);
    disk.set_faults(DiskFaults{.torn_write_probability = 1.0});
    std::uint64_t bad = 0;
    const std::uint64_t points = enumerate_crash_points(
        disk, RandomStream::named(1, "points"),
        [&] {
          if (disk.create_file("photo.tmp")) return;
          if (disk.write_at("photo.tmp", 0, new_contents)) return;
          if (sync_before_rename && disk.sync_file("photo.tmp")) return;
          if (disk.rename("photo.tmp", "photo")) return;
          disk.sync_directory("");
        },
        [&](std::uint64_t) {
          const std::string contents = read_all(disk, "photo");
          if (contents != old_contents && contents != new_contents) ++bad;
        });
    EXPECT_EQ(points, sync_before_rename ? 6u : 5u);
    return bad;
  };
  EXPECT_EQ(count_bad_points(true), 0u);
  EXPECT_GT(count_bad_points(false), 0u);
}

}  // namespace
}  // namespace s3chaos::sim
