// Validation of run results and sweeps (docs/run_result.md). Every rule the renderer relies on
// is checked here, so the renderer can read the document without further checks.
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "format.hpp"
#include "reports/report.hpp"

namespace s3chaos::reports {
namespace {

using nlohmann::json;

constexpr std::size_t described_string_chars_max = 40;

// A JSON pointer token: "~" and "/" are escaped as RFC 6901 says.
std::string pointer_token(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// What a value is, for "expected X, got Y": short, printable, never the whole document.
std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string: {
      std::string text = value.get<std::string>();
      const bool cut = text.size() > described_string_chars_max;
      if (cut) text.resize(described_string_chars_max);
      const std::string quoted = json(text).dump(-1, ' ', true, json::error_handler_t::replace);
      return "the string " + (cut ? quoted.substr(0, quoted.size() - 1) + "...\"" : quoted);
    }
    default:
      return value.dump(-1, ' ', true, json::error_handler_t::replace);
  }
}

class Checker {
 public:
  bool full() const { return errors_.size() >= schema_errors_max; }

  void error(const std::string& pointer, std::string message) {
    if (full()) return;
    errors_.push_back({pointer.empty() ? "/" : pointer, std::move(message)});
  }

  std::vector<SchemaError> take() { return std::move(errors_); }

  // Reports fields not in allowed and missing fields of required. Returns false when value is
  // not an object (and says so).
  bool object(const json& value, const std::string& pointer,
              std::initializer_list<std::string_view> allowed,
              std::initializer_list<std::string_view> required) {
    if (!value.is_object()) {
      error(pointer, "expected an object, got " + describe(value));
      return false;
    }
    for (const auto& [name, field] : value.items()) {
      bool known = false;
      for (const auto candidate : allowed) known = known || candidate == name;
      if (!known) {
        std::string expected;
        for (const auto candidate : allowed) {
          expected += (expected.empty() ? "" : ", ") + std::string(candidate);
        }
        error(pointer + "/" + pointer_token(name), "unknown field; expected one of " + expected);
      }
    }
    for (const auto name : required) {
      const auto it = value.find(name);
      if (it == value.end()) {
        error(pointer + "/" + std::string(name), "missing required field");
      } else if (it->is_null()) {
        error(pointer + "/" + std::string(name), "required field is null");
      }
    }
    return true;
  }

  // A field that may be absent or null: returns nullptr then.
  static const json* optional_field(const json& object, std::string_view name) {
    const auto it = object.find(name);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<std::string> string(const json& object, std::string_view name,
                                    const std::string& pointer, bool non_empty = true) {
    const json* value = optional_field(object, name);
    const std::string here = pointer + "/" + std::string(name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
      error(here, "expected a string, got " + describe(*value));
      return std::nullopt;
    }
    if (non_empty && value->get_ref<const std::string&>().empty()) {
      error(here, "expected a non-empty string");
      return std::nullopt;
    }
    return value->get<std::string>();
  }

  std::optional<bool> boolean(const json& object, std::string_view name,
                              const std::string& pointer) {
    const json* value = optional_field(object, name);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) {
      error(pointer + "/" + std::string(name), "expected true or false, got " + describe(*value));
      return std::nullopt;
    }
    return value->get<bool>();
  }

  // A non-negative integer no larger than max.
  std::optional<std::uint64_t> unsigned_integer(const json& object, std::string_view name,
                                                const std::string& pointer, std::uint64_t max,
                                                std::string_view what = "an integer") {
    const json* value = optional_field(object, name);
    if (value == nullptr) return std::nullopt;
    const std::string here = pointer + "/" + std::string(name);
    const std::string range = " in [0, " + std::to_string(max) + "]";
    if (value->is_number_unsigned()) {
      const auto number = value->get<std::uint64_t>();
      if (number <= max) return number;
    } else if (value->is_number_integer()) {
      const auto number = value->get<std::int64_t>();
      if (number >= 0 && static_cast<std::uint64_t>(number) <= max) {
        return static_cast<std::uint64_t>(number);
      }
    }
    error(here, "expected " + std::string(what) + range + ", got " + describe(*value));
    return std::nullopt;
  }

  // A simulated time in [0, duration_ms].
  std::optional<std::int64_t> time(const json& object, std::string_view name,
                                   const std::string& pointer, std::int64_t duration_ms) {
    const json* value = optional_field(object, name);
    if (value == nullptr) return std::nullopt;
    const auto number =
        unsigned_integer(object, name, pointer, static_cast<std::uint64_t>(duration_ms),
                         "an integer number of milliseconds");
    if (!number) return std::nullopt;
    return static_cast<std::int64_t>(*number);
  }

