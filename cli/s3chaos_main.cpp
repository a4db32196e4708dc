// s3chaos: the command developers run and CI calls. Thin: it parses flags, loads the scenario,
// asks the harness to run it, prints the verdict, writes the report.
//
//   s3chaos run SCENARIO [--seed N] [--policy NAME] [--report FILE.html] [--json]
//
// Exit codes: 0 every check holds, 1 a check is violated, 2 bad usage or bad input.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "harness/scenario.hpp"
#include "harness/world.hpp"
#include "reports/report.hpp"
#include "uploader/policy.hpp"

namespace {

constexpr int exit_holds = 0;
constexpr int exit_violated = 1;
constexpr int exit_bad_input = 2;

struct RunFlags {
  std::string scenario_path;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> policy;
  std::string report_path;
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

int run_command(const RunFlags& flags) {
  s3chaos::harness::Scenario scenario;
  try {
    scenario = s3chaos::harness::load_scenario(flags.scenario_path);
  } catch (const s3chaos::harness::InputError& error) {
    std::fprintf(stderr, "s3chaos: %s\n", error.what());
    return exit_bad_input;
  }
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
  return output.summary.holds ? exit_holds : exit_violated;
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : exit_bad_input;
  }
  if (run->parsed()) return run_command(run_flags);
  return exit_bad_input;
}
