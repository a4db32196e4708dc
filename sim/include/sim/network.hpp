// A simulated network link between two endpoints, a and b, driven by the Scheduler and one
// RandomStream. No sockets: a message is handed over in memory after a drawn latency, or meets
// another fate. Two ways to use it:
// - Link<Message>: one-way messages in both directions (a lower level, for streams).
// - RpcLink<Request, Response>: request/response calls from a (client) to b (server) with a
//   per-call timeout; the shape a simulated HTTP exchange between the uploader and fake S3
//   takes. Fates apply to each leg separately, so "the server committed but the response was
//   lost" is one of the outcomes.
//
// Fates, drawn per message (docs/sim.md):
// - deliver: the receiver gets the message after the latency.
// - drop: lost in the network; nobody is told. A caller learns only from its own timeout.
// - reset: lost, and the sender gets a connection-reset notice after the latency.
// - hang: the peer (or a middlebox) holds the connection open and never answers: nothing
//   arrives and nothing comes back; only the sender's timeout ends the wait. To the sender a
//   hang looks like a drop; they are separate fates so that fault plans and traces say which
//   failure they mean.
// Partition (both directions, until heal): new messages are dropped (PartitionMode::drop) or
// refused, the sender getting a refusal notice after the latency (PartitionMode::refuse), and
// every message or notice in flight when the partition starts is lost, even if the link heals
// before it would have arrived (a cut wire loses what is on it).
//
// Randomness: each message draws its fate first, then its latency, from the link's stream,
// always the same draws whatever the fate, so the same seed gives the same fates and latencies.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "sim/random.hpp"
#include "sim/scheduler.hpp"
#include "sim/time.hpp"
#include "sim/trace.hpp"

namespace s3chaos::sim {

// Bound on any one latency, body or spike (an hour): keeps sums far from overflow.
inline constexpr TimeNs link_latency_ns_max = from_seconds(3600);
// Bound on a call's timeout (a day of simulated time).
inline constexpr TimeNs call_timeout_ns_max = from_seconds(86400);

enum class Endpoint : std::uint8_t { a = 0, b = 1 };
constexpr Endpoint other(Endpoint endpoint) {
  return endpoint == Endpoint::a ? Endpoint::b : Endpoint::a;
}

// What happens to one message. The first four are drawn from FateOdds; `refuse` comes from a
// partition in refuse mode, `cut` from a partition that starts while the message is in flight.
// The numeric values of Fate, LinkError and PartitionMode go into trace records, so into trace
// hashes: append new values, never renumber.
enum class Fate : std::uint8_t { deliver, drop, reset, hang, refuse, cut };
std::string_view to_string(Fate fate);

// What a sender (or caller) is told when its message fails.
enum class LinkError : std::uint8_t { reset, refused, timeout };
std::string_view to_string(LinkError error);

enum class PartitionMode : std::uint8_t { drop, refuse };

// One-way latency: a body drawn from a shape, clamped to [low_ns, high_ns], plus with
// probability spike_probability a spike drawn uniformly from [spike_min_ns, spike_max_ns].
// Every sample lies in [min_ns(), max_ns()].
struct LatencyDistribution {
  enum class Shape : std::uint8_t { fixed, uniform, log_normal };
  Shape shape = Shape::fixed;
  TimeNs low_ns = 0;     // fixed: the latency; uniform: lowest; log_normal: floor.
  TimeNs high_ns = 0;    // fixed: the latency; uniform: highest; log_normal: ceiling.
  TimeNs median_ns = 0;  // log_normal only.
  double sigma = 0;      // log_normal only: the spread of log(latency).
  double spike_probability = 0;
  TimeNs spike_min_ns = 0;
  TimeNs spike_max_ns = 0;

