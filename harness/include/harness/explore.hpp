// Many runs of one scenario: `explore` (random seeds and perturbed fault plans until the first
// violation, which it then shrinks to a minimal fault plan) and `compare` (the same seeds under
// several policies). Every run lands in a results database (results_db.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/scenario.hpp"
#include "harness/world.hpp"

namespace s3chaos::harness {

// A scenario with another fault plan (the document embedded in reports follows).
Scenario with_fault_plan(const Scenario& scenario, const fake_s3::FaultPlan& plan);

// The scenario run `run_index` of an exploration sees: the fault plan's windows and events
// moved by up to perturbation_fraction of their length (or of the scenario's duration for
// instantaneous events), deterministic in (exploration seed, run_index).
Scenario perturbed_scenario(const Scenario& scenario, std::uint64_t exploration_seed,
                            std::uint64_t run_index, double perturbation_fraction);

// The seed that run `run_index` of an exploration uses.
std::uint64_t exploration_run_seed(std::uint64_t exploration_seed, std::uint64_t run_index);

// Removes fault rules and events one at a time while `policy` still violates a check with
// `seed`, until no single removal keeps the violation (a 1-minimal plan). Bounded by
// shrink_runs_max runs.
struct ShrinkResult {
  Scenario scenario;
  RunOutput output;
  std::size_t fault_count_before = 0;
  std::size_t fault_count_after = 0;
  std::size_t runs = 0;
};
inline constexpr std::size_t shrink_runs_max = 200;
ShrinkResult shrink_fault_plan(const Scenario& failing, const RunOptions& options);

struct ExploreOptions {
  std::uint64_t runs = 100;
  std::uint64_t seed = 1;  // the exploration's seed: run i uses exploration_run_seed(seed, i)
  std::string policy = "protected";
  double perturbation_fraction = 0.1;
  // Only runs with index % shard_count == shard_index (for --shard I/N).
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  bool stop_at_first_violation = true;
  std::string program = "s3chaos";
  // Called after each run (for progress output).
  std::function<void(std::uint64_t run_index, const RunSummary&)> on_run;
};

struct ExploreResult {
  std::uint64_t runs_done = 0;
  std::vector<RunSummary> runs;
  std::optional<std::uint64_t> first_failing_run;
  std::optional<ShrinkResult> shrunk;
};

ExploreResult explore(const Scenario& scenario, const ExploreOptions& options);

}  // namespace s3chaos::harness
