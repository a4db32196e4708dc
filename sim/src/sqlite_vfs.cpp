#include "sim/sqlite_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "path_components.hpp"
#include "sim/assert.hpp"
#include "sim/random.hpp"

namespace s3chaos::sim {
namespace {

// Longest full pathname SQLite may hand us (it sizes its buffers from this).
constexpr int vfs_pathname_bytes_max = 1024;
// wal-index regions per WAL database (SQLite maps 32 KiB regions): 4096 of them cover a WAL
// far larger than anything simulated.
constexpr std::size_t shm_regions_max = 4096;
// In-memory temporary files (temp tables, sort spills) may not grow beyond this.
constexpr std::uint64_t memory_file_bytes_max = std::uint64_t{256} << 20;
// The sector size reported to SQLite: the common 4 KiB of today's disks.
constexpr int sector_bytes = 4096;
// Milliseconds from the Julian day epoch (noon, 24 November 4714 BC) to the Unix epoch.
constexpr std::int64_t unix_epoch_julian_ms = 210866760000000LL;
// 2008-07-20T08:40:00Z, the start of the S3 outage of the story: the default "now".
constexpr TimeNs default_now_ns = TimeNs{1216543200} * nanoseconds_per_second;

struct SharedMemory {
  std::vector<std::unique_ptr<char[]>> regions;
  int region_bytes = 0;
  int users = 0;
};

struct VfsState {
  sqlite3_vfs vfs{};
  std::string name;
  FileSystem* file_system = nullptr;
  RandomStream random{0};
  std::function<TimeNs()> now;
  // wal-index of each WAL database, keyed by the database's path.
  std::map<std::string, SharedMemory> shared_memory;
  // Main database files open now. Locking is a no-op, so a second connection to the same
  // file would corrupt it silently: it is refused instead (SQLITE_CANTOPEN).
  std::set<std::string> open_databases;
};

// The C++ side of an open file; VfsFile (what SQLite allocates) only points at it.
struct FileHandle {
  VfsState* state = nullptr;
  std::string path;
  bool in_memory = false;
  std::string memory;
  bool delete_on_close = false;
  // A new journal's or WAL's directory entry becomes durable at its first xSync (os_unix.c).
  bool sync_directory_pending = false;
  bool shm_attached = false;
  bool is_main_database = false;
  // Reused by every xRead of this file, so a read allocates nothing once it has grown.
  std::string read_buffer;
};

struct VfsFile {
  sqlite3_file base;
  FileHandle* handle;
};

std::mutex registry_mutex;
std::map<std::string, std::unique_ptr<VfsState>>& registry() {
  static std::map<std::string, std::unique_ptr<VfsState>> vfs_by_name;
  return vfs_by_name;
}

VfsState& state_of(sqlite3_vfs* vfs) {
  return *static_cast<VfsState*>(vfs->pAppData);
}
FileHandle& handle_of(sqlite3_file* file) {
  return *reinterpret_cast<VfsFile*>(file)->handle;
}

std::string to_file_system_path(const char* name) {
  std::string_view path(name);
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return std::string(path);
}

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

bool is(std::error_code error, std::errc code) {
  return error == std::make_error_code(code);
}

int write_error_code(std::error_code error) {
  return is(error, std::errc::no_space_on_device) ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

// ---- io methods ----

int file_close(sqlite3_file* file) {
  FileHandle* handle = &handle_of(file);
  if (handle->shm_attached) {
    auto& shared = handle->state->shared_memory;
    const auto found = shared.find(handle->path);
    if (found != shared.end() && --found->second.users == 0) shared.erase(found);
  }
  if (handle->is_main_database) handle->state->open_databases.erase(handle->path);
  int rc = SQLITE_OK;
  if (handle->delete_on_close && !handle->in_memory) {
    if (handle->state->file_system->remove(handle->path)) rc = SQLITE_IOERR_DELETE;
  }
  delete handle;
  reinterpret_cast<VfsFile*>(file)->handle = nullptr;
  return rc;
}

int file_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  FileHandle& handle = handle_of(file);
  if (amount < 0 || offset < 0) return SQLITE_IOERR_READ;
  std::string& bytes = handle.read_buffer;
  bytes.clear();
  if (handle.in_memory) {
    const auto start = static_cast<std::uint64_t>(offset);
    if (start < handle.memory.size())
      bytes.assign(handle.memory, start, static_cast<std::size_t>(amount));
  } else if (handle.state->file_system->read_at(handle.path, static_cast<std::uint64_t>(offset),
                                                static_cast<std::uint64_t>(amount), bytes)) {
    return SQLITE_IOERR_READ;
  }
  S3CHAOS_ASSERT(bytes.size() <= static_cast<std::size_t>(amount));
  std::memcpy(buffer, bytes.data(), bytes.size());
  if (bytes.size() < static_cast<std::size_t>(amount)) {
    // SQLite requires the unread tail zero-filled on a short read.
    std::memset(static_cast<char*>(buffer) + bytes.size(), 0, amount - bytes.size());
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int file_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  FileHandle& handle = handle_of(file);
  if (amount < 0 || offset < 0) return SQLITE_IOERR_WRITE;
  const std::string_view bytes(static_cast<const char*>(buffer), static_cast<std::size_t>(amount));
  if (handle.in_memory) {
    const auto end = static_cast<std::uint64_t>(offset) + bytes.size();
    if (end > memory_file_bytes_max) return SQLITE_FULL;
    if (handle.memory.size() < end) handle.memory.resize(end, '\0');
    std::copy(bytes.begin(), bytes.end(), handle.memory.begin() + offset);
    return SQLITE_OK;
  }
  if (auto error = handle.state->file_system->write_at(handle.path,
                                                       static_cast<std::uint64_t>(offset), bytes))
    return write_error_code(error);
  return SQLITE_OK;
}

int file_truncate(sqlite3_file* file, sqlite3_int64 size) {
  FileHandle& handle = handle_of(file);
  if (size < 0) return SQLITE_IOERR_TRUNCATE;
  if (handle.in_memory) {
    if (static_cast<std::uint64_t>(size) > memory_file_bytes_max) return SQLITE_FULL;
    handle.memory.resize(static_cast<std::size_t>(size), '\0');
    return SQLITE_OK;
  }
  if (auto error =
          handle.state->file_system->truncate(handle.path, static_cast<std::uint64_t>(size)))
    return is(error, std::errc::no_space_on_device) ? SQLITE_FULL : SQLITE_IOERR_TRUNCATE;
  return SQLITE_OK;
}

int file_sync(sqlite3_file* file, int /*flags*/) {
  FileHandle& handle = handle_of(file);
  if (handle.in_memory) return SQLITE_OK;
  if (handle.state->file_system->sync_file(handle.path)) return SQLITE_IOERR_FSYNC;
  if (handle.sync_directory_pending) {
    // Unlike os_unix.c, a failed directory sync is reported: the journal's entry is not
    // durable, and pretending otherwise would hide exactly the bug this harness looks for.
    if (handle.state->file_system->sync_directory(parent_of(handle.path)))
      return SQLITE_IOERR_DIR_FSYNC;
    handle.sync_directory_pending = false;
  }
  return SQLITE_OK;
}

int file_size(sqlite3_file* file, sqlite3_int64* size) {
  FileHandle& handle = handle_of(file);
  if (handle.in_memory) {
    *size = static_cast<sqlite3_int64>(handle.memory.size());
    return SQLITE_OK;
  }
  std::uint64_t bytes = 0;
  if (handle.state->file_system->file_size(handle.path, bytes)) return SQLITE_IOERR_FSTAT;
  *size = static_cast<sqlite3_int64>(bytes);
  return SQLITE_OK;
}

// Locking is a no-op: one connection per database file (see the header).
int file_lock(sqlite3_file*, int) {
  return SQLITE_OK;
}
int file_unlock(sqlite3_file*, int) {
  return SQLITE_OK;
}
int file_check_reserved_lock(sqlite3_file*, int* result) {
  *result = 0;
  return SQLITE_OK;
}
int file_control(sqlite3_file*, int, void*) {
  return SQLITE_NOTFOUND;
}
int file_sector_size(sqlite3_file*) {
  return sector_bytes;
}
// No guarantees claimed (no atomic or power-safe writes): SQLite then takes its most careful
// path, which is what a crash test should exercise.
int file_device_characteristics(sqlite3_file*) {
  return 0;
}

int file_shm_map(sqlite3_file* file, int region, int region_bytes, int extend,
                 void volatile** address) {
  FileHandle& handle = handle_of(file);
  *address = nullptr;
  if (handle.in_memory || region < 0 || region_bytes <= 0) return SQLITE_IOERR_SHMMAP;
  SharedMemory& shared = handle.state->shared_memory[handle.path];
  if (!handle.shm_attached) {
    handle.shm_attached = true;
    ++shared.users;
  }
  if (shared.region_bytes == 0) shared.region_bytes = region_bytes;
  if (shared.region_bytes != region_bytes) return SQLITE_IOERR_SHMSIZE;
  const auto index = static_cast<std::size_t>(region);
  if (index >= shared.regions.size()) {
    if (!extend) return SQLITE_OK;
    if (index >= shm_regions_max) return SQLITE_IOERR_SHMMAP;
    while (shared.regions.size() <= index)
      shared.regions.push_back(std::make_unique<char[]>(static_cast<std::size_t>(region_bytes)));
  }
  *address = shared.regions[index].get();
  return SQLITE_OK;
}

int file_shm_lock(sqlite3_file*, int, int, int) {
  return SQLITE_OK;
}

void file_shm_barrier(sqlite3_file*) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

int file_shm_unmap(sqlite3_file* file, int /*delete_flag*/) {
  FileHandle& handle = handle_of(file);
  if (!handle.shm_attached) return SQLITE_OK;
  handle.shm_attached = false;
  auto& shared = handle.state->shared_memory;
  const auto found = shared.find(handle.path);
  // The wal-index is process memory: with no user left it is gone, as after a real restart.
  if (found != shared.end() && --found->second.users == 0) shared.erase(found);
  return SQLITE_OK;
}

const sqlite3_io_methods io_methods = {
    2,  // iVersion: up to the xShm* methods; no memory-mapped I/O.
    file_close,
    file_read,
    file_write,
    file_truncate,
    file_sync,
    file_size,
    file_lock,
    file_unlock,
    file_check_reserved_lock,
    file_control,
    file_sector_size,
    file_device_characteristics,
    file_shm_map,
    file_shm_lock,
    file_shm_barrier,
    file_shm_unmap,
    nullptr,
    nullptr,
};

// ---- vfs methods ----

int vfs_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
             int* out_flags) {
  file->pMethods = nullptr;  // SQLite calls xClose only when pMethods is set.
  VfsState& state = state_of(vfs);
  auto handle = std::make_unique<FileHandle>();
  handle->state = &state;
  handle->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  if (name == nullptr) {
    handle->in_memory = true;
  } else {
    handle->path = to_file_system_path(name);
    if ((flags & SQLITE_OPEN_MAIN_DB) != 0 && state.open_databases.contains(handle->path))
      return SQLITE_CANTOPEN;
    std::uint64_t size = 0;
    const std::error_code found = state.file_system->file_size(handle->path, size);
    const bool create = (flags & SQLITE_OPEN_CREATE) != 0;
    if (!found) {
      if (create && (flags & SQLITE_OPEN_EXCLUSIVE) != 0) return SQLITE_CANTOPEN;
    } else if (is(found, std::errc::no_such_file_or_directory) && create) {
      if (state.file_system->create_file(handle->path)) return SQLITE_CANTOPEN;
    } else {
      return SQLITE_CANTOPEN;
    }
    constexpr int journal_kinds =
        SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL;
    handle->sync_directory_pending = create && (flags & journal_kinds) != 0;
  }
  if (out_flags != nullptr) *out_flags = flags;
  if (!handle->in_memory && (flags & SQLITE_OPEN_MAIN_DB) != 0) {
    handle->is_main_database = true;
    state.open_databases.insert(handle->path);
  }
  reinterpret_cast<VfsFile*>(file)->handle = handle.release();
  file->pMethods = &io_methods;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* vfs, const char* name, int sync_directory) {
  VfsState& state = state_of(vfs);
  const std::string path = to_file_system_path(name);
  if (auto error = state.file_system->remove(path)) {
    return is(error, std::errc::no_such_file_or_directory) ? SQLITE_IOERR_DELETE_NOENT
                                                           : SQLITE_IOERR_DELETE;
  }
  if (sync_directory && state.file_system->sync_directory(parent_of(path)))
    return SQLITE_IOERR_DIR_FSYNC;
  return SQLITE_OK;
}

int vfs_access(sqlite3_vfs* vfs, const char* name, int flags, int* result) {
  VfsState& state = state_of(vfs);
  std::uint64_t size = 0;
  const std::error_code error = state.file_system->file_size(to_file_system_path(name), size);
  *result = 0;
  if (!error) {
    // Like os_unix.c, an empty file does not "exist" for SQLITE_ACCESS_EXISTS: a truncated
    // rollback journal is no journal.
    *result = flags == SQLITE_ACCESS_EXISTS ? (size > 0 ? 1 : 0) : 1;
    return SQLITE_OK;
  }
  if (is(error, std::errc::no_such_file_or_directory)) return SQLITE_OK;
  if (is(error, std::errc::is_a_directory)) {
    *result = 1;
    return SQLITE_OK;
  }
  return SQLITE_IOERR_ACCESS;
}

int vfs_full_pathname(sqlite3_vfs*, const char* name, int out_bytes, char* out) {
  const std::string path = to_file_system_path(name);
  if (path.size() + 1 > static_cast<std::size_t>(out_bytes)) return SQLITE_CANTOPEN;
  std::memcpy(out, path.c_str(), path.size() + 1);
  return SQLITE_OK;
}

void* vfs_dl_open(sqlite3_vfs*, const char*) {
  return nullptr;
}
void vfs_dl_error(sqlite3_vfs*, int bytes, char* out) {
  if (bytes > 0) std::snprintf(out, static_cast<std::size_t>(bytes), "%s", "no extensions");
}
void (*vfs_dl_sym(sqlite3_vfs*, void*, const char*))(void) {
  return nullptr;
}
void vfs_dl_close(sqlite3_vfs*, void*) {}

int vfs_randomness(sqlite3_vfs* vfs, int bytes, char* out) {
  VfsState& state = state_of(vfs);
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>(state.random.next_u64() & 0xff);
  return bytes;
}

// Never sleeps: simulated time does not pass by waiting on the wall clock.
int vfs_sleep(sqlite3_vfs*, int microseconds) {
  return microseconds;
}

int vfs_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* julian_ms) {
  VfsState& state = state_of(vfs);
  const TimeNs now = state.now ? state.now() : default_now_ns;
  *julian_ms = unix_epoch_julian_ms + now / nanoseconds_per_millisecond;
  return SQLITE_OK;
}

int vfs_current_time(sqlite3_vfs* vfs, double* julian_days) {
  sqlite3_int64 julian_ms = 0;
  vfs_current_time_int64(vfs, &julian_ms);
  *julian_days = static_cast<double>(julian_ms) / 86400000.0;
  return SQLITE_OK;
}

int vfs_get_last_error(sqlite3_vfs*, int, char*) {
  return 0;
}

}  // namespace

