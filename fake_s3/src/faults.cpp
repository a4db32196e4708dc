// The fault injector: see faults.hpp and docs/fault_plan.md.
#include "fake_s3/faults.hpp"

#include "fake_s3/storage.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "errors.hpp"
#include "sim/assert.hpp"

namespace s3chaos::fake_s3 {

namespace {

using nlohmann::json;

// Added latency is capped so that a heavy-tailed distribution cannot stall a simulation for
// simulated days.
constexpr TimeNs added_latency_ns_max = sim::from_seconds(600);
constexpr std::size_t plan_rules_max = 1000;
constexpr std::size_t plan_events_max = 10000;
constexpr int bit_flips_max = 1024;

struct EffectTypeName {
  EffectType type;
  std::string_view name;
};
constexpr std::array<EffectTypeName, 12> effect_type_names = {{
    {EffectType::refuse, "refuse"},
    {EffectType::hang, "hang"},
    {EffectType::reset, "reset"},
    {EffectType::error, "error"},
    {EffectType::latency, "latency"},
    {EffectType::durability_lag, "durability_lag"},
    {EffectType::lose_response, "lose_response"},
    {EffectType::truncate_write, "truncate_write"},
    {EffectType::lose_part, "lose_part"},
    {EffectType::stale_reads, "stale_reads"},
    {EffectType::corrupt_read, "corrupt_read"},
    {EffectType::clock_skew, "clock_skew"},
}};

std::string_view effect_type_name(EffectType type) {
  for (const auto& entry : effect_type_names) {
    if (entry.type == type) return entry.name;
  }
  return "?";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw FaultPlanError(path + ": " + what);
}

// Reads the fields of one JSON object, remembering which were used so that unknown fields
// can be reported.
class Fields {
 public:
  Fields(const json& object, std::string path) : object_(object), path_(std::move(path)) {
    if (!object_.is_object()) fail(path_, "expected an object");
  }

  bool has(const char* name) const { return object_.contains(name); }

  const json* find(const char* name) {
    used_.insert(name);
    auto it = object_.find(name);
    return it == object_.end() ? nullptr : &*it;
  }

  std::string field_path(const char* name) const { return path_ + "." + name; }

  std::optional<std::string> string(const char* name) {
    const json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_string()) fail(field_path(name), "expected a string");
    return value->get<std::string>();
  }

  // A non-negative duration in milliseconds (integer or fractional), as nanoseconds.
  std::optional<TimeNs> milliseconds(const char* name) {
    const json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) fail(field_path(name), "expected a number of milliseconds");
    const double ms = value->get<double>();
    if (!(ms >= 0) || ms > 1e12) {
      fail(field_path(name), "expected milliseconds in [0, 1e12]");
    }
    return static_cast<TimeNs>(std::llround(ms * 1e6));
  }

  std::optional<std::uint64_t> count(const char* name) {
    const json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number_unsigned()) fail(field_path(name), "expected a non-negative integer");
    return value->get<std::uint64_t>();
  }

  std::optional<double> fraction(const char* name, bool one_allowed) {
    const json* value = find(name);
    if (!value) return std::nullopt;
    if (!value->is_number()) fail(field_path(name), "expected a number");
    const double number = value->get<double>();
    if (!(number >= 0) || number > 1 || (!one_allowed && number >= 1)) {
      fail(field_path(name),
           one_allowed ? "expected a number in [0, 1]" : "expected a number in [0, 1)");
    }
    return number;
  }

  template <class T>
  T required(std::optional<T> value, const char* name) {
    if (!value) fail(field_path(name), "required field is missing");
    return *value;
  }

  // Every field of the object must have been read.
  void finish() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (!used_.count(it.key())) fail(path_ + "." + it.key(), "unknown field");
    }
  }

 private:
  const json& object_;
  std::string path_;
  std::set<std::string> used_;
};

