// The simulated world: the uploader core on a simulated disk, talking through a simulated
// network to the faulty fake S3 core, fed by simulated phones, all on one scheduler and one
// seed. run_scenario() runs a scenario to its end and judges the four checks of DESIGN.md
// against fake_s3's ground truth and the uploader's durable local state, never against what
// either side said.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/scenario.hpp"

namespace s3chaos::harness {

struct RunOptions {
  std::uint64_t seed = 1;
  std::string policy = "protected";
  // Command-line prefix used to build replay commands ("s3chaos").
  std::string program = "s3chaos";
};

// A check that did not hold, naming the photo, the time and what led to it.
struct Violation {
  std::string check;  // "safety", "integrity", "liveness", "availability"
  std::string photo_id;
  sim::TimeNs at_ns = 0;
  std::string detail;
  std::string contract_side;  // "uploader" or "store"
  friend bool operator==(const Violation&, const Violation&) = default;
};

struct RunSummary {
  std::string scenario;
  std::uint64_t seed = 0;
  std::string policy;
  bool holds = true;
  std::vector<Violation> violations;
  std::uint64_t photos_received = 0;
  std::uint64_t photos_acked = 0;
  std::uint64_t photos_rejected = 0;
  std::uint64_t photos_uploaded = 0;
  std::uint64_t photos_verified = 0;  // the journal recorded a verified copy
  std::uint64_t photos_stored = 0;    // S3 durably holds the exact bytes at the end
  std::uint64_t photos_evicted = 0;
  std::uint64_t photos_lost = 0;
  std::uint64_t requests_sent = 0;
  std::uint64_t uploader_crashes = 0;
  std::uint64_t cache_peak_bytes = 0;  // logical bytes
  std::int64_t drain_time_ms = -1;     // from the last fault's end to an empty cache; -1: never
  std::uint64_t events_run = 0;
  std::string trace_hash;
  double simulated_seconds = 0;
  std::string replay_command;
  friend bool operator==(const RunSummary&, const RunSummary&) = default;
};

struct RunOutput {
  RunSummary summary;
  // The run result (docs/run_result.md), input of the HTML report.
  nlohmann::json run_result;
};

// Runs `scenario` under options.seed and options.policy. Deterministic: the same scenario,
// seed and policy give the same summary, run result and trace hash, always.
RunOutput run_scenario(const Scenario& scenario, const RunOptions& options);

// The summary as the JSON object `s3chaos run --json` prints (wall_seconds added by the CLI).
nlohmann::json summary_json(const RunSummary& summary);
// The inverse of summary_json, exact (violation times travel in ns): explore --jobs hands
// summaries from child processes back this way. Throws nlohmann::json::exception on a
// document summary_json did not write.
RunSummary summary_from_json(const nlohmann::json& json);

}  // namespace s3chaos::harness
