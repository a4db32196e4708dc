// Runs the fake-s3 request fuzz target (scripts/fuzz-fake-s3: libFuzzer with ASan and UBSan
// over the server's sans-I/O parsing, authentication and routing) for a short while from its
// seed corpus; any crash, leak or sanitizer report fails this test. Per commit it judges a
// fixed set of inputs (S3CHAOS_FUZZ_RUNS, default 150,000, drawn from the fixed seed
// S3CHAOS_FUZZ_SEED), so main's verdict never depends on the draw; S3CHAOS_FUZZ_RUNS=0 runs
// for S3CHAOS_FUZZ_SECONDS (default 20) from a fresh seed instead, for exploring. It runs in
// the optimised build only: the fuzz binary carries its own sanitizers, so the sanitizer build
// would only repeat it.
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
  const char* runs_text = std::getenv("S3CHAOS_FUZZ_RUNS");
  const std::string runs = runs_text ? runs_text : "150000";
  // A fixed number of inputs needs a time cap well above what they take (about 15 s here).
  const std::string seconds = seconds_text ? seconds_text : (runs == "0" ? "20" : "300");
  const auto build_dir =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path();
  const std::string command = std::string(source_dir) + "/scripts/fuzz-fake-s3 '" +
                              (build_dir / "fuzz").string() + "' " + seconds +
                              (runs == "0" ? std::string() : " " + runs) + " 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << command;
}

}  // namespace
