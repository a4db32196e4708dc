#include "harness/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "uploader/policy.hpp"

namespace s3chaos::harness {
namespace {

// Limits on what a scenario may ask for, so a typo cannot ask for a year of 1e9 photos.
constexpr double duration_seconds_max = 30.0 * 24 * 3600;
constexpr double arrival_rate_per_second_max = 10'000;
constexpr std::uint64_t photos_max_limit = 10'000'000;
constexpr std::uint64_t photo_bytes_limit = 5ull << 30;
constexpr std::size_t uploader_faults_max = 10'000;

const char* type_name(const nlohmann::json& value) {
  return value.type_name();
}

// Reads one JSON object of a scenario, field by field, with errors at each field's position.
// Every key must be read (or explicitly allowed) by the time finish() runs: the rest are
// unknown fields, which are errors.
class ObjectReader {
 public:
  ObjectReader(const JsonSource& source, std::string pointer)
      : source_(source), pointer_(std::move(pointer)) {
    const nlohmann::json& value = at_pointer(pointer_);
    if (!value.is_object()) {
      throw source_.error_at(pointer_, "expected an object, got " + std::string(type_name(value)));
    }
    object_ = &value;
  }

  bool has(const std::string& key) const { return object_->contains(key); }
  std::string pointer_of(const std::string& key) const {
    return pointer_ + "/" + json_pointer_token(key);
  }
  const nlohmann::json* find(const std::string& key) {
    seen_.insert(key);
    auto it = object_->find(key);
    return it == object_->end() ? nullptr : &*it;
  }

  const nlohmann::json& required(const std::string& key) {
    const nlohmann::json* value = find(key);
    if (value == nullptr)
      throw source_.error_at(pointer_, "missing required field \"" + key + "\"");
    return *value;
  }

  std::string string(const std::string& key, std::optional<std::string> fallback = {}) {
    const nlohmann::json* value = fallback ? find(key) : &required(key);
    if (value == nullptr) return *fallback;
    if (!value->is_string()) throw expected(key, "a string", *value);
    return value->get<std::string>();
  }

  double number(const std::string& key, std::optional<double> fallback, double low, double high) {
    const nlohmann::json* value = fallback ? find(key) : &required(key);
    if (value == nullptr) return *fallback;
    if (!value->is_number()) throw expected(key, "a number", *value);
    const double number = value->get<double>();
    if (!(number >= low && number <= high)) {
      throw source_.error_at(pointer_of(key), "expected a number in [" + format(low) + ", " +
                                                  format(high) + "], got " + value->dump());
    }
    return number;
  }

  std::uint64_t unsigned_integer(const std::string& key, std::optional<std::uint64_t> fallback,
                                 std::uint64_t low, std::uint64_t high) {
    const nlohmann::json* value = fallback ? find(key) : &required(key);
    if (value == nullptr) return *fallback;
    if (!value->is_number_unsigned() &&
        !(value->is_number_integer() && value->get<std::int64_t>() >= 0)) {
      throw expected(key, "a non-negative integer", *value);
    }
    const auto number = value->get<std::uint64_t>();
    if (number < low || number > high) {
      throw source_.error_at(pointer_of(key), "expected an integer in [" + std::to_string(low) +
                                                  ", " + std::to_string(high) + "], got " +
                                                  value->dump());
    }
    return number;
  }

  // A duration given in seconds (fractions allowed), returned in nanoseconds.
  sim::TimeNs seconds(const std::string& key, std::optional<double> fallback, double low,
                      double high) {
    return static_cast<sim::TimeNs>(std::llround(number(key, fallback, low, high) * 1e9));
  }

  // Fails on any key that no reader asked for.
  void finish() const {
    for (auto it = object_->begin(); it != object_->end(); ++it) {
      if (!seen_.contains(it.key())) {
        std::string known;
        for (const std::string& key : seen_) known += (known.empty() ? "" : ", ") + key;
        throw source_.error_at(pointer_of(it.key()), "unknown field \"" + it.key() +
                                                         "\" (expected one of: " + known + ")");
      }
    }
  }