  // A string that must be one of choices.
  std::optional<std::string> choice(const json& object, std::string_view name,
                                    const std::string& pointer,
                                    std::initializer_list<std::string_view> choices) {
    const json* value = optional_field(object, name);
    if (value == nullptr) return std::nullopt;
    std::string expected;
    for (const auto candidate : choices) {
      expected += (expected.empty() ? "\"" : ", \"") + std::string(candidate) + "\"";
    }
    if (value->is_string()) {
      for (const auto candidate : choices) {
        if (value->get_ref<const std::string&>() == candidate) return std::string(candidate);
      }
    }
    error(pointer + "/" + std::string(name),
          "expected one of " + expected + ", got " + describe(*value));
    return std::nullopt;
  }

  // An array field: returns nullptr (after an error unless absent and optional) otherwise.
  const json* array(const json& object, std::string_view name, const std::string& pointer,
                    std::size_t max) {
    const json* value = optional_field(object, name);
    const std::string here = pointer + "/" + std::string(name);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) {
      error(here, "expected an array, got " + describe(*value));
      return nullptr;
    }
    if (value->size() > max) {
      error(here, "has " + std::to_string(value->size()) + " entries, at most " +
                      std::to_string(max) + " are allowed");
      return nullptr;
    }
    return value;
  }

  void format_header(const json& document, std::string_view format) {
    const auto name = string(document, "format", "", true);
    if (name && *name != format) {
      error("/format",
            "expected \"" + std::string(format) + "\", got " + describe(document["format"]));
    }
    const auto version = unsigned_integer(document, "format_version", "", 1000);
    if (version && *version != 1) {
      error("/format_version",
            "expected 1 (the version this generator reads), got " + std::to_string(*version));
    }
  }

 private:
  std::vector<SchemaError> errors_;
};

constexpr std::size_t checks_max = 1000;
constexpr std::size_t events_max = 1'000'000;
constexpr std::size_t counterexample_entries_max = 10'000;
constexpr std::size_t sweep_runs_max = 10'000'000;
constexpr std::size_t policies_max = 100;

void check_checks(Checker& checker, const json& document, std::optional<std::string> verdict) {
  const json* checks = checker.array(document, "checks", "", checks_max);
  if (checks == nullptr) return;
  if (checks->empty()) {
    checker.error("/checks", "expected a non-empty array of checks");
    return;
  }
  bool all_hold = true;
  bool all_known = true;
  for (std::size_t i = 0; i < checks->size() && !checker.full(); ++i) {
    const std::string here = "/checks/" + std::to_string(i);
    const json& check = (*checks)[i];
    if (!checker.object(check, here, {"name", "holds", "detail", "contract_side"},
                        {"name", "holds"})) {
      all_known = false;
      continue;
    }
    checker.string(check, "name", here);
    checker.string(check, "detail", here, false);
    checker.choice(check, "contract_side", here, {"uploader", "store"});
    const auto holds = checker.boolean(check, "holds", here);
    if (!holds) {
      all_known = false;
    } else {
      all_hold = all_hold && *holds;
    }
  }
  if (verdict && all_known) {
    if (*verdict == "holds" && !all_hold) {
      checker.error("/verdict", "\"holds\" but a check is violated");
    } else if (*verdict == "violated" && all_hold) {
      checker.error("/verdict", "\"violated\" but every check holds");
    }
  }
}

void check_health(Checker& checker, const json& document, std::int64_t duration_ms) {
  const json* bands = checker.array(document, "s3_health", "", health_bands_max);
  if (bands == nullptr) return;
  std::int64_t previous_end_ms = 0;
  for (std::size_t i = 0; i < bands->size() && !checker.full(); ++i) {
    const std::string here = "/s3_health/" + std::to_string(i);
    const json& band = (*bands)[i];
    if (!checker.object(band, here, {"start_ms", "end_ms", "state", "note"},
                        {"start_ms", "end_ms", "state"})) {
      continue;
    }
    checker.choice(band, "state", here, {"up", "brownout", "outage", "life_death_window", "dead"});
    checker.string(band, "note", here, false);
    const auto start_ms = checker.time(band, "start_ms", here, duration_ms);
    const auto end_ms = checker.time(band, "end_ms", here, duration_ms);
    if (start_ms && end_ms) {
      if (*start_ms >= *end_ms) {
        checker.error(here, "start_ms (" + std::to_string(*start_ms) + ") must be before end_ms (" +
                                std::to_string(*end_ms) + ")");
      } else if (*start_ms < previous_end_ms) {
        checker.error(here + "/start_ms", "bands must be sorted and not overlap: starts at " +
                                              std::to_string(*start_ms) +
                                              " before the previous band ends at " +
                                              std::to_string(previous_end_ms));
      }
      previous_end_ms = std::max(previous_end_ms, *end_ms);
    }
  }
}

