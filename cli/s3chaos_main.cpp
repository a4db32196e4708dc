// s3chaos: the command developers run and CI calls. Thin: it parses flags, loads the scenario,
// asks the harness to run it, prints the verdict, writes the report.
//
//   s3chaos run SCENARIO [--seed N] [--policy NAME] [--report FILE.html] [--json] [--results DB]
//   s3chaos replay SCENARIO --seed N --policy NAME [--trace-hash HEX]
//   s3chaos explore SCENARIO --runs N [--policy NAME] [--seed S] [--jobs J] [--shard I/N] [--json]
//   s3chaos explore random --runs N [--policy NAME] [--seed S] [--beyond-contract] [--json] ...
//   s3chaos compare SCENARIO --policies a,b,... [--runs N] [--seed S] [--out DIR]
//   s3chaos merge OUT.sqlite IN.sqlite...
//
// Exit codes: 0 every check holds, 1 a check is violated, 2 bad usage or bad input.
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "harness/explore.hpp"
#include "harness/generators.hpp"
#include "harness/parallel.hpp"
#include "harness/results_db.hpp"
#include "harness/scenario.hpp"
#include "harness/world.hpp"
#include "reports/report.hpp"
#include "uploader/policy.hpp"

namespace {

constexpr int exit_holds = 0;
constexpr int exit_violated = 1;
constexpr int exit_bad_input = 2;
// A bug in s3chaos itself (a run's child process died): not a verdict on the uploader.
constexpr int exit_internal_error = 70;

struct RunFlags {
  std::string scenario_path;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> policy;
  std::string report_path;
  std::string results_path;
  std::optional<std::string> expected_trace_hash;
  bool json = false;
};

bool write_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return false;
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

void print_human(const s3chaos::harness::RunSummary& summary, double wall_seconds) {
  std::printf("%s  seed %llu  policy %s\n", summary.scenario.c_str(),
              static_cast<unsigned long long>(summary.seed), summary.policy.c_str());
  std::printf("verdict: %s\n", summary.holds ? "HOLDS (every check holds)" : "VIOLATED");
  std::printf(
      "photos: %llu received, %llu acknowledged, %llu refused, %llu stored in S3, %llu lost\n",
      static_cast<unsigned long long>(summary.photos_received),
      static_cast<unsigned long long>(summary.photos_acked),
      static_cast<unsigned long long>(summary.photos_rejected),
      static_cast<unsigned long long>(summary.photos_stored),
      static_cast<unsigned long long>(summary.photos_lost));
  const std::size_t shown_max = 10;
  for (std::size_t i = 0; i < summary.violations.size() && i < shown_max; ++i) {
    const auto& violation = summary.violations[i];
    std::printf("  %s violated at %.3f s: %s: %s [%s side]\n", violation.check.c_str(),
                static_cast<double>(violation.at_ns) / 1e9, violation.photo_id.c_str(),
                violation.detail.c_str(), violation.contract_side.c_str());
  }
  if (summary.violations.size() > shown_max) {
    std::printf("  ... and %zu more violations\n", summary.violations.size() - shown_max);
  }
  std::printf("simulated %.0f s in %.3f s of wall time (%.0fx); %llu events; trace %s\n",
              summary.simulated_seconds, wall_seconds,
              wall_seconds > 0 ? summary.simulated_seconds / wall_seconds : 0.0,
              static_cast<unsigned long long>(summary.events_run), summary.trace_hash.c_str());
  if (!summary.holds) std::printf("replay: %s\n", summary.replay_command.c_str());
}

// Loads a scenario; a broken one is reported (file:line:column) on stderr and gives nullopt.
std::optional<s3chaos::harness::Scenario> load_scenario_or_report(const std::string& path) {
  try {
    return s3chaos::harness::load_scenario(path);
  } catch (const s3chaos::harness::InputError& error) {
    std::fprintf(stderr, "s3chaos: %s\n", error.what());
    return std::nullopt;
  }
}

int run_command(const RunFlags& flags) {
  const std::optional<s3chaos::harness::Scenario> loaded =
      load_scenario_or_report(flags.scenario_path);
  if (!loaded) return exit_bad_input;
  const s3chaos::harness::Scenario& scenario = *loaded;
  s3chaos::harness::RunOptions options;
  options.seed = flags.seed.value_or(scenario.seed);
  options.policy = flags.policy.value_or(scenario.uploader.policy);
  if (!s3chaos::uploader::policy_by_name(options.policy)) {
    std::fprintf(stderr, "s3chaos: --policy: unknown policy \"%s\"\n", options.policy.c_str());
    return exit_bad_input;
  }
  const auto started = std::chrono::steady_clock::now();
  s3chaos::harness::RunOutput output = s3chaos::harness::run_scenario(scenario, options);
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!flags.report_path.empty()) {
    try {
      if (!write_file(flags.report_path, s3chaos::reports::render_run_report(output.run_result))) {
        std::fprintf(stderr, "s3chaos: --report: cannot write %s\n", flags.report_path.c_str());
        return exit_bad_input;
      }
    } catch (const std::exception& error) {
      std::fprintf(stderr, "s3chaos: report generation failed: %s\n", error.what());
      return exit_bad_input;
    }
  }
  if (flags.json) {
    nlohmann::json summary = s3chaos::harness::summary_json(output.summary);
    summary["wall_seconds"] = wall_seconds;
    std::cout << summary.dump(2) << "\n";
  } else {
    print_human(output.summary, wall_seconds);
    if (!flags.report_path.empty()) std::printf("report: %s\n", flags.report_path.c_str());
  }
  if (!flags.results_path.empty()) {
    try {
      s3chaos::harness::ResultsDatabase(flags.results_path).record(output.summary);
    } catch (const s3chaos::harness::ResultsError& error) {
      std::fprintf(stderr, "s3chaos: %s\n", error.what());
      return exit_bad_input;
    }
  }
  if (flags.expected_trace_hash && *flags.expected_trace_hash != output.summary.trace_hash) {
    std::fprintf(stderr, "s3chaos: replay diverged: trace hash %s, recorded %s\n",
                 output.summary.trace_hash.c_str(), flags.expected_trace_hash->c_str());
    return exit_bad_input;
  }
  return output.summary.holds ? exit_holds : exit_violated;
}