Window parse_window(const json& value, const std::string& path) {
  Fields fields(value, path);
  Window window;
  window.start_ns = fields.milliseconds("start_ms");
  window.end_ns = fields.milliseconds("end_ms");
  window.first_request = fields.count("first_request");
  window.last_request = fields.count("last_request");
  fields.finish();
  if (window.start_ns && window.end_ns && *window.end_ns < *window.start_ns) {
    fail(path + ".end_ms", "must not be before start_ms");
  }
  if (window.first_request && window.last_request && *window.last_request < *window.first_request) {
    fail(path + ".last_request", "must not be before first_request");
  }
  return window;
}

Match parse_match(const json& value, const std::string& path) {
  Fields fields(value, path);
  Match match;
  if (const json* operations = fields.find("operations")) {
    if (!operations->is_array()) fail(path + ".operations", "expected an array of names");
    for (std::size_t i = 0; i < operations->size(); ++i) {
      const std::string item_path = path + ".operations[" + std::to_string(i) + "]";
      const json& item = (*operations)[i];
      if (!item.is_string()) fail(item_path, "expected an operation name");
      auto operation = parse_operation_name(item.get<std::string>());
      if (!operation) {
        fail(item_path, "unknown operation '" + item.get<std::string>() +
                            "' (expected an S3 API name such as PutObject)");
      }
      match.operations.push_back(*operation);
    }
  }
  match.bucket = fields.string("bucket").value_or("");
  match.key_prefix = fields.string("key_prefix").value_or("");
  match.probability = fields.fraction("probability", true).value_or(1.0);
  fields.finish();
  return match;
}

Effect parse_effect(const json& value, const std::string& path) {
  Fields fields(value, path);
  Effect effect;
  const std::string type = fields.required(fields.string("type"), "type");
  bool known = false;
  for (const auto& entry : effect_type_names) {
    if (entry.name == type) {
      effect.type = entry.type;
      known = true;
    }
  }
  if (!known) fail(path + ".type", "unknown effect type '" + type + "'");
  switch (effect.type) {
    case EffectType::refuse:
    case EffectType::hang:
    case EffectType::reset:
    case EffectType::lose_part:
    case EffectType::clock_skew:
      break;
    case EffectType::error: {
      effect.error_code = fields.string("code").value_or("ServiceUnavailable");
      if (effect.error_code != "ServiceUnavailable" && effect.error_code != "InternalError" &&
          effect.error_code != "SlowDown") {
        fail(path + ".code", "expected ServiceUnavailable, InternalError or SlowDown");
      }
      break;
    }
    case EffectType::latency: {
      const std::string distribution = fields.string("distribution").value_or("fixed");
      if (distribution == "fixed") {
        effect.distribution = LatencyDistribution::fixed;
        effect.latency_ns = fields.required(fields.milliseconds("ms"), "ms");
      } else if (distribution == "uniform") {
        effect.distribution = LatencyDistribution::uniform;
        effect.latency_ns = fields.required(fields.milliseconds("min_ms"), "min_ms");
        effect.latency_max_ns = fields.required(fields.milliseconds("max_ms"), "max_ms");
        if (effect.latency_max_ns < effect.latency_ns) {
          fail(path + ".max_ms", "must not be below min_ms");
        }
      } else if (distribution == "exponential") {
        effect.distribution = LatencyDistribution::exponential;
        effect.latency_ns = fields.required(fields.milliseconds("mean_ms"), "mean_ms");
      } else if (distribution == "log_normal") {
        effect.distribution = LatencyDistribution::log_normal;
        effect.latency_ns = fields.required(fields.milliseconds("median_ms"), "median_ms");
        const json* sigma = fields.find("sigma");
        if (sigma) {
          if (!sigma->is_number() || !(sigma->get<double>() >= 0) || sigma->get<double>() > 10) {
            fail(path + ".sigma", "expected a number in [0, 10]");
          }
          effect.log_normal_sigma = sigma->get<double>();
        }
      } else {
        fail(path + ".distribution", "expected fixed, uniform, exponential or log_normal");
      }
      break;
    }
    case EffectType::durability_lag:
      effect.lag_ns = fields.required(fields.milliseconds("lag_ms"), "lag_ms");
      break;
    case EffectType::lose_response: {
      const std::string outcome = fields.string("outcome").value_or("reset");
      if (outcome == "reset") {
        effect.lost_response = LostResponse::reset;
      } else if (outcome == "hang") {
        effect.lost_response = LostResponse::hang;
      } else if (outcome == "internal_error") {
        effect.lost_response = LostResponse::internal_error;
      } else {
        fail(path + ".outcome", "expected reset, hang or internal_error");
      }
      break;
    }
    case EffectType::truncate_write: {
      effect.keep_fraction = fields.fraction("keep_fraction", false).value_or(0.5);
      const std::string respond = fields.string("respond").value_or("ok");
      if (respond != "ok" && respond != "internal_error") {
        fail(path + ".respond", "expected ok or internal_error");
      }
      effect.truncate_responds_ok = respond == "ok";
      break;
    }
    case EffectType::stale_reads:
      effect.stale_ns = fields.required(fields.milliseconds("stale_ms"), "stale_ms");
      break;
    case EffectType::corrupt_read: {
      const auto flips = fields.count("bit_flips").value_or(1);
      if (flips < 1 || flips > static_cast<std::uint64_t>(bit_flips_max)) {
        fail(path + ".bit_flips", "expected an integer in [1, 1024]");
      }
      effect.bit_flips = static_cast<int>(flips);
      break;
    }
  }
  fields.finish();
  return effect;
}

