#include "harness/generators.hpp"

#include <rapidcheck.h>

#include <algorithm>
#include <ostream>
#include <sstream>

#include "harness/explore.hpp"
#include "sim/assert.hpp"

namespace s3chaos::harness {
namespace {

// The generated world: small enough that a case runs in milliseconds, large enough that a
// fault meets photos in flight, waiting to settle, and evicted.
constexpr int duration_s_min = 600;
constexpr int duration_s_max = 1800;
constexpr int photos_per_kilosecond_min = 20;
constexpr int photos_per_kilosecond_max = 120;
constexpr int settle_time_s_min = 30;
constexpr int settle_time_s_max = 300;
constexpr int drain_s_base = 1800;  // plus two settle times: every photo can still drain
constexpr int window_length_s_min = 10;
constexpr int window_length_s_max = 900;
// Lags as a percentage of the settle time: inside the contract W < settle (with room for the
// latency of the verification read's answer); beyond it W > settle.
constexpr int lag_percent_within_min = 5;
constexpr int lag_percent_within_max = 90;
constexpr int lag_percent_beyond_min = 110;
constexpr int lag_percent_beyond_max = 400;
constexpr int outage_variants = 7;  // refuse, hang, reset, 503, 500, SlowDown, death
constexpr int lost_answer_variants = 3;

const char* const s3_fault_kind_names[] = {"life_death_window", "outage",         "brownout",
                                           "lose_response",     "truncate_write", "stale_reads",
                                           "corrupt_read",      "latency",        "bit_rot"};
const char* const uploader_fault_kind_names[] = {"crash_at_disk_call", "crash", "disk_full",
                                                 "fsync_error"};
const char* const outage_variant_names[] = {
    "refuse", "hang", "reset", "ServiceUnavailable", "InternalError", "SlowDown", "death"};
const char* const lost_answer_names[] = {"reset", "hang", "internal_error"};

std::int64_t permille_of(int permille, int duration_s) {
  return static_cast<std::int64_t>(permille) * duration_s;  // in ms: permille * s = ms
}

struct Span {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

// A fault's window inside [0, duration): at least window_length_s_min long, at most
// window_length_s_max, ending before the duration ends.
Span span_of(const GeneratedS3Fault& fault, int duration_s) {
  const std::int64_t duration_ms = std::int64_t{duration_s} * 1000;
  const std::int64_t length_ms =
      std::clamp<std::int64_t>(permille_of(fault.length_permille, duration_s),
                               window_length_s_min * 1000, window_length_s_max * 1000);
  const std::int64_t start_ms =
      std::min(permille_of(fault.start_permille, duration_s), duration_ms - length_ms - 1000);
  return {std::max<std::int64_t>(0, start_ms), std::max<std::int64_t>(0, start_ms) + length_ms};
}

std::int64_t lag_ms_of(const GeneratedS3Fault& fault, int settle_time_s) {
  return std::max<std::int64_t>(1, std::int64_t{fault.lag_percent} * settle_time_s * 10);
}

// Whether the contract lets this fault into this case (see the header): bit rot only with two
// required vendors and only on one of them, the vendor of the case's first bit rot; a second
// vendor's faults only with two targets.
// A fault drawn for the second vendor lands on the primary when the case has one target.
int vendor_of(const GeneratedCase& generated, const GeneratedS3Fault& fault) {
  return std::clamp(fault.vendor, 0, generated.targets - 1);
}

bool fault_admitted(const GeneratedCase& generated, const GeneratedS3Fault& fault,
                    std::optional<int>& rot_vendor) {
  if (generated.beyond_contract) return true;
  if (fault.kind == S3FaultKind::stale_reads) {
    // A vendor that stores damaged bytes under a 200 must at least read consistently: with
    // stale reads a verification can see the good version a damaged re-upload replaced (same
    // ETag, same size), and no client can tell them apart.
    for (const GeneratedS3Fault& other : generated.s3_faults) {
      if (other.kind == S3FaultKind::truncate_write &&
          vendor_of(generated, other) == vendor_of(generated, fault)) {
        return false;
      }
    }
    return true;
  }
  if (fault.kind != S3FaultKind::bit_rot) return true;
  if (generated.targets < 2) return false;
  if (!rot_vendor) rot_vendor = vendor_of(generated, fault);
  return *rot_vendor == vendor_of(generated, fault);
}

void add_fault(nlohmann::json& plan, const GeneratedS3Fault& fault, const GeneratedCase& generated,
               std::size_t index) {
  const Span span = span_of(fault, generated.duration_s);
  const std::string name =
      std::string(s3_fault_kind_name(fault.kind)) + " #" + std::to_string(index + 1);
  const nlohmann::json window = {{"start_ms", span.start_ms}, {"end_ms", span.end_ms}};
  const double probability = std::clamp(fault.probability_percent, 1, 100) / 100.0;
  nlohmann::json& rules = plan["rules"];
  nlohmann::json& events = plan["events"];
  auto death = [&](std::int64_t at_ms) {
    events.push_back({{"name", name + ": death"},
                      {"type", "death"},
                      {"at_ms", at_ms},
                      {"down_ms", std::int64_t{std::max(fault.down_s, 0)} * 1000}});
  };
  switch (fault.kind) {
    case S3FaultKind::life_death_window:
      rules.push_back(
          {{"name", name + ": PUTs volatile"},
           {"window", window},
           {"match", {{"operations", {"PutObject"}}}},
           {"effect",
            {{"type", "durability_lag"}, {"lag_ms", lag_ms_of(fault, generated.settle_time_s)}}}});
      death(span.end_ms);
      break;
    case S3FaultKind::outage: {
      const int variant = std::clamp(fault.variant, 0, outage_variants - 1);
      const std::string kind = outage_variant_names[variant];
      if (kind == "death") {
        events.push_back({{"name", name + ": death"},
                          {"type", "death"},
                          {"at_ms", span.start_ms},
                          {"down_ms", span.end_ms - span.start_ms}});
      } else if (variant < 3) {
        rules.push_back({{"name", name}, {"window", window}, {"effect", {{"type", kind}}}});
      } else {
        rules.push_back(
            {{"name", name}, {"window", window}, {"effect", {{"type", "error"}, {"code", kind}}}});
      }
      break;
    }
    case S3FaultKind::brownout:
      rules.push_back(
          {{"name", name},
           {"window", window},
           {"match", {{"probability", probability}}},
           {"effect",
            {{"type", "error"},
             {"code", fault.variant % 2 == 0 ? "InternalError" : "ServiceUnavailable"}}}});
      break;
    case S3FaultKind::lose_response:
      rules.push_back(
          {{"name", name},
           {"window", window},
           {"match", {{"operations", {"PutObject"}}, {"probability", probability}}},
           {"effect",
            {{"type", "lose_response"},
             {"outcome",
              lost_answer_names[std::clamp(fault.variant, 0, lost_answer_variants - 1)]}}}});
      break;
    case S3FaultKind::truncate_write:
      rules.push_back(
          {{"name", name},
           {"window", window},
           {"match", {{"operations", {"PutObject"}}, {"probability", probability}}},
           {"effect", {{"type", "truncate_write"}, {"keep_fraction", 0.5}, {"respond", "ok"}}}});
      break;
    case S3FaultKind::stale_reads:
      rules.push_back({{"name", name},
                       {"window", window},
                       {"match", {{"operations", {"GetObject", "HeadObject", "ListObjectsV2"}}}},
                       {"effect",
                        {{"type", "stale_reads"},
                         {"stale_ms", std::clamp<std::int64_t>(fault.down_s, 1, 300) * 1000}}}});
      break;
    case S3FaultKind::corrupt_read:
      rules.push_back({{"name", name},
                       {"window", window},
                       {"match", {{"operations", {"GetObject"}}, {"probability", probability}}},
                       {"effect", {{"type", "corrupt_read"}, {"bit_flips", 1}}}});
      break;
    case S3FaultKind::latency:
      rules.push_back({{"name", name},
                       {"window", window},
                       {"effect",
                        {{"type", "latency"},
                         {"distribution", "fixed"},
                         {"ms", std::clamp(fault.down_s, 1, 300) * 100}}}});
      break;
    case S3FaultKind::bit_rot:
      events.push_back({{"name", name},
                        {"type", "bit_rot"},
                        {"at_ms", span.start_ms},
                        {"probability", probability},
                        {"bit_flips", 1}});
      break;
  }
}

nlohmann::json sorted_events(nlohmann::json plan) {
  std::stable_sort(plan["events"].begin(), plan["events"].end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a["at_ms"].get<std::int64_t>() < b["at_ms"].get<std::int64_t>();
                   });
  return plan;
}

}  // namespace

const char* s3_fault_kind_name(S3FaultKind kind) {
  return s3_fault_kind_names[static_cast<int>(kind)];
}

const char* uploader_fault_kind_name(UploaderFaultKind kind) {
  return uploader_fault_kind_names[static_cast<int>(kind)];
}

std::ostream& operator<<(std::ostream& out, const GeneratedCase& generated) {
  out << "seed " << generated.world_seed << ", " << generated.duration_s << " s at "
      << generated.photos_per_kilosecond / 1000.0 << " photos/s, settle " << generated.settle_time_s
      << " s, " << generated.targets << " target(s), verify "
      << (generated.verify_get ? "get" : "head")
      << (generated.beyond_contract ? ", beyond the contract" : "") << "\n";
  for (const GeneratedS3Fault& fault : generated.s3_faults) {
    const Span span = span_of(fault, generated.duration_s);
    out << "  s3 vendor " << vendor_of(generated, fault) + 1 << ": "
        << s3_fault_kind_name(fault.kind) << " " << span.start_ms / 1000 << "-"
        << span.end_ms / 1000 << " s";
    if (fault.kind == S3FaultKind::life_death_window) {
      out << ", lag " << lag_ms_of(fault, generated.settle_time_s) / 1000.0 << " s, down "
          << fault.down_s << " s";
    } else if (fault.kind == S3FaultKind::outage) {
      out << ", " << outage_variant_names[std::clamp(fault.variant, 0, outage_variants - 1)];
    } else {
      out << ", " << fault.probability_percent << "%";
    }
    out << "\n";
  }
  for (const GeneratedUploaderFault& fault : generated.uploader_faults) {
    out << "  uploader: " << uploader_fault_kind_name(fault.kind) << " at "
        << permille_of(fault.at_permille, generated.duration_s) / 1000 << " s";
    if (fault.kind == UploaderFaultKind::crash_at_disk_call) {
      out << ", disk call " << fault.disk_call;
    }
    out << "\n";
  }
  return out;
}

// RapidCheck scales gen::inRange by the size it is given; a fault's and a case's numbers are
// drawn over their whole range whatever the size (which here only bounds list lengths).
template <typename T>
rc::Gen<T> full_range(rc::Gen<T> gen) {
  return rc::gen::resize(rc::kNominalSize, std::move(gen));
}

rc::Gen<GeneratedS3Fault> s3_fault_generator(const GeneratorOptions& options) {
  std::vector<S3FaultKind> kinds = options.s3_fault_kinds;
  if (kinds.empty()) {
    for (int i = 0; i < s3_fault_kind_count; ++i) kinds.push_back(static_cast<S3FaultKind>(i));
  }
  const bool beyond = options.beyond_contract;
  return full_range(rc::gen::build<GeneratedS3Fault>(
      rc::gen::set(&GeneratedS3Fault::kind, rc::gen::noShrink(rc::gen::elementOf(kinds))),
      rc::gen::set(&GeneratedS3Fault::vendor,
                   rc::gen::noShrink(rc::gen::inRange(0, std::clamp(options.targets_max, 1, 2)))),
      rc::gen::set(&GeneratedS3Fault::start_permille, rc::gen::noShrink(rc::gen::inRange(0, 900))),
      rc::gen::set(&GeneratedS3Fault::length_permille, rc::gen::noShrink(rc::gen::inRange(5, 400))),
      rc::gen::set(
          &GeneratedS3Fault::lag_percent,
          rc::gen::noShrink(
              beyond ? rc::gen::inRange(lag_percent_within_min, lag_percent_beyond_max + 1)
                     : rc::gen::inRange(lag_percent_within_min, lag_percent_within_max + 1))),
      rc::gen::set(&GeneratedS3Fault::down_s, rc::gen::noShrink(rc::gen::inRange(0, 600))),
      rc::gen::set(&GeneratedS3Fault::variant, rc::gen::noShrink(rc::gen::inRange(0, 7))),
      rc::gen::set(&GeneratedS3Fault::probability_percent,
                   rc::gen::noShrink(rc::gen::inRange(10, 101)))));
}

rc::Gen<GeneratedUploaderFault> uploader_fault_generator() {
  return full_range(rc::gen::build<GeneratedUploaderFault>(
      rc::gen::set(&GeneratedUploaderFault::kind,
                   rc::gen::noShrink(rc::gen::weightedElement<UploaderFaultKind>(
                       {{4, UploaderFaultKind::crash_at_disk_call},
                        {3, UploaderFaultKind::crash},
                        {1, UploaderFaultKind::disk_full},
                        {1, UploaderFaultKind::fsync_error}}))),
      rc::gen::set(&GeneratedUploaderFault::at_permille,
                   rc::gen::noShrink(rc::gen::inRange(0, 950))),
      rc::gen::set(&GeneratedUploaderFault::disk_call, rc::gen::noShrink(rc::gen::inRange(1, 41))),
      rc::gen::set(&GeneratedUploaderFault::restart_after_s,
                   rc::gen::noShrink(rc::gen::inRange(1, 31))),
      rc::gen::set(&GeneratedUploaderFault::length_permille,
                   rc::gen::noShrink(rc::gen::inRange(10, 300))),
      rc::gen::set(&GeneratedUploaderFault::probability_percent,
                   rc::gen::noShrink(rc::gen::inRange(20, 101)))));
}

rc::Gen<GeneratedCase> case_generator(const GeneratorOptions& options) {
  const int targets_max = std::clamp(options.targets_max, 1, 2);
  const bool beyond = options.beyond_contract;
  auto uploader_faults =
      options.uploader_faults
          ? rc::gen::resize(
                options.uploader_faults_max,
                rc::gen::container<std::vector<GeneratedUploaderFault>>(uploader_fault_generator()))
          : rc::gen::just(std::vector<GeneratedUploaderFault>{});
  return rc::gen::map(
      rc::gen::build<GeneratedCase>(
          rc::gen::set(&GeneratedCase::world_seed,
                       full_range(rc::gen::noShrink(rc::gen::arbitrary<std::uint64_t>()))),
          rc::gen::set(&GeneratedCase::duration_s,
                       full_range(rc::gen::inRange(duration_s_min, duration_s_max + 1))),
          rc::gen::set(&GeneratedCase::photos_per_kilosecond,
                       full_range(rc::gen::inRange(photos_per_kilosecond_min,
                                                   photos_per_kilosecond_max + 1))),
          rc::gen::set(&GeneratedCase::settle_time_s,
                       full_range(rc::gen::noShrink(
                           rc::gen::inRange(settle_time_s_min, settle_time_s_max + 1)))),
          rc::gen::set(&GeneratedCase::targets, full_range(rc::gen::inRange(1, targets_max + 1))),
          rc::gen::set(&GeneratedCase::verify_get, rc::gen::arbitrary<bool>()),
          rc::gen::set(&GeneratedCase::s3_faults,
                       rc::gen::resize(options.s3_faults_max,
                                       rc::gen::container<std::vector<GeneratedS3Fault>>(
                                           s3_fault_generator(options)))),
          rc::gen::set(&GeneratedCase::uploader_faults, uploader_faults)),
      [beyond](GeneratedCase generated) {
        generated.beyond_contract = beyond;
        return generated;
      });
}

nlohmann::json scenario_document(const GeneratedCase& generated, const std::string& name) {
  const int duration_s = std::clamp(generated.duration_s, duration_s_min, duration_s_max);
  GeneratedCase bounded = generated;
  bounded.duration_s = duration_s;
  bounded.targets = std::clamp(generated.targets, 1, 2);
  const int drain_s = drain_s_base + 2 * generated.settle_time_s;
  nlohmann::json plans[2] = {
      {{"rules", nlohmann::json::array()}, {"events", nlohmann::json::array()}},
      {{"rules", nlohmann::json::array()}, {"events", nlohmann::json::array()}}};
  std::optional<int> rot_vendor;
  for (std::size_t i = 0; i < bounded.s3_faults.size(); ++i) {
    const GeneratedS3Fault& fault = bounded.s3_faults[i];
    if (!fault_admitted(bounded, fault, rot_vendor)) continue;
    add_fault(plans[vendor_of(bounded, fault)], fault, bounded, i);
  }
  nlohmann::json uploader_faults = nlohmann::json::array();
  const std::int64_t duration_ms = std::int64_t{duration_s} * 1000;
  for (const GeneratedUploaderFault& fault : bounded.uploader_faults) {
    const std::int64_t at_ms = permille_of(fault.at_permille, duration_s);
    switch (fault.kind) {
      case UploaderFaultKind::crash_at_disk_call:
      case UploaderFaultKind::crash: {
        const std::int64_t restart_ms = std::min<std::int64_t>(
            std::int64_t{fault.restart_after_s} * 1000, duration_ms - at_ms - 1000);
        if (restart_ms <= 0) continue;
        nlohmann::json crash = {
            {"type", "crash"}, {"at_s", at_ms / 1000.0}, {"restart_after_s", restart_ms / 1000.0}};
        if (fault.kind == UploaderFaultKind::crash_at_disk_call) {
          crash["at_disk_call"] = std::max(fault.disk_call, 1);
        }
        uploader_faults.push_back(crash);
        break;
      }
      case UploaderFaultKind::disk_full:
      case UploaderFaultKind::fsync_error: {
        const std::int64_t until_ms = std::min(
            at_ms + std::max<std::int64_t>(1000, permille_of(fault.length_permille, duration_s)),
            duration_ms);
        if (until_ms <= at_ms) continue;
        nlohmann::json disk = {{"type", uploader_fault_kind_name(fault.kind)},
                               {"at_s", at_ms / 1000.0},
                               {"until_s", until_ms / 1000.0}};
        if (fault.kind == UploaderFaultKind::fsync_error) {
          disk["probability"] = std::clamp(fault.probability_percent, 1, 100) / 100.0;
        }
        uploader_faults.push_back(disk);
        break;
      }
    }
  }
  std::stable_sort(uploader_faults.begin(), uploader_faults.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a["at_s"].get<double>() < b["at_s"].get<double>();
                   });
  std::ostringstream description;
  description << bounded;
  nlohmann::json document = {
      {"name", name},
      {"description",
       "Generated by s3chaos's case generator (harness/generators.hpp): " + description.str()},
      {"sources", {"harness/generators.hpp case_generator"}},
      {"seed", generated.world_seed},
      {"duration_s", duration_s},
      {"drain_s", drain_s},
      {"drain_deadline_s", drain_s},
      {"workload",
       {{"arrivals", {{{"from_s", 0}, {"rate_per_s", bounded.photos_per_kilosecond / 1000.0}}}},
        {"photo_bytes", {{"min", 102400}, {"max", 3145728}}},
        {"byte_scale", 4096},
        {"phones", 50}}},
      {"s3_faults", sorted_events(plans[0])},
      {"uploader_faults", uploader_faults},
      {"uploader",
       {{"policy", "protected"},
        {"settle_time_s", bounded.settle_time_s},
        {"request_timeout_s", 30},
        {"backoff_max_s", 30},
        {"targets", bounded.targets},
        {"targets_required", bounded.targets},
        {"verify", bounded.verify_get ? "get" : "head"}}}};
  if (bounded.targets == 2) document["s3_faults_vendor_2"] = sorted_events(plans[1]);
  return document;
}