struct ExploreFlags {
  std::string scenario_path;  // or "random": draw whole scenarios from the case generator
  std::uint64_t runs = 100;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> policy;
  std::string shard;
  std::string out_directory = "out/explore";
  std::string results_path;
  double perturbation_fraction = 0.1;
  unsigned jobs = 1;
  bool beyond_contract = false;
  bool json = false;
};

// The shard from --shard I/N, else from GoogleTest's or a Kubernetes Indexed Job's variables.
bool parse_shard(const std::string& text, std::uint64_t& index, std::uint64_t& count) {
  index = 0;
  count = 1;
  std::string spec = text;
  if (spec.empty()) {
    const char* gtest_index = std::getenv("GTEST_SHARD_INDEX");
    const char* gtest_total = std::getenv("GTEST_TOTAL_SHARDS");
    const char* job_index = std::getenv("JOB_COMPLETION_INDEX");
    const char* job_total = std::getenv("S3CHAOS_TOTAL_SHARDS");
    if (gtest_index && gtest_total) {
      spec = std::string(gtest_index) + "/" + gtest_total;
    } else if (job_index && job_total) {
      spec = std::string(job_index) + "/" + job_total;
    } else {
      return true;
    }
  }
  const auto slash = spec.find('/');
  if (slash == std::string::npos) return false;
  try {
    std::size_t used = 0;
    index = std::stoull(spec.substr(0, slash), &used);
    if (used != slash) return false;
    count = std::stoull(spec.substr(slash + 1), &used);
    if (used != spec.size() - slash - 1) return false;
  } catch (const std::exception&) {
    return false;
  }
  return count >= 1 && index < count && count <= 100000;
}

// Opens the --results database when one was asked for; an error is printed and gives false.
bool open_results_database(const std::string& path,
                           std::optional<s3chaos::harness::ResultsDatabase>& results) {
  try {
    if (!path.empty()) results.emplace(path);
    return true;
  } catch (const s3chaos::harness::ResultsError& error) {
    std::fprintf(stderr, "s3chaos: %s\n", error.what());
    return false;
  }
}