FaultRule parse_rule(const json& value, const std::string& path) {
  Fields fields(value, path);
  FaultRule rule;
  rule.name = fields.string("name").value_or("");
  if (const json* window = fields.find("window"))
    rule.window = parse_window(*window, path + ".window");
  if (const json* match = fields.find("match")) rule.match = parse_match(*match, path + ".match");
  const json* effect = fields.find("effect");
  if (!effect) fail(path + ".effect", "required field is missing");
  rule.effect = parse_effect(*effect, path + ".effect");
  fields.finish();
  return rule;
}

FaultEvent parse_event(const json& value, const std::string& path) {
  Fields fields(value, path);
  FaultEvent event;
  event.name = fields.string("name").value_or("");
  const std::string type = fields.required(fields.string("type"), "type");
  event.at_ns = fields.required(fields.milliseconds("at_ms"), "at_ms");
  if (type == "death") {
    event.type = EventType::death;
    event.down_ns = fields.milliseconds("down_ms").value_or(0);
  } else if (type == "bit_rot") {
    event.type = EventType::bit_rot;
    event.bucket = fields.string("bucket").value_or("");
    event.key_prefix = fields.string("key_prefix").value_or("");
    event.probability = fields.fraction("probability", true).value_or(1.0);
    const auto flips = fields.count("bit_flips").value_or(1);
    if (flips < 1 || flips > static_cast<std::uint64_t>(bit_flips_max)) {
      fail(path + ".bit_flips", "expected an integer in [1, 1024]");
    }
    event.bit_flips = static_cast<int>(flips);
  } else {
    fail(path + ".type", "unknown event type '" + type + "' (expected death or bit_rot)");
  }
  fields.finish();
  return event;
}

