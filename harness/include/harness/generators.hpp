// RapidCheck generators of whole scenarios: a workload, the uploader's settings, a fault plan
// per vendor and the uploader's own faults (crashes between events and inside disk calls --
// journal writes and syncs --, disk full, fsync errors). The property tests
// (tests/harness/*_property_test.cpp) and `s3chaos explore random` draw from the same
// generators, so what one finds the other replays.
//
// The durability contract. `protected` is configured with a settle time; the store promises
// that a write it acknowledged at t is durable at t + W. Inside the contract every life/death
// window's lag W is shorter than the case's settle time, and bit rot (a store losing an object
// after it was durable) only strikes one of two required vendors ("one vendor is one basket"),
// and a vendor that keeps truncated writes it answered 200 does not also serve stale reads (a
// verification could then see the good version the damaged re-upload replaced).
// Inside it protected must hold every check; every unsafe policy of the catalogue must be
// caught. GeneratorOptions::beyond_contract adds faults past it (lags longer than the settle
// time, bit rot of a single vendor or of both), where protected may lose photos too.
//
// A generated case is plain data (GeneratedCase); scenario_document() turns it into the scenario
// JSON of docs/scenarios.md, which s3chaos can write, load and replay like any other file.
// Shrinking removes whole faults and simplifies the workload, so a counterexample ends with the
// few faults that matter.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <rapidcheck/Gen.h>
#include <nlohmann/json.hpp>

#include "harness/scenario.hpp"
#include "harness/world.hpp"