// One run as a sweep index page lists it (explore and compare alike).
nlohmann::json sweep_run_json(const s3chaos::harness::RunSummary& summary) {
  return {{"seed", summary.seed},
          {"policy", summary.policy},
          {"verdict", summary.holds ? "holds" : "violated"},
          {"photos_lost_count", summary.photos_lost},
          {"drain_time_ms", summary.drain_time_ms < 0 ? nlohmann::json(nullptr)
                                                      : nlohmann::json(summary.drain_time_ms)},
          {"cache_peak_bytes", summary.cache_peak_bytes},
          {"trace_hash", summary.trace_hash},
          {"replay_command", summary.replay_command}};
}

nlohmann::json sweep_json(const std::string& kind, const std::string& name, const std::string& path,
                          const std::vector<std::string>& policies) {
  return {{"format", "s3chaos.sweep"},
          {"format_version", 1},
          {"kind", kind},
          {"scenario", {{"name", name}, {"path", path}}},
          {"policies", policies},
          {"runs", nlohmann::json::array()}};
}

// Progress of a sweep on stderr: a bar on a terminal, one plain line per run otherwise.
class Progress {
 public:
  Progress(std::uint64_t total, bool quiet)
      : total_(total),
        quiet_(quiet),
        terminal_(isatty(STDERR_FILENO) != 0),
        started_(std::chrono::steady_clock::now()) {}

  void run_done(std::uint64_t run_index, const s3chaos::harness::RunSummary& summary) {
    ++done_;
    if (quiet_) return;
    if (!terminal_) {
      std::fprintf(
          stderr, "run %llu/%llu seed %llu %s\n", static_cast<unsigned long long>(run_index + 1),
          static_cast<unsigned long long>(total_), static_cast<unsigned long long>(summary.seed),
          summary.holds ? "holds" : "violated");
      return;
    }
    constexpr int bar_width = 30;
    const double fraction =
        total_ == 0 ? 1.0 : static_cast<double>(run_index + 1) / static_cast<double>(total_);
    const int filled = static_cast<int>(fraction * bar_width);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::fprintf(
        stderr, "\r[%-*s] %llu/%llu  %.1f runs/s  seed %llu %s   ", bar_width,
        std::string(static_cast<std::size_t>(filled), '#').c_str(),
        static_cast<unsigned long long>(run_index + 1), static_cast<unsigned long long>(total_),
        seconds > 0 ? static_cast<double>(done_) / seconds : 0.0,
        static_cast<unsigned long long>(summary.seed), summary.holds ? "holds   " : "VIOLATED");
  }

  void finish() const {
    if (terminal_ && !quiet_ && done_ > 0) std::fprintf(stderr, "\n");
  }

 private:
  std::uint64_t total_;
  bool quiet_;
  bool terminal_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t done_ = 0;
};

struct Counterexample {
  std::string scenario_path;
  std::string report_path;
  std::string replay_command;
  s3chaos::harness::RunOutput replay;
};