double to_ms(TimeNs ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

FaultPlan parse_fault_plan(std::string_view json_text) {
  json document;
  try {
    document = json::parse(json_text);
  } catch (const json::parse_error& error) {
    // Turn the byte offset into a line and column a person can find.
    std::size_t line = 1;
    std::size_t column = 1;
    const std::size_t end =
        std::min<std::size_t>(error.byte == 0 ? 0 : error.byte - 1, json_text.size());
    for (std::size_t i = 0; i < end; ++i) {
      if (json_text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw FaultPlanError("line " + std::to_string(line) + ", column " + std::to_string(column) +
                         ": invalid JSON (" + error.what() + ")");
  }
  Fields fields(document, "plan");
  FaultPlan plan;
  fields.string("description");
  if (const json* rules = fields.find("rules")) {
    if (!rules->is_array()) fail("plan.rules", "expected an array");
    if (rules->size() > plan_rules_max) fail("plan.rules", "too many rules (limit 1000)");
    for (std::size_t i = 0; i < rules->size(); ++i) {
      plan.rules.push_back(parse_rule((*rules)[i], "rules[" + std::to_string(i) + "]"));
    }
  }
  if (const json* events = fields.find("events")) {
    if (!events->is_array()) fail("plan.events", "expected an array");
    if (events->size() > plan_events_max) fail("plan.events", "too many events (limit 10000)");
    for (std::size_t i = 0; i < events->size(); ++i) {
      plan.events.push_back(parse_event((*events)[i], "events[" + std::to_string(i) + "]"));
    }
  }
  fields.finish();
  return plan;
}

std::string fault_plan_to_json(const FaultPlan& plan) {
  json document = json::object();
  json rules = json::array();
  for (const auto& rule : plan.rules) {
    json out = json::object();
    if (!rule.name.empty()) out["name"] = rule.name;
    json window = json::object();
    if (rule.window.start_ns) window["start_ms"] = to_ms(*rule.window.start_ns);
    if (rule.window.end_ns) window["end_ms"] = to_ms(*rule.window.end_ns);
    if (rule.window.first_request) window["first_request"] = *rule.window.first_request;
    if (rule.window.last_request) window["last_request"] = *rule.window.last_request;
    out["window"] = window;
    json match = json::object();
    if (!rule.match.operations.empty()) {
      json operations = json::array();
      for (auto operation : rule.match.operations) {
        operations.push_back(std::string(operation_name(operation)));
      }
      match["operations"] = operations;
    }
    if (!rule.match.bucket.empty()) match["bucket"] = rule.match.bucket;
    if (!rule.match.key_prefix.empty()) match["key_prefix"] = rule.match.key_prefix;
    match["probability"] = rule.match.probability;
    out["match"] = match;
    const Effect& effect = rule.effect;
    json e = json::object();
    e["type"] = std::string(effect_type_name(effect.type));
    switch (effect.type) {
      case EffectType::error:
        e["code"] = effect.error_code;
        break;
      case EffectType::latency:
        switch (effect.distribution) {
          case LatencyDistribution::fixed:
            e["distribution"] = "fixed";
            e["ms"] = to_ms(effect.latency_ns);
            break;
          case LatencyDistribution::uniform:
            e["distribution"] = "uniform";
            e["min_ms"] = to_ms(effect.latency_ns);
            e["max_ms"] = to_ms(effect.latency_max_ns);
            break;
          case LatencyDistribution::exponential:
            e["distribution"] = "exponential";
            e["mean_ms"] = to_ms(effect.latency_ns);
            break;
          case LatencyDistribution::log_normal:
            e["distribution"] = "log_normal";
            e["median_ms"] = to_ms(effect.latency_ns);
            e["sigma"] = effect.log_normal_sigma;
            break;
        }
        break;
      case EffectType::durability_lag:
        e["lag_ms"] = to_ms(effect.lag_ns);
        break;
      case EffectType::lose_response:
        e["outcome"] = effect.lost_response == LostResponse::reset  ? "reset"
                       : effect.lost_response == LostResponse::hang ? "hang"
                                                                    : "internal_error";
        break;
      case EffectType::truncate_write:
        e["keep_fraction"] = effect.keep_fraction;
        e["respond"] = effect.truncate_responds_ok ? "ok" : "internal_error";
        break;
      case EffectType::stale_reads:
        e["stale_ms"] = to_ms(effect.stale_ns);
        break;
      case EffectType::corrupt_read:
        e["bit_flips"] = effect.bit_flips;
        break;
      default:
        break;
    }
    out["effect"] = e;
    rules.push_back(out);
  }
  json events = json::array();
  for (const auto& event : plan.events) {
    json out = json::object();
    if (!event.name.empty()) out["name"] = event.name;
    out["at_ms"] = to_ms(event.at_ns);
    if (event.type == EventType::death) {
      out["type"] = "death";
      out["down_ms"] = to_ms(event.down_ns);
    } else {
      out["type"] = "bit_rot";
      if (!event.bucket.empty()) out["bucket"] = event.bucket;
      if (!event.key_prefix.empty()) out["key_prefix"] = event.key_prefix;
      out["probability"] = event.probability;
      out["bit_flips"] = event.bit_flips;
    }
    events.push_back(out);
  }
  document["rules"] = rules;
  document["events"] = events;
  return document.dump(2);
}

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::response:
      return "response";
    case Transport::refused:
      return "refused";
    case Transport::reset:
      return "reset";
    case Transport::hang:
      return "hang";
  }
  return "?";
}

// ---- FaultyS3 --------------------------------------------------------------------------------

namespace {

CoreSettings with_retention(CoreSettings settings, const FaultPlan& plan) {
  for (const auto& rule : plan.rules) {
    if (rule.effect.type == EffectType::stale_reads) {
      settings.history_retention_ns = std::max(settings.history_retention_ns, rule.effect.stale_ns);
    }
  }
  return settings;
}

bool in_window(const Window& window, TimeNs now, std::uint64_t sequence) {
  if (window.start_ns && now < *window.start_ns) return false;
  if (window.end_ns && now >= *window.end_ns) return false;
  if (window.first_request && sequence < *window.first_request) return false;
  if (window.last_request && sequence > *window.last_request) return false;
  return true;
}

bool matches(const Match& match, const RequestTarget& target) {
  if (!match.operations.empty() && std::find(match.operations.begin(), match.operations.end(),
                                             target.operation) == match.operations.end()) {
    return false;
  }
  if (!match.bucket.empty() && match.bucket != target.bucket) return false;
  if (!match.key_prefix.empty() &&
      target.key.compare(0, match.key_prefix.size(), match.key_prefix) != 0) {
    return false;
  }
  return true;
}

TimeNs sample_latency(const Effect& effect, sim::RandomStream& random) {
  double value = 0;
  switch (effect.distribution) {
    case LatencyDistribution::fixed:
      value = static_cast<double>(effect.latency_ns);
      break;
    case LatencyDistribution::uniform:
      value = static_cast<double>(random.between(effect.latency_ns, effect.latency_max_ns));
      break;
    case LatencyDistribution::exponential:
      value = random.exponential(static_cast<double>(effect.latency_ns));
      break;
    case LatencyDistribution::log_normal:
      value = random.log_normal(static_cast<double>(effect.latency_ns), effect.log_normal_sigma);
      break;
  }
  if (!(value >= 0)) value = 0;
  return std::min<TimeNs>(static_cast<TimeNs>(value), added_latency_ns_max);
}

std::string request_id_of(std::uint64_t sequence) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%016llX", static_cast<unsigned long long>(sequence));
  return buffer;
}

std::string stream_name(std::string_view kind, std::size_t index, std::uint64_t sequence) {
  std::string name(kind);
  name += '/';
  name += std::to_string(index);
  name += "/request/";
  name += std::to_string(sequence);
  return name;
}

}  // namespace

