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

// Five slightly perturbed runs of the window scenario under naive-2008: a violation is found
// among them (the tests below say which and what follows).
ExploreOptions naive_window_exploration() {
  ExploreOptions options;
  options.runs = 5;
  options.seed = 3;
  options.policy = "naive-2008";
  options.perturbation_fraction = 0.05;
  return options;
}

TEST(Explore, FindsAndShrinksNaive2008) {
  const ExploreOptions options = naive_window_exploration();
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

// Two required vendors: the primary refuses everything for 20 minutes while the second vendor
// answers, and the second vendor rots what it holds at 15 minutes; single-vendor-evict evicts on
// the second vendor's copy alone and loses photos. Around that sits noise that does not matter:
// a second-vendor error rule and two uploader faults. Shrinking must reach into all three
// lists and keep exactly the primary's refusal and the second vendor's rot.
constexpr const char* noisy_two_vendor_json = R"({
  "name": "noisy-second-vendor-rot", "seed": 5, "duration_s": 1800, "drain_s": 1800,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.2 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": { "rules": [ { "name": "refuse", "window": { "start_ms": 0, "end_ms": 1200000 },
                              "effect": { "type": "refuse" } } ] },
  "s3_faults_vendor_2": {
    "rules": [ { "name": "noise", "window": { "start_ms": 100000, "end_ms": 200000 },
                 "match": { "probability": 0.2 },
                 "effect": { "type": "error", "code": "InternalError" } } ],
    "events": [ { "name": "rot", "type": "bit_rot", "at_ms": 900000, "probability": 1 } ] },
  "uploader_faults": [ { "type": "fsync_error", "at_s": 50, "until_s": 80, "probability": 0.3 },
                       { "type": "crash", "at_s": 400, "restart_after_s": 5 } ],
  "uploader": { "settle_time_s": 60, "targets": 2, "targets_required": 2 }
})";

TEST(Explore, ShrinkingReachesTheSecondVendorAndTheUploaderFaults) {
  const Scenario scenario =
      scenario_from_source(JsonSource::parse("noisy.json", noisy_two_vendor_json));
  RunOptions options;
  options.seed = 5;
  options.policy = "single-vendor-evict";
  const ShrinkResult shrunk = shrink_fault_plan(scenario, options);
  EXPECT_FALSE(shrunk.output.summary.holds);
  EXPECT_EQ(shrunk.fault_count_before, 5u);
  EXPECT_EQ(shrunk.fault_count_after, 2u);
  ASSERT_EQ(shrunk.scenario.fault_plan.rules.size(), 1u);
  EXPECT_EQ(shrunk.scenario.fault_plan.rules[0].name, "refuse");
  EXPECT_TRUE(shrunk.scenario.fault_plan_vendor_2.rules.empty());
  ASSERT_EQ(shrunk.scenario.fault_plan_vendor_2.events.size(), 1u);
  EXPECT_EQ(shrunk.scenario.fault_plan_vendor_2.events[0].name, "rot");
  EXPECT_TRUE(shrunk.scenario.uploader_faults.empty());
  // The document a replay file is written from says the same: loaded again, it fails the
  // same way, bit for bit.
  const Scenario reloaded =
      scenario_from_source(JsonSource::parse("shrunk.json", shrunk.scenario.document.dump()));
  EXPECT_EQ(reloaded.uploader_faults.size(), 0u);
  EXPECT_EQ(reloaded.fault_plan_vendor_2.rules.size(), 0u);
  const RunOutput again = run_scenario(reloaded, options);
  EXPECT_EQ(again.summary.trace_hash, shrunk.output.summary.trace_hash);
}