void check_events(Checker& checker, const json& document, std::int64_t duration_ms) {
  if (const json* faults = checker.array(document, "faults", "", events_max)) {
    for (std::size_t i = 0; i < faults->size() && !checker.full(); ++i) {
      const std::string here = "/faults/" + std::to_string(i);
      const json& fault = (*faults)[i];
      if (!checker.object(fault, here, {"start_ms", "end_ms", "kind", "description"},
                          {"start_ms", "kind"})) {
        continue;
      }
      checker.string(fault, "kind", here);
      checker.string(fault, "description", here, false);
      const auto start_ms = checker.time(fault, "start_ms", here, duration_ms);
      const auto end_ms = checker.time(fault, "end_ms", here, duration_ms);
      if (start_ms && end_ms && *end_ms < *start_ms) {
        checker.error(here + "/end_ms", "must not be before start_ms");
      }
    }
  }
  if (const json* crashes = checker.array(document, "uploader_crashes", "", events_max)) {
    for (std::size_t i = 0; i < crashes->size() && !checker.full(); ++i) {
      const std::string here = "/uploader_crashes/" + std::to_string(i);
      const json& crash = (*crashes)[i];
      if (!checker.object(crash, here, {"at_ms", "restart_ms", "cause"}, {"at_ms"})) continue;
      checker.string(crash, "cause", here, false);
      const auto at_ms = checker.time(crash, "at_ms", here, duration_ms);
      const auto restart_ms = checker.time(crash, "restart_ms", here, duration_ms);
      if (at_ms && restart_ms && *restart_ms < *at_ms) {
        checker.error(here + "/restart_ms", "must not be before at_ms");
      }
    }
  }
}