FaultyS3::FaultyS3(CoreSettings settings, FaultPlan plan, std::uint64_t root_seed)
    : FaultyS3(std::move(settings), std::move(plan), root_seed, nullptr) {}

FaultyS3::FaultyS3(CoreSettings settings, FaultPlan plan, std::uint64_t root_seed,
                   std::unique_ptr<ObjectStorage> storage)
    : core_(with_retention(std::move(settings), plan), std::move(storage)),
      plan_(std::move(plan)),
      faults_random_(sim::RandomStream::named(root_seed, "fake_s3.faults")) {
  std::stable_sort(plan_.events.begin(), plan_.events.end(),
                   [](const FaultEvent& a, const FaultEvent& b) { return a.at_ns < b.at_ns; });
}

std::optional<TimeNs> FaultyS3::next_event_time() const {
  std::optional<TimeNs> next = core_.next_event_time();
  auto consider = [&next](TimeNs t) {
    if (!next || t < *next) next = t;
  };
  if (next_event_index_ < plan_.events.size()) consider(plan_.events[next_event_index_].at_ns);
  if (restart_at_) consider(*restart_at_);
  return next;
}

void FaultyS3::run_event(const FaultEvent& event, std::size_t index) {
  switch (event.type) {
    case EventType::death: {
      const std::uint64_t epoch_before = epoch_;
      core_.kill(event.at_ns);
      ++epoch_;
      const TimeNs restart = event.at_ns + event.down_ns;
      if (event.down_ns > 0) {
        up_ = false;
        restart_at_ = std::max(restart_at_.value_or(restart), restart);
      }
      S3CHAOS_ASSERT(epoch_ == epoch_before + 1);
      break;
    }
    case EventType::bit_rot: {
      sim::RandomStream random = faults_random_.split("event/" + std::to_string(index));
      core_.rot(event.at_ns, event.bucket, event.key_prefix, event.probability, event.bit_flips,
                random);
      break;
    }
  }
}

