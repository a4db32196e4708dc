#include "harness/explore.hpp"

#include <algorithm>

#include "sim/assert.hpp"
#include "sim/random.hpp"

namespace s3chaos::harness {
namespace {

std::size_t fault_count(const fake_s3::FaultPlan& plan) {
  return plan.rules.size() + plan.events.size();
}

sim::TimeNs shift(sim::RandomStream& random, sim::TimeNs span, double fraction) {
  const auto bound = static_cast<std::int64_t>(static_cast<double>(span) * fraction);
  return bound <= 0 ? 0 : random.between(-bound, bound);
}

}  // namespace

Scenario with_fault_plan(const Scenario& scenario, const fake_s3::FaultPlan& plan) {
  Scenario result = scenario;
  result.fault_plan = plan;
  result.fault_plan_json = fake_s3::fault_plan_to_json(plan);
  result.document["s3_faults"] = nlohmann::json::parse(result.fault_plan_json);
  return result;
}

std::uint64_t exploration_run_seed(std::uint64_t exploration_seed, std::uint64_t run_index) {
  return sim::RandomStream::named(exploration_seed, "explore.run." + std::to_string(run_index))
      .next_u64();
}

Scenario perturbed_scenario(const Scenario& scenario, std::uint64_t exploration_seed,
                            std::uint64_t run_index, double perturbation_fraction) {
  if (perturbation_fraction <= 0) return scenario;
  sim::RandomStream random =
      sim::RandomStream::named(exploration_seed, "explore.perturb." + std::to_string(run_index));
  fake_s3::FaultPlan plan = scenario.fault_plan;
  const sim::TimeNs duration = scenario.duration_ns;
  for (fake_s3::FaultRule& rule : plan.rules) {
    const sim::TimeNs start = rule.window.start_ns.value_or(0);
    const sim::TimeNs end = rule.window.end_ns.value_or(duration);
    const sim::TimeNs length = std::max<sim::TimeNs>(end - start, 0);
    const sim::TimeNs new_start =
        std::clamp<sim::TimeNs>(start + shift(random, length, perturbation_fraction), 0, duration);
    const sim::TimeNs new_end = std::clamp<sim::TimeNs>(
        end + shift(random, length, perturbation_fraction), new_start, duration);
    if (rule.window.start_ns) rule.window.start_ns = new_start;
    rule.window.end_ns = new_end;
  }
  for (fake_s3::FaultEvent& event : plan.events) {
    const sim::TimeNs span = std::max<sim::TimeNs>(event.down_ns, sim::from_seconds(60));
    event.at_ns = std::clamp<sim::TimeNs>(event.at_ns + shift(random, span, perturbation_fraction),
                                          0, duration - 1);
  }
  std::stable_sort(
      plan.events.begin(), plan.events.end(),
      [](const fake_s3::FaultEvent& a, const fake_s3::FaultEvent& b) { return a.at_ns < b.at_ns; });
  return with_fault_plan(scenario, plan);
}

ShrinkResult shrink_fault_plan(const Scenario& failing, const RunOptions& options) {
  ShrinkResult result;
  result.scenario = failing;
  result.output = run_scenario(failing, options);
  result.runs = 1;
  result.fault_count_before = fault_count(failing.fault_plan);
  S3CHAOS_ASSERT_MSG(!result.output.summary.holds, "shrinking a run that holds");
  bool progress = true;
  while (progress && result.runs < shrink_runs_max) {
    progress = false;
    const fake_s3::FaultPlan& plan = result.scenario.fault_plan;
    const std::size_t count = fault_count(plan);
    for (std::size_t drop = 0; drop < count && result.runs < shrink_runs_max; ++drop) {
      fake_s3::FaultPlan smaller = plan;
      if (drop < plan.rules.size()) {
        smaller.rules.erase(smaller.rules.begin() + static_cast<std::ptrdiff_t>(drop));
      } else {
        smaller.events.erase(smaller.events.begin() +
                             static_cast<std::ptrdiff_t>(drop - plan.rules.size()));
      }
      Scenario candidate = with_fault_plan(result.scenario, smaller);
      RunOutput output = run_scenario(candidate, options);
      ++result.runs;
      if (!output.summary.holds) {
        result.scenario = std::move(candidate);
        result.output = std::move(output);
        progress = true;
        break;
      }
    }
  }
  result.fault_count_after = fault_count(result.scenario.fault_plan);
  return result;
}

ExploreResult explore(const Scenario& scenario, const ExploreOptions& options) {
  S3CHAOS_ASSERT(options.shard_count >= 1 && options.shard_index < options.shard_count);
  ExploreResult result;
  for (std::uint64_t run = 0; run < options.runs; ++run) {
    if (run % options.shard_count != options.shard_index) continue;
    const Scenario perturbed =
        perturbed_scenario(scenario, options.seed, run, options.perturbation_fraction);
    RunOptions run_options;
    run_options.seed = exploration_run_seed(options.seed, run);
    run_options.policy = options.policy;
    run_options.program = options.program;
    RunOutput output = run_scenario(perturbed, run_options);
    ++result.runs_done;
    if (options.on_run) options.on_run(run, output.summary);
    result.runs.push_back(output.summary);
    if (!output.summary.holds && !result.first_failing_run) {
      result.first_failing_run = run;
      if (options.stop_at_first_violation) {
        result.shrunk = shrink_fault_plan(perturbed, run_options);
        break;
      }
    }
  }
  return result;
}

}  // namespace s3chaos::harness
