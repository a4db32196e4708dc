// The run result as the renderer reads it: plain structs read from a document that
// validate_run_result accepted, so rendering never meets a missing or mistyped field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "format.hpp"

namespace s3chaos::reports::detail {

enum class HealthState { up, brownout, outage, life_death_window, dead };

struct HealthBand {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  HealthState state = HealthState::up;
  std::string note;
};

struct FaultEvent {
  std::int64_t start_ms = 0;
  std::optional<std::int64_t> end_ms;
  std::string kind;
  std::string description;
};

struct UploaderCrash {
  std::int64_t at_ms = 0;
  std::optional<std::int64_t> restart_ms;
  std::string cause;
};

struct Check {
  std::string name;
  bool holds = false;
  std::string detail;
  std::string contract_side;
};

// Only the fields the aggregated curves need: every photo has one of these.
struct PhotoTimes {
  std::uint64_t size_bytes = 0;
  std::int64_t received_ms = 0;
  std::optional<std::int64_t> acked_ms;
  std::optional<std::int64_t> evicted_ms;
};

// Lost photos keep everything: they are drawn and listed one by one.
struct LostPhoto {
  std::string id;
  std::string key;
  std::uint64_t size_bytes = 0;
  std::int64_t received_ms = 0;
  std::optional<std::int64_t> acked_ms;
  std::optional<std::int64_t> put_ok_ms;
  std::optional<std::int64_t> verified_ms;
  std::optional<std::int64_t> evicted_ms;
  std::int64_t lost_ms = 0;
  std::string loss_side;
  std::string loss_reason;
};

struct PhotoCounts {
  std::uint64_t received = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t rejected = 0;
  std::uint64_t uploaded = 0;
  std::uint64_t verified = 0;
  std::uint64_t lost = 0;
  std::uint64_t cached_at_end = 0;
};

struct CacheSample {
  std::int64_t t_ms = 0;
  std::uint64_t bytes = 0;
};

struct Step {
  std::optional<std::int64_t> at_ms;
  std::string photo_id;
  std::string text;
};

struct Counterexample {
  std::optional<std::uint64_t> shrunk_from_rule_count;
  std::vector<nlohmann::json> fault_plan;
  std::vector<Step> steps;
  std::string replay_command;
};

struct RunModel {
  std::string scenario_name;
  std::string scenario_path;
  const nlohmann::json* scenario_document = nullptr;
  std::uint64_t seed = 0;
  std::string policy;
  std::string trace_hash;
  std::string replay_command;
  std::int64_t duration_ms = 0;
  std::string clock_origin_text;
  ClockFormat clock{std::nullopt};
  bool holds = false;
  std::vector<Check> checks;
  std::vector<HealthBand> health;
  std::vector<FaultEvent> faults;
  std::vector<UploaderCrash> crashes;
  std::vector<PhotoTimes> photos;
  std::vector<LostPhoto> lost;  // sorted by PUT time, then id, so the order never depends on input
  PhotoCounts counts;
  std::vector<CacheSample> cache_samples;
  std::optional<Counterexample> counterexample;
};

// Reads a document that validate_run_result accepted.
RunModel read_run_model(const nlohmann::json& document);

const char* health_state_name(HealthState state);
const char* health_state_label(HealthState state);

}  // namespace s3chaos::reports::detail
