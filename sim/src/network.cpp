#include "sim/network.hpp"

#include <algorithm>
#include <cmath>

#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {

bool is_probability(double p) {
  return p >= 0.0 && p <= 1.0;
}  // false for NaN

}  // namespace

std::string_view to_string(Fate fate) {
  switch (fate) {
    case Fate::deliver:
      return "deliver";
    case Fate::drop:
      return "drop";
    case Fate::reset:
      return "reset";
    case Fate::hang:
      return "hang";
    case Fate::refuse:
      return "refuse";
    case Fate::cut:
      return "cut";
  }
  return "?";
}

std::string_view to_string(LinkError error) {
  switch (error) {
    case LinkError::reset:
      return "reset";
    case LinkError::refused:
      return "refused";
    case LinkError::timeout:
      return "timeout";
  }
  return "?";
}

LatencyDistribution LatencyDistribution::fixed(TimeNs latency_ns) {
  LatencyDistribution d;
  d.shape = Shape::fixed;
  d.low_ns = latency_ns;
  d.high_ns = latency_ns;
  return d;
}

LatencyDistribution LatencyDistribution::uniform(TimeNs low_ns, TimeNs high_ns) {
  LatencyDistribution d;
  d.shape = Shape::uniform;
  d.low_ns = low_ns;
  d.high_ns = high_ns;
  return d;
}

LatencyDistribution LatencyDistribution::log_normal(TimeNs median_ns, double sigma, TimeNs floor_ns,
                                                    TimeNs ceiling_ns) {
  LatencyDistribution d;
  d.shape = Shape::log_normal;
  d.median_ns = median_ns;
  d.sigma = sigma;
  d.low_ns = floor_ns;
  d.high_ns = ceiling_ns;
  return d;
}

LatencyDistribution LatencyDistribution::with_spikes(double probability, TimeNs extra_min_ns,
                                                     TimeNs extra_max_ns) const {
  LatencyDistribution d = *this;
  d.spike_probability = probability;
  d.spike_min_ns = extra_min_ns;
  d.spike_max_ns = extra_max_ns;
  return d;
}

std::optional<std::string> LatencyDistribution::problem() const {
  if (low_ns < 0) return "latency: the lowest latency is negative";
  if (low_ns > high_ns) return "latency: the lowest latency is above the highest";
  if (high_ns > link_latency_ns_max) return "latency: the highest latency is above an hour";
  if (shape == Shape::fixed && low_ns != high_ns) return "latency: fixed needs low == high";
  if (shape == Shape::log_normal) {
    if (median_ns <= 0) return "latency: the log-normal median must be positive";
    if (!(sigma >= 0.0 && sigma <= 10.0)) return "latency: sigma must be in [0, 10]";
  }
  if (!is_probability(spike_probability)) return "latency: spike probability not in [0, 1]";
  if (spike_probability > 0) {
    if (spike_min_ns < 0 || spike_min_ns > spike_max_ns) {
      return "latency: spikes need 0 <= extra_min <= extra_max";
    }
    if (spike_max_ns > link_latency_ns_max) return "latency: a spike is above an hour";
  }
  return std::nullopt;
}

TimeNs LatencyDistribution::sample(RandomStream& random) const {
  TimeNs body = low_ns;
  switch (shape) {
    case Shape::fixed:
      break;
    case Shape::uniform:
      body = random.between(low_ns, high_ns);
      break;
    case Shape::log_normal: {
      const double drawn = random.log_normal(static_cast<double>(median_ns), sigma);
      // Clamp as a double first: a far tail can exceed what an int64 holds.
      const double clamped =
          std::clamp(drawn, static_cast<double>(low_ns), static_cast<double>(high_ns));
      body = std::clamp(static_cast<TimeNs>(std::llround(clamped)), low_ns, high_ns);
      break;
    }
  }
  if (spike_probability > 0) {
    // Both draws always happen, so whether a spike occurs never shifts later draws.
    const bool spike = random.uniform01() < spike_probability;
    const TimeNs extra = random.between(spike_min_ns, spike_max_ns);
    if (spike) body += extra;
  }
  S3CHAOS_ASSERT(body >= min_ns() && body <= max_ns());
  return body;
}