TEST(Explore, UploaderFaultsSurviveTheirTripThroughTheDocument) {
  const Scenario scenario =
      scenario_from_source(JsonSource::parse("noisy.json", noisy_two_vendor_json));
  const Scenario rewritten = with_uploader_faults(scenario, scenario.uploader_faults);
  const Scenario reloaded =
      scenario_from_source(JsonSource::parse("rewritten.json", rewritten.document.dump()));
  ASSERT_EQ(reloaded.uploader_faults.size(), scenario.uploader_faults.size());
  for (std::size_t i = 0; i < scenario.uploader_faults.size(); ++i) {
    const UploaderFault& a = scenario.uploader_faults[i];
    const UploaderFault& b = reloaded.uploader_faults[i];
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.at_ns, b.at_ns);
    EXPECT_EQ(a.until_ns, b.until_ns);
    EXPECT_EQ(a.restart_after_ns, b.restart_after_ns);
    EXPECT_EQ(a.probability, b.probability);
    EXPECT_EQ(a.at_disk_call, b.at_disk_call);
  }
}

TEST(Explore, PerturbationMovesTheSecondVendorsPlanToo) {
  const Scenario scenario =
      scenario_from_source(JsonSource::parse("noisy.json", noisy_two_vendor_json));
  const Scenario moved = perturbed_scenario(scenario, 11, 0, 0.2);
  ASSERT_EQ(moved.fault_plan_vendor_2.events.size(), 1u);
  EXPECT_NE(moved.fault_plan_vendor_2.events[0].at_ns,
            scenario.fault_plan_vendor_2.events[0].at_ns);
  EXPECT_EQ(nlohmann::json::parse(moved.fault_plan_vendor_2_json),
            moved.document["s3_faults_vendor_2"]);
  // The primary's moves are those a one-vendor exploration of the same plan makes.
  Scenario one_vendor = scenario;
  one_vendor.fault_plan_vendor_2 = {};
  EXPECT_EQ(perturbed_scenario(one_vendor, 11, 0, 0.2).fault_plan_json, moved.fault_plan_json);
}

// --jobs: runs in child processes hand back exactly what the same runs give in one process,
// in the same order, and stop at the same first violation with the same shrunk case.
TEST(Explore, JobsGiveTheSameSweepAsOneProcess) {
  ExploreOptions options = naive_window_exploration();
  std::vector<std::uint64_t> seen_alone;
  options.on_run = [&](std::uint64_t run, const RunSummary&) { seen_alone.push_back(run); };
  const ExploreResult alone = explore(test::window_scenario(), options);
  options.jobs = 3;
  std::vector<std::uint64_t> seen_parallel;
  options.on_run = [&](std::uint64_t run, const RunSummary&) { seen_parallel.push_back(run); };
  const ExploreResult parallel = explore(test::window_scenario(), options);
  EXPECT_EQ(seen_parallel, seen_alone);
  EXPECT_EQ(parallel.runs, alone.runs);
  EXPECT_EQ(parallel.first_failing_run, alone.first_failing_run);
  ASSERT_TRUE(parallel.shrunk.has_value());
  ASSERT_TRUE(alone.shrunk.has_value());
  EXPECT_EQ(parallel.shrunk->output.summary, alone.shrunk->output.summary);

  ExploreOptions sweep;
  sweep.runs = 4;
  sweep.seed = 9;
  sweep.policy = "protected";
  sweep.stop_at_first_violation = false;
  const ExploreResult sweep_alone = explore(test::window_scenario(), sweep);
  sweep.jobs = 2;
  const ExploreResult sweep_parallel = explore(test::window_scenario(), sweep);
  EXPECT_EQ(sweep_parallel.runs, sweep_alone.runs);
  EXPECT_EQ(sweep_parallel.runs_done, 4u);
}

TEST(Explore, SummariesCrossTheProcessBoundaryExactly) {
  RunOptions options;
  options.seed = 7;
  options.policy = "naive-2008";
  const RunSummary summary = run_scenario(test::window_scenario(), options).summary;
  ASSERT_FALSE(summary.violations.empty());
  EXPECT_EQ(summary_from_json(nlohmann::json::parse(summary_json(summary).dump())), summary);
}

}  // namespace
}  // namespace s3chaos::harness
