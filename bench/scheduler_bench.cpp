// Scheduler throughput: simple events scheduled and run per second on one core, next to a
// ceiling measured in the same run: std::priority_queue over the same 128-bit (time, sequence)
// keys, calling the same trivial callback through a function pointer. The ceiling has no event
// ids, no cancellation and no callback storage, so the ratio says what those cost.
//
// Two shapes:
// - Batch/N: schedule N events at scattered times, then run them all.
// - Hold/K: K events pending; each one, when it runs, schedules a successor a scattered delay
//   later (the classic "hold" model of a simulation in steady state).
// - TimeoutsMostlyCancelled: each event arms a timeout and cancels the previous one, as RPC
//   calls that answer in time do.
// Also the cost of one trace record (hashed only, or hashed and kept) and of one RPC call over
// a simulated link (request, response, timeout armed and cancelled, trace records).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "sim/network.hpp"
#include "sim/scheduler.hpp"
#include "sim/trace.hpp"

namespace {

using s3chaos::sim::Scheduler;
using s3chaos::sim::TimeNs;

// Delays from a fixed xorshift sequence, so every benchmark sees the same times.
std::vector<TimeNs> scattered_delays(std::size_t count) {
  std::vector<TimeNs> delays(count);
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (auto& delay : delays) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    delay = static_cast<TimeNs>(x % 1'000'000);
  }
  return delays;
}

constexpr std::size_t delays_count = 1 << 16;

void BM_Scheduler_Batch(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  const std::vector<TimeNs> delays = scattered_delays(delays_count);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    Scheduler scheduler;
    for (std::size_t i = 0; i < events; ++i) {
      scheduler.schedule_after(delays[i % delays_count], [&counter] { ++counter; });
    }
    scheduler.run(events);
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
}

struct Hold {
  Scheduler* scheduler;
  const std::vector<TimeNs>* delays;
  std::uint64_t* counter;
  void operator()() const {
    const std::uint64_t n = ++*counter;
    scheduler->schedule_after((*delays)[n % delays_count], *this);
  }
};

void BM_Scheduler_Hold(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  const std::vector<TimeNs> delays = scattered_delays(delays_count);
  constexpr std::uint64_t events_per_iteration = 1 << 20;
  std::uint64_t counter = 0;
  Scheduler scheduler;
  for (std::size_t i = 0; i < pending; ++i) {
    scheduler.schedule_after(delays[i], Hold{&scheduler, &delays, &counter});
  }
  for (auto _ : state) scheduler.run(events_per_iteration);
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
}

void BM_Scheduler_TimeoutsMostlyCancelled(benchmark::State& state) {
  constexpr std::size_t events = 1 << 16;
  std::uint64_t counter = 0;
  for (auto _ : state) {
    Scheduler scheduler;
    s3chaos::sim::EventId previous;
    for (std::size_t i = 0; i < events; ++i) {
      scheduler.cancel(previous);
      previous =
          scheduler.schedule_after(1'000'000 + static_cast<TimeNs>(i), [&counter] { ++counter; });
    }
    scheduler.run(events);
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
}

// The ceiling: the same keys in a std::priority_queue, the same callback by function pointer.
using Key = unsigned __int128;
using Callback = void (*)(std::uint64_t*);
void increment(std::uint64_t* counter) {
  ++*counter;
}
Key make_key(TimeNs time, std::uint64_t sequence) {
  return (static_cast<Key>(static_cast<std::uint64_t>(time)) << 64) | sequence;
}

void BM_Ceiling_Batch(benchmark::State& state) {
  const auto events = static_cast<std::size_t>(state.range(0));
  const std::vector<TimeNs> delays = scattered_delays(delays_count);
  std::uint64_t counter = 0;
  Callback volatile callback = &increment;
  for (auto _ : state) {
    std::priority_queue<Key, std::vector<Key>, std::greater<>> queue;
    std::uint64_t sequence = 0;
    for (std::size_t i = 0; i < events; ++i) {
      queue.push(make_key(delays[i % delays_count], ++sequence));
    }
    TimeNs now = 0;
    while (!queue.empty()) {
      now = static_cast<TimeNs>(queue.top() >> 64);
      queue.pop();
      callback(&counter);
    }
    benchmark::DoNotOptimize(now);
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
}

void BM_Ceiling_Hold(benchmark::State& state) {
  const auto pending = static_cast<std::size_t>(state.range(0));
  const std::vector<TimeNs> delays = scattered_delays(delays_count);
  constexpr std::uint64_t events_per_iteration = 1 << 20;
  std::uint64_t counter = 0;
  Callback volatile callback = &increment;
  std::priority_queue<Key, std::vector<Key>, std::greater<>> queue;
  std::uint64_t sequence = 0;
  for (std::size_t i = 0; i < pending; ++i) queue.push(make_key(delays[i], ++sequence));
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < events_per_iteration; ++i) {
      const auto now = static_cast<TimeNs>(queue.top() >> 64);
      queue.pop();
      callback(&counter);
      queue.push(make_key(now + delays[counter % delays_count], ++sequence));
    }
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_iteration));
}

void BM_Trace_Record(benchmark::State& state) {
  s3chaos::sim::Trace trace(static_cast<std::size_t>(state.range(0)));
  TimeNs time = 0;
  for (auto _ : state) {
    ++time;
    trace.record(time, "net.s3", "send", {time, 1, 0, 4096, 20'000'000});
  }
  benchmark::DoNotOptimize(trace.hash());
  state.SetItemsProcessed(state.iterations());
}

void BM_RpcLink_Call(benchmark::State& state) {
  using namespace s3chaos::sim;
  Scheduler scheduler;
  Trace trace(0);
  LinkConfig config;
  config.latency = LatencyDistribution::log_normal(20'000'000, 0.5, 1'000'000, 1'000'000'000);
  RpcLink<std::string, std::string> link(scheduler, RandomStream::named(1, "net"), config, &trace);
  link.serve([&link](RpcLink<std::string, std::string>::CallId call, std::string request) {
    link.respond(call, std::move(request));
  });
  std::uint64_t responses = 0;
  for (auto _ : state) {
    link.call(
        "PUT /photos/1", 5'000'000'000, [&responses](std::string) { ++responses; },
        [](LinkError) {});
    scheduler.run(16);
  }
  benchmark::DoNotOptimize(responses);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Scheduler_Batch)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_Ceiling_Batch)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_Scheduler_Hold)->Arg(16)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK(BM_Ceiling_Hold)->Arg(16)->Arg(1 << 10)->Arg(1 << 16);
BENCHMARK(BM_Scheduler_TimeoutsMostlyCancelled);
BENCHMARK(BM_Trace_Record)->Arg(0)->Arg(1 << 16);
BENCHMARK(BM_RpcLink_Call);

}  // namespace

BENCHMARK_MAIN();