Scenario generated_scenario(const GeneratedCase& generated, const std::string& name,
                            const std::string& path) {
  const nlohmann::json document = scenario_document(generated, name);
  Scenario scenario =
      scenario_from_source(JsonSource::parse(path.empty() ? name : path, document.dump()));
  scenario.path = path;
  return scenario;
}

namespace {

rc::Shrinkable<GeneratedCase> draw(const GeneratorOptions& options, std::uint64_t seed,
                                   std::uint64_t run_index) {
  const int size = static_cast<int>(run_index % (random_case_size_max + 1));
  return case_generator(options)(rc::Random(exploration_run_seed(seed, run_index)), size);
}

std::string case_name(std::uint64_t seed, std::uint64_t run_index) {
  return "random-" + std::to_string(seed) + "-" + std::to_string(run_index);
}

}  // namespace

GeneratedCase random_case(const GeneratorOptions& options, std::uint64_t exploration_seed,
                          std::uint64_t run_index) {
  return draw(options, exploration_seed, run_index).value();
}

RandomExploreResult explore_random(const RandomExploreOptions& options) {
  S3CHAOS_ASSERT(options.shard_count >= 1 && options.shard_index < options.shard_count);
  RandomExploreResult result;
  RunOptions run_options;
  run_options.policy = options.policy;
  run_options.program = options.program;
  // Each run draws its case afresh from (seed, index): a child process and the parent that
  // shrinks a failing case draw the same one.
  std::optional<std::uint64_t> failing_run;
  run_summaries_in_order(
      shard_runs(options.runs, options.shard_index, options.shard_count), options.jobs,
      [&](std::uint64_t run) {
        const GeneratedCase generated = draw(options.generator, options.seed, run).value();
        RunOptions case_options = run_options;
        case_options.seed = generated.world_seed;
        return run_scenario(generated_scenario(generated, case_name(options.seed, run)),
                            case_options)
            .summary;
      },
      options.on_run, result.runs,
      [&](std::uint64_t run, const RunSummary& summary) {
        if (!summary.holds) failing_run = run;
        return summary.holds;
      });
  result.runs_done = result.runs.size();
  if (failing_run) {
    const std::uint64_t run = *failing_run;
    rc::Shrinkable<GeneratedCase> drawn = draw(options.generator, options.seed, run);
    const std::string name = case_name(options.seed, run);
    GeneratedCase generated = drawn.value();
    Scenario scenario = generated_scenario(generated, name);
    run_options.seed = generated.world_seed;
    RunOutput output = run_scenario(scenario, run_options);
    S3CHAOS_ASSERT_MSG(!output.summary.holds, "a failing random case held when run again");

    // Shrink: walk RapidCheck's shrink tree, taking the first smaller case that still fails.
    result.first_failing_run = run;
    result.first_failing_seed = exploration_run_seed(options.seed, run);
    result.found = generated;
    result.fault_count_before = scenario_fault_count(scenario);
    rc::Shrinkable<GeneratedCase> current = drawn;
    result.shrunk = generated;
    result.shrunk_scenario = scenario;
    result.shrunk_output = std::move(output);
    bool progress = true;
    while (progress && result.shrink_runs < options.shrink_runs_max) {
      progress = false;
      rc::Seq<rc::Shrinkable<GeneratedCase>> shrinks = current.shrinks();
      while (result.shrink_runs < options.shrink_runs_max) {
        rc::Maybe<rc::Shrinkable<GeneratedCase>> next = shrinks.next();
        if (!next) break;
        const GeneratedCase candidate = next->value();
        Scenario candidate_scenario = generated_scenario(candidate, name);
        RunOptions candidate_options = run_options;
        candidate_options.seed = candidate.world_seed;
        RunOutput candidate_output = run_scenario(candidate_scenario, candidate_options);
        ++result.shrink_runs;
        if (!candidate_output.summary.holds) {
          current = std::move(*next);
          result.shrunk = candidate;
          result.shrunk_scenario = std::move(candidate_scenario);
          result.shrunk_output = std::move(candidate_output);
          progress = true;
          break;
        }
      }
    }
    result.fault_count_after = scenario_fault_count(result.shrunk_scenario);
  }
  return result;
}

}  // namespace s3chaos::harness
