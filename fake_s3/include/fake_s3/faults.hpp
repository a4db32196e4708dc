// The fault injector: a fault plan (data, JSON) turned into a fate per request, and the
// faulty S3 service a driver talks to.
//
// A FaultyS3 owns an S3Core. For each request the driver calls handle(now, request); the
// service first processes every timed event due by `now` (advance_to), then decides the
// request's fate from the plan, the seed and the request's sequence number alone, runs the
// core if the fate says so, and returns an Outcome: either a response (which may lie) or a
// transport failure (refused, reset, hang), plus added latency in nanoseconds. Same plan,
// same seed, same requests in the same order: same outcomes, bit for bit.
//
// Deaths: at a death event every volatile write is discarded (see core.hpp), epoch() goes up,
// and the service refuses connections until its restart. A driver holding a response from an
// earlier epoch that was due after the death should fail it (the request was in flight).
//
// The plan format is documented with examples in docs/fault_plan.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fake_s3/core.hpp"
#include "fake_s3/http.hpp"
#include "sim/random.hpp"
#include "sim/time.hpp"

namespace s3chaos::fake_s3 {

// A plan that does not parse or validate. what() names the rule or event index and the
// field, e.g. "rules[2].effect.lag_ms: expected a non-negative integer".
class FaultPlanError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class EffectType {
  refuse,          // connection refused, nothing processed
  hang,            // no answer until the client gives up, nothing processed
  reset,           // connection reset, nothing processed
  error,           // an S3 error (503 ServiceUnavailable, 500 InternalError, 503 SlowDown)
  latency,         // added latency, processed normally
  durability_lag,  // writes are volatile for lag_ns after their ack
  lose_response,   // processed (committed), then the client sees reset / hang / 500
  truncate_write,  // PutObject stores a prefix; responds 200 (lying) or 500
  lose_part,       // UploadPart acknowledged, then the part is forgotten
  stale_reads,     // reads see the store as it was stale_ns ago
  corrupt_read,    // GetObject returns flipped bits; the stored object is intact
  clock_skew,      // 403 RequestTimeTooSkewed, nothing processed
};

enum class LatencyDistribution { fixed, uniform, exponential, log_normal };
enum class LostResponse { reset, hang, internal_error };

struct Effect {
  EffectType type = EffectType::error;
  // error: the S3 error code ("ServiceUnavailable", "InternalError", "SlowDown").
  std::string error_code = "ServiceUnavailable";
  // latency
  LatencyDistribution distribution = LatencyDistribution::fixed;
  TimeNs latency_ns = 0;      // fixed value, uniform minimum, exponential mean, lognormal median
  TimeNs latency_max_ns = 0;  // uniform maximum
  double log_normal_sigma = 0.5;
  // durability_lag
  TimeNs lag_ns = 0;
  // lose_response and truncate_write's reply
  LostResponse lost_response = LostResponse::reset;
  bool truncate_responds_ok = true;
  double keep_fraction = 0.5;  // truncate_write: fraction of the body kept, in [0, 1)
  // stale_reads
  TimeNs stale_ns = 0;
  // corrupt_read
  int bit_flips = 1;
};

// When a rule applies. Both bounds optional; time is half-open [start, end), sequence numbers
// inclusive. The server uses sequence windows (request numbers from 1).
struct Window {
  std::optional<TimeNs> start_ns;
  std::optional<TimeNs> end_ns;
  std::optional<std::uint64_t> first_request;
  std::optional<std::uint64_t> last_request;
};

struct Match {
  std::vector<Operation> operations;  // empty: every operation
  std::string bucket;                 // empty: every bucket
  std::string key_prefix;             // empty: every key
  double probability = 1.0;
};

struct FaultRule {
  std::string name;
  Window window;
  Match match;
  Effect effect;
};

enum class EventType { death, bit_rot };

struct FaultEvent {
  std::string name;
  EventType type = EventType::death;
  TimeNs at_ns = 0;
  // death: how long the service stays down (refusing connections) before it restarts.
  TimeNs down_ns = 0;
  // bit_rot
  std::string bucket;
  std::string key_prefix;
  double probability = 1.0;
  int bit_flips = 1;
};

struct FaultPlan {
  std::vector<FaultRule> rules;
  std::vector<FaultEvent> events;  // kept sorted by at_ns (stable)
};

// Parses and validates a plan. Unknown fields, wrong types, out-of-range values: a
// FaultPlanError naming the rule/event index and field. A JSON syntax error names the line
// and column.
FaultPlan parse_fault_plan(std::string_view json_text);
// Serialises a plan back to JSON (parse_fault_plan(to_json(p)) == p).
std::string fault_plan_to_json(const FaultPlan& plan);

enum class Transport {
  response,  // the response below reaches the client (after the latency)
  refused,   // the connection is refused at once
  reset,     // the connection is reset after the latency
  hang,      // nothing ever comes back; the client's time-out decides
};
std::string_view transport_name(Transport transport);

struct Outcome {
  std::uint64_t request_sequence = 0;  // 1, 2, 3, ... in the order handle() was called
  Transport transport = Transport::response;
  HttpResponse response;  // when transport == response; otherwise status 0, no headers
  TimeNs added_latency_ns = 0;
  RequestTarget target;
  // Whether the core executed the request (a write may be stored even if the client sees an
  // error or nothing).
  bool processed = false;
  // Indexes of the plan rules that fired, ascending; for traces and reports.
  std::vector<int> rules_fired;
};

class FaultyS3 {
 public:
  FaultyS3(CoreSettings settings, FaultPlan plan, std::uint64_t root_seed);
  // The same over a durable record (storage.hpp; e.g. open_persistent_storage for the
  // server's --data-dir): the core restores what the storage holds. A null `storage` is the
  // constructor above. Throws StorageError if the record is damaged.
  FaultyS3(CoreSettings settings, FaultPlan plan, std::uint64_t root_seed,
           std::unique_ptr<ObjectStorage> storage);

  // Processes every plan event (deaths, restarts, bit rot) and durability expiry due at or
  // before `now`, in time order. `now` never goes back.
  void advance_to(TimeNs now);
  // The earliest time at which advance_to has something to do, if anything is left.
  std::optional<TimeNs> next_event_time() const;

  // One request at `now` (calls advance_to(now) first).
  Outcome handle(TimeNs now, const HttpRequest& request);

  // Deaths so far. A response computed in one epoch and delivered after a death should be
  // replaced by a reset: the request was in flight when the service died.
  std::uint64_t epoch() const { return epoch_; }
  // False between a death and its restart.
  bool is_up() const { return up_; }

  S3Core& core() { return core_; }
  const S3Core& core() const { return core_; }
  TruthView truth() const { return core_.truth(); }
  const FaultPlan& plan() const { return plan_; }

 private:
  void run_event(const FaultEvent& event, std::size_t index);

  S3Core core_;
  FaultPlan plan_;
  sim::RandomStream faults_random_;
  std::uint64_t next_request_sequence_ = 1;
  std::size_t next_event_index_ = 0;
  std::optional<TimeNs> restart_at_;
  std::uint64_t epoch_ = 0;
  bool up_ = true;
  TimeNs now_ = 0;
};

}  // namespace s3chaos::fake_s3
