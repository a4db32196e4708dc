#include "model.hpp"

#include <algorithm>
#include <tuple>

namespace s3chaos::reports::detail {
namespace {

using nlohmann::json;

std::string text_or_empty(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> time_or_none(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return it->get<std::int64_t>();
}

HealthState parse_state(const std::string& name) {
  if (name == "brownout") return HealthState::brownout;
  if (name == "outage") return HealthState::outage;
  if (name == "life_death_window") return HealthState::life_death_window;
  if (name == "dead") return HealthState::dead;
  return HealthState::up;
}

}  // namespace

const char* health_state_name(HealthState state) {
  switch (state) {
    case HealthState::up:
      return "up";
    case HealthState::brownout:
      return "brownout";
    case HealthState::outage:
      return "outage";
    case HealthState::life_death_window:
      return "life-death";
    case HealthState::dead:
      return "dead";
  }
  return "up";
}

const char* health_state_label(HealthState state) {
  switch (state) {
    case HealthState::up:
      return "up";
    case HealthState::brownout:
      return "brownout";
    case HealthState::outage:
      return "outage";
    case HealthState::life_death_window:
      return "life/death window";
    case HealthState::dead:
      return "dead";
  }
  return "up";
}

RunModel read_run_model(const json& document) {
  RunModel model;
  const json& scenario = document["scenario"];
  model.scenario_name = scenario["name"].get<std::string>();
  model.scenario_path = text_or_empty(scenario, "path");
  model.scenario_document = &scenario["document"];
  model.seed = document["seed"].get<std::uint64_t>();
  model.policy = document["policy"].get<std::string>();
  model.trace_hash = document["trace_hash"].get<std::string>();
  model.replay_command = document["replay_command"].get<std::string>();
  model.duration_ms = document["duration_ms"].get<std::int64_t>();
  model.clock_origin_text = text_or_empty(document, "clock_origin");
  model.clock = ClockFormat(
      model.clock_origin_text.empty() ? std::nullopt : parse_clock_origin(model.clock_origin_text));
  model.holds = document["verdict"].get<std::string>() == "holds";
  for (const json& check : document["checks"]) {
    model.checks.push_back({check["name"].get<std::string>(), check["holds"].get<bool>(),
                            text_or_empty(check, "detail"), text_or_empty(check, "contract_side")});
  }
  for (const json& band : document["s3_health"]) {
    model.health.push_back(
        {band["start_ms"].get<std::int64_t>(), band["end_ms"].get<std::int64_t>(),
         parse_state(band["state"].get<std::string>()), text_or_empty(band, "note")});
  }
  if (const auto it = document.find("faults"); it != document.end() && it->is_array()) {
    for (const json& fault : *it) {
      model.faults.push_back({fault["start_ms"].get<std::int64_t>(), time_or_none(fault, "end_ms"),
                              fault["kind"].get<std::string>(),
                              text_or_empty(fault, "description")});
    }
  }
  if (const auto it = document.find("uploader_crashes"); it != document.end() && it->is_array()) {
    for (const json& crash : *it) {
      model.crashes.push_back({crash["at_ms"].get<std::int64_t>(),
                               time_or_none(crash, "restart_ms"), text_or_empty(crash, "cause")});
    }
  }
  const json& photos = document["photos"];
  model.photos.reserve(photos.size());
  for (const json& photo : photos) {
    PhotoTimes times;
    times.size_bytes = photo["size_bytes"].get<std::uint64_t>();
    times.received_ms = photo["received_ms"].get<std::int64_t>();
    times.acked_ms = time_or_none(photo, "acked_ms");
    times.evicted_ms = time_or_none(photo, "evicted_ms");
    model.photos.push_back(times);
    const std::string outcome = photo["outcome"].get<std::string>();
    PhotoCounts& counts = model.counts;
    ++counts.received;
    if (times.acked_ms) ++counts.acknowledged;
    if (time_or_none(photo, "rejected_ms") || outcome == "rejected") ++counts.rejected;
    if (time_or_none(photo, "put_ok_ms")) ++counts.uploaded;
    if (time_or_none(photo, "verified_ms")) ++counts.verified;
    if (outcome == "cached") ++counts.cached_at_end;
    if (outcome == "lost") {
      ++counts.lost;
      model.lost.push_back({photo["id"].get<std::string>(), text_or_empty(photo, "key"),
                            times.size_bytes, times.received_ms, times.acked_ms,
                            time_or_none(photo, "put_ok_ms"), time_or_none(photo, "verified_ms"),
                            times.evicted_ms, photo["lost_ms"].get<std::int64_t>(),
                            text_or_empty(photo, "loss_side"),
                            text_or_empty(photo, "loss_reason")});
    }
  }
  std::sort(model.lost.begin(), model.lost.end(), [](const LostPhoto& a, const LostPhoto& b) {
    const std::int64_t a_put_ms = a.put_ok_ms.value_or(a.received_ms);
    const std::int64_t b_put_ms = b.put_ok_ms.value_or(b.received_ms);
    return std::tie(a_put_ms, a.received_ms, a.id) < std::tie(b_put_ms, b.received_ms, b.id);
  });
  if (const auto it = document.find("cache_samples"); it != document.end() && it->is_array()) {
    for (const json& sample : *it) {
      model.cache_samples.push_back(
          {sample["t_ms"].get<std::int64_t>(), sample["bytes"].get<std::uint64_t>()});
    }
  }
  if (const auto it = document.find("counterexample"); it != document.end() && it->is_object()) {
    Counterexample counterexample;
    if (const auto count = it->find("shrunk_from_rule_count");
        count != it->end() && !count->is_null()) {
      counterexample.shrunk_from_rule_count = count->get<std::uint64_t>();
    }
    for (const json& rule : (*it)["fault_plan"]) counterexample.fault_plan.push_back(rule);
    for (const json& step : (*it)["steps"]) {
      counterexample.steps.push_back({time_or_none(step, "at_ms"), text_or_empty(step, "photo_id"),
                                      step["text"].get<std::string>()});
    }
    counterexample.replay_command = text_or_empty(*it, "replay_command");
    model.counterexample = std::move(counterexample);
  }
  return model;
}

}  // namespace s3chaos::reports::detail
