#include "harness/explore.hpp"

#include <algorithm>

#include "harness/parallel.hpp"
#include "sim/assert.hpp"
#include "sim/random.hpp"

namespace s3chaos::harness {
namespace {

std::size_t fault_count(const fake_s3::FaultPlan& plan) {
  return plan.rules.size() + plan.events.size();
}

// Removes entry `position` of a plan's rules-then-events; returns false (and changes nothing)
// when position lies past the plan, having subtracted the plan's size from it.
bool erase_from_plan(fake_s3::FaultPlan& plan, std::size_t& position) {
  if (position < plan.rules.size()) {
    plan.rules.erase(plan.rules.begin() + static_cast<std::ptrdiff_t>(position));
    return true;
  }
  position -= plan.rules.size();
  if (position < plan.events.size()) {
    plan.events.erase(plan.events.begin() + static_cast<std::ptrdiff_t>(position));
    return true;
  }
  position -= plan.events.size();
  return false;
}

// The scenario without fault `position`, counting every fault of the scenario in a fixed
// order: the primary vendor's rules, then its events, the second vendor's rules, its events,
// then the uploader's faults. Shrinking drops them by position in this order.
Scenario without_fault(const Scenario& scenario, std::size_t position) {
  S3CHAOS_ASSERT(position < scenario_fault_count(scenario));
  fake_s3::FaultPlan primary = scenario.fault_plan;
  if (erase_from_plan(primary, position)) return with_fault_plan(scenario, primary);
  fake_s3::FaultPlan vendor_2 = scenario.fault_plan_vendor_2;
  if (erase_from_plan(vendor_2, position)) return with_fault_plan(scenario, vendor_2, 1);
  std::vector<UploaderFault> uploader_faults = scenario.uploader_faults;
  uploader_faults.erase(uploader_faults.begin() + static_cast<std::ptrdiff_t>(position));
  return with_uploader_faults(scenario, uploader_faults);
}

sim::TimeNs shift(sim::RandomStream& random, sim::TimeNs span, double fraction) {
  const auto bound = static_cast<std::int64_t>(static_cast<double>(span) * fraction);
  return bound <= 0 ? 0 : random.between(-bound, bound);
}

}  // namespace

std::size_t scenario_fault_count(const Scenario& scenario) {
  return fault_count(scenario.fault_plan) + fault_count(scenario.fault_plan_vendor_2) +
         scenario.uploader_faults.size();
}

Scenario with_fault_plan(const Scenario& scenario, const fake_s3::FaultPlan& plan,
                         std::size_t vendor) {
  S3CHAOS_ASSERT(vendor <= 1);
  Scenario result = scenario;
  const std::string json = fake_s3::fault_plan_to_json(plan);
  if (vendor == 0) {
    result.fault_plan = plan;
    result.fault_plan_json = json;
    result.document["s3_faults"] = nlohmann::json::parse(json);
  } else {
    result.fault_plan_vendor_2 = plan;
    result.fault_plan_vendor_2_json = json;
    result.document["s3_faults_vendor_2"] = nlohmann::json::parse(json);
  }
  return result;
}

nlohmann::json uploader_fault_json(const UploaderFault& fault) {
  const auto seconds = [](sim::TimeNs ns) { return static_cast<double>(ns) / 1e9; };
  nlohmann::json json = {{"at_s", seconds(fault.at_ns)}};
  switch (fault.type) {
    case UploaderFaultType::crash:
      json["type"] = "crash";
      json["restart_after_s"] = seconds(fault.restart_after_ns);
      if (fault.at_disk_call > 0) json["at_disk_call"] = fault.at_disk_call;
      break;
    case UploaderFaultType::disk_full:
    case UploaderFaultType::fsync_error:
      json["type"] = fault.type == UploaderFaultType::disk_full ? "disk_full" : "fsync_error";
      json["until_s"] = seconds(fault.until_ns);
      json["probability"] = fault.probability;
      break;
  }
  return json;
}

Scenario with_uploader_faults(const Scenario& scenario, const std::vector<UploaderFault>& faults) {
  Scenario result = scenario;
  result.uploader_faults = faults;
  // A document that never named uploader faults keeps not naming them when there are none.
  if (faults.empty() && !scenario.document.contains("uploader_faults")) return result;
  nlohmann::json& list = result.document["uploader_faults"] = nlohmann::json::array();
  for (const UploaderFault& fault : faults) list.push_back(uploader_fault_json(fault));
  return result;
}

std::uint64_t exploration_run_seed(std::uint64_t exploration_seed, std::uint64_t run_index) {
  return sim::RandomStream::named(exploration_seed, "explore.run." + std::to_string(run_index))
      .next_u64();
}

namespace {

fake_s3::FaultPlan perturbed_plan(const fake_s3::FaultPlan& original, sim::TimeNs duration,
                                  sim::RandomStream& random, double perturbation_fraction) {
  fake_s3::FaultPlan plan = original;
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
  return plan;
}

}  // namespace

Scenario perturbed_scenario(const Scenario& scenario, std::uint64_t exploration_seed,
                            std::uint64_t run_index, double perturbation_fraction) {
  if (perturbation_fraction <= 0) return scenario;
  // Each vendor's plan moves by its own stream, so a second vendor never shifts the first
  // one's draws (and explorations of one-vendor scenarios keep their history).
  sim::RandomStream random =
      sim::RandomStream::named(exploration_seed, "explore.perturb." + std::to_string(run_index));
  Scenario result = with_fault_plan(
      scenario,
      perturbed_plan(scenario.fault_plan, scenario.duration_ns, random, perturbation_fraction));
  if (fault_count(scenario.fault_plan_vendor_2) > 0) {
    sim::RandomStream random_vendor_2 = sim::RandomStream::named(
        exploration_seed, "explore.perturb.vendor_2." + std::to_string(run_index));
    result = with_fault_plan(result,
                             perturbed_plan(scenario.fault_plan_vendor_2, scenario.duration_ns,
                                            random_vendor_2, perturbation_fraction),
                             1);
  }
  return result;
}

ShrinkResult shrink_fault_plan(const Scenario& failing, const RunOptions& options) {
  ShrinkResult result;
  result.scenario = failing;
  result.output = run_scenario(failing, options);
  result.runs = 1;
  result.fault_count_before = scenario_fault_count(failing);
  S3CHAOS_ASSERT_MSG(!result.output.summary.holds, "shrinking a run that holds");
  bool progress = true;
  while (progress && result.runs < shrink_runs_max) {
    progress = false;
    const std::size_t count = scenario_fault_count(result.scenario);
    for (std::size_t drop = 0; drop < count && result.runs < shrink_runs_max; ++drop) {
      Scenario candidate = without_fault(result.scenario, drop);
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
  result.fault_count_after = scenario_fault_count(result.scenario);
  return result;
}

void run_summaries_in_order(
    const std::vector<std::uint64_t>& indices, unsigned jobs,
    const std::function<RunSummary(std::uint64_t index)>& run,
    const std::function<void(std::uint64_t run_index, const RunSummary&)>& on_run,
    std::vector<RunSummary>& runs,
    const std::function<bool(std::uint64_t index, const RunSummary&)>& on_summary) {
  run_in_order(
      indices, jobs, [&](std::uint64_t index) { return summary_json(run(index)); },
      [&](std::uint64_t index, const nlohmann::json& json) {
        runs.push_back(summary_from_json(json));
        if (on_run) on_run(index, runs.back());
        return on_summary(index, runs.back());
      });
}

std::vector<std::uint64_t> shard_runs(std::uint64_t runs, std::uint64_t shard_index,
                                      std::uint64_t shard_count) {
  S3CHAOS_ASSERT(shard_count >= 1 && shard_index < shard_count);
  std::vector<std::uint64_t> indices;
  for (std::uint64_t run = shard_index; run < runs; run += shard_count) indices.push_back(run);
  return indices;
}

ExploreResult explore(const Scenario& scenario, const ExploreOptions& options) {
  ExploreResult result;
  const auto run_options_of = [&](std::uint64_t run) {
    RunOptions run_options;
    run_options.seed = exploration_run_seed(options.seed, run);
    run_options.policy = options.policy;
    run_options.program = options.program;
    return run_options;
  };
  const auto perturbed_of = [&](std::uint64_t run) {
    return perturbed_scenario(scenario, options.seed, run, options.perturbation_fraction);
  };
  run_summaries_in_order(
      shard_runs(options.runs, options.shard_index, options.shard_count), options.jobs,
      [&](std::uint64_t run) {
        return run_scenario(perturbed_of(run), run_options_of(run)).summary;
      },
      options.on_run, result.runs,
      [&](std::uint64_t run, const RunSummary& summary) {
        if (summary.holds || result.first_failing_run) return true;
        result.first_failing_run = run;
        if (!options.stop_at_first_violation) return true;
        result.shrunk = shrink_fault_plan(perturbed_of(run), run_options_of(run));
        return false;
      });
  result.runs_done = result.runs.size();
  return result;
}

}  // namespace s3chaos::harness
