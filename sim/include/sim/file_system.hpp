// The file-system interface that durable components (the uploader's content files and
// journal, fake_s3's server storage) are written against. Two implementations: SimDisk
// (sim/disk.hpp: in memory, deterministic, with crash, fsync, torn-write and fault semantics)
// and a POSIX one for the real runtime. Code written against this interface runs unchanged
// in simulation and in production (DESIGN.md, principle 2).
//
// Semantics follow POSIX as a careful program must assume it:
// - write_at changes the file's current contents; only sync_file makes them durable.
// - create, rename and remove change the directory's current entries; only sync_directory
//   on the parent makes that change durable (a renamed file whose directory was not synced
//   may be found under its old name, or not at all, after a crash).
// - Errors come back as std::error_code values of std::errc (no_space_on_device for ENOSPC,
//   io_error for EIO, no_such_file_or_directory for ENOENT, ...); nothing throws.
// Paths are '/'-separated and relative to the file system's root; ".." is never valid.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace s3chaos::sim {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Creates the directory (and missing parents). Succeeds if it already exists.
  virtual std::error_code make_directory(std::string_view path) = 0;
  // Creates an empty file if it does not exist; never truncates an existing one.
  virtual std::error_code create_file(std::string_view path) = 0;
  // Writes `bytes` at `offset`, extending the file as needed (a gap reads as zeros).
  virtual std::error_code write_at(std::string_view path, std::uint64_t offset,
                                   std::string_view bytes) = 0;
  // Reads up to `length` bytes at `offset` into `out` (short at end of file).
  virtual std::error_code read_at(std::string_view path, std::uint64_t offset, std::uint64_t length,
                                  std::string& out) = 0;
  // Sets the file's size, cutting or zero-extending.
  virtual std::error_code truncate(std::string_view path, std::uint64_t size) = 0;
  // The file's current size in bytes.
  virtual std::error_code file_size(std::string_view path, std::uint64_t& size) = 0;
  // Makes the file's current contents durable (fsync).
  virtual std::error_code sync_file(std::string_view path) = 0;
  // Makes the directory's current entries durable (fsync on the directory).
  virtual std::error_code sync_directory(std::string_view path) = 0;
  // Atomically replaces `to` with `from` (rename(2)); durable only after sync_directory.
  virtual std::error_code rename(std::string_view from, std::string_view to) = 0;
  // Removes a file (unlink(2)); durable only after sync_directory.
  virtual std::error_code remove(std::string_view path) = 0;
  // Whether a file or directory exists now.
  virtual bool exists(std::string_view path) = 0;
  // The names (not paths) of the entries of a directory, sorted by name.
  virtual std::error_code list_directory(std::string_view path,
                                         std::vector<std::string>& names) = 0;
};

}  // namespace s3chaos::sim
