// Proves that a broken scenario is refused with file, line, column and what was expected, for
// syntax errors, unknown fields, wrong types, bad values and errors inside the fault plan.
#include "harness/scenario.hpp"

#include <gtest/gtest.h>

#include <string>

namespace s3chaos::harness {
namespace {

std::string error_of(const std::string& text) {
  try {
    scenario_from_source(JsonSource::parse("s.json", text));
  } catch (const InputError& error) {
    return error.what();
  }
  return "no error";
}

TEST(Scenario, MinimalScenarioLoadsWithDefaults) {
  const Scenario scenario = scenario_from_source(JsonSource::parse(
      "s.json",
      R"({"name": "n", "duration_s": 60, "workload": {"arrivals": [{"from_s": 0, "rate_per_s": 1}]}})"));
  EXPECT_EQ(scenario.name, "n");
  EXPECT_EQ(scenario.duration_ns, sim::from_seconds(60));
  EXPECT_EQ(scenario.uploader.policy, "protected");
  EXPECT_TRUE(scenario.fault_plan.rules.empty());
}

TEST(Scenario, UnknownFieldNamesItsPosition) {
  EXPECT_EQ(error_of("{\"name\": \"n\", \"duration_s\": 60,\n \"workload\": {\"arrivals\": "
                     "[{\"from_s\": 0, \"rate_per_s\": 1}]},\n  \"colour\": 3}"),
            "s.json:3:13: unknown field \"colour\" (expected one of: clock_origin, description, "
            "drain_deadline_s, drain_s, "
            "duration_s, expect, name, network, s3_faults, s3_faults_vendor_2, seed, sources, "
            "uploader, uploader_faults, workload)");
}

TEST(Scenario, SecondVendorPlanNeedsTwoTargetsAndPointsIntoItself) {
  const std::string base =
      R"({"name": "n", "duration_s": 60, "workload": {"arrivals": [{"from_s": 0, "rate_per_s": 1}]}, )";
  const std::string plan =
      R"("s3_faults_vendor_2": {"events": [{"type": "bit_rot", "at_ms": 1000}]})";
  EXPECT_NE(error_of(base + plan + "}").find("s.json:1:115: a second vendor's fault plan needs"),
            std::string::npos)
      << error_of(base + plan + "}");
  const Scenario two = scenario_from_source(
      JsonSource::parse("s.json", base + plan + R"(, "uploader": {"targets": 2}})"));
  EXPECT_TRUE(two.fault_plan.events.empty());
  ASSERT_EQ(two.fault_plan_vendor_2.events.size(), 1u);
  EXPECT_EQ(&vendor_fault_plan(two, 1), &two.fault_plan_vendor_2);
  EXPECT_NE(
      error_of(
          base +
          R"("s3_faults_vendor_2": {"events": [{"type": "bit_rot", "at_ms": 60000}]}, "uploader": {"targets": 2}})")
          .find("every S3 event must happen within duration_s"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          base +
          R"("s3_faults_vendor_2": {"rules": [{"effect": {"type": "nap"}}]}, "uploader": {"targets": 2}})")
          .find("fault plan: rules[0].effect.type"),
      std::string::npos);
}

TEST(Scenario, CrashAtDiskCallIsACrashWithACount) {
  const std::string base =
      R"({"name": "n", "duration_s": 60, "workload": {"arrivals": [{"from_s": 0, "rate_per_s": 1}]}, "uploader_faults": )";
  const Scenario scenario = scenario_from_source(JsonSource::parse(
      "s.json",
      base + R"([{"type": "crash", "at_s": 10, "at_disk_call": 3, "restart_after_s": 2}]})"));
  ASSERT_EQ(scenario.uploader_faults.size(), 1u);
  EXPECT_EQ(scenario.uploader_faults[0].at_disk_call, 3u);
  EXPECT_NE(error_of(base + R"([{"type": "crash", "at_s": 10, "at_disk_call": -1}]})")
                .find("expected a non-negative integer"),
            std::string::npos);
  EXPECT_NE(
      error_of(base + R"([{"type": "disk_full", "at_s": 10, "until_s": 20, "at_disk_call": 1}]})")
          .find("unknown field \"at_disk_call\""),
      std::string::npos);
}

TEST(Scenario, WrongTypeAndRangeAreExplained) {
  EXPECT_EQ(error_of(R"({"name": 5})"), "s.json:1:10: expected a string, got number");
  EXPECT_EQ(error_of(R"({"name": "n", "duration_s": -1})"),
            "s.json:1:29: expected a number in [1, 2.592e+06], got -1");
  EXPECT_EQ(error_of(R"({"name": "n", "duration_s": 60, "workload": {"arrivals": []}})"),
            "s.json:1:58: expected a non-empty array of {from_s, rate_per_s}, got array");
}

TEST(Scenario, UnknownPolicyListsTheKnownOnes) {
  const std::string error = error_of(
      R"({"name": "n", "duration_s": 60, "workload": {"arrivals": [{"from_s": 0, "rate_per_s": 1}]}, "uploader": {"policy": "yolo"}})");
  EXPECT_NE(error.find("s.json:1:116: unknown policy \"yolo\""), std::string::npos) << error;
  EXPECT_NE(error.find("naive-2008"), std::string::npos) << error;
}

TEST(Scenario, FaultPlanErrorsPointIntoThePlan) {
  const std::string error = error_of(
      "{\"name\": \"n\", \"duration_s\": 60, \"workload\": {\"arrivals\": [{\"from_s\": 0, "
      "\"rate_per_s\": 1}]},\n"
      "\"s3_faults\": {\"rules\": [{\"effect\": {\"type\": \"durability_lag\", \"lag_ms\": "
      "\"long\"}}]}}");
  EXPECT_EQ(error,
            "s.json:2:73: fault plan: rules[0].effect.lag_ms: expected a number of milliseconds");
}

TEST(Scenario, ClockOriginMustBeATimeWithAnOffset) {
  const std::string base =
      R"({"name": "n", "duration_s": 60, "workload": {"arrivals": [{"from_s": 0, "rate_per_s": 1}]}, "clock_origin": )";
  EXPECT_EQ(error_of(base + R"("2008-07-20T08:00:00-07:00"})"), "no error");
  EXPECT_EQ(error_of(base + R"("2008-07-20T08:00:00Z"})"), "no error");
  for (const char* bad : {R"("2008-07-20 08:00")", R"("2008-07-20T08:00:00")",
                          R"("2008-07-20T08:00:00*07:00")", "7"}) {
    EXPECT_NE(error_of(base + bad + "}").find("expected a time like"), std::string::npos) << bad;
  }
}

TEST(Scenario, SyntaxErrorIsAnInputError) {
  EXPECT_NE(error_of("{\"name\": \"n\",\n}").find("s.json:2:1: invalid JSON"), std::string::npos);
}

TEST(Scenario, EveryShippedScenarioLoads) {
  const char* source_dir = std::getenv("S3CHAOS_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "ctest sets S3CHAOS_SOURCE_DIR";
  const Scenario scenario =
      load_scenario(std::string(source_dir) + "/scenarios/photoshare-2008-07-20.json");
  EXPECT_EQ(scenario.name, "photoshare-2008-07-20");
  EXPECT_EQ(scenario.expectations.at("naive-2008"), Expectation::violated);
  EXPECT_EQ(scenario.expectations.at("protected"), Expectation::holds);
}

}  // namespace
}  // namespace s3chaos::harness