// Writes a shrunk failing case as a scenario file (stem.json) and its report (stem.html), the
// report built from the file as `s3chaos replay` will load it, so the replay command's trace
// hash is the one a user will see.
std::optional<Counterexample> write_counterexample(const std::string& stem,
                                                   const s3chaos::harness::Scenario& shrunk,
                                                   std::uint64_t seed, const std::string& policy,
                                                   std::size_t fault_count_before) {
  Counterexample result;
  result.scenario_path = stem + ".json";
  if (!write_file(result.scenario_path, shrunk.document.dump(2) + "\n")) {
    std::fprintf(stderr, "s3chaos: cannot write %s\n", result.scenario_path.c_str());
    return std::nullopt;
  }
  const std::optional<s3chaos::harness::Scenario> reloaded =
      load_scenario_or_report(result.scenario_path);
  if (!reloaded) return std::nullopt;
  s3chaos::harness::RunOptions replay_options;
  replay_options.seed = seed;
  replay_options.policy = policy;
  result.replay = s3chaos::harness::run_scenario(*reloaded, replay_options);
  result.replay_command = "s3chaos replay " + result.scenario_path + " --seed " +
                          std::to_string(seed) + " --policy " + policy + " --trace-hash " +
                          result.replay.summary.trace_hash;
  result.replay.run_result["replay_command"] = result.replay_command;
  // The shrunk plan as the report shows it: each rule and event with its kind.
  nlohmann::json shrunk_plan = nlohmann::json::array();
  for (const char* field : {"s3_faults", "s3_faults_vendor_2"}) {
    const nlohmann::json plan = shrunk.document.value(field, nlohmann::json::object());
    for (auto rule : plan.value("rules", nlohmann::json::array())) {
      rule["kind"] = rule["effect"].value("type", "rule");
      shrunk_plan.push_back(rule);
    }
    for (auto event : plan.value("events", nlohmann::json::array())) {
      event["kind"] = event.value("type", "event");
      event.erase("type");
      shrunk_plan.push_back(event);
    }
  }
  for (auto fault : shrunk.document.value("uploader_faults", nlohmann::json::array())) {
    fault["kind"] = "uploader_" + fault.value("type", std::string("fault"));
    fault.erase("type");
    shrunk_plan.push_back(fault);
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& violation : result.replay.summary.violations) {
    if (steps.size() >= 10) break;
    steps.push_back({{"at_ms", violation.at_ns / 1'000'000},
                     {"photo_id", violation.photo_id},
                     {"text", violation.check + " violated: " + violation.detail}});
  }
  result.replay.run_result["counterexample"] = {{"shrunk_from_rule_count", fault_count_before},
                                                {"fault_plan", shrunk_plan},
                                                {"steps", steps},
                                                {"replay_command", result.replay_command}};
  result.report_path = stem + ".html";
  try {
    write_file(result.report_path, s3chaos::reports::render_run_report(result.replay.run_result));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "s3chaos: report generation failed: %s\n", error.what());
  }
  return result;
}

// The sweep's index page: every run with its verdict and seed, linking the shrunk case.
void write_sweep_index(const std::string& out_directory, nlohmann::json sweep,
                       const std::vector<s3chaos::harness::RunSummary>& runs,
                       const std::optional<std::uint64_t>& failing_seed,
                       const std::optional<Counterexample>& counterexample, nlohmann::json& out,
                       bool json) {
  for (const auto& summary : runs) {
    nlohmann::json run = sweep_run_json(summary);
    if (counterexample && failing_seed && summary.seed == *failing_seed && !summary.holds) {
      run["report_href"] = std::filesystem::path(counterexample->report_path).filename().string();
      run["replay_command"] = counterexample->replay_command;
    }
    sweep["runs"].push_back(run);
  }
  const std::string index_path = out_directory + "/index.html";
  try {
    write_file(index_path, s3chaos::reports::render_sweep_report(sweep));
    out["index"] = index_path;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "s3chaos: sweep report generation failed: %s\n", error.what());
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("index: %s\n", index_path.c_str());
  }
}

nlohmann::json explore_json(std::uint64_t runs, double wall_seconds) {
  return {{"runs", runs},
          {"violation", nullptr},
          {"first_failing_seed", nullptr},
          {"runs_to_find", nullptr},
          {"shrunk_fault_events", nullptr},
          {"wall_seconds", wall_seconds},
          {"replay_command", nullptr}};
}

// What both kinds of exploration found, in the shape they share.
struct FoundCase {
  std::uint64_t run_index = 0;
  std::uint64_t seed = 0;
  std::size_t fault_count_before = 0;
  std::size_t fault_count_after = 0;
  std::size_t shrink_runs = 0;
};