namespace s3chaos::harness {

// The kinds of S3 fault a case can hold (docs/explore.md describes each).
enum class S3FaultKind {
  life_death_window,  // PUTs answered 200 but volatile for W, then the vendor dies
  outage,             // every request refused / hung / reset / 503 / 500 / SlowDown, or a death
  brownout,           // a share of requests fail with 500 or 503
  lose_response,      // a share of PUTs stored, then the answer lost (reset, hang, 500)
  truncate_write,     // a share of PUTs stored truncated yet answered 200 with the full ETag
  stale_reads,        // GET / HEAD / LIST see the store as it was a while ago
  corrupt_read,       // a share of GETs return flipped bits
  latency,            // slow answers
  bit_rot,            // the store damages objects it holds durably (past its contract alone)
};
inline constexpr int s3_fault_kind_count = 9;
const char* s3_fault_kind_name(S3FaultKind kind);

// One S3 fault. Times are fractions of the case's duration, lags fractions of its settle time,
// so a fault stays valid (and inside or beyond the contract) whatever the rest shrinks to.
struct GeneratedS3Fault {
  S3FaultKind kind = S3FaultKind::outage;
  int vendor = 0;                // 0 the primary, 1 the second vendor (only with two targets)
  int start_permille = 0;        // start, in thousandths of the duration
  int length_permille = 100;     // length, in thousandths of the duration
  int lag_percent = 50;          // life_death_window: W in percent of the settle time
  int down_s = 60;               // life_death_window and outage variant "death": time down
  int variant = 0;               // outage: which failure; lose_response: which lost answer
  int probability_percent = 50;  // brownout, lose_response, truncate_write, corrupt_read, bit_rot
};

enum class UploaderFaultKind {
  crash_at_disk_call,  // dies inside the k-th mutating disk call from a time on
  crash,               // dies between two events
  disk_full,           // ENOSPC for a while
  fsync_error,         // EIO on a share of fsyncs for a while
};
inline constexpr int uploader_fault_kind_count = 4;
const char* uploader_fault_kind_name(UploaderFaultKind kind);

struct GeneratedUploaderFault {
  UploaderFaultKind kind = UploaderFaultKind::crash;
  int at_permille = 0;            // when, in thousandths of the duration
  int disk_call = 1;              // crash_at_disk_call: k
  int restart_after_s = 5;        // crashes
  int length_permille = 50;       // disk_full, fsync_error
  int probability_percent = 100;  // fsync_error
};

struct GeneratedCase {
  std::uint64_t world_seed = 1;  // the run's seed (--seed of the replay)
  // Workload: Poisson arrivals for duration_s at photos_per_kilosecond / 1000 per second.
  int duration_s = 1200;
  int photos_per_kilosecond = 60;
  // Uploader settings.
  int settle_time_s = 60;
  int targets = 1;  // 2: both required before the local copy goes
  bool verify_get = false;
  bool beyond_contract = false;  // drawn with GeneratorOptions::beyond_contract
  std::vector<GeneratedS3Fault> s3_faults;
  std::vector<GeneratedUploaderFault> uploader_faults;
};

// Human-readable, one line per fault (what RapidCheck prints for a counterexample).
std::ostream& operator<<(std::ostream& out, const GeneratedCase& generated);

struct GeneratorOptions {
  // Also draw faults past the durability contract (see the header comment).
  bool beyond_contract = false;
  // The S3 fault kinds to draw from; empty: every kind.
  std::vector<S3FaultKind> s3_fault_kinds;
  // Draw uploader faults (crashes at disk calls and between events, disk full, fsync errors).
  bool uploader_faults = true;
  // 1: every case has one target; 2: cases have one or two.
  int targets_max = 2;
  // At most this many faults of each list (RapidCheck's size scales it down for early cases).
  int s3_faults_max = 5;
  int uploader_faults_max = 3;
};

// The generators. Each part shrinks: lists drop whole faults, the workload gets shorter and
// slower, settings simpler; a fault's own numbers do not shrink (they do not make a
// counterexample easier to read, and every shrink step costs a run).
rc::Gen<GeneratedS3Fault> s3_fault_generator(const GeneratorOptions& options);
rc::Gen<GeneratedUploaderFault> uploader_fault_generator();
rc::Gen<GeneratedCase> case_generator(const GeneratorOptions& options);

// The scenario JSON (docs/scenarios.md) of a case, named `name`. Faults the contract rules
// out for this case (bit rot of a lone vendor, a second vendor's fault with one target) are
// left out of it.
nlohmann::json scenario_document(const GeneratedCase& generated, const std::string& name);
// The loaded scenario (validated exactly like a file). `path` becomes its path for replay
// commands ("" leaves the name).
Scenario generated_scenario(const GeneratedCase& generated, const std::string& name,
                            const std::string& path = "");

// The case run `run_index` of a random exploration draws: from exploration_run_seed(seed, i)
// with RapidCheck size i % (size_max + 1), as a property test's i-th case would grow.
inline constexpr int random_case_size_max = 50;

// `s3chaos explore random`: draws whole scenarios from case_generator until one violates a
// check under `policy`, then shrinks it with RapidCheck's shrink tree (each candidate run once;
// the first that still violates is taken, until none does or shrink_runs_max runs were spent).
struct RandomExploreOptions {
  std::uint64_t runs = 100;
  std::uint64_t seed = 1;
  std::string policy = "protected";
  GeneratorOptions generator;
  std::size_t shrink_runs_max = 300;
  std::string program = "s3chaos";
  // Only runs with index % shard_count == shard_index.
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  // Runs side by side in up to this many child processes (see ExploreOptions::jobs).
  unsigned jobs = 1;
  // Called after each run (progress output, results database).
  std::function<void(std::uint64_t run_index, const RunSummary&)> on_run;
};

struct RandomExploreResult {
  std::uint64_t runs_done = 0;
  std::vector<RunSummary> runs;
  std::optional<std::uint64_t> first_failing_run;  // index
  std::uint64_t first_failing_seed = 0;            // exploration_run_seed of that run
  GeneratedCase found;                             // the case as drawn
  GeneratedCase shrunk;                            // the case after shrinking
  Scenario shrunk_scenario;
  RunOutput shrunk_output;
  std::size_t fault_count_before = 0;
  std::size_t fault_count_after = 0;
  std::size_t shrink_runs = 0;
};

// The case of run `run_index` (deterministic in seed, index and options).
GeneratedCase random_case(const GeneratorOptions& options, std::uint64_t exploration_seed,
                          std::uint64_t run_index);
RandomExploreResult explore_random(const RandomExploreOptions& options);

}  // namespace s3chaos::harness
