// SimDisk: an in-memory, deterministic FileSystem with the durability semantics a careful
// program must assume of POSIX, plus crash, torn-write, ENOSPC and EIO injection.
//
// Model. Every file and directory is an inode with two states: `current` (what reads see now)
// and `durable` (what survives a crash). sync_file copies a file's current contents to its
// durable contents; sync_directory copies a directory's current entries (name -> inode) to
// its durable entries. crash() replaces every current state by the durable one, then drops
// every inode no longer reachable from the root through durable entries. Consequences:
// - unsynced file data is lost on crash;
// - a created file whose parent directory was not synced disappears, even if the file itself
//   was synced; a rename or remove whose directory was not synced reverts (a rename across
//   two directories needs both synced; with only the target synced the file survives under
//   both names, as a hard link would);
// - a file whose entry is durable but whose data was never synced comes back empty (or with
//   its last synced contents).
//
// Torn writes (torn_write_probability > 0): at crash, each file with unsynced changes is, with
// that probability, rebuilt as its durable contents plus an ordered prefix of its unsynced
// operations: operations 1..j-1 whole and operation j (a write) cut to a strict prefix of its
// bytes, j drawn uniformly (torn_writes_reorder: any subset of them instead, see
// DiskFaults). Bytes outside what was written never change (no garbage), and directories
// are never torn: an unsynced directory change always reverts.
//
// Crash points. Every call of a mutating method (write_at, truncate, sync_file,
// sync_directory, rename, remove, create_file, make_directory) increments
// mutating_call_count(), whether it succeeds or not. arm_crash_point(k) makes the call that
// brings the count to k "the moment the machine dies": that call is NOT applied at all and
// returns io_error, and from then on every call (reads included) returns io_error (exists()
// returns false) until crash() is called, which discards the non-durable state and disarms.
// Enumerating k = count+1 .. count+N+1 over a workload of N mutating calls covers a crash
// before each call and after the last one.
//
// Determinism: all choices come from the RandomStream given at construction; containers are
// ordered; nothing reads the wall clock. A SimDisk is copyable: a copy is an independent disk
// in the same state (handy to enumerate crash points from one prepared state).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sim/file_system.hpp"
#include "sim/random.hpp"

namespace s3chaos::sim {

// Fault settings of a SimDisk. Defaults: no faults, unlimited capacity.
struct DiskFaults {
  // Total bytes of file contents the disk holds (the sum of the current sizes of linked
  // files). A write_at or truncate that would exceed it fails with no_space_on_device and
  // changes nothing.
  std::uint64_t capacity_bytes = std::numeric_limits<std::uint64_t>::max();
  // Probability that a write_at fails with io_error (and changes nothing).
  double write_error_probability = 0.0;
  // Probability that a sync_file or sync_directory fails with io_error (and makes nothing
  // durable; the current state is unchanged, so a later successful sync still persists it).
  double sync_error_probability = 0.0;
  // What a failed sync_file does to the file's unsynced changes. false: nothing (they stay
  // pending, and a later successful sync persists them). true: Linux's behaviour since 4.13
  // (the "fsyncgate" of PostgreSQL): the failed pages are dropped from the write-back queue
  // but stay visible to reads, so a later sync_file SUCCEEDS without persisting them, and a
  // crash loses them. The next sync persists only the pages (page_bytes) written since the
  // failure, whole, with the bytes the page cache holds. A program that retries fsync after EIO and
  // trusts the retry is caught by this setting.
  bool failed_sync_drops_changes = false;
  // Probability that, at crash, a file with unsynced changes keeps a torn prefix of them.
  double torn_write_probability = 0.0;
  // Harsher torn writes: instead of an ordered prefix, any subset of the unsynced operations
  // survives (each one dropped, kept whole or cut to a prefix, independently), as when the
  // device reorders writes between two syncs.
  bool torn_writes_reorder = false;
};

class SimDisk final : public FileSystem {
 public:
  // Largest file the disk accepts (offset + length); beyond it write_at and truncate fail
  // with file_too_large. Keeps a bad offset from allocating the machine's memory.
  static constexpr std::uint64_t file_bytes_max = std::uint64_t{1} << 30;
  // Unsynced operations remembered per file for torn writes; beyond it the file's pending
  // history is dropped and that file is not torn at the next crash (it simply reverts).
  static constexpr std::size_t pending_operations_max = 4096;
  // Page size of the write-back after a failed sync (failed_sync_drops_changes): a page
  // written again after the failure is persisted whole by the next sync.
  static constexpr std::uint64_t page_bytes = 4096;

  explicit SimDisk(RandomStream random);
  SimDisk(const SimDisk&) = default;
  SimDisk& operator=(const SimDisk&) = default;
  SimDisk(SimDisk&&) = default;
  SimDisk& operator=(SimDisk&&) = default;
  ~SimDisk() override = default;