  static LatencyDistribution fixed(TimeNs latency_ns);
  static LatencyDistribution uniform(TimeNs low_ns, TimeNs high_ns);
  static LatencyDistribution log_normal(TimeNs median_ns, double sigma, TimeNs floor_ns,
                                        TimeNs ceiling_ns);
  LatencyDistribution with_spikes(double probability, TimeNs extra_min_ns,
                                  TimeNs extra_max_ns) const;

  TimeNs min_ns() const { return low_ns; }
  TimeNs max_ns() const { return high_ns + (spike_probability > 0 ? spike_max_ns : 0); }
  // What is wrong with these parameters, if anything (for scenario loaders to report).
  std::optional<std::string> problem() const;
  // One latency. Requires !problem().
  TimeNs sample(RandomStream& random) const;
};

// The odds of each fate for one direction; deliver gets the rest (1 - drop - reset - hang).
struct FateOdds {
  double drop = 0;
  double reset = 0;
  double hang = 0;
  std::optional<std::string> problem() const;
};

struct LinkConfig {
  LatencyDistribution latency = LatencyDistribution::fixed(from_microseconds(100));
  FateOdds odds_a_to_b;
  FateOdds odds_b_to_a;
  // Link<Message> only: messages delivered in one direction arrive in the order they were sent
  // (a message's arrival is pushed back to the previous one's), as on one TCP connection.
  // Lost messages hold nothing up. RpcLink calls are independent exchanges (one connection
  // each, as HTTP/1.1 clients with a pool do), so they are never ordered against each other.
  bool in_order = true;
  std::optional<std::string> problem() const;
};

// The part of a link that does not depend on the message type: configuration, fates,
// latencies, partitions and tracing. Link and RpcLink add the payloads.
class LinkCore {
 public:
  // `trace` may be null (no records). `name` is the trace component ("net.s3").
  LinkCore(Scheduler& scheduler, RandomStream random, LinkConfig config, Trace* trace,
           std::string name);
  LinkCore(const LinkCore&) = delete;
  LinkCore& operator=(const LinkCore&) = delete;

  Scheduler& scheduler() noexcept { return scheduler_; }
  const LinkConfig& config() const noexcept { return config_; }
  // Changes take effect for messages sent from now on. Require a config without problem().
  void set_latency(const LatencyDistribution& latency);
  void set_odds(Endpoint from, const FateOdds& odds);
  void set_odds(const FateOdds& both_directions);

  // Cuts the link both ways until heal() (see the header comment). Partitioning a partitioned
  // link changes its mode and cuts again.
  void partition(PartitionMode mode);
  void heal();
  bool partitioned() const noexcept { return partitioned_; }

  // Messages sent so far, and how many met each fate when sent. fate_count(Fate::cut) counts
  // messages and notices lost in flight to a partition; each is also counted under the fate it
  // was sent with.
  std::uint64_t messages_sent() const noexcept { return next_message_id_ - 1; }
  std::uint64_t fate_count(Fate fate) const noexcept {
    return fate_counts_[static_cast<int>(fate)];
  }

 protected:
  // One message on its way: what was decided when it was sent.
  struct Transit {
    std::uint64_t message_id;
    Endpoint from;
    Fate fate;
    TimeNs arrival_time;  // Of the message (deliver) or of the notice to the sender.
    std::uint64_t partition_epoch;
  };