void check_photos(Checker& checker, const json& document, std::int64_t duration_ms) {
  const json* photos = checker.array(document, "photos", "", photos_max);
  if (photos == nullptr) return;
  std::set<std::string, std::less<>> ids;
  for (std::size_t i = 0; i < photos->size() && !checker.full(); ++i) {
    const std::string here = "/photos/" + std::to_string(i);
    const json& photo = (*photos)[i];
    if (!checker.object(
            photo, here,
            {"id", "key", "size_bytes", "received_ms", "acked_ms", "rejected_ms", "put_ok_ms",
             "verified_ms", "evicted_ms", "lost_ms", "outcome", "loss_side", "loss_reason"},
            {"id", "size_bytes", "received_ms", "outcome"})) {
      continue;
    }
    if (const auto id = checker.string(photo, "id", here)) {
      if (!ids.insert(*id).second) {
        checker.error(here + "/id", "duplicate photo id " + describe(photo["id"]));
      }
    }
    checker.string(photo, "key", here);
    checker.string(photo, "loss_reason", here, false);
    checker.unsigned_integer(photo, "size_bytes", here,
                             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    for (const auto name : {"received_ms", "acked_ms", "rejected_ms", "put_ok_ms", "verified_ms",
                            "evicted_ms", "lost_ms"}) {
      checker.time(photo, name, here, duration_ms);
    }
    const auto outcome =
        checker.choice(photo, "outcome", here, {"stored", "cached", "lost", "rejected"});
    checker.choice(photo, "loss_side", here, {"uploader", "store"});
    if (outcome == "lost" && Checker::optional_field(photo, "lost_ms") == nullptr) {
      checker.error(here + "/lost_ms", "a photo with outcome \"lost\" needs lost_ms");
    }
    if (outcome == "lost" && Checker::optional_field(photo, "acked_ms") == nullptr) {
      checker.error(here + "/acked_ms",
                    "a photo with outcome \"lost\" must have been acknowledged (acked_ms)");
    }
  }
}

void check_cache_samples(Checker& checker, const json& document, std::int64_t duration_ms) {
  const json* samples = checker.array(document, "cache_samples", "", events_max);
  if (samples == nullptr) return;
  std::int64_t previous_ms = 0;
  for (std::size_t i = 0; i < samples->size() && !checker.full(); ++i) {
    const std::string here = "/cache_samples/" + std::to_string(i);
    const json& sample = (*samples)[i];
    if (!checker.object(sample, here, {"t_ms", "bytes"}, {"t_ms", "bytes"})) continue;
    checker.unsigned_integer(sample, "bytes", here,
                             static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    if (const auto t_ms = checker.time(sample, "t_ms", here, duration_ms)) {
      if (*t_ms < previous_ms) checker.error(here + "/t_ms", "samples must be sorted by t_ms");
      previous_ms = *t_ms;
    }
  }
}

void check_counterexample(Checker& checker, const json& document, std::int64_t duration_ms) {
  const json* counterexample = Checker::optional_field(document, "counterexample");
  if (counterexample == nullptr) return;
  const std::string here = "/counterexample";
  if (!checker.object(*counterexample, here,
                      {"shrunk_from_rule_count", "fault_plan", "steps", "replay_command"},
                      {"fault_plan", "steps"})) {
    return;
  }
  checker.unsigned_integer(*counterexample, "shrunk_from_rule_count", here,
                           counterexample_entries_max);
  checker.string(*counterexample, "replay_command", here);
  if (const json* plan =
          checker.array(*counterexample, "fault_plan", here, counterexample_entries_max)) {
    for (std::size_t i = 0; i < plan->size() && !checker.full(); ++i) {
      const std::string rule_here = here + "/fault_plan/" + std::to_string(i);
      const json& rule = (*plan)[i];
      if (!rule.is_object()) {
        checker.error(rule_here, "expected a fault rule object, got " + describe(rule));
        continue;
      }
      if (!rule.contains("kind") || rule["kind"].is_null()) {
        checker.error(rule_here + "/kind", "missing required field");
      }
      checker.string(rule, "kind", rule_here);
    }
  }
  if (const json* steps =
          checker.array(*counterexample, "steps", here, counterexample_entries_max)) {
    if (steps->empty()) checker.error(here + "/steps", "expected at least one step");
    for (std::size_t i = 0; i < steps->size() && !checker.full(); ++i) {
      const std::string step_here = here + "/steps/" + std::to_string(i);
      const json& step = (*steps)[i];
      if (!checker.object(step, step_here, {"at_ms", "photo_id", "text"}, {"text"})) continue;
      checker.time(step, "at_ms", step_here, duration_ms);
      checker.string(step, "photo_id", step_here);
      checker.string(step, "text", step_here);
    }
  }
}

// A link target that stays inside the sweep's folder: no scheme (so no javascript: or http:),
// not absolute, not protocol-relative.
bool is_relative_href(std::string_view href) {
  if (href.empty() || href.front() == '/' || href.front() == '\\') return false;
  const std::size_t colon = href.find(':');
  const std::size_t delimiter = href.find_first_of("/?#");
  return colon == std::string_view::npos ||
         (delimiter != std::string_view::npos && delimiter < colon);
}

}  // namespace

std::string format_schema_errors(const std::vector<SchemaError>& errors) {
  std::string out;
  for (const auto& error : errors) out += error.pointer + ": " + error.message + "\n";
  return out;
}

InvalidInput::InvalidInput(std::vector<SchemaError> errors)
    : std::runtime_error(format_schema_errors(errors)), errors_(std::move(errors)) {}

std::vector<SchemaError> validate_run_result(const json& document) {
  Checker checker;
  if (!checker.object(
          document, "",
          {"format", "format_version", "scenario", "seed", "policy", "trace_hash", "replay_command",
           "duration_ms", "clock_origin", "verdict", "checks", "s3_health", "faults",
           "uploader_crashes", "photos", "cache_samples", "counterexample"},
          {"format", "format_version", "scenario", "seed", "policy", "trace_hash", "replay_command",
           "duration_ms", "verdict", "checks", "s3_health", "photos"})) {
    return checker.take();
  }
  checker.format_header(document, "s3chaos.run_result");
  if (const json* scenario = Checker::optional_field(document, "scenario")) {
    if (checker.object(*scenario, "/scenario", {"name", "path", "document"},
                       {"name", "document"})) {
      checker.string(*scenario, "name", "/scenario");
      checker.string(*scenario, "path", "/scenario");
      const json* embedded = Checker::optional_field(*scenario, "document");
      if (embedded != nullptr && !embedded->is_object()) {
        checker.error("/scenario/document",
                      "expected the scenario as an object, got " + describe(*embedded));
      }
    }
  }
  checker.unsigned_integer(document, "seed", "", std::numeric_limits<std::uint64_t>::max());
  checker.string(document, "policy", "");
  checker.string(document, "trace_hash", "");
  checker.string(document, "replay_command", "");
  // Later times are checked against the duration; a broken duration falls back to the limit so
  // one mistake does not hide the others.
  std::int64_t duration_ms = duration_ms_max;
  if (const auto duration = checker.unsigned_integer(document, "duration_ms", "",
                                                     static_cast<std::uint64_t>(duration_ms_max))) {
    if (*duration == 0) {
      checker.error("/duration_ms", "expected a positive duration, got 0");
    } else {
      duration_ms = static_cast<std::int64_t>(*duration);
    }
  }
  if (const auto origin = checker.string(document, "clock_origin", "")) {
    if (!detail::parse_clock_origin(*origin)) {
      checker.error("/clock_origin",
                    "expected YYYY-MM-DDTHH:MM:SS followed by Z or +HH:MM or "
                    "-HH:MM, got " +
                        describe(document["clock_origin"]));
    }
  }
  const auto verdict = checker.choice(document, "verdict", "", {"holds", "violated"});
  check_checks(checker, document, verdict);
  check_health(checker, document, duration_ms);
  check_events(checker, document, duration_ms);
  check_photos(checker, document, duration_ms);
  check_cache_samples(checker, document, duration_ms);
  check_counterexample(checker, document, duration_ms);
  return checker.take();
}

std::vector<SchemaError> validate_sweep(const json& document) {
  Checker checker;
  if (!checker.object(
          document, "",
          {"format", "format_version", "kind", "scenario", "policies", "command", "note", "runs"},
          {"format", "format_version", "kind", "scenario", "policies", "runs"})) {
    return checker.take();
  }
  checker.format_header(document, "s3chaos.sweep");
  const auto kind = checker.choice(document, "kind", "", {"explore", "compare"});
  if (const json* scenario = Checker::optional_field(document, "scenario")) {
    if (checker.object(*scenario, "/scenario", {"name", "path"}, {"name"})) {
      checker.string(*scenario, "name", "/scenario");
      checker.string(*scenario, "path", "/scenario");
    }
  }
  checker.string(document, "command", "");
  checker.string(document, "note", "", false);
  std::set<std::string, std::less<>> policies;
  if (const json* list = checker.array(document, "policies", "", policies_max)) {
    if (list->empty()) checker.error("/policies", "expected at least one policy");
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& policy = (*list)[i];
      const std::string here = "/policies/" + std::to_string(i);
      if (!policy.is_string() || policy.get_ref<const std::string&>().empty()) {
        checker.error(here, "expected a non-empty string, got " + describe(policy));
      } else if (!policies.insert(policy.get<std::string>()).second) {
        checker.error(here, "duplicate policy " + describe(policy));
      }
    }
  }
  const json* runs = checker.array(document, "runs", "", sweep_runs_max);
  if (runs == nullptr) return checker.take();
  std::set<std::pair<std::uint64_t, std::string>> seen;
  for (std::size_t i = 0; i < runs->size() && !checker.full(); ++i) {
    const std::string here = "/runs/" + std::to_string(i);
    const json& run = (*runs)[i];
    if (!checker.object(run, here,
                        {"seed", "policy", "verdict", "photos_lost_count", "drain_time_ms",
                         "cache_peak_bytes", "trace_hash", "report_href", "replay_command"},
                        {"seed", "policy", "verdict", "photos_lost_count", "cache_peak_bytes"})) {
      continue;
    }
    const auto seed =
        checker.unsigned_integer(run, "seed", here, std::numeric_limits<std::uint64_t>::max());
    const auto policy = checker.string(run, "policy", here);
    if (policy && !policies.empty() && !policies.contains(*policy)) {
      checker.error(here + "/policy", describe(run["policy"]) + " is not listed in /policies");
    }
    if (kind == "compare" && seed && policy && !seen.emplace(*seed, *policy).second) {
      checker.error(here, "seed " + std::to_string(*seed) + " appears twice for policy " +
                              describe(run["policy"]));
    }
    checker.choice(run, "verdict", here, {"holds", "violated"});
    const auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    checker.unsigned_integer(run, "photos_lost_count", here, int64_max);
    checker.unsigned_integer(run, "drain_time_ms", here, int64_max);
    checker.unsigned_integer(run, "cache_peak_bytes", here, int64_max);
    checker.string(run, "trace_hash", here);
    checker.string(run, "replay_command", here);
    if (const auto href = checker.string(run, "report_href", here)) {
      if (!is_relative_href(*href)) {
        checker.error(here + "/report_href",
                      "expected a relative path (no scheme, not starting with /), got " +
                          describe(run["report_href"]));
      }
    }
  }
  return checker.take();
}

}  // namespace s3chaos::reports