  // FileSystem (see file_system.hpp for the contracts and the header above for durability).
  std::error_code make_directory(std::string_view path) override;
  std::error_code create_file(std::string_view path) override;
  std::error_code write_at(std::string_view path, std::uint64_t offset,
                           std::string_view bytes) override;
  std::error_code read_at(std::string_view path, std::uint64_t offset, std::uint64_t length,
                          std::string& out) override;
  std::error_code truncate(std::string_view path, std::uint64_t size) override;
  std::error_code file_size(std::string_view path, std::uint64_t& size) override;
  std::error_code sync_file(std::string_view path) override;
  std::error_code sync_directory(std::string_view path) override;
  // Files only: renaming a directory returns operation_not_supported. Replaces an existing
  // file at `to`; renaming a file onto itself succeeds and changes nothing.
  std::error_code rename(std::string_view from, std::string_view to) override;
  // Files only: removing a directory returns is_a_directory.
  std::error_code remove(std::string_view path) override;
  bool exists(std::string_view path) override;
  std::error_code list_directory(std::string_view path, std::vector<std::string>& names) override;

  // Power loss: every inode's current state becomes its durable state (with torn writes as
  // configured), unreachable inodes are dropped, and an armed or fired crash point is cleared.
  void crash();

  void set_faults(const DiskFaults& faults);
  const DiskFaults& faults() const { return faults_; }
  // Replaces the random stream (e.g. one per enumerated crash point of a copied disk).
  void set_random_stream(RandomStream random) { random_ = random; }

  // The `calls`-th write_at from now (1 = the next one) fails with io_error. One pending
  // injection per kind; a new call replaces it; 0 cancels it.
  void inject_write_error_after(std::uint64_t calls);
  // The `calls`-th sync_file or sync_directory from now fails with io_error.
  void inject_sync_error_after(std::uint64_t calls);

  // Mutating calls made so far (see "Crash points" above).
  std::uint64_t mutating_call_count() const { return mutating_call_count_; }
  // The mutating call that makes the count reach `call_number` fails and kills the disk.
  // Requires call_number > mutating_call_count().
  void arm_crash_point(std::uint64_t call_number);
  void disarm_crash_point() { crash_point_.reset(); }
  // True from the moment an armed crash point fires until crash().
  bool crash_point_reached() const { return dead_; }

  // Bytes counted against capacity_bytes now.
  std::uint64_t used_bytes() const { return used_bytes_; }
  // Files that kept a torn prefix of their unsynced writes, summed over all crashes (lets a
  // test prove that its torn-write runs really tore something).
  std::uint64_t torn_file_count() const { return torn_file_count_; }

 private:
  using InodeId = std::uint64_t;
  static constexpr InodeId root_id = 0;

  // One unsynced change to a file, remembered for torn writes.
  struct PendingOperation {
    bool is_truncate = false;
    std::uint64_t offset_or_size = 0;
    std::string bytes;
  };

  struct Inode {
    bool is_directory = false;
    std::string current_contents;
    std::string durable_contents;
    std::vector<PendingOperation> pending;
    bool pending_complete = true;  // false when the history overflowed or was not recorded
    // A failed sync dropped changes (failed_sync_drops_changes): `pending` then holds only
    // the changes made since, and the next sync persists those, not current_contents.
    bool changes_dropped = false;
    // The byte range [unsynced_begin, unsynced_end) outside which current_contents equals
    // durable_contents (up to the shorter length), so a sync copies what changed, not the
    // whole file (SQLite's journal database grows to megabytes and syncs on every commit).
    std::uint64_t unsynced_begin = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t unsynced_end = 0;
    // The same changes as sorted, disjoint, non-adjacent ranges [first, second) whose hull is
    // [unsynced_begin, unsynced_end): a commit writes a few scattered pages of a large
    // database file, and a sync copies only those, not everything between them.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> unsynced_ranges;
    // A sync after a failed one (failed_sync_drops_changes) left bytes that reads see but
    // that are not durable outside the unsynced ranges: until a crash or a full copy, a sync
    // copies the whole hull, as it always did, so those bytes persist exactly as before.
    bool diverged = false;
    // std::less<>: looked up by the string_view components of a path, without a copy.
    std::map<std::string, InodeId, std::less<>> current_entries;
    std::map<std::string, InodeId, std::less<>> durable_entries;
    // Names whose current entry may differ from the durable one, so sync_directory costs the
    // changes since the last sync, not the size of the directory (an uploader's content
    // directory holds thousands of files through a long outage).
    std::set<std::string> unsynced_names;
    std::uint32_t current_links = 0;
    std::uint32_t durable_links = 0;
  };

  static void mark_unsynced(Inode& inode, std::uint64_t begin, std::uint64_t end);
  static void clear_unsynced(Inode& inode);
  // Counts a mutating call and reports io_error when the disk is (or now becomes) dead.
  std::error_code begin_mutation();
  std::error_code check_alive() const;
  bool draw_write_error();
  bool draw_sync_error();

