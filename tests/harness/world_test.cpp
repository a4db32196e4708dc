// Proves the simulated world end to end on a small life/death-window scenario: the 2008 design
// loses exactly the photos S3 acknowledged inside the window, the protected uploader loses none
// and drains, and the same scenario and seed always give the same trace hash.
#include "harness/world.hpp"

#include <gtest/gtest.h>

#include <set>

#include "harness/explore.hpp"
#include "harness/scenario.hpp"
#include "harness_scenarios.hpp"
#include "source_dir.hpp"

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

// While S3 refuses everything, the only disk calls are ingests: a crash inside the second
// disk call after 100 s lands inside a photo's ingest, between its writes and syncs. A policy
// that acknowledges before the writes are durable (ack-before-fsync) loses that photo; a crash
// between two events (the scenario crash of before) never could.
constexpr const char* crash_in_ingest_json = R"({
  "name": "crash-in-ingest", "seed": 3, "duration_s": 600, "drain_s": 1200,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.5 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": { "rules": [ { "window": { "start_ms": 0, "end_ms": 300000 },
                              "effect": { "type": "refuse" } } ] },
  "uploader_faults": [ { "type": "crash", "at_s": 100, "at_disk_call": 2, "restart_after_s": 5 } ],
  "uploader": { "settle_time_s": 60 }
})";

TEST(World, CrashInsideADiskCallCatchesAckBeforeFsync) {
  const Scenario scenario =
      scenario_from_source(JsonSource::parse("crash-in-ingest.json", crash_in_ingest_json));
  const RunOutput unsafe = [&] {
    RunOptions options;
    options.policy = "ack-before-fsync";
    options.seed = 3;
    return run_scenario(scenario, options);
  }();
  EXPECT_FALSE(unsafe.summary.holds);
  EXPECT_EQ(unsafe.summary.uploader_crashes, 1u);
  ASSERT_FALSE(unsafe.summary.violations.empty());
  EXPECT_EQ(unsafe.summary.violations[0].check, "safety");
  EXPECT_EQ(unsafe.run_result["uploader_crashes"][0]["cause"], "crash inside disk call 2");
  const RunSummary safe = run(scenario, "protected", 3);
  EXPECT_TRUE(safe.holds) << (safe.violations.empty() ? "" : safe.violations[0].detail);
  EXPECT_EQ(safe.uploader_crashes, 1u);
  EXPECT_EQ(safe.photos_evicted, safe.photos_acked);
  // Deterministic like every other run.
  EXPECT_EQ(run(scenario, "ack-before-fsync", 3).trace_hash, unsafe.summary.trace_hash);
}

// Two required vendors: the primary refuses everything for 20 minutes while the second vendor
// answers; at 15 minutes the second vendor rots every object it holds. single-vendor-evict
// evicted on the second vendor's copy alone and loses those photos; protected kept them until
// the primary held them too.
constexpr const char* second_vendor_rot_json = R"({
  "name": "second-vendor-rot", "seed": 5, "duration_s": 1800, "drain_s": 1800,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.2 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": { "rules": [ { "window": { "start_ms": 0, "end_ms": 1200000 },
                              "effect": { "type": "refuse" } } ] },
  "s3_faults_vendor_2": { "events": [ { "type": "bit_rot", "at_ms": 900000, "probability": 1 } ] },
  "uploader": { "settle_time_s": 60, "targets": 2, "targets_required": 2 }
})";

TEST(World, SecondVendorFaultsCatchSingleVendorEvict) {
  const Scenario scenario =
      scenario_from_source(JsonSource::parse("second-vendor-rot.json", second_vendor_rot_json));
  const RunSummary unsafe = run(scenario, "single-vendor-evict", 5);
  EXPECT_FALSE(unsafe.holds);
  EXPECT_GT(unsafe.photos_lost, 0u);
  const RunSummary safe = run(scenario, "protected", 5);
  EXPECT_TRUE(safe.holds) << (safe.violations.empty() ? "" : safe.violations[0].detail);
  EXPECT_EQ(safe.photos_lost, 0u);
  EXPECT_EQ(safe.photos_evicted, safe.photos_acked);
}