// Fills the violation fields of explore's JSON from a written counterexample and, unless the
// output is JSON, prints them for a person.
void report_found(const FoundCase& found, const Counterexample& counterexample, nlohmann::json& out,
                  bool json) {
  out["violation"] = s3chaos::harness::summary_json(counterexample.replay.summary)["violations"];
  out["first_failing_seed"] = found.seed;
  out["runs_to_find"] = found.run_index + 1;
  out["shrunk_fault_events"] = found.fault_count_after;
  out["shrink_runs"] = found.shrink_runs;
  out["replay_command"] = counterexample.replay_command;
  out["scenario"] = counterexample.scenario_path;
  out["report"] = counterexample.report_path;
  if (json) return;
  const auto& violations = counterexample.replay.summary.violations;
  std::printf(
      "violation found in run %llu (seed %llu): %s\n",
      static_cast<unsigned long long>(found.run_index + 1),
      static_cast<unsigned long long>(found.seed),
      violations.empty() ? "" : (violations[0].check + ": " + violations[0].detail).c_str());
  std::printf("shrunk the faults from %zu to %zu rules/events/uploader faults in %zu runs\n",
              found.fault_count_before, found.fault_count_after, found.shrink_runs);
  std::printf("scenario: %s\nreport: %s\nreplay: %s\n", counterexample.scenario_path.c_str(),
              counterexample.report_path.c_str(), counterexample.replay_command.c_str());
}

int explore_random_command(const ExploreFlags& flags, const std::string& policy,
                           std::uint64_t shard_index, std::uint64_t shard_count) {
  std::optional<s3chaos::harness::ResultsDatabase> results;
  if (!open_results_database(flags.results_path, results)) return exit_bad_input;
  s3chaos::harness::RandomExploreOptions options;
  options.runs = flags.runs;
  options.seed = flags.seed.value_or(1);
  options.policy = policy;
  options.generator.beyond_contract = flags.beyond_contract;
  options.shard_index = shard_index;
  options.shard_count = shard_count;
  options.jobs = flags.jobs;
  Progress progress(flags.runs, flags.json);
  options.on_run = [&](std::uint64_t run, const s3chaos::harness::RunSummary& summary) {
    if (results) results->record(summary);
    progress.run_done(run, summary);
  };
  const auto started = std::chrono::steady_clock::now();
  const s3chaos::harness::RandomExploreResult result = s3chaos::harness::explore_random(options);
  progress.finish();
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  nlohmann::json out = explore_json(result.runs_done, wall_seconds);
  out["contract"] = flags.beyond_contract ? "beyond" : "within";
  std::filesystem::create_directories(flags.out_directory);
  std::optional<Counterexample> found;
  std::optional<std::uint64_t> failing_seed;
  if (result.first_failing_run) {
    const std::string stem = flags.out_directory + "/random-" + std::to_string(options.seed) +
                             "-run" + std::to_string(*result.first_failing_run + 1) + "-" + policy;
    // The case as drawn, before shrinking, for whoever wants to see what the generator made.
    write_file(
        stem + "-drawn.json",
        s3chaos::harness::scenario_document(result.found, result.shrunk_scenario.name).dump(2) +
            "\n");
    found = write_counterexample(stem, result.shrunk_scenario, result.shrunk.world_seed, policy,
                                 result.fault_count_before);
    if (!found) return exit_bad_input;
    failing_seed = result.found.world_seed;
    out["first_failing_case"] = {{"exploration_seed", options.seed},
                                 {"run_index", *result.first_failing_run}};
    report_found({*result.first_failing_run, result.found.world_seed, result.fault_count_before,
                  result.fault_count_after, result.shrink_runs},
                 *found, out, flags.json);
  } else if (!flags.json) {
    std::printf("%llu random scenarios (%s the durability contract), no violation (%.1f s)\n",
                static_cast<unsigned long long>(result.runs_done),
                flags.beyond_contract ? "beyond" : "within", wall_seconds);
  }
  write_sweep_index(flags.out_directory, sweep_json("explore", "random", "random", {policy}),
                    result.runs, failing_seed, found, out, flags.json);
  return result.first_failing_run ? exit_violated : exit_holds;
}

