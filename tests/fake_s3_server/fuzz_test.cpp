// Runs the fake-s3 request fuzz target (scripts/fuzz-fake-s3: libFuzzer with ASan and UBSan
// over the server's sans-I/O parsing, authentication and routing) for a short while from its
// seed corpus; any crash, leak or sanitizer report fails this test. S3CHAOS_FUZZ_SECONDS
// changes the duration (default 20). It runs in the optimised build only: the fuzz binary
// carries its own sanitizers, so the sanitizer build would only repeat it.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

TEST(FakeS3RequestFuzz, RunsBrieflyWithoutACrash) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the fuzz target has its own sanitizers; it runs in the optimised build";
#endif
  const char* source_dir = std::getenv("S3CHAOS_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "S3CHAOS_SOURCE_DIR is set by ctest";
  const char* seconds_text = std::getenv("S3CHAOS_FUZZ_SECONDS");
  const std::string seconds = seconds_text ? seconds_text : "20";
  const auto build_dir =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path();
  const std::string command = std::string(source_dir) + "/scripts/fuzz-fake-s3 '" +
                              (build_dir / "fuzz").string() + "' " + seconds + " 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
}

}  // namespace