// Which side of the contract a loss is on, with two required vendors. The primary rots what it
// holds while the second vendor still refuses: single-vendor-evict trusted the primary's copy
// alone and loses photos -- its own fault, since a second copy was required (the uploader's
// side). Both vendors rot what they hold after protected verified both copies (photos stop
// coming at 1000 s, the rot strikes at 1500 s): no uploader can keep that, and the loss is on
// the store's side. (A rot before a HEAD verification stays the uploader's: its check missed
// damage a GET would have seen.)
constexpr const char* primary_rot_json = R"({
  "name": "primary-rot", "seed": 5, "duration_s": 1800, "drain_s": 1800,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.2 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": { "events": [ { "type": "bit_rot", "at_ms": 900000, "probability": 1 } ] },
  "s3_faults_vendor_2": { "rules": [ { "window": { "start_ms": 0, "end_ms": 1200000 },
                                       "effect": { "type": "refuse" } } ] },
  "uploader": { "settle_time_s": 60, "targets": 2, "targets_required": 2 }
})";

constexpr const char* both_rot_json = R"({
  "name": "both-rot", "seed": 5, "duration_s": 1800, "drain_s": 1800,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.2 }, { "from_s": 1000, "rate_per_s": 0 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": { "events": [ { "type": "bit_rot", "at_ms": 1500000, "probability": 1 } ] },
  "s3_faults_vendor_2": { "events": [ { "type": "bit_rot", "at_ms": 1500000,
                                        "probability": 1 } ] },
  "uploader": { "settle_time_s": 60, "targets": 2, "targets_required": 2 }
})";

TEST(World, LossSideCountsEveryRequiredVendor) {
  const Scenario primary_rot =
      scenario_from_source(JsonSource::parse("primary-rot.json", primary_rot_json));
  const RunSummary unsafe = run(primary_rot, "single-vendor-evict", 5);
  ASSERT_FALSE(unsafe.holds);
  EXPECT_GT(unsafe.photos_lost, 0u);
  for (const Violation& violation : unsafe.violations) {
    EXPECT_EQ(violation.contract_side, "uploader") << violation.check << ": " << violation.detail;
  }
  EXPECT_TRUE(run(primary_rot, "protected", 5).holds);

  const Scenario both_rot = scenario_from_source(JsonSource::parse("both-rot.json", both_rot_json));
  const RunSummary beyond = run(both_rot, "protected", 5);
  ASSERT_FALSE(beyond.holds);
  std::size_t safety = 0;
  for (const Violation& violation : beyond.violations) {
    if (violation.check != "safety") continue;
    ++safety;
    EXPECT_EQ(violation.contract_side, "store") << violation.detail;
  }
  EXPECT_GT(safety, 0u);
}

// The case `explore` shrank app-server-crash-loop to under no-dir-fsync: one crash at 7774 s,
// 15 s after a photo's PUT was answered 200. The content file's directory entry was never
// synced, so recovery finds the file gone and gives the photo up. S3 holds it, so safety holds
// by the letter; liveness fails, and must say that the uploader gave the photo up rather than
// that it sits in the cache. protected, which syncs the directory, holds.
TEST(World, AGivenUpPhotoIsNamedAsSuch) {
  Scenario scenario =
      load_scenario((test::source_dir() / "scenarios" / "app-server-crash-loop.json").string());
  scenario = with_fault_plan(scenario, fake_s3::FaultPlan{});
  UploaderFault crash;
  crash.type = UploaderFaultType::crash;
  crash.at_ns = sim::from_seconds(7774);
  crash.restart_after_ns = sim::from_seconds(20);
  crash.until_ns = crash.at_ns + crash.restart_after_ns;
  scenario = with_uploader_faults(scenario, {crash});
  const RunSummary unsafe = run(scenario, "no-dir-fsync", 5583080769244682472ull);
  ASSERT_FALSE(unsafe.holds);
  bool named = false;
  for (const Violation& violation : unsafe.violations) {
    EXPECT_EQ(violation.check, "liveness") << violation.detail;
    if (violation.detail.find("the uploader gave up the photo") != std::string::npos) named = true;
  }
  EXPECT_TRUE(named);
  EXPECT_TRUE(run(scenario, "protected", 5583080769244682472ull).holds);
}

}  // namespace
}  // namespace s3chaos::harness