int register_sqlite_vfs(FileSystem& file_system, const std::string& vfs_name) {
  return register_sqlite_vfs(file_system, vfs_name, SqliteVfsOptions{});
}

int register_sqlite_vfs(FileSystem& file_system, const std::string& vfs_name,
                        const SqliteVfsOptions& options) {
  if (vfs_name.empty() || vfs_name.size() > sqlite_vfs_name_bytes_max ||
      vfs_name.find('\0') != std::string::npos)
    return SQLITE_MISUSE;
  std::lock_guard lock(registry_mutex);
  if (registry().contains(vfs_name)) return SQLITE_MISUSE;
  if (const int rc = sqlite3_initialize(); rc != SQLITE_OK) return rc;
  auto state = std::make_unique<VfsState>();
  state->name = vfs_name;
  state->file_system = &file_system;
  state->random = RandomStream::named(options.random_seed, "sqlite_vfs." + vfs_name);
  state->now = options.now;
  sqlite3_vfs& vfs = state->vfs;
  vfs.iVersion = 2;
  vfs.szOsFile = sizeof(VfsFile);
  vfs.mxPathname = vfs_pathname_bytes_max;
  vfs.zName = state->name.c_str();
  vfs.pAppData = state.get();
  vfs.xOpen = vfs_open;
  vfs.xDelete = vfs_delete;
  vfs.xAccess = vfs_access;
  vfs.xFullPathname = vfs_full_pathname;
  vfs.xDlOpen = vfs_dl_open;
  vfs.xDlError = vfs_dl_error;
  vfs.xDlSym = vfs_dl_sym;
  vfs.xDlClose = vfs_dl_close;
  vfs.xRandomness = vfs_randomness;
  vfs.xSleep = vfs_sleep;
  vfs.xCurrentTime = vfs_current_time;
  vfs.xGetLastError = vfs_get_last_error;
  vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  if (const int rc = sqlite3_vfs_register(&vfs, 0); rc != SQLITE_OK) return rc;
  registry().emplace(vfs_name, std::move(state));
  return SQLITE_OK;
}

void unregister_sqlite_vfs(const std::string& vfs_name) {
  std::lock_guard lock(registry_mutex);
  const auto found = registry().find(vfs_name);
  if (found == registry().end()) return;
  sqlite3_vfs_unregister(&found->second->vfs);
  registry().erase(found);
}

void seed_sqlite_randomness(std::uint32_t seed) {
  // SQLite treats a zero seed as "no seed" (draw from the default VFS), so never pass zero.
  const int fixed_seed = static_cast<int>(seed == 0 ? 1 : seed);
  sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SEED, fixed_seed, static_cast<sqlite3*>(nullptr));
}

}  // namespace s3chaos::sim