  InputError expected(const std::string& key, const std::string& what,
                      const nlohmann::json& value) const {
    return source_.error_at(pointer_of(key),
                            "expected " + what + ", got " + std::string(type_name(value)));
  }

  const JsonSource& source() const { return source_; }

 private:
  static std::string format(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
  }
  const nlohmann::json& at_pointer(const std::string& pointer) const {
    return source_.root().at(nlohmann::json::json_pointer(pointer));
  }

  const JsonSource& source_;
  std::string pointer_;
  const nlohmann::json* object_ = nullptr;
  std::set<std::string> seen_;
};

void read_workload(const JsonSource& source, Scenario& scenario) {
  ObjectReader reader(source, "/workload");
  Workload& workload = scenario.workload;
  const nlohmann::json& rates = reader.required("arrivals");
  if (!rates.is_array() || rates.empty()) {
    throw reader.expected("arrivals", "a non-empty array of {from_s, rate_per_s}", rates);
  }
  for (std::size_t i = 0; i < rates.size(); ++i) {
    ObjectReader piece(source, "/workload/arrivals/" + std::to_string(i));
    ArrivalRate rate;
    rate.from_ns = piece.seconds("from_s", std::nullopt, 0, duration_seconds_max);
    rate.rate_per_second = piece.number("rate_per_s", std::nullopt, 0, arrival_rate_per_second_max);
    piece.finish();
    if (i == 0 && rate.from_ns != 0) {
      throw source.error_at("/workload/arrivals/0/from_s", "the first piece must start at 0");
    }
    if (i > 0 && rate.from_ns <= workload.arrival_rates.back().from_ns) {
      throw source.error_at("/workload/arrivals/" + std::to_string(i) + "/from_s",
                            "pieces must be in increasing from_s order");
    }
    workload.arrival_rates.push_back(rate);
  }
  if (reader.has("photo_bytes")) {
    reader.find("photo_bytes");
    ObjectReader sizes(source, "/workload/photo_bytes");
    workload.photo_bytes_min = sizes.unsigned_integer("min", std::nullopt, 1, photo_bytes_limit);
    workload.photo_bytes_max =
        sizes.unsigned_integer("max", std::nullopt, workload.photo_bytes_min, photo_bytes_limit);
    sizes.finish();
  }
  workload.byte_scale = reader.unsigned_integer("byte_scale", 1, 1, 1u << 20);
  workload.phones = reader.unsigned_integer("phones", 100, 1, 1'000'000);
  workload.photos_max = reader.unsigned_integer("photos_max", 100'000, 1, photos_max_limit);
  reader.finish();
}

void read_network(const JsonSource& source, Scenario& scenario) {
  if (!source.root().contains("network")) return;
  ObjectReader reader(source, "/network");
  NetworkConfig& network = scenario.network;
  network.latency_ns_min =
      static_cast<sim::TimeNs>(reader.number("latency_ms_min", 10, 0, 60'000) * 1e6);
  network.latency_ns_median =
      static_cast<sim::TimeNs>(reader.number("latency_ms_median", 40, 0, 60'000) * 1e6);
  network.latency_ns_max =
      static_cast<sim::TimeNs>(reader.number("latency_ms_max", 2000, 0, 600'000) * 1e6);
  network.bandwidth_bytes_per_second =
      reader.unsigned_integer("bandwidth_bytes_per_s", 20'000'000, 1000, 1ull << 40);
  reader.finish();
  if (!(network.latency_ns_min <= network.latency_ns_median &&
        network.latency_ns_median <= network.latency_ns_max)) {
    throw source.error_at("/network",
                          "expected latency_ms_min <= latency_ms_median <= latency_ms_max");
  }
}

// Turns "rules[2].effect.lag_ms: message" from the fault plan parser into a position: the
// path before ": " becomes the JSON pointer /<field>/rules/2/effect/lag_ms.
InputError fault_plan_error(const JsonSource& source, const std::string& what,
                            const std::string& field) {
  const auto colon = what.find(": ");
  const std::string path = colon == std::string::npos ? std::string() : what.substr(0, colon);
  const bool is_path = (path.starts_with("rules") || path.starts_with("events")) &&
                       path.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789.[]") ==
                           std::string::npos;
  if (!is_path) return source.error_at("/" + field, "fault plan: " + what);
  std::string pointer = "/" + field;
  std::string token;
  for (char c : path) {
    if (c == '.' || c == '[') {
      if (!token.empty()) pointer += "/" + token;
      token.clear();
    } else if (c != ']') {
      token.push_back(c);
    }
  }
  if (!token.empty()) pointer += "/" + token;
  return source.error_at(pointer, "fault plan: " + what);
}

// "2008-07-20T08:00:00-07:00" or "...Z": a date, a time and an offset from UTC.
bool is_clock_origin(const std::string& text) {
  const std::string shape = "dddd-dd-ddTdd:dd:dd";
  const std::string zone_shape = "+dd:dd";
  if (text.size() == shape.size() + 1 && text.back() != 'Z') return false;
  if (text.size() != shape.size() + 1 && text.size() != shape.size() + zone_shape.size())
    return false;
  const std::string full = text.size() == shape.size() + 1 ? shape + "Z" : shape + zone_shape;
  for (std::size_t i = 0; i < full.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (full[i] == 'd') {
      if (!digit) return false;
    } else if (full[i] == '+') {
      if (text[i] != '+' && text[i] != '-') return false;
    } else if (text[i] != full[i]) {
      return false;
    }
  }
  return true;
}

void read_uploader_faults(const JsonSource& source, Scenario& scenario) {
  if (!source.root().contains("uploader_faults")) return;
  const nlohmann::json& faults = source.root()["uploader_faults"];
  if (!faults.is_array()) {
    throw source.error_at("/uploader_faults", "expected an array of uploader faults");
  }
  if (faults.size() > uploader_faults_max) {
    throw source.error_at("/uploader_faults",
                          "more than " + std::to_string(uploader_faults_max) + " faults");
  }
  for (std::size_t i = 0; i < faults.size(); ++i) {
    const std::string pointer = "/uploader_faults/" + std::to_string(i);
    ObjectReader reader(source, pointer);
    UploaderFault fault;
    const std::string type = reader.string("type");
    fault.at_ns = reader.seconds("at_s", std::nullopt, 0, duration_seconds_max);
    if (type == "crash") {
      fault.type = UploaderFaultType::crash;
      fault.restart_after_ns = reader.seconds("restart_after_s", 1.0, 0, duration_seconds_max);
      fault.at_disk_call = reader.unsigned_integer("at_disk_call", 0, 0, crash_disk_call_max);
      fault.until_ns = fault.at_ns + fault.restart_after_ns;
    } else if (type == "disk_full" || type == "fsync_error") {
      fault.type =
          type == "disk_full" ? UploaderFaultType::disk_full : UploaderFaultType::fsync_error;
      fault.until_ns = reader.seconds("until_s", std::nullopt, 0, duration_seconds_max);
      fault.probability = reader.number("probability", 1.0, 0, 1);
      if (fault.until_ns <= fault.at_ns) {
        throw source.error_at(pointer + "/until_s", "expected until_s after at_s");
      }
    } else {
      throw source.error_at(
          pointer + "/type",
          "expected \"crash\", \"disk_full\" or \"fsync_error\", got \"" + type + "\"");
    }
    reader.finish();
    scenario.uploader_faults.push_back(fault);
  }
  std::stable_sort(
      scenario.uploader_faults.begin(), scenario.uploader_faults.end(),
      [](const UploaderFault& a, const UploaderFault& b) { return a.at_ns < b.at_ns; });
}

void read_uploader(const JsonSource& source, Scenario& scenario) {
  if (!source.root().contains("uploader")) return;
  ObjectReader reader(source, "/uploader");
  UploaderConfig& config = scenario.uploader;
  config.policy = reader.string("policy", std::string("protected"));
  if (!uploader::policy_by_name(config.policy)) {
    std::string names;
    for (std::string_view name : uploader::policy_names())
      names += (names.empty() ? "" : ", ") + std::string(name);
    throw source.error_at("/uploader/policy", "unknown policy \"" + config.policy +
                                                  "\" (expected one of: " + names + ")");
  }
  config.settle_time_ns = reader.seconds("settle_time_s", 600, 0, duration_seconds_max);
  config.request_timeout_ns = reader.seconds("request_timeout_s", 30, 0.001, 3600);
  config.backoff_max_ns = reader.seconds("backoff_max_s", 30, 0.001, 3600);
  config.requests_in_flight_max = reader.unsigned_integer("requests_in_flight_max", 4, 1, 1024);
  config.cache_bytes_max = reader.unsigned_integer("cache_bytes_max", 8ull << 30, 1, 1ull << 50);
  config.targets = reader.unsigned_integer("targets", 1, 1, 2);
  config.targets_required =
      reader.unsigned_integer("targets_required", config.targets, 1, config.targets);
  const std::string verify = reader.string("verify", std::string("head"));
  if (verify == "head") {
    config.verify_method = uploader::VerifyMethod::head;
  } else if (verify == "get") {
    config.verify_method = uploader::VerifyMethod::get;
  } else {
    throw source.error_at("/uploader/verify",
                          "expected \"head\" or \"get\", got \"" + verify + "\"");
  }
  reader.finish();
}

void read_expectations(const JsonSource& source, Scenario& scenario) {
  if (!source.root().contains("expect")) return;
  ObjectReader reader(source, "/expect");
  for (std::string_view name : uploader::policy_names()) {
    const std::string key(name);
    if (!reader.has(key)) continue;
    const std::string value = reader.string(key);
    if (value == "holds") {
      scenario.expectations[key] = Expectation::holds;
    } else if (value == "violated") {
      scenario.expectations[key] = Expectation::violated;
    } else {
      throw source.error_at(reader.pointer_of(key),
                            "expected \"holds\" or \"violated\", got \"" + value + "\"");
    }
  }
  reader.finish();
}

// Reads the optional fault plan `field` ("s3_faults", "s3_faults_vendor_2"); absent is the
// empty plan (an honest store).
void read_fault_plan(const JsonSource& source, ObjectReader& reader, const std::string& field,
                     std::string& json_text, fake_s3::FaultPlan& plan) {
  if (const nlohmann::json* value = reader.find(field)) {
    json_text = value->dump();
    try {
      plan = fake_s3::parse_fault_plan(json_text);
    } catch (const fake_s3::FaultPlanError& error) {
      throw fault_plan_error(source, error.what(), field);
    }
  } else {
    json_text = R"({"rules": [], "events": []})";
  }
}

}  // namespace

Scenario scenario_from_source(const JsonSource& source) {
  ObjectReader reader(source, "");
  Scenario scenario;
  scenario.path = source.file();
  scenario.document = source.root();
  scenario.name = reader.string("name");
  scenario.description = reader.string("description", std::string());
  if (const nlohmann::json* sources = reader.find("sources")) {
    if (!sources->is_array()) throw reader.expected("sources", "an array of strings", *sources);
    for (std::size_t i = 0; i < sources->size(); ++i) {
      if (!(*sources)[i].is_string()) {
        throw source.error_at("/sources/" + std::to_string(i), "expected a string");
      }
      scenario.sources.push_back((*sources)[i].get<std::string>());
    }
  }
  if (const nlohmann::json* origin = reader.find("clock_origin")) {
    if (!origin->is_string() || !is_clock_origin(origin->get<std::string>())) {
      throw source.error_at("/clock_origin", "expected a time like \"2008-07-20T08:00:00-07:00\"");
    }
    scenario.clock_origin = origin->get<std::string>();
  }
  scenario.seed = reader.unsigned_integer("seed", 1, 0, UINT64_MAX);
  scenario.duration_ns = reader.seconds("duration_s", std::nullopt, 1, duration_seconds_max);
  scenario.drain_ns = reader.seconds("drain_s", 3600, 0, duration_seconds_max);
  scenario.drain_deadline_ns =
      reader.seconds("drain_deadline_s", scenario.drain_ns / 1e9, 0, duration_seconds_max);
  reader.find("workload");
  read_workload(source, scenario);
  reader.find("network");
  read_network(source, scenario);
  read_fault_plan(source, reader, "s3_faults", scenario.fault_plan_json, scenario.fault_plan);
  read_fault_plan(source, reader, "s3_faults_vendor_2", scenario.fault_plan_vendor_2_json,
                  scenario.fault_plan_vendor_2);
  reader.find("uploader_faults");
  read_uploader_faults(source, scenario);
  reader.find("uploader");
  read_uploader(source, scenario);
  reader.find("expect");
  read_expectations(source, scenario);
  reader.finish();
  if (reader.has("s3_faults_vendor_2") && scenario.uploader.targets < 2) {
    throw source.error_at("/s3_faults_vendor_2",
                          "a second vendor's fault plan needs \"uploader\": {\"targets\": 2}");
  }
  if (scenario.drain_deadline_ns > scenario.drain_ns) {
    throw source.error_at("/drain_deadline_s", "expected at most drain_s");
  }
  // Faults happen within [0, duration): the drain period that follows is fault-free, so a rule
  // without an end (or ending later) stops at the end of the scenario's duration.
  for (auto [plan, field] : {std::pair{&scenario.fault_plan, "/s3_faults"},
                             std::pair{&scenario.fault_plan_vendor_2, "/s3_faults_vendor_2"}}) {
    for (fake_s3::FaultRule& rule : plan->rules) {
      if (!rule.window.end_ns || *rule.window.end_ns > scenario.duration_ns) {
        rule.window.end_ns = scenario.duration_ns;
      }
    }
    for (const fake_s3::FaultEvent& event : plan->events) {
      if (event.at_ns >= scenario.duration_ns) {
        throw source.error_at(std::string(field) + "/events",
                              "every S3 event must happen within duration_s");
      }
    }
  }
  for (const UploaderFault& fault : scenario.uploader_faults) {
    if (fault.until_ns > scenario.duration_ns) {
      throw source.error_at("/uploader_faults", "every uploader fault must end within duration_s");
    }
  }
  return scenario;
}

Scenario load_scenario(const std::string& path) {
  return scenario_from_source(JsonSource::load(path));
}

const fake_s3::FaultPlan& vendor_fault_plan(const Scenario& scenario, std::size_t vendor) {
  return vendor == 0 ? scenario.fault_plan : scenario.fault_plan_vendor_2;
}

sim::TimeNs last_fault_end_ns(const Scenario& scenario) {
  sim::TimeNs end = 0;
  for (const fake_s3::FaultPlan* plan : {&scenario.fault_plan, &scenario.fault_plan_vendor_2}) {
    for (const fake_s3::FaultRule& rule : plan->rules) {
      end = std::max(end, rule.window.end_ns.value_or(scenario.duration_ns));
    }
    for (const fake_s3::FaultEvent& event : plan->events) {
      end = std::max(end, event.at_ns + event.down_ns);
    }
  }
  for (const UploaderFault& fault : scenario.uploader_faults) end = std::max(end, fault.until_ns);
  return std::min(end, scenario.duration_ns);
}

}  // namespace s3chaos::harness
