// Splitting and validating the relative, '/'-separated paths of the FileSystem interface.
// Shared by SimDisk and PosixFileSystem so both accept and reject exactly the same paths.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace s3chaos::sim::detail {

// Longest path and longest single component accepted (Linux's PATH_MAX and NAME_MAX).
inline constexpr std::size_t path_bytes_max = 4096;
inline constexpr std::size_t path_component_bytes_max = 255;

// Splits `path` into its components. The empty path is the root (no components). Rejects,
// with invalid_argument, an absolute path, an empty component ("a//b", a trailing '/'), the
// components "." and "..", and a NUL byte; with filename_too_long, an over-long path or
// component.
// Validates `path` as split_path does, calling `visit(component)` for each component (a view
// into `path`) as it goes; on an error, components before the bad one were already visited.
template <typename Visit>
std::error_code for_each_path_component(std::string_view path, Visit&& visit) {
  if (path.size() > path_bytes_max) return std::make_error_code(std::errc::filename_too_long);
  if (path.empty()) return {};
  if (path.find('\0') != std::string_view::npos)
    return std::make_error_code(std::errc::invalid_argument);
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view component = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (component.empty() || component == "." || component == "..")
      return std::make_error_code(std::errc::invalid_argument);
    if (component.size() > path_component_bytes_max)
      return std::make_error_code(std::errc::filename_too_long);
    visit(component);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

// Whether split_path would accept `path` (the same error), without allocating.
inline std::error_code check_path(std::string_view path) {
  return for_each_path_component(path, [](std::string_view) {});
}

inline std::error_code split_path(std::string_view path, std::vector<std::string>& components) {
  components.clear();
  return for_each_path_component(
      path, [&](std::string_view component) { components.emplace_back(component); });
}

}  // namespace s3chaos::sim::detail
