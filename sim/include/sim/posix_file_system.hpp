// PosixFileSystem: the FileSystem interface on real files under a root directory, for the
// real runtime (DESIGN.md principle 2: the same journal and content-file code as in
// simulation). Each call opens, acts and closes (open/pwrite/pread/ftruncate/fsync,
// rename/unlink, fsync on a directory descriptor): simple, and no descriptor outlives a call.
//
// Paths are validated exactly as SimDisk does (relative, no "..", ".", empty component or
// NUL: invalid_argument), so a hostile name can never name a file outside the root. The last
// component is opened with O_NOFOLLOW; symbolic links placed inside the root by someone else
// are otherwise not defended against.
#pragma once

#include <string>

#include "sim/file_system.hpp"

namespace s3chaos::sim {

class PosixFileSystem final : public FileSystem {
 public:
  // Largest single read_at accepted, so a bad length cannot allocate the machine's memory.
  static constexpr std::uint64_t read_bytes_max = std::uint64_t{1} << 30;

  // `root` must be an existing directory; every path is resolved under it.
  explicit PosixFileSystem(std::string root);

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
  std::error_code rename(std::string_view from, std::string_view to) override;
  // Files only: removing a directory returns is_a_directory.
  std::error_code remove(std::string_view path) override;
  bool exists(std::string_view path) override;
  std::error_code list_directory(std::string_view path, std::vector<std::string>& names) override;

  const std::string& root() const { return root_; }

 private:
  // Validates `path` and returns root_/path in `full`.
  std::error_code resolve(std::string_view path, std::string& full) const;

  std::string root_;
};

}  // namespace s3chaos::sim