int explore_command(const ExploreFlags& flags) {
  const bool random = flags.scenario_path == "random";
  std::optional<s3chaos::harness::Scenario> loaded;
  if (!random) {
    loaded = load_scenario_or_report(flags.scenario_path);
    if (!loaded) return exit_bad_input;
  } else if (flags.perturbation_fraction != 0.1) {
    std::fprintf(stderr, "s3chaos: --perturb: not used by explore random\n");
    return exit_bad_input;
  }
  if (!random && flags.beyond_contract) {
    std::fprintf(stderr, "s3chaos: --beyond-contract: only for explore random\n");
    return exit_bad_input;
  }
  const std::string policy =
      flags.policy.value_or(random ? std::string("protected") : loaded->uploader.policy);
  if (!s3chaos::uploader::policy_by_name(policy)) {
    std::fprintf(stderr, "s3chaos: --policy: unknown policy \"%s\"\n", policy.c_str());
    return exit_bad_input;
  }
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  if (!parse_shard(flags.shard, shard_index, shard_count)) {
    std::fprintf(stderr, "s3chaos: --shard: expected I/N with 0 <= I < N, got \"%s\"\n",
                 flags.shard.c_str());
    return exit_bad_input;
  }
  if (random) return explore_random_command(flags, policy, shard_index, shard_count);

  const s3chaos::harness::Scenario& scenario = *loaded;
  s3chaos::harness::ExploreOptions options;
  options.runs = flags.runs;
  options.seed = flags.seed.value_or(scenario.seed);
  options.policy = policy;
  options.perturbation_fraction = flags.perturbation_fraction;
  options.shard_index = shard_index;
  options.shard_count = shard_count;
  options.jobs = flags.jobs;
  std::optional<s3chaos::harness::ResultsDatabase> results;
  if (!open_results_database(flags.results_path, results)) return exit_bad_input;
  Progress progress(flags.runs, flags.json);
  options.on_run = [&](std::uint64_t run, const s3chaos::harness::RunSummary& summary) {
    if (results) results->record(summary);
    progress.run_done(run, summary);
  };
  const auto started = std::chrono::steady_clock::now();
  const s3chaos::harness::ExploreResult result = s3chaos::harness::explore(scenario, options);
  progress.finish();
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  nlohmann::json out = explore_json(result.runs_done, wall_seconds);
  std::filesystem::create_directories(flags.out_directory);
  std::optional<Counterexample> found;
  std::optional<std::uint64_t> failing_seed;
  if (result.shrunk) {
    const auto& shrunk = *result.shrunk;
    const std::uint64_t seed = shrunk.output.summary.seed;
    found = write_counterexample(
        flags.out_directory + "/" + scenario.name + "-" + policy + "-seed" + std::to_string(seed),
        shrunk.scenario, seed, policy, shrunk.fault_count_before);
    if (!found) return exit_bad_input;
    failing_seed = seed;
    report_found({*result.first_failing_run, seed, shrunk.fault_count_before,
                  shrunk.fault_count_after, shrunk.runs},
                 *found, out, flags.json);
  } else if (!flags.json) {
    std::printf("%llu runs, no violation (%.1f s)\n",
                static_cast<unsigned long long>(result.runs_done), wall_seconds);
  }
  nlohmann::json sweep = sweep_json("explore", scenario.name, scenario.path, {policy});
  if (result.shrunk) {
    sweep["note"] = "stopped at the first violation (run " +
                    std::to_string(*result.first_failing_run + 1) + "), shrunk to " +
                    std::to_string(result.shrunk->fault_count_after) + " fault rules/events";
  }
  write_sweep_index(flags.out_directory, sweep, result.runs, failing_seed, found, out, flags.json);
  return result.shrunk ? exit_violated : exit_holds;
}

struct CompareFlags {
  std::string scenario_path;
  std::string policies;
  std::uint64_t runs = 3;
  std::optional<std::uint64_t> seed;
  std::string out_directory = "out/compare";
  std::string results_path;
  bool json = false;
};

