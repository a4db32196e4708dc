// Proves "one seed, one history" for the kernel: a small randomized simulation (a client
// putting photos to a server over a faulty RPC link, a nemesis partitioning it, several named
// streams, thousands of events) gives the same trace hash when run twice with one seed, a
// different hash with another seed, the same hash when an extra stream consumer is added, and
// a pinned golden hash for seed 2008, so any change to the kernel's determinism is noticed.
//
// Updating the golden hash: only when a change is meant to alter simulated histories (a new
// draw, a new trace record, a different encoding). Run this test, copy the hash it prints for
// seed 2008 into golden_hash_seed_2008, and say why in the commit message. The value assumes
// IEEE-754 doubles and glibc's libm (log-normal latencies call std::log, std::exp, std::cos).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"

namespace s3chaos::sim {
namespace {

constexpr const char* golden_hash_seed_2008 =
    "702a2f3c5eb2632352919b52d99235661fdc20110be24d8194407b3a7aace5e6";

constexpr TimeNs ms = nanoseconds_per_millisecond;
constexpr int photos_count = 2000;
constexpr int attempts_max = 4;
constexpr std::uint64_t events_max = 1'000'000;

struct Outcome {
  std::string hash;
  std::uint64_t events_run = 0;
  std::uint64_t records = 0;
  int acked = 0;
  int given_up = 0;
};

struct Options {
  std::size_t records_kept_max = trace_records_kept_max_default;
  bool extra_consumer = false;  // A new stream drawn from at every put, tracing nothing.
};

Outcome simulate(std::uint64_t seed, Options options = {}) {
  using Rpc = RpcLink<std::string, std::string>;
  Scheduler scheduler;
  Trace trace(options.records_kept_max);
  RandomStream arrivals = RandomStream::named(seed, "workload.arrivals");
  RandomStream service = RandomStream::named(seed, "server.service");
  RandomStream nemesis = RandomStream::named(seed, "nemesis");
  RandomStream backoff = RandomStream::named(seed, "client.backoff");
  RandomStream extra = RandomStream::named(seed, "metrics.sampling");

  LinkConfig config;
  config.latency = LatencyDistribution::log_normal(20 * ms, 0.6, 1 * ms, 2000 * ms)
                       .with_spikes(0.02, 100 * ms, 900 * ms);
  config.odds_a_to_b = FateOdds{.drop = 0.03, .reset = 0.02, .hang = 0.01};
  config.odds_b_to_a = FateOdds{.drop = 0.02, .reset = 0.02, .hang = 0.01};
  Rpc link(scheduler, RandomStream::named(seed, "net.s3"), config, &trace, "net.s3");

  // The server: stores each put (a std::map, iterated only in key order) after a service time.
  std::map<std::string, std::string> store;
  link.serve([&](Rpc::CallId call, std::string request) {
    const TimeNs service_ns = service.between(1 * ms, 30 * ms);
    scheduler.schedule_after(service_ns, [&, call, request] {
      store[request] = "stored";
      trace.record(scheduler.now(), "server", "put", {static_cast<std::int64_t>(store.size())},
                   request);
      link.respond(call, "200 " + request);
    });
  });

  // The client: puts each photo, retrying with jittered backoff on errors.
  Outcome outcome;
  std::function<void(int, int)> put = [&](int photo, int attempt) {
    if (options.extra_consumer) extra.next_u64();
    const std::string key = "photo-" + std::to_string(photo);
    link.call(
        key, 500 * ms,
        [&, photo](const std::string&) {
          ++outcome.acked;
          trace.record(scheduler.now(), "client", "ack", {photo});
        },
        [&, photo, attempt](LinkError error) {
          trace.record(scheduler.now(), "client", "error",
                       {photo, attempt, static_cast<std::int64_t>(error)});
          if (attempt + 1 == attempts_max) {
            ++outcome.given_up;
            return;
          }
          const TimeNs delay = backoff.between(10 * ms, 100 * ms << attempt);
          scheduler.schedule_after(delay, [&put, photo, attempt] { put(photo, attempt + 1); });
        });
  };
  TimeNs arrival = 0;
  for (int photo = 0; photo < photos_count; ++photo) {
    arrival += static_cast<TimeNs>(arrivals.exponential(5.0 * ms));
    scheduler.schedule_at(arrival, [&put, photo] { put(photo, 0); });
  }

  // The nemesis: a few partitions of random mode and length.
  TimeNs nemesis_time = 0;
  for (int i = 0; i < 5; ++i) {
    nemesis_time += nemesis.between(500 * ms, 2000 * ms);
    const PartitionMode mode = nemesis.chance(0.5) ? PartitionMode::drop : PartitionMode::refuse;
    const TimeNs length = nemesis.between(50 * ms, 400 * ms);
    scheduler.schedule_at(nemesis_time, [&link, mode] { link.partition(mode); });
    scheduler.schedule_at(nemesis_time + length, [&link] { link.heal(); });
  }

  const RunResult result = scheduler.run(events_max);
  EXPECT_EQ(result.reason, StopReason::queue_empty);
  trace.record(
      scheduler.now(), "sim", "end",
      {static_cast<std::int64_t>(scheduler.events_run()), static_cast<std::int64_t>(store.size())});
  outcome.hash = trace.hash().hex();
  outcome.events_run = scheduler.events_run();
  outcome.records = trace.records_count();
  return outcome;
}

TEST(Determinism, SameSeedGivesTheSameTraceHash) {
  const Outcome first = simulate(2008);
  const Outcome second = simulate(2008);
  EXPECT_EQ(first.hash, second.hash);
  EXPECT_EQ(first.events_run, second.events_run);
  // The run is big enough to mean something, and the faults really happened.
  EXPECT_GT(first.events_run, 2000u);
  EXPECT_GT(first.acked, photos_count / 2);
  EXPECT_LT(first.acked, photos_count);
}

TEST(Determinism, DifferentSeedsGiveDifferentTraceHashes) {
  EXPECT_NE(simulate(2008).hash, simulate(2009).hash);
  EXPECT_NE(simulate(1).hash, simulate(2).hash);
}

TEST(Determinism, AddingAStreamConsumerChangesNothingElse) {
  EXPECT_EQ(simulate(2008).hash, simulate(2008, {.extra_consumer = true}).hash);
}

TEST(Determinism, KeepingRecordsInMemoryDoesNotChangeTheHash) {
  EXPECT_EQ(simulate(2008).hash, simulate(2008, {.records_kept_max = 0}).hash);
  EXPECT_EQ(simulate(2008).hash, simulate(2008, {.records_kept_max = 10}).hash);
}

TEST(Determinism, GoldenHashForSeed2008) {
  const Outcome outcome = simulate(2008);
  EXPECT_EQ(outcome.hash, golden_hash_seed_2008)
      << "The kernel's history for seed 2008 changed (" << outcome.events_run << " events, "
      << outcome.records << " records, " << outcome.acked << " acked, " << outcome.given_up
      << " given up). If the change is intended, set golden_hash_seed_2008 in "
         "tests/sim/determinism_test.cpp to "
      << outcome.hash << " and say why in the commit message.";
}

}  // namespace
}  // namespace s3chaos::sim
