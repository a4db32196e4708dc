// Whole-scenario speed (issue 7, Performance), each figure next to a ceiling measured in the
// same run:
// - Photoshare/<policy>: photoshare-2008-07-20 simulated in full. Counter x_real_time is
//   simulated seconds per wall second; the ceiling is the simulation kernel alone running the
//   same number of trivial events (Kernel/...: what the run would cost if every event were
//   free), so `kernel_share` says how much of the time is the scheduler itself.
// - ExploreRandom/<contract>: full generated scenarios per second under protected, the
//   durability contract's cases next to the same number of fault-free cases (the peer).
// - ExploreJobs/<J>: the same random cases in J processes (explore --jobs), J = 1 the peer.
// - TimeToCatch/<policy>: wall time and cases until `explore random` catches each unsafe policy
//   (median over seeds 1..7), shrinking included.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "harness/generators.hpp"
#include "harness/scenario.hpp"
#include "harness/world.hpp"
#include "sim/scheduler.hpp"
#include "source_dir.hpp"

namespace {

using s3chaos::harness::GeneratorOptions;
using s3chaos::harness::RandomExploreOptions;

std::filesystem::path scenarios_directory() {
  return s3chaos::test::source_dir() / "scenarios";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The kernel ceiling: `events` trivial events through the scheduler, each scheduling the next.
double kernel_seconds(std::uint64_t events) {
  s3chaos::sim::Scheduler scheduler;
  std::uint64_t counter = 0;
  for (int i = 0; i < 64; ++i) {
    scheduler.schedule_after(i + 1, [&] { ++counter; });
  }
  const auto start = std::chrono::steady_clock::now();
  std::function<void()> step = [&] {
    ++counter;
    if (counter < events) scheduler.schedule_after(1000, step);
  };
  scheduler.schedule_after(1, step);
  scheduler.run(events + 64);
  benchmark::DoNotOptimize(counter);
  return seconds_since(start);
}

void BM_Photoshare(benchmark::State& state, const std::string& policy) {
  const s3chaos::harness::Scenario scenario = s3chaos::harness::load_scenario(
      (scenarios_directory() / "photoshare-2008-07-20.json").string());
  s3chaos::harness::RunOptions options;
  options.seed = scenario.seed;
  options.policy = policy;
  double wall = 0;
  double simulated = 0;
  std::uint64_t events = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const s3chaos::harness::RunSummary summary =
        s3chaos::harness::run_scenario(scenario, options).summary;
    wall += seconds_since(start);
    simulated += summary.simulated_seconds;
    events = summary.events_run;
  }
  const double kernel = kernel_seconds(events);
  state.counters["x_real_time"] = simulated / wall;
  state.counters["events"] = static_cast<double>(events);
  state.counters["kernel_s"] = kernel;
  state.counters["kernel_share"] = kernel * static_cast<double>(state.iterations()) / wall;
}
BENCHMARK_CAPTURE(BM_Photoshare, protected, std::string("protected"))
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_Photoshare, naive_2008, std::string("naive-2008"))
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

// 100 random cases under protected, drawn with `generator`, in `jobs` processes.
void measure_explore_random(benchmark::State& state,
                            const s3chaos::harness::GeneratorOptions& generator, unsigned jobs) {
  RandomExploreOptions options;
  options.runs = 100;
  options.seed = 42;
  options.policy = "protected";
  options.generator = generator;
  options.jobs = jobs;
  std::uint64_t done = 0;
  for (auto _ : state) {
    const auto result = s3chaos::harness::explore_random(options);
    if (result.first_failing_run) state.SkipWithError("protected broke the contract");
    done += result.runs_done;
  }
  state.counters["scenarios_per_s"] =
      benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
}

void BM_ExploreRandom(benchmark::State& state, bool with_faults) {
  GeneratorOptions generator;
  if (!with_faults) {
    generator.s3_faults_max = 0;
    generator.uploader_faults = false;
  }
  measure_explore_random(state, generator, 1);
}
BENCHMARK_CAPTURE(BM_ExploreRandom, within_contract, true)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_ExploreRandom, fault_free_peer, false)
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

// explore --jobs J: the same 100 random cases under protected in J worker processes. The peer
// is J = 1 in the same run (BM_ExploreJobs/1); the ceiling is J times it, on J free cores.
void BM_ExploreJobs(benchmark::State& state) {
  measure_explore_random(state, GeneratorOptions{}, static_cast<unsigned>(state.range(0)));
}
BENCHMARK(BM_ExploreJobs)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void BM_TimeToCatch(benchmark::State& state, const std::string& policy) {
  constexpr std::uint64_t seeds = 7;
  std::vector<double> walls;
  std::vector<double> cases;
  std::vector<double> shrunk;
  for (auto _ : state) {
    for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
      RandomExploreOptions options;
      options.runs = 1000;
      options.seed = seed;
      options.policy = policy;
      const auto start = std::chrono::steady_clock::now();
      const auto result = s3chaos::harness::explore_random(options);
      walls.push_back(seconds_since(start));
      if (!result.first_failing_run) {
        state.SkipWithError("not caught in 1000 cases");
        return;
      }
      cases.push_back(static_cast<double>(*result.first_failing_run + 1));
      shrunk.push_back(static_cast<double>(result.fault_count_after));
    }
  }
  state.counters["median_s"] = median(walls);
  state.counters["median_cases"] = median(cases);
  state.counters["max_cases"] = *std::max_element(cases.begin(), cases.end());
  state.counters["median_shrunk_faults"] = median(shrunk);
}

void register_time_to_catch() {
  for (const char* policy : {"naive-2008", "ack-before-fsync", "no-settle", "timeout-as-success",
                             "no-dir-fsync", "counter-keys", "trust-list", "single-vendor-evict"}) {
    benchmark::RegisterBenchmark((std::string("BM_TimeToCatch/") + policy).c_str(), BM_TimeToCatch,
                                 std::string(policy))
        ->Iterations(1)
        ->Unit(benchmark::kSecond)
        ->UseRealTime();
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_time_to_catch();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