void FaultyS3::advance_to(TimeNs now) {
  S3CHAOS_ASSERT(now >= now_);
  for (;;) {
    // Durability expiries due at t happen before a death at t (a write is durable at exactly
    // acked_at + W); a restart at t happens before a death at t.
    const std::optional<TimeNs> event_at =
        next_event_index_ < plan_.events.size()
            ? std::optional<TimeNs>(plan_.events[next_event_index_].at_ns)
            : std::nullopt;
    std::optional<TimeNs> earliest = event_at;
    if (restart_at_ && (!earliest || *restart_at_ <= *earliest)) earliest = restart_at_;
    if (!earliest || *earliest > now) break;
    core_.advance_to(*earliest);
    if (restart_at_ && *restart_at_ == *earliest) {
      up_ = true;
      restart_at_.reset();
      continue;
    }
    const std::size_t index = next_event_index_++;
    run_event(plan_.events[index], index);
  }
  core_.advance_to(now);
  now_ = now;
}

Outcome FaultyS3::handle(TimeNs now, const HttpRequest& request) {
  advance_to(now);
  Outcome outcome;
  outcome.request_sequence = next_request_sequence_++;
  outcome.target = classify_request(request);
  const std::string request_id = request_id_of(outcome.request_sequence);
  // No response travels unless transport == response: status 0 says so to careless readers.
  outcome.response.status = 0;
  if (!up_) {
    outcome.transport = Transport::refused;
    return outcome;
  }
  RequestContext ctx;
  ctx.now = now;
  const Effect* refusal = nullptr;  // the first effect that stops the request before the core
  const Effect* lost_response = nullptr;
  const Effect* truncation = nullptr;
  int corrupt_bit_flips = 0;
  std::size_t corrupt_rule = 0;
  const Operation operation = outcome.target.operation;
  for (std::size_t index = 0; index < plan_.rules.size(); ++index) {
    const FaultRule& rule = plan_.rules[index];
    if (!in_window(rule.window, now, outcome.request_sequence)) continue;
    if (!matches(rule.match, outcome.target)) continue;
    // One stream per (rule, request): a rule's draws never shift another rule's, and a
    // request's fate does not depend on how many requests came before it.
    sim::RandomStream random =
        faults_random_.split(stream_name("rule", index, outcome.request_sequence));
    if (rule.match.probability < 1.0 && !random.chance(rule.match.probability)) continue;
    const Effect& effect = rule.effect;
    bool applies = true;
    switch (effect.type) {
      case EffectType::refuse:
      case EffectType::hang:
      case EffectType::reset:
      case EffectType::error:
      case EffectType::clock_skew:
        if (!refusal) refusal = &effect;
        break;
      case EffectType::latency:
        outcome.added_latency_ns = std::min(
            outcome.added_latency_ns + sample_latency(effect, random), added_latency_ns_max);
        break;
      case EffectType::durability_lag:
        applies = stores_object(operation);
        if (applies) ctx.durability_lag_ns = std::max(ctx.durability_lag_ns, effect.lag_ns);
        break;
      case EffectType::lose_response:
        if (!lost_response) lost_response = &effect;
        break;
      case EffectType::truncate_write:
        applies = operation == Operation::put_object && !request.body.empty();
        if (applies && !truncation) {
          truncation = &effect;
          ctx.truncate_stored_bytes = static_cast<std::uint64_t>(
              std::floor(static_cast<double>(request.body.size()) * effect.keep_fraction));
        }
        break;
      case EffectType::lose_part:
        applies = operation == Operation::upload_part;
        ctx.drop_part_after_ack = ctx.drop_part_after_ack || applies;
        break;
      case EffectType::stale_reads:
        applies = reads_objects(operation);
        if (applies) ctx.read_staleness_ns = std::max(ctx.read_staleness_ns, effect.stale_ns);
        break;
      case EffectType::corrupt_read:
        applies = operation == Operation::get_object;
        if (applies && effect.bit_flips > corrupt_bit_flips) {
          corrupt_bit_flips = effect.bit_flips;
          corrupt_rule = index;
        }
        break;
    }
    if (applies) outcome.rules_fired.push_back(static_cast<int>(index));
  }

  const std::string resource =
      "/" + outcome.target.bucket + (outcome.target.key.empty() ? "" : "/" + outcome.target.key);
  const bool head = request.method == "HEAD";
  if (refusal) {
    switch (refusal->type) {
      case EffectType::refuse:
        outcome.transport = Transport::refused;
        outcome.added_latency_ns = 0;
        break;
      case EffectType::hang:
        outcome.transport = Transport::hang;
        break;
      case EffectType::reset:
        outcome.transport = Transport::reset;
        break;
      case EffectType::clock_skew:
        outcome.response =
            error_response(errors::request_time_too_skewed(resource), request_id, head);
        break;
      default:
        outcome.response = error_response(
            refusal->error_code == "InternalError" ? errors::internal_error(resource)
            : refusal->error_code == "SlowDown"    ? errors::slow_down(resource)
                                                   : errors::service_unavailable(resource),
            request_id, head);
        break;
    }
    return outcome;
  }

  outcome.processed = true;
  outcome.response = handle_http(core_, ctx, request, request_id);
  const bool succeeded = outcome.response.status >= 200 && outcome.response.status < 300;
  if (truncation && succeeded && !truncation->truncate_responds_ok) {
    outcome.response = error_response(errors::internal_error(resource), request_id, head);
  }
  if (corrupt_bit_flips > 0 && succeeded && !outcome.response.body.empty()) {
    sim::RandomStream random =
        faults_random_.split(stream_name("corrupt", corrupt_rule, outcome.request_sequence));
    flip_distinct_bits(outcome.response.body, corrupt_bit_flips, random);
  }
  if (lost_response) {
    switch (lost_response->lost_response) {
      case LostResponse::reset:
        outcome.transport = Transport::reset;
        outcome.response = HttpResponse{0, {}, {}};
        break;
      case LostResponse::hang:
        outcome.transport = Transport::hang;
        outcome.response = HttpResponse{0, {}, {}};
        break;
      case LostResponse::internal_error:
        outcome.response = error_response(errors::internal_error(resource), request_id, head);
        break;
    }
  }
  return outcome;
}

}  // namespace s3chaos::fake_s3
