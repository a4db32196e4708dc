#include "sim/posix_file_system.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "path_components.hpp"
#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

// Closes a descriptor at scope exit.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int fd = -1;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

std::error_code fsync_retrying(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return last_error();
  }
  return {};
}

// Fails with is_a_directory when `fd` is a directory (open(O_RDONLY) accepts directories).
std::error_code require_regular(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) return last_error();
  if (S_ISDIR(status.st_mode)) return std::make_error_code(std::errc::is_a_directory);
  return {};
}

constexpr std::uint64_t max_off = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());

}  // namespace

PosixFileSystem::PosixFileSystem(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  S3CHAOS_ASSERT(!root_.empty());
}

std::error_code PosixFileSystem::resolve(std::string_view path, std::string& full) const {
  std::vector<std::string> components;
  if (auto error = detail::split_path(path, components)) return error;
  full = root_;
  if (!path.empty()) {
    full += '/';
    full += path;
  }
  return {};
}

std::error_code PosixFileSystem::make_directory(std::string_view path) {
  std::vector<std::string> components;
  if (auto error = detail::split_path(path, components)) return error;
  std::string full = root_;
  for (const std::string& component : components) {
    full += '/';
    full += component;
    if (::mkdir(full.c_str(), 0755) == 0) continue;
    if (errno != EEXIST) return last_error();
    struct stat status {};
    if (::stat(full.c_str(), &status) != 0) return last_error();
    if (!S_ISDIR(status.st_mode)) {
      return std::make_error_code(&component == &components.back() ? std::errc::file_exists
                                                                   : std::errc::not_a_directory);
    }
  }
  return {};
}

std::error_code PosixFileSystem::create_file(std::string_view path) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  if (path.empty()) return std::make_error_code(std::errc::invalid_argument);
  Descriptor fd(open_retrying(full.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW, 0644));
  if (!fd.valid()) return last_error();
  return {};
}

std::error_code PosixFileSystem::write_at(std::string_view path, std::uint64_t offset,
                                          std::string_view bytes) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  if (offset > max_off || bytes.size() > max_off - offset)
    return std::make_error_code(std::errc::file_too_large);
  Descriptor fd(open_retrying(full.c_str(), O_WRONLY | O_NOFOLLOW));
  if (!fd.valid()) return last_error();
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::pwrite(fd.get(), bytes.data() + written, bytes.size() - written,
                               static_cast<off_t>(offset + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    written += static_cast<std::size_t>(n);
  }
  return {};
}

std::error_code PosixFileSystem::read_at(std::string_view path, std::uint64_t offset,
                                         std::uint64_t length, std::string& out) {
  out.clear();
  std::string full;
  if (auto error = resolve(path, full)) return error;
  if (length > read_bytes_max) return std::make_error_code(std::errc::invalid_argument);
  if (offset > max_off) return {};
  Descriptor fd(open_retrying(full.c_str(), O_RDONLY | O_NOFOLLOW));
  if (!fd.valid()) return last_error();
  if (auto error = require_regular(fd.get())) return error;
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) return last_error();
  const auto size = static_cast<std::uint64_t>(status.st_size);
  if (offset >= size) return {};
  out.resize(static_cast<std::size_t>(std::min(length, size - offset)));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
        ::pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      out.clear();
      return last_error();
    }
    if (n == 0) break;  // The file shrank under us: a short read.
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return {};
}

std::error_code PosixFileSystem::truncate(std::string_view path, std::uint64_t size) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  if (size > max_off) return std::make_error_code(std::errc::file_too_large);
  Descriptor fd(open_retrying(full.c_str(), O_WRONLY | O_NOFOLLOW));
  if (!fd.valid()) return last_error();
  while (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return last_error();
  }
  return {};
}

std::error_code PosixFileSystem::file_size(std::string_view path, std::uint64_t& size) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  struct stat status {};
  if (::lstat(full.c_str(), &status) != 0) return last_error();
  if (S_ISDIR(status.st_mode)) return std::make_error_code(std::errc::is_a_directory);
  size = static_cast<std::uint64_t>(status.st_size);
  return {};
}

std::error_code PosixFileSystem::sync_file(std::string_view path) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  Descriptor fd(open_retrying(full.c_str(), O_RDONLY | O_NOFOLLOW));
  if (!fd.valid()) return last_error();
  if (auto error = require_regular(fd.get())) return error;
  return fsync_retrying(fd.get());
}

std::error_code PosixFileSystem::sync_directory(std::string_view path) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  Descriptor fd(open_retrying(full.c_str(), O_RDONLY | O_DIRECTORY));
  if (!fd.valid()) return last_error();
  return fsync_retrying(fd.get());
}

std::error_code PosixFileSystem::rename(std::string_view from, std::string_view to) {
  std::string full_from;
  std::string full_to;
  if (auto error = resolve(from, full_from)) return error;
  if (auto error = resolve(to, full_to)) return error;
  if (from.empty() || to.empty()) return std::make_error_code(std::errc::invalid_argument);
  if (::rename(full_from.c_str(), full_to.c_str()) != 0) return last_error();
  return {};
}

std::error_code PosixFileSystem::remove(std::string_view path) {
  std::string full;
  if (auto error = resolve(path, full)) return error;
  if (path.empty()) return std::make_error_code(std::errc::invalid_argument);
  if (::unlink(full.c_str()) != 0) {
    // Linux reports EISDIR for a directory; POSIX allows EPERM. Say the same on both.
    if (errno == EPERM || errno == EISDIR) {
      struct stat status {};
      if (::lstat(full.c_str(), &status) == 0 && S_ISDIR(status.st_mode))
        return std::make_error_code(std::errc::is_a_directory);
    }
    return last_error();
  }
  return {};
}

bool PosixFileSystem::exists(std::string_view path) {
  std::string full;
  if (resolve(path, full)) return false;
  struct stat status {};
  return ::lstat(full.c_str(), &status) == 0;
}

std::error_code PosixFileSystem::list_directory(std::string_view path,
                                                std::vector<std::string>& names) {
  names.clear();
  std::string full;
  if (auto error = resolve(path, full)) return error;
  DIR* directory = ::opendir(full.c_str());
  if (directory == nullptr) return last_error();
  errno = 0;
  while (const dirent* entry = ::readdir(directory)) {
    const std::string_view name(entry->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int read_errno = errno;
  ::closedir(directory);
  if (read_errno != 0) {
    names.clear();
    return {read_errno, std::generic_category()};
  }
  std::sort(names.begin(), names.end());
  return {};
}

}  // namespace s3chaos::sim