std::optional<std::string> FateOdds::problem() const {
  if (!is_probability(drop) || !is_probability(reset) || !is_probability(hang)) {
    return "fate odds: each of drop, reset, hang must be in [0, 1]";
  }
  if (drop + reset + hang > 1.0 + 1e-12) return "fate odds: drop + reset + hang exceeds 1";
  return std::nullopt;
}

std::optional<std::string> LinkConfig::problem() const {
  if (auto p = latency.problem()) return p;
  if (auto p = odds_a_to_b.problem()) return "a to b: " + *p;
  if (auto p = odds_b_to_a.problem()) return "b to a: " + *p;
  return std::nullopt;
}

LinkCore::LinkCore(Scheduler& scheduler, RandomStream random, LinkConfig config, Trace* trace,
                   std::string name)
    : scheduler_(scheduler),
      random_(std::move(random)),
      config_(std::move(config)),
      trace_(trace),
      name_(std::move(name)) {
  const auto problem = config_.problem();
  S3CHAOS_ASSERT_MSG(!problem, problem ? problem->c_str() : "");
  S3CHAOS_ASSERT(name_.size() <= trace_name_bytes_max);
}

void LinkCore::set_latency(const LatencyDistribution& latency) {
  const auto problem = latency.problem();
  S3CHAOS_ASSERT_MSG(!problem, problem ? problem->c_str() : "");
  config_.latency = latency;
}

void LinkCore::set_odds(Endpoint from, const FateOdds& odds) {
  const auto problem = odds.problem();
  S3CHAOS_ASSERT_MSG(!problem, problem ? problem->c_str() : "");
  (from == Endpoint::a ? config_.odds_a_to_b : config_.odds_b_to_a) = odds;
}

void LinkCore::set_odds(const FateOdds& both_directions) {
  set_odds(Endpoint::a, both_directions);
  set_odds(Endpoint::b, both_directions);
}

void LinkCore::partition(PartitionMode mode) {
  partitioned_ = true;
  partition_mode_ = mode;
  ++partition_epoch_;
  record("partition", {static_cast<std::int64_t>(mode)});
}

void LinkCore::heal() {
  partitioned_ = false;
  record("heal", {});
}

LinkCore::Transit LinkCore::begin(Endpoint from, std::uint64_t size_bytes, bool ordered) {
  const FateOdds& odds = from == Endpoint::a ? config_.odds_a_to_b : config_.odds_b_to_a;
  // Fate, then latency: the same two (groups of) draws for every message.
  const double u = random_.uniform01();
  TimeNs latency = config_.latency.sample(random_);
  Fate fate = Fate::deliver;
  if (u < odds.drop) {
    fate = Fate::drop;
  } else if (u < odds.drop + odds.reset) {
    fate = Fate::reset;
  } else if (u < odds.drop + odds.reset + odds.hang) {
    fate = Fate::hang;
  }
  if (partitioned_) fate = partition_mode_ == PartitionMode::drop ? Fate::drop : Fate::refuse;

  const TimeNs now = scheduler_.now();
  TimeNs arrival = now + latency;
  TimeNs& last_arrival = last_arrival_[static_cast<int>(from)];
  if (fate == Fate::deliver && ordered) {
    arrival = std::max(arrival, last_arrival);
    last_arrival = arrival;
    latency = arrival - now;
  }
  const Transit transit{next_message_id_++, from, fate, arrival, partition_epoch_};
  ++fate_counts_[static_cast<int>(fate)];
  record("send", {static_cast<std::int64_t>(transit.message_id), static_cast<std::int64_t>(from),
                  static_cast<std::int64_t>(fate), static_cast<std::int64_t>(size_bytes), latency});
  return transit;
}

bool LinkCore::arrives(const Transit& transit) {
  S3CHAOS_ASSERT(scheduler_.now() == transit.arrival_time);
  const auto id = static_cast<std::int64_t>(transit.message_id);
  if (transit.partition_epoch != partition_epoch_) {
    ++fate_counts_[static_cast<int>(Fate::cut)];
    record("cut", {id});
    return false;
  }
  record(transit.fate == Fate::deliver ? "deliver" : "notice", {id});
  return true;
}

void LinkCore::record(std::string_view kind, std::initializer_list<std::int64_t> numbers) {
  if (trace_ != nullptr) trace_->record(scheduler_.now(), name_, kind, numbers, {});
}

}  // namespace s3chaos::sim
