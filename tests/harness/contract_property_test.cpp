// Proves the durability contract with random whole scenarios drawn from the case generator
// (harness/generators.hpp), the same one `s3chaos explore random` uses: inside the contract
// `protected` holds every check and drains, across the per-commit budget of RapidCheck cases;
// every unsafe policy of the catalogue is caught within a bounded number of cases and shrinks
// to a counterexample of at most a few faults, which replays bit for bit from its scenario
// file; and both sides of the settle-vs-lag boundary (issue 4): a settle time above every lag
// loses nothing, a lag past the settle time is caught.
//
// S3CHAOS_PROPERTY_CASES=N raises the number of RapidCheck cases of the protected properties
// (and the number of runs the catalogue may spend). A failure prints RapidCheck's reproduce
// line and an `s3chaos replay` line for the shrunk case, whose scenario file it writes under
// $S3CHAOS_PROPERTY_OUT (default: the system's temp directory).
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness/generators.hpp"
#include "harness/world.hpp"
#include "property_cases.hpp"

namespace s3chaos::harness {
namespace {

using test::check_property;
using test::property_cases;

std::filesystem::path property_out_directory() {
  const char* out = std::getenv("S3CHAOS_PROPERTY_OUT");
  std::filesystem::path directory =
      out != nullptr && *out ? std::filesystem::path(out)
                             : std::filesystem::temp_directory_path() / "s3chaos-property";
  std::filesystem::create_directories(directory);
  return directory;
}

std::string test_stem() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string stem = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : stem) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
  }
  return stem;
}

// Writes a failing case's scenario file and returns the line that replays it.
std::string replay_line(const GeneratedCase& generated, const std::string& policy,
                        const RunSummary& summary) {
  const std::filesystem::path path = property_out_directory() / (test_stem() + ".json");
  std::ofstream(path) << scenario_document(generated, test_stem()).dump(2) << "\n";
  return "s3chaos replay " + path.string() + " --seed " + std::to_string(generated.world_seed) +
         " --policy " + policy + " --trace-hash " + summary.trace_hash;
}

std::string first_violation(const RunSummary& summary) {
  if (summary.violations.empty()) return "none";
  const Violation& violation = summary.violations.front();
  return violation.check + " (" + violation.photo_id + "): " + violation.detail + " [" +
         std::to_string(summary.violations.size()) + " in all]";
}

// The property: under `policy`, a case drawn with `options` holds every check, and the cache
// drains once the faults end.
void holds_and_drains(const GeneratorOptions& options, const std::string& policy) {
  const GeneratedCase generated = *case_generator(options);
  const Scenario scenario = generated_scenario(generated, test_stem());
  RunOptions run_options;
  run_options.seed = generated.world_seed;
  run_options.policy = policy;
  const RunSummary summary = run_scenario(scenario, run_options).summary;
  RC_CLASSIFY(generated.targets == 2, "two vendors");
  RC_CLASSIFY(!generated.uploader_faults.empty(), "uploader faults");
  if (!summary.holds || summary.photos_evicted != summary.photos_acked) {
    RC_FAIL(policy + " broke the contract: " + first_violation(summary) + "; " +
            std::to_string(summary.photos_acked) + " acknowledged, " +
            std::to_string(summary.photos_evicted) +
            " evicted\n  replay: " + replay_line(generated, policy, summary));
  }
}

// Per-commit budget: a case is about 60 photos over 20 minutes, tens of milliseconds
// optimised, five times that under ASan.
constexpr int protected_cases_per_commit = 40;

TEST(Contract, ProtectedHoldsEveryCheckAndDrains) {
  check_property([] { holds_and_drains(GeneratorOptions{}, "protected"); },
                 protected_cases_per_commit, random_case_size_max);
}

// Issue 4's boundary, safe side: only life/death windows, every lag below the settle time.
TEST(SettleBoundary, SettleAboveTheLagLosesNothing) {
  GeneratorOptions options;
  options.s3_fault_kinds = {S3FaultKind::life_death_window};
  options.uploader_faults = false;
  options.targets_max = 1;
  check_property([options] { holds_and_drains(options, "protected"); },
                 protected_cases_per_commit / 2, random_case_size_max);
}

