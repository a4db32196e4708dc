// Proves explore's contract: it finds a known-unsafe policy's loss, shrinks the fault plan to the
// faults that matter (the window and the death, not the unrelated noise), the shrunk case still
// fails when replayed, and N shards merged through the results database equal the unsharded
// sweep.
#include "harness/explore.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "harness/results_db.hpp"
#include "harness_scenarios.hpp"

namespace s3chaos::harness {
namespace {

TEST(Explore, FindsAndShrinksNaive2008) {
  ExploreOptions options;
  options.runs = 5;
  options.seed = 3;
  options.policy = "naive-2008";
  options.perturbation_fraction = 0.05;
  const ExploreResult result = explore(test::window_scenario(), options);
  ASSERT_TRUE(result.first_failing_run.has_value());
  ASSERT_TRUE(result.shrunk.has_value());
  EXPECT_EQ(result.shrunk->fault_count_before, 3u);
  EXPECT_EQ(result.shrunk->fault_count_after, 2u);  // the window and the death; the noise goes
  EXPECT_EQ(result.shrunk->scenario.fault_plan.rules.size(), 1u);
  EXPECT_EQ(result.shrunk->scenario.fault_plan.rules[0].effect.type,
            fake_s3::EffectType::durability_lag);
  // Replaying the shrunk case reproduces it bit for bit.
  RunOptions replay;
  replay.seed = result.shrunk->output.summary.seed;
  replay.policy = "naive-2008";
  const RunOutput again = run_scenario(result.shrunk->scenario, replay);
  EXPECT_FALSE(again.summary.holds);
  EXPECT_EQ(again.summary.trace_hash, result.shrunk->output.summary.trace_hash);
}

TEST(Explore, ProtectedHoldsAcrossPerturbedRuns) {
  ExploreOptions options;
  options.runs = 3;
  options.seed = 5;
  options.policy = "protected";
  const ExploreResult result = explore(test::window_scenario(), options);
  EXPECT_EQ(result.runs_done, 3u);
  EXPECT_FALSE(result.first_failing_run.has_value());
}

TEST(Explore, MergedShardsEqualTheUnshardedSweep) {
  const auto directory =
      std::filesystem::temp_directory_path() / ("s3chaos-shards-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  std::filesystem::create_directories(directory);
  const Scenario scenario = test::window_scenario();
  auto sweep = [&](std::uint64_t index, std::uint64_t count, const std::string& path) {
    ResultsDatabase db(path);
    ExploreOptions options;
    options.runs = 4;
    options.seed = 9;
    options.policy = "protected";
    options.shard_index = index;
    options.shard_count = count;
    options.stop_at_first_violation = false;
    options.on_run = [&](std::uint64_t, const RunSummary& summary) { db.record(summary); };
    explore(scenario, options);
  };
  sweep(0, 1, (directory / "whole.sqlite").string());
  const std::uint64_t shards = 3;
  for (std::uint64_t i = 0; i < shards; ++i)
    sweep(i, shards, (directory / ("shard" + std::to_string(i) + ".sqlite")).string());
  ResultsDatabase merged((directory / "merged.sqlite").string());
  for (std::uint64_t i = 0; i < shards; ++i)
    merged.merge_from((directory / ("shard" + std::to_string(i) + ".sqlite")).string());
  const std::vector<ResultRow> whole =
      ResultsDatabase((directory / "whole.sqlite").string()).rows();
  EXPECT_EQ(whole.size(), 4u);
  EXPECT_EQ(merged.rows(), whole);
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace s3chaos::harness