int compare_command(const CompareFlags& flags) {
  const std::optional<s3chaos::harness::Scenario> loaded =
      load_scenario_or_report(flags.scenario_path);
  if (!loaded) return exit_bad_input;
  const s3chaos::harness::Scenario& scenario = *loaded;
  std::vector<std::string> policies;
  std::stringstream list(flags.policies);
  for (std::string name; std::getline(list, name, ',');) {
    if (!s3chaos::uploader::policy_by_name(name)) {
      std::fprintf(stderr, "s3chaos: --policies: unknown policy \"%s\"\n", name.c_str());
      return exit_bad_input;
    }
    policies.push_back(name);
  }
  if (policies.empty()) {
    std::fprintf(stderr, "s3chaos: --policies: expected a comma-separated list of policies\n");
    return exit_bad_input;
  }
  std::optional<s3chaos::harness::ResultsDatabase> results;
  if (!open_results_database(flags.results_path, results)) return exit_bad_input;
  std::filesystem::create_directories(flags.out_directory);
  nlohmann::json sweep = sweep_json("compare", scenario.name, scenario.path, policies);
  bool any_violated = false;
  const std::uint64_t base_seed = flags.seed.value_or(scenario.seed);
  for (std::uint64_t i = 0; i < flags.runs; ++i) {
    const std::uint64_t seed =
        i == 0 ? base_seed : s3chaos::harness::exploration_run_seed(base_seed, i);
    for (const std::string& policy : policies) {
      s3chaos::harness::RunOptions options;
      options.seed = seed;
      options.policy = policy;
      const s3chaos::harness::RunOutput output = s3chaos::harness::run_scenario(scenario, options);
      if (results) results->record(output.summary);
      any_violated = any_violated || !output.summary.holds;
      const std::string file = policy + "-seed" + std::to_string(seed) + ".html";
      write_file(flags.out_directory + "/" + file,
                 s3chaos::reports::render_run_report(output.run_result));
      nlohmann::json run = sweep_run_json(output.summary);
      run["report_href"] = file;
      sweep["runs"].push_back(run);
      if (!flags.json) {
        std::printf("seed %-20llu %-20s %-9s lost %-5llu drain %s\n",
                    static_cast<unsigned long long>(seed), policy.c_str(),
                    output.summary.holds ? "holds" : "VIOLATED",
                    static_cast<unsigned long long>(output.summary.photos_lost),
                    output.summary.drain_time_ms < 0
                        ? "never"
                        : (std::to_string(output.summary.drain_time_ms / 1000) + " s").c_str());
      }
    }
  }
  const std::string index_path = flags.out_directory + "/index.html";
  write_file(index_path, s3chaos::reports::render_sweep_report(sweep));
  if (flags.json) {
    std::cout << sweep.dump(2) << "\n";
  } else {
    std::printf("index: %s\n", index_path.c_str());
  }
  return any_violated ? exit_violated : exit_holds;
}

