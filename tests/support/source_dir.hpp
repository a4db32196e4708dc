// Where the test data of the source tree is (scenarios/, reports/examples/, fake_s3/plans/).
//
// Not from __FILE__: ccache's base directory (scripts/build) makes compiled-in paths relative,
// so that another clone of the same commit hits the cache, and a relative __FILE__ points
// nowhere from a test's working directory. ctest sets S3CHAOS_SOURCE_DIR for the tests; test
// discovery and a test run by hand get it from s3chaos_source_dir.txt, which CMake writes next
// to the test executables and to explore-bench (bench/CMakeLists.txt).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace s3chaos::test {

inline std::filesystem::path source_dir() {
  if (const char* dir = std::getenv("S3CHAOS_SOURCE_DIR"); dir != nullptr && *dir) return dir;
  const std::filesystem::path marker =
      std::filesystem::read_symlink("/proc/self/exe").parent_path() / "s3chaos_source_dir.txt";
  std::ifstream in(marker);
  std::string line;
  if (!std::getline(in, line) || line.empty()) {
    throw std::runtime_error(
        "cannot find the source tree: set S3CHAOS_SOURCE_DIR or re-run "
        "cmake (it writes " +
        marker.string() + ")");
  }
  return line;
}

}  // namespace s3chaos::test
