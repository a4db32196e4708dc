// A SQLite VFS over a FileSystem, so the real SQLite engine runs on SimDisk inside the
// simulation (and a simulated crash discards exactly the writes SQLite did not sync), or on
// PosixFileSystem in the real runtime.
//
// Usage:
//   SimDisk disk(RandomStream::named(seed, "disk"));
//   register_sqlite_vfs(disk, "sim");
//   sqlite3* db = nullptr;
//   sqlite3_open_v2("data/journal.db", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "sim");
//   ... PRAGMA synchronous=FULL; PRAGMA journal_mode=TRUNCATE (or WAL, or DELETE with
//   synchronous=EXTRA: see docs/disk.md for why DELETE + FULL is not durable) ...
//   sqlite3_close(db);
//   unregister_sqlite_vfs("sim");
//
// Mapping. Paths given to sqlite3_open_v2 are FileSystem paths (relative, '/'-separated; a
// leading '/' is stripped). xRead/xWrite/xTruncate/xSync/xFileSize/xDelete/xAccess/xOpen call
// read_at/write_at/truncate/sync_file/file_size/remove/file_size/create_file. Like os_unix.c,
// the first xSync of a newly created rollback journal, super-journal or WAL also syncs its
// parent directory, and xDelete with syncDir set syncs the parent directory after removing.
// Errors map to SQLITE_IOERR_* (SQLITE_FULL for no_space_on_device); a short read zero-fills
// the rest of the buffer and returns SQLITE_IOERR_SHORT_READ.
//
// Limits of the model:
// - Locking is a no-op: one connection per database file at a time. A second connection to
//   a database file already open through the same VFS is refused (SQLITE_CANTOPEN) rather
//   than allowed to corrupt it. Other processes are not seen at all.
// - WAL is supported with an in-memory, single-process wal-index (xShm*); shm locks are
//   no-ops too. The wal-index is dropped when the last connection to the file closes, so the
//   next open rebuilds it from the WAL, as after a real crash.
// - Temporary files SQLite opens without a name (temp tables, sort spills) live in memory.
// - Memory-mapped I/O is not offered (xFetch is absent), so every read goes through xRead.
//
// Determinism: xRandomness draws from a RandomStream (seeded by the options), xCurrentTime
// reads the simulated clock given in the options (a fixed instant by default), xSleep returns
// at once. Note that SQLite's own PRNG (journal nonces, WAL salts) is process-global and
// seeded from the DEFAULT VFS; call seed_sqlite_randomness() at the start of a simulated run
// to make those bytes deterministic too.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "sim/file_system.hpp"
#include "sim/time.hpp"

namespace s3chaos::sim {

struct SqliteVfsOptions {
  // Seed of the stream behind xRandomness.
  std::uint64_t random_seed = 0;
  // Simulated time since the Unix epoch, for xCurrentTime. Empty: a fixed instant
  // (2008-07-20T08:40:00Z, when the S3 outage of the story began).
  std::function<TimeNs()> now;
};

// Longest VFS name accepted, in bytes.
inline constexpr std::size_t sqlite_vfs_name_bytes_max = 64;

// Registers a VFS called `vfs_name` (not as the default VFS) whose files live on
// `file_system`. Returns SQLITE_OK, SQLITE_MISUSE if the name is empty, too long or already
// registered through this function, or the error of sqlite3_vfs_register. `file_system` must
// outlive every connection opened through the VFS, and the VFS must stay registered while
// any such connection is open.
int register_sqlite_vfs(FileSystem& file_system, const std::string& vfs_name);
int register_sqlite_vfs(FileSystem& file_system, const std::string& vfs_name,
                        const SqliteVfsOptions& options);

// Unregisters and frees a VFS registered by register_sqlite_vfs. Does nothing for an unknown
// name. No connection may still use it.
void unregister_sqlite_vfs(const std::string& vfs_name);

// Reseeds SQLite's process-global PRNG to a fixed state derived from `seed` (through
// SQLITE_TESTCTRL_PRNG_SEED), so journal nonces and WAL salts are the same in every run.
// Affects every connection in the process.
void seed_sqlite_randomness(std::uint32_t seed);

}  // namespace s3chaos::sim