int merge_command(const std::string& output, const std::vector<std::string>& inputs) {
  try {
    s3chaos::harness::ResultsDatabase merged(output);
    for (const std::string& input : inputs) {
      if (!std::filesystem::exists(input)) {
        std::fprintf(stderr, "s3chaos: merge: %s does not exist\n", input.c_str());
        return exit_bad_input;
      }
      merged.merge_from(input);
    }
    std::printf("%zu runs in %s\n", merged.rows().size(), output.c_str());
  } catch (const s3chaos::harness::ResultsError& error) {
    std::fprintf(stderr, "s3chaos: %s\n", error.what());
    return exit_bad_input;
  }
  return exit_holds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"s3chaos: deterministic chaos testing of a photo uploader against a faulty S3"};
  app.require_subcommand(1);
  RunFlags run_flags;
  CLI::App* run = app.add_subcommand("run", "run one scenario in simulation and judge the checks");
  run->add_option("scenario", run_flags.scenario_path, "scenario JSON file")->required();
  run->add_option("--seed", run_flags.seed, "seed (default: the scenario's)");
  run->add_option("--policy", run_flags.policy, "uploader policy (default: the scenario's)");
  run->add_option("--report", run_flags.report_path, "write a self-contained HTML report here");
  run->add_flag("--json", run_flags.json, "print a JSON summary instead of text");
  run->add_option("--results", run_flags.results_path,
                  "record the result in this SQLite results database");

  RunFlags replay_flags;
  CLI::App* replay =
      app.add_subcommand("replay", "re-run a recorded case bit for bit and check its trace hash");
  replay
      ->add_option("scenario", replay_flags.scenario_path,
                   "scenario JSON file (as written by explore)")
      ->required();
  replay->add_option("--seed", replay_flags.seed, "the recorded seed")->required();
  replay->add_option("--policy", replay_flags.policy, "the recorded policy")->required();
  replay->add_option("--trace-hash", replay_flags.expected_trace_hash,
                     "fail (exit 2) unless the run reproduces this hash");
  replay->add_option("--report", replay_flags.report_path,
                     "write a self-contained HTML report here");
  replay->add_flag("--json", replay_flags.json, "print a JSON summary instead of text");

  ExploreFlags explore_flags;
  CLI::App* explore = app.add_subcommand(
      "explore", "many seeds and perturbed fault plans; stop at the first violation and shrink it");
  explore
      ->add_option("scenario", explore_flags.scenario_path,
                   "scenario JSON file, or \"random\" to draw whole scenarios from the case "
                   "generator (docs/explore.md)")
      ->required();
  explore->add_option("--runs", explore_flags.runs, "number of runs")
      ->check(CLI::Range(1, 10'000'000));
  explore->add_option("--seed", explore_flags.seed, "exploration seed (default: the scenario's)");
  explore->add_option("--policy", explore_flags.policy,
                      "uploader policy (default: the scenario's)");
  explore->add_option("--shard", explore_flags.shard,
                      "run only shard I of N (I/N); also GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS or "
                      "JOB_COMPLETION_INDEX/S3CHAOS_TOTAL_SHARDS");
  explore
      ->add_option("--perturb", explore_flags.perturbation_fraction,
                   "fraction by which fault windows move (0 keeps the plan)")
      ->check(CLI::Range(0.0, 1.0));
  explore
      ->add_option("--jobs", explore_flags.jobs,
                   "runs side by side in this many processes (0: one per core); the results "
                   "are the same as with 1")
      ->check(CLI::Range(0u, s3chaos::harness::parallel_jobs_max));
  explore->add_option("--out", explore_flags.out_directory,
                      "where the shrunk scenario and its report go");
  explore->add_option("--results", explore_flags.results_path,
                      "record every run in this SQLite results database");
  explore->add_flag("--beyond-contract", explore_flags.beyond_contract,
                    "explore random: also draw faults past the durability contract (lags longer "
                    "than the settle time, bit rot of a lone vendor)");
  explore->add_flag("--json", explore_flags.json, "print a JSON summary instead of text");

  CompareFlags compare_flags;
  CLI::App* compare =
      app.add_subcommand("compare", "the same seeds under several policies, side by side");
  compare->add_option("scenario", compare_flags.scenario_path, "scenario JSON file")->required();
  compare->add_option("--policies", compare_flags.policies, "comma-separated policies")->required();
  compare->add_option("--runs", compare_flags.runs, "seeds per policy")
      ->check(CLI::Range(1, 100'000));
  compare->add_option("--seed", compare_flags.seed, "first seed (default: the scenario's)");
  compare->add_option("--out", compare_flags.out_directory, "where the reports and index.html go");
  compare->add_option("--results", compare_flags.results_path,
                      "record every run in this SQLite results database");
  compare->add_flag("--json", compare_flags.json, "print the sweep as JSON");

  std::string merge_output;
  std::vector<std::string> merge_inputs;
  CLI::App* merge = app.add_subcommand("merge", "combine shards' results databases into one sweep");
  merge->add_option("output", merge_output, "merged results database")->required();
  merge->add_option("inputs", merge_inputs, "shard results databases")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : exit_bad_input;
  }
  if (run->parsed()) return run_command(run_flags);
  if (replay->parsed()) return run_command(replay_flags);
  if (explore->parsed()) {
    if (explore_flags.jobs == 0) {
      explore_flags.jobs =
          std::clamp(std::thread::hardware_concurrency(), 1u, s3chaos::harness::parallel_jobs_max);
    }
    try {
      return explore_command(explore_flags);
    } catch (const s3chaos::harness::ParallelRunError& error) {
      // A run died in its child process: a bug in s3chaos, never a verdict.
      std::fprintf(stderr, "s3chaos: internal error: %s\n", error.what());
      return exit_internal_error;
    }
  }
  if (compare->parsed()) return compare_command(compare_flags);
  if (merge->parsed()) return merge_command(merge_output, merge_inputs);
  return exit_bad_input;
}