  // Draws the fate and latency of a message from `from`, records "send", and counts the fate.
  // With `ordered`, a delivered message arrives no earlier than the previous delivered message
  // in the same direction.
  Transit begin(Endpoint from, std::uint64_t size_bytes, bool ordered);
  // Called at transit.arrival_time: whether the message (or notice) gets there, i.e. no
  // partition started since it was sent. Records "deliver"/"notice" or "cut".
  bool arrives(const Transit& transit);
  // Schedules what a transit's fate leads to: on_arrival() when a delivered message arrives,
  // on_failure(reset or refused) when a notice reaches the sender, nothing for a lost message;
  // neither runs if a partition cuts the transit first.
  template <typename OnArrival, typename OnFailure>
  void schedule_outcome(const Transit& transit, OnArrival on_arrival, OnFailure on_failure) {
    switch (transit.fate) {
      case Fate::deliver:
        scheduler_.schedule_at(transit.arrival_time,
                               [this, transit, on_arrival = std::move(on_arrival)]() mutable {
                                 if (arrives(transit)) on_arrival();
                               });
        break;
      case Fate::reset:
      case Fate::refuse:
        scheduler_.schedule_at(
            transit.arrival_time, [this, transit, on_failure = std::move(on_failure)]() mutable {
              if (!arrives(transit)) return;
              on_failure(transit.fate == Fate::reset ? LinkError::reset : LinkError::refused);
            });
        break;
      case Fate::drop:
      case Fate::hang:
      case Fate::cut:
        break;
    }
  }
  void record(std::string_view kind, std::initializer_list<std::int64_t> numbers);

 private:
  Scheduler& scheduler_;
  RandomStream random_;
  LinkConfig config_;
  Trace* trace_;
  std::string name_;
  std::uint64_t next_message_id_ = 1;
  std::uint64_t partition_epoch_ = 0;
  bool partitioned_ = false;
  PartitionMode partition_mode_ = PartitionMode::drop;
  TimeNs last_arrival_[2] = {0, 0};
  std::uint64_t fate_counts_[6] = {};
};

// The size a message counts for in the trace: its size() if it has one, else 0.
template <typename Message>
std::uint64_t message_size_bytes(const Message& message) {
  if constexpr (requires { message.size(); }) {
    return static_cast<std::uint64_t>(message.size());
  } else {
    return 0;
  }
}

// One-way messages between a and b.
template <typename Message>
class Link : public LinkCore {
 public:
  using Receiver = std::function<void(Message)>;
  // Told the sender when its message is reset or refused (never on drop, hang or cut).
  using FailureHandler = std::function<void(LinkError)>;

  Link(Scheduler& scheduler, RandomStream random, LinkConfig config, Trace* trace = nullptr,
       std::string name = "net")
      : LinkCore(scheduler, std::move(random), std::move(config), trace, std::move(name)) {}

  // Who receives at `endpoint`. A message arriving where no receiver is set is a bug.
  void set_receiver(Endpoint endpoint, Receiver receiver) {
    receivers_[static_cast<int>(endpoint)] = std::move(receiver);
  }

  // Sends `message` from `from` to the other endpoint. Returns its message id.
  std::uint64_t send(Endpoint from, Message message, FailureHandler on_failure = {}) {
    const Transit transit = begin(from, message_size_bytes(message), config().in_order);
    schedule_outcome(
        transit,
        [this, to = other(from), message = std::move(message)]() mutable {
          Receiver& receiver = receivers_[static_cast<int>(to)];
          S3CHAOS_ASSERT_MSG(receiver != nullptr, "no receiver set");
          receiver(std::move(message));
        },
        [on_failure = std::move(on_failure)](LinkError error) {
          if (on_failure) on_failure(error);
        });
    return transit.message_id;
  }

 private:
  Receiver receivers_[2];
};

// Request/response calls from a (the client) to b (the server).
//
// Every call ends exactly once for the client: on_response with the server's response, or
// on_error with reset, refused or timeout. After that, anything else about the call (a late
// response, a late reset) is recorded as "late" and dropped. The server side does not know
// what the client saw: a request that arrives after its caller timed out is still served, and
// the server may respond at any later time (or never) through respond().
template <typename Request, typename Response>
class RpcLink : public LinkCore {
 public:
  using CallId = std::uint64_t;
  // The server: takes each request that arrives; answers later with respond(call, ...).
  using Server = std::function<void(CallId, Request)>;
  using OnResponse = std::function<void(Response)>;
  using OnError = std::function<void(LinkError)>;

  RpcLink(Scheduler& scheduler, RandomStream random, LinkConfig config, Trace* trace = nullptr,
          std::string name = "net")
      : LinkCore(scheduler, std::move(random), std::move(config), trace, std::move(name)) {}

