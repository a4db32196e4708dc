// Proves the simulated world end to end on a small life/death-window scenario: the 2008 design
// loses exactly the photos S3 acknowledged inside the window, the protected uploader loses none
// and drains, and the same scenario and seed always give the same trace hash.
#include "harness/world.hpp"

#include <gtest/gtest.h>

#include <set>

#include "harness/scenario.hpp"
#include "harness_scenarios.hpp"

namespace s3chaos::harness {
namespace {

Scenario mini_scenario() {
  return test::window_scenario();
}

RunSummary run(const Scenario& scenario, const std::string& policy, std::uint64_t seed) {
  RunOptions options;
  options.policy = policy;
  options.seed = seed;
  return run_scenario(scenario, options).summary;
}

TEST(World, Naive2008LosesExactlyPhotosAcknowledgedInTheWindow) {
  const Scenario scenario = mini_scenario();
  RunOptions options;
  options.policy = "naive-2008";
  options.seed = 7;
  const RunOutput output = run_scenario(scenario, options);
  EXPECT_FALSE(output.summary.holds);
  EXPECT_GT(output.summary.photos_lost, 0u);
  std::size_t lost_seen = 0;
  for (const auto& photo : output.run_result["photos"]) {
    if (photo["outcome"] != "lost") continue;
    ++lost_seen;
    // Its PUT was answered 200 inside the last lag (60 s) before the death at 720 s.
    const std::int64_t put_ok_ms = photo.at("put_ok_ms").get<std::int64_t>();
    EXPECT_GE(put_ok_ms, 720000 - 60000) << photo.dump();
    EXPECT_LT(put_ok_ms, 720000) << photo.dump();
    EXPECT_EQ(photo.at("lost_ms").get<std::int64_t>(), 720000);
    EXPECT_EQ(photo.at("loss_side"), "uploader");
  }
  EXPECT_EQ(lost_seen, output.summary.photos_lost);
  for (const Violation& violation : output.summary.violations) EXPECT_EQ(violation.check, "safety");
}

TEST(World, ProtectedLosesNothingAndDrains) {
  const RunSummary summary = run(mini_scenario(), "protected", 7);
  EXPECT_TRUE(summary.holds) << (summary.violations.empty() ? "" : summary.violations[0].detail);
  EXPECT_EQ(summary.photos_lost, 0u);
  EXPECT_GT(summary.photos_acked, 500u);
  EXPECT_EQ(summary.photos_evicted, summary.photos_acked);
  EXPECT_GE(summary.drain_time_ms, 0);
}

TEST(World, NoSettleIsCaughtWhereProtectedHolds) {
  EXPECT_FALSE(run(mini_scenario(), "no-settle", 7).holds);
}

TEST(World, SameSeedSameTraceHashDifferentSeedDifferentHash) {
  const Scenario scenario = mini_scenario();
  const RunSummary first = run(scenario, "naive-2008", 11);
  const RunSummary second = run(scenario, "naive-2008", 11);
  const RunSummary other = run(scenario, "naive-2008", 12);
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.photos_lost, second.photos_lost);
  EXPECT_NE(first.trace_hash, other.trace_hash);
}

TEST(World, RunResultCarriesTheReplayCommand) {
  const Scenario scenario = mini_scenario();
  RunOptions options;
  options.policy = "naive-2008";
  options.seed = 99;
  const RunOutput output = run_scenario(scenario, options);
  EXPECT_EQ(output.run_result["replay_command"],
            "s3chaos run mini.json --seed 99 --policy naive-2008");
  EXPECT_EQ(output.run_result["verdict"], output.summary.holds ? "holds" : "violated");
}

}  // namespace
}  // namespace s3chaos::harness