  // Resolves a path through current entries. Missing components give
  // no_such_file_or_directory; a file used as a directory gives not_a_directory.
  std::error_code lookup(std::string_view path, InodeId& id) const;
  // lookup for a path already validated (detail::check_path): walks it from the root.
  std::error_code walk(std::string_view path, InodeId& id) const;
  // Resolves the parent directory of a path and returns the last component.
  std::error_code lookup_parent(std::string_view path, InodeId& parent, std::string& name) const;
  std::error_code lookup_file(std::string_view path, InodeId& id) const;
  // lookup_file for the data calls (write_at, read_at, truncate, file_size, sync_file),
  // through a small cache of recent paths: SQLite makes a dozen calls on the same two files
  // per transaction.
  std::error_code lookup_file(std::string_view path, Inode*& inode);

  InodeId allocate_inode(bool is_directory);
  void release_if_unreferenced(InodeId id);
  void record_pending(Inode& inode, bool is_truncate, std::uint64_t offset_or_size,
                      std::string_view bytes);
  static void apply_pending(std::string& contents, const PendingOperation& operation);
  std::string torn_contents(const Inode& inode);
  void check_invariants() const;

  // Recently resolved file paths. Paths are canonical (no "." "..", or empty components), so
  // an entry goes stale only when its own name is renamed or removed (rename and remove
  // forget exactly those names) or its inode is erased (forgotten with it); directories are
  // never renamed or removed. A crash clears it; a copied or moved disk starts with an empty
  // cache, since the pointers point into the source's inodes. Forgetting only the changed
  // names keeps the journal's files cached while an uploader renames and removes a photo's
  // content file on every ingest and eviction.
  class FileCache {
   public:
    FileCache() = default;
    FileCache(const FileCache&) {}
    FileCache(FileCache&&) noexcept {}
    FileCache& operator=(const FileCache&) {
      clear();
      return *this;
    }
    FileCache& operator=(FileCache&&) noexcept {
      clear();
      return *this;
    }
    ~FileCache() = default;
    Inode* find(std::string_view path) const {
      for (const Entry& entry : entries_) {
        if (entry.inode != nullptr && entry.path == path) return entry.inode;
      }
      return nullptr;
    }
    void insert(std::string_view path, Inode* inode) {
      Entry& entry = entries_[next_];
      next_ = (next_ + 1) % entries_.size();
      entry.path.assign(path);
      entry.inode = inode;
    }
    void clear() {
      for (Entry& entry : entries_) entry.inode = nullptr;
    }
    void forget_path(std::string_view path) {
      for (Entry& entry : entries_) {
        if (entry.inode != nullptr && entry.path == path) entry.inode = nullptr;
      }
    }
    void forget_inode(const Inode* inode) {
      for (Entry& entry : entries_) {
        if (entry.inode == inode) entry.inode = nullptr;
      }
    }

   private:
    struct Entry {
      std::string path;
      Inode* inode = nullptr;
    };
    std::array<Entry, 4> entries_{};
    std::size_t next_ = 0;
  };

  RandomStream random_;
  DiskFaults faults_;
  FileCache file_cache_;
  std::map<InodeId, Inode> inodes_;
  InodeId next_inode_id_ = root_id + 1;
  std::uint64_t used_bytes_ = 0;
  std::uint64_t mutating_call_count_ = 0;
  std::optional<std::uint64_t> crash_point_;
  bool dead_ = false;
  std::uint64_t torn_file_count_ = 0;
  std::uint64_t write_error_countdown_ = 0;
  std::uint64_t sync_error_countdown_ = 0;
};

// Crash points enumerated by enumerate_crash_points at most (a workload of more mutating
// calls is cut there; split it, or raise the bound knowingly).
inline constexpr std::uint64_t crash_points_max = 100'000;

// Every-crash-point driver (the loop of docs/disk.md). `disk` holds the prepared starting
// state. `workload()` runs the code under test against `disk` (directly or through anything
// bound to this SimDisk object, such as the SQLite VFS) and must stop at its first error.
// First one clean run counts the workload's N mutating calls; then for k = 1 .. N+1 the disk
// is reset to the prepared state, armed to die at the k-th call, the workload runs, the disk
// crashes, and `check(k)` inspects what survived (through `disk`). `disk` is reset to the
// prepared state before every run, including its random stream, which is replaced by one
// derived from `random` and k (so torn writes differ per point yet replay exactly).
// Returns the number of points checked (N+1, at most crash_points_max).
template <typename Workload, typename Check>
std::uint64_t enumerate_crash_points(SimDisk& disk, const RandomStream& random, Workload&& workload,
                                     Check&& check) {
  const SimDisk prepared = disk;
  const std::uint64_t start = disk.mutating_call_count();
  workload();
  const std::uint64_t calls = disk.mutating_call_count() - start;
  std::uint64_t points = 0;
  for (std::uint64_t k = 1; k <= calls + 1 && points < crash_points_max; ++k, ++points) {
    disk = prepared;
    disk.set_random_stream(random.split("crash_point." + std::to_string(k)));
    disk.arm_crash_point(start + k);
    workload();
    disk.crash();
    check(k);
  }
  disk = prepared;
  return points;
}

}  // namespace s3chaos::sim