  void serve(Server server) { server_ = std::move(server); }

  // Sends `request` to the server. Exactly one of on_response / on_error runs later (never
  // inside this call). Requires 0 < timeout_ns <= call_timeout_ns_max.
  CallId call(Request request, TimeNs timeout_ns, OnResponse on_response, OnError on_error) {
    S3CHAOS_ASSERT(timeout_ns > 0 && timeout_ns <= call_timeout_ns_max);
    const CallId call_id = next_call_id_++;
    const Transit transit = begin(Endpoint::a, message_size_bytes(request), false);
    record("call", {static_cast<std::int64_t>(call_id),
                    static_cast<std::int64_t>(transit.message_id), timeout_ns});
    const EventId timeout = scheduler().schedule_after(
        timeout_ns, [this, call_id] { finish_with_error(call_id, LinkError::timeout); });
    waiting_.emplace(call_id, Waiting{std::move(on_response), std::move(on_error), timeout});
    schedule_outcome(
        transit,
        [this, call_id, request = std::move(request)]() mutable {
          S3CHAOS_ASSERT_MSG(server_ != nullptr, "no server set");
          serving_.insert(call_id);
          server_(call_id, std::move(request));
        },
        [this, call_id](LinkError error) { finish_with_error(call_id, error); });
    return call_id;
  }

  // The server answers a request it received (once per call). The response leg draws its own
  // fate: if it is lost the server never knows, and the client times out.
  void respond(CallId call_id, Response response) {
    S3CHAOS_ASSERT_MSG(serving_.erase(call_id) == 1, "respond() to a call not being served");
    const Transit transit = begin(Endpoint::b, message_size_bytes(response), false);
    record("respond",
           {static_cast<std::int64_t>(call_id), static_cast<std::int64_t>(transit.message_id)});
    schedule_outcome(
        transit,
        [this, call_id, response = std::move(response)]() mutable {
          finish_with_response(call_id, std::move(response));
        },
        [this, call_id](LinkError error) { finish_with_error(call_id, error); });
  }

  // Calls whose client has not been told an outcome yet.
  std::size_t calls_waiting() const noexcept { return waiting_.size(); }
  // Calls the server received and has not responded to.
  std::size_t calls_serving() const noexcept { return serving_.size(); }

 private:
  struct Waiting {
    OnResponse on_response;
    OnError on_error;
    EventId timeout;
  };

  // Takes the call's waiting client out, its timeout cancelled. Records "late" and returns
  // nothing if the call already ended.
  std::optional<Waiting> take_waiting(CallId call_id) {
    const auto found = waiting_.find(call_id);
    if (found == waiting_.end()) {
      record("late", {static_cast<std::int64_t>(call_id)});
      return std::nullopt;
    }
    Waiting waiting = std::move(found->second);
    waiting_.erase(found);
    // When the timeout itself is what ends the call, its event is running and this is a no-op.
    scheduler().cancel(waiting.timeout);
    return waiting;
  }

  void finish_with_response(CallId call_id, Response response) {
    std::optional<Waiting> waiting = take_waiting(call_id);
    if (!waiting) return;
    record("response", {static_cast<std::int64_t>(call_id)});
    if (waiting->on_response) waiting->on_response(std::move(response));
  }

  void finish_with_error(CallId call_id, LinkError error) {
    std::optional<Waiting> waiting = take_waiting(call_id);
    if (!waiting) return;
    record("error", {static_cast<std::int64_t>(call_id), static_cast<std::int64_t>(error)});
    if (waiting->on_error) waiting->on_error(error);
  }

  Server server_;
  CallId next_call_id_ = 1;
  // Looked up by id only, never iterated, so their order cannot reach the simulation.
  std::unordered_map<CallId, Waiting> waiting_;
  std::unordered_set<CallId> serving_;
};

}  // namespace s3chaos::sim
