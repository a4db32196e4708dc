// Scenarios: one JSON file describes one reproducible situation -- the phones' workload, S3's
// fault plan, the uploader's own faults (crashes, disk full, fsync errors), the uploader's
// settings and policy, how long to run and drain, the seed, and what each policy is expected
// to do there. docs/scenarios.md documents every field with an example.
//
// Loading validates everything: a broken file is an InputError naming file, line, column and
// what was expected; unknown fields are errors, never ignored.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_s3/faults.hpp"
#include "harness/json_source.hpp"
#include "sim/time.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::harness {

// One piece of a piecewise-constant Poisson arrival rate: from `from_ns` on, photos arrive at
// `rate_per_second` until the next piece (or the end of the workload).
struct ArrivalRate {
  sim::TimeNs from_ns = 0;
  double rate_per_second = 0;
};

struct Workload {
  std::vector<ArrivalRate> arrival_rates;  // sorted by from_ns, the first at 0
  // Photo sizes are drawn log-uniformly in [photo_bytes_min, photo_bytes_max].
  std::uint64_t photo_bytes_min = 100 * 1024;
  std::uint64_t photo_bytes_max = 3 * 1024 * 1024;
  // In simulation each photo carries size / byte_scale real bytes (at least 16), hashed and
  // checked for real on every code path; its logical size (for transfer times, cache limits and
  // reports) is the drawn size. 1 keeps every byte (docs/scenarios.md explains the trade-off).
  std::uint64_t byte_scale = 1;
  std::uint64_t phones = 100;
  // Photos in the whole run, at most; arrivals beyond it are not generated.
  std::uint64_t photos_max = 100'000;
};

enum class UploaderFaultType { crash, disk_full, fsync_error };

// A fault on the app server's side. crash: at at_ns the process dies (unsynced writes are
// lost) and restarts after restart_after_ns; with at_disk_call = k > 0 it dies instead INSIDE
// the k-th mutating disk call (write, fsync, rename, ...: a journal write or sync, a content
// file step) made from at_ns on, which is not applied. disk_full / fsync_error: between at_ns
// and until_ns the disk answers ENOSPC to writes that grow it / EIO to fsync, with
// `probability`.
struct UploaderFault {
  UploaderFaultType type = UploaderFaultType::crash;
  sim::TimeNs at_ns = 0;
  sim::TimeNs until_ns = 0;
  sim::TimeNs restart_after_ns = 0;
  double probability = 1.0;
  std::uint64_t at_disk_call = 0;  // crash only; 0: at at_ns, between two events
};

// Mutating disk calls a crash may wait for (at_disk_call), at most.
inline constexpr std::uint64_t crash_disk_call_max = 100'000;

// Uploader settings a scenario may set; the rest keep uploader::Settings' defaults.
struct UploaderConfig {
  std::string policy = "protected";
  sim::TimeNs settle_time_ns = sim::from_seconds(600);
  sim::TimeNs request_timeout_ns = sim::from_seconds(30);
  sim::TimeNs backoff_max_ns = sim::from_seconds(30);
  std::uint64_t requests_in_flight_max = 4;
  std::uint64_t cache_bytes_max = 8ull << 30;  // logical bytes
  std::uint64_t targets = 1;
  std::uint64_t targets_required = 1;
  uploader::VerifyMethod verify_method = uploader::VerifyMethod::head;
};

// The simulated connection between the uploader and S3.
struct NetworkConfig {
  sim::TimeNs latency_ns_min = sim::from_milliseconds(10);
  sim::TimeNs latency_ns_median = sim::from_milliseconds(40);
  sim::TimeNs latency_ns_max = sim::from_seconds(2);
  std::uint64_t bandwidth_bytes_per_second = 20'000'000;  // per request, logical bytes
};

enum class Expectation { holds, violated };

struct Scenario {
  std::string name;
  std::string path;  // the file it came from ("" when built in code)
  std::string description;
  std::vector<std::string> sources;         // where the timeline comes from
  std::optional<std::string> clock_origin;  // "2008-07-20T08:00:00-07:00": clock time of t = 0
  std::uint64_t seed = 1;
  sim::TimeNs duration_ns = 0;  // photos arrive and faults happen in [0, duration)
  sim::TimeNs drain_ns = 0;     // then no photos, no faults: the cache must drain
  // Liveness bound: every acknowledged photo must be in S3 and evicted locally this long after
  // the last fault ends.
  sim::TimeNs drain_deadline_ns = 0;
  Workload workload;
  NetworkConfig network;
  std::string fault_plan_json;  // the fake_s3 plan of the primary vendor, validated at load
  fake_s3::FaultPlan fault_plan;
  // The second vendor's plan (s3_faults_vendor_2; only with two targets): empty is honest.
  std::string fault_plan_vendor_2_json;
  fake_s3::FaultPlan fault_plan_vendor_2;
  std::vector<UploaderFault> uploader_faults;  // sorted by at_ns
  UploaderConfig uploader;
  std::map<std::string, Expectation> expectations;  // by policy name
  nlohmann::json document;                          // the scenario as written, embedded in reports
};

// Loads and validates a scenario file. Throws InputError.
Scenario load_scenario(const std::string& path);
// Validates a scenario from a parsed source (tests build sources from strings).
Scenario scenario_from_source(const JsonSource& source);

// The fault plan of vendor `vendor` (0: the primary, 1: the second vendor).
const fake_s3::FaultPlan& vendor_fault_plan(const Scenario& scenario, std::size_t vendor);

// The time the last fault (S3 rule window or event of either vendor, uploader fault) ends; 0
// without faults.
sim::TimeNs last_fault_end_ns(const Scenario& scenario);

}  // namespace s3chaos::harness
