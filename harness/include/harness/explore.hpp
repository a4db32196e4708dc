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

// A scenario with another fault plan for vendor `vendor` (0: the primary, 1: the second
// vendor); the document embedded in reports and written for replays follows.
Scenario with_fault_plan(const Scenario& scenario, const fake_s3::FaultPlan& plan,
                         std::size_t vendor = 0);
// A scenario with other uploader faults (the document follows, in docs/scenarios.md's form).
Scenario with_uploader_faults(const Scenario& scenario, const std::vector<UploaderFault>& faults);
// One uploader fault as a scenario file writes it.
nlohmann::json uploader_fault_json(const UploaderFault& fault);

// The scenario run `run_index` of an exploration sees: both vendors' fault plans' windows and
// events moved by up to perturbation_fraction of their length (or of the scenario's duration
// for instantaneous events), deterministic in (exploration seed, run_index).
Scenario perturbed_scenario(const Scenario& scenario, std::uint64_t exploration_seed,
                            std::uint64_t run_index, double perturbation_fraction);

// The seed that run `run_index` of an exploration uses.
std::uint64_t exploration_run_seed(std::uint64_t exploration_seed, std::uint64_t run_index);

// Rules and events of both vendors' plans plus uploader faults: the size of a counterexample.
std::size_t scenario_fault_count(const Scenario& scenario);

// Removes faults one at a time -- either vendor's rules and events and the uploader's own
// faults -- while `policy` still violates a check with `seed`, until no single removal keeps
// the violation (1-minimal). Bounded by shrink_runs_max runs. The fault counts cover all three
// lists.
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
  // Runs side by side in up to this many child processes (harness/parallel.hpp); results,
  // on_run calls and the first violation are the same as with 1, in the same order.
  unsigned jobs = 1;
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

// parallel.hpp's run_in_order for simulated runs: run(index) in a child process (in this one
// with jobs <= 1), every summary handed to on_summary in index order, also on_run's, then kept
// in `runs`; stops after the first summary on_summary refuses.
void run_summaries_in_order(
    const std::vector<std::uint64_t>& indices, unsigned jobs,
    const std::function<RunSummary(std::uint64_t index)>& run,
    const std::function<void(std::uint64_t run_index, const RunSummary&)>& on_run,
    std::vector<RunSummary>& runs,
    const std::function<bool(std::uint64_t index, const RunSummary&)>& on_summary);

// The run indices of shard `shard_index` of `shard_count` among runs 0..runs-1 (index %
// count == shard index).
std::vector<std::uint64_t> shard_runs(std::uint64_t runs, std::uint64_t shard_index,
                                      std::uint64_t shard_count);

}  // namespace s3chaos::harness