// Runs explore_random and checks that it finds a violation within `runs_max` cases, that the
// shrunk case has at most `faults_max` faults, and that its scenario document replays to the
// same trace hash. Returns the result for further checks.
RandomExploreResult expect_caught(const std::string& policy, const GeneratorOptions& generator,
                                  std::uint64_t runs_max, std::size_t faults_max,
                                  std::uint64_t seed) {
  RandomExploreOptions options;
  options.runs = runs_max;
  options.seed = seed;
  options.policy = policy;
  options.generator = generator;
  options.shrink_runs_max = 200;
  const RandomExploreResult result = explore_random(options);
  const std::string again = "s3chaos explore random --runs " + std::to_string(runs_max) +
                            " --seed " + std::to_string(seed) + " --policy " + policy +
                            (generator.beyond_contract ? " --beyond-contract" : "");
  EXPECT_TRUE(result.first_failing_run.has_value())
      << policy << " was not caught in " << runs_max << " random cases; explore: " << again;
  if (!result.first_failing_run) return result;
  EXPECT_LE(result.fault_count_after, faults_max)
      << "shrunk counterexample too large:\n"
      << result.shrunk
      << "replay: " << replay_line(result.shrunk, policy, result.shrunk_output.summary);
  EXPECT_LE(result.fault_count_after, result.fault_count_before);
  // The shrunk case replays bit for bit from its scenario file's text.
  const Scenario reloaded = scenario_from_source(JsonSource::parse(
      "replayed.json", scenario_document(result.shrunk, result.shrunk_scenario.name).dump(2)));
  RunOptions replay;
  replay.seed = result.shrunk.world_seed;
  replay.policy = policy;
  const RunSummary replayed = run_scenario(reloaded, replay).summary;
  EXPECT_FALSE(replayed.holds);
  EXPECT_EQ(replayed.trace_hash, result.shrunk_output.summary.trace_hash);
  std::printf("%s: caught in run %llu (seed %llu), shrunk %zu -> %zu faults in %zu runs: %s\n",
              policy.c_str(), static_cast<unsigned long long>(*result.first_failing_run + 1),
              static_cast<unsigned long long>(result.first_failing_seed), result.fault_count_before,
              result.fault_count_after, result.shrink_runs,
              first_violation(result.shrunk_output.summary).c_str());
  ::testing::Test::RecordProperty("runs_to_find", static_cast<int>(*result.first_failing_run + 1));
  ::testing::Test::RecordProperty("shrunk_faults", static_cast<int>(result.fault_count_after));
  return result;
}

// Every unsafe policy of the catalogue, inside the contract, is caught within this many cases
// (the seed is fixed, so the count is a regression figure, not luck) and shrinks to at most
// kShrunkFaultsMax faults.
constexpr std::uint64_t kRunsToCatchMax = 80;
constexpr std::size_t kShrunkFaultsMax = 3;
constexpr std::uint64_t kCatalogueSeed = 2008;

class UnsafePolicy : public ::testing::TestWithParam<std::string> {};

TEST_P(UnsafePolicy, CaughtInsideTheContractWithASmallCounterexample) {
  const std::uint64_t runs =
      std::max<std::uint64_t>(kRunsToCatchMax, static_cast<std::uint64_t>(property_cases(0)));
  expect_caught(GetParam(), GeneratorOptions{}, runs, kShrunkFaultsMax, kCatalogueSeed);
}

INSTANTIATE_TEST_SUITE_P(Catalogue, UnsafePolicy,
                         ::testing::Values("naive-2008", "ack-before-fsync", "no-settle",
                                           "timeout-as-success", "no-dir-fsync", "counter-keys",
                                           "trust-list", "single-vendor-evict"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// Issue 4's boundary, losing side: the same windows with lags past the settle time: protected
// itself is caught (the loss is the store's lag outrunning the settle time).
TEST(SettleBoundary, LagPastTheSettleTimeIsCaught) {
  GeneratorOptions options;
  options.s3_fault_kinds = {S3FaultKind::life_death_window};
  options.uploader_faults = false;
  options.targets_max = 1;
  options.beyond_contract = true;
  // One window: its PUT rule and its death.
  const RandomExploreResult result = expect_caught("protected", options, kRunsToCatchMax, 2, 4);
  ASSERT_TRUE(result.first_failing_run.has_value());
  ASSERT_FALSE(result.shrunk_output.summary.violations.empty());
  EXPECT_EQ(result.shrunk_output.summary.violations.front().check, "safety");
  ASSERT_EQ(result.shrunk.s3_faults.size(), 1u);
  EXPECT_EQ(result.shrunk.s3_faults[0].kind, S3FaultKind::life_death_window);
  EXPECT_GT(result.shrunk.s3_faults[0].lag_percent, 100);  // W > settle time
}

// The generator can fail the property: the same cases with a settle time of zero (no-settle)
// are caught, so "protected holds" above is a claim about the settle time, not a blind spot.
TEST(Contract, TheSameCasesCatchNoSettle) {
  GeneratorOptions options;
  options.s3_fault_kinds = {S3FaultKind::life_death_window};
  options.uploader_faults = false;
  options.targets_max = 1;
  expect_caught("no-settle", options, kRunsToCatchMax, 2, 4);
}

}  // namespace
}  // namespace s3chaos::harness
