// Proves the simulated link's documented behaviour: latencies stay within their distribution's
// bounds; deliver, drop, reset, hang, partition (drop and refuse) and heal each do what
// network.hpp says; in-order links keep send order; fates follow their odds and the seed alone;
// and every RPC call ends exactly once for its caller, whatever the fates.
#include "sim/network.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "property_cases.hpp"

namespace s3chaos::sim {
namespace {

constexpr TimeNs ms = nanoseconds_per_millisecond;

LinkConfig config_with(LatencyDistribution latency, FateOdds odds = {}) {
  LinkConfig config;
  config.latency = latency;
  config.odds_a_to_b = odds;
  config.odds_b_to_a = odds;
  return config;
}

// A one-way link with a receiver on each side that logs (time, message).
struct OneWay {
  Scheduler scheduler;
  Trace trace;
  Link<std::string> link;
  std::vector<std::pair<TimeNs, std::string>> at_a;
  std::vector<std::pair<TimeNs, std::string>> at_b;
  std::vector<std::pair<TimeNs, LinkError>> failures;

  OneWay(LinkConfig config, std::uint64_t seed = 1)
      : link(scheduler, RandomStream::named(seed, "net"), std::move(config), &trace) {
    link.set_receiver(Endpoint::a, [this](std::string m) { at_a.emplace_back(now(), m); });
    link.set_receiver(Endpoint::b, [this](std::string m) { at_b.emplace_back(now(), m); });
  }
  TimeNs now() const { return scheduler.now(); }
  void send(Endpoint from, std::string message) {
    link.send(from, std::move(message),
              [this](LinkError error) { failures.emplace_back(now(), error); });
  }
};

TEST(LatencyDistribution, SamplesStayWithinBoundsAndLogNormalCentresOnItsMedian) {
  RandomStream random = RandomStream::named(7, "latency");
  const LatencyDistribution fixed = LatencyDistribution::fixed(3 * ms);
  const LatencyDistribution uniform = LatencyDistribution::uniform(1 * ms, 9 * ms);
  const LatencyDistribution log_normal =
      LatencyDistribution::log_normal(20 * ms, 1.0, 1 * ms, 500 * ms);
  const LatencyDistribution spiky = uniform.with_spikes(0.05, 100 * ms, 200 * ms);
  std::vector<TimeNs> log_normal_samples;
  int spikes = 0;
  for (int i = 0; i < 20000; ++i) {
    EXPECT_EQ(fixed.sample(random), 3 * ms);
    const TimeNs u = uniform.sample(random);
    ASSERT_GE(u, 1 * ms);
    ASSERT_LE(u, 9 * ms);
    const TimeNs l = log_normal.sample(random);
    ASSERT_GE(l, 1 * ms);
    ASSERT_LE(l, 500 * ms);
    log_normal_samples.push_back(l);
    const TimeNs s = spiky.sample(random);
    ASSERT_GE(s, spiky.min_ns());
    ASSERT_LE(s, spiky.max_ns());
    if (s >= 100 * ms) ++spikes;
  }
  std::nth_element(log_normal_samples.begin(), log_normal_samples.begin() + 10000,
                   log_normal_samples.end());
  EXPECT_NEAR(static_cast<double>(log_normal_samples[10000]), 20.0 * ms, 2.0 * ms);
  EXPECT_NEAR(spikes, 1000, 150);  // 5% of 20000.
  EXPECT_EQ(spiky.max_ns(), 209 * ms);
}

RC_GTEST_PROP(LatencyDistributionProperty, UniformWithSpikesStaysInBounds, (std::uint64_t seed)) {
  const TimeNs low = *rc::gen::inRange<TimeNs>(0, 1000);
  const TimeNs high = low + *rc::gen::inRange<TimeNs>(0, 1000);
  const TimeNs spike_low = *rc::gen::inRange<TimeNs>(0, 1000);
  const TimeNs spike_high = spike_low + *rc::gen::inRange<TimeNs>(0, 1000);
  const LatencyDistribution d = LatencyDistribution::uniform(low, high).with_spikes(
      *rc::gen::inRange(0, 101) / 100.0, spike_low, spike_high);
  RC_ASSERT(!d.problem());
  RandomStream random(seed);
  for (int i = 0; i < 200; ++i) {
    const TimeNs t = d.sample(random);
    RC_ASSERT(t >= low);
    RC_ASSERT(t <= high + spike_high);
  }
}

TEST(LatencyDistribution, BadParametersAreReportedNotUsed) {
  EXPECT_TRUE(LatencyDistribution::uniform(5, 4).problem());
  EXPECT_TRUE(LatencyDistribution::uniform(-1, 4).problem());
  EXPECT_TRUE(LatencyDistribution::log_normal(0, 1.0, 0, 10).problem());
  EXPECT_TRUE(LatencyDistribution::fixed(1).with_spikes(1.5, 0, 1).problem());
  EXPECT_TRUE(LatencyDistribution::fixed(link_latency_ns_max + 1).problem());
  EXPECT_TRUE((FateOdds{0.5, 0.5, 0.1}.problem()));
  EXPECT_TRUE((FateOdds{-0.1, 0, 0}.problem()));
  EXPECT_FALSE((FateOdds{0.5, 0.25, 0.25}.problem()));
  EXPECT_FALSE(LinkConfig{}.problem());
}

TEST(Link, DeliversAfterTheLatencyInBothDirections) {
  OneWay net(config_with(LatencyDistribution::fixed(5 * ms)));
  net.send(Endpoint::a, "hello");
  net.scheduler.run_until(2 * ms, 100);
  net.send(Endpoint::b, "back");
  net.scheduler.run(100);
  EXPECT_EQ(net.at_b, (std::vector<std::pair<TimeNs, std::string>>{{5 * ms, "hello"}}));
  EXPECT_EQ(net.at_a, (std::vector<std::pair<TimeNs, std::string>>{{7 * ms, "back"}}));
  EXPECT_TRUE(net.failures.empty());
  EXPECT_EQ(net.link.fate_count(Fate::deliver), 2u);
}

TEST(Link, InOrderLinksKeepSendOrderUnorderedOnesNeedNot) {
  // Latency spread far wider than the send interval: an unordered link reorders.
  auto received_in_order = [](bool in_order) {
    LinkConfig config = config_with(LatencyDistribution::uniform(1 * ms, 50 * ms));
    config.in_order = in_order;
    OneWay net(config, 3);
    for (int i = 0; i < 200; ++i) {
      net.scheduler.schedule_at(i * ms / 10,
                                [&net, i] { net.send(Endpoint::a, std::to_string(i)); });
    }
    net.scheduler.run(10000);
    EXPECT_EQ(net.at_b.size(), 200u);
    for (std::size_t i = 0; i < net.at_b.size(); ++i) {
      if (net.at_b[i].second != std::to_string(i)) return false;
    }
    return true;
  };
  EXPECT_TRUE(received_in_order(true));
  EXPECT_FALSE(received_in_order(false));
}

TEST(Link, DropLosesTheMessageSilently) {
  OneWay net(config_with(LatencyDistribution::fixed(1 * ms), FateOdds{.drop = 1.0}));
  for (int i = 0; i < 10; ++i) net.send(Endpoint::a, "x");
  net.scheduler.run(100);
  EXPECT_TRUE(net.at_b.empty());
  EXPECT_TRUE(net.failures.empty());
  EXPECT_EQ(net.link.fate_count(Fate::drop), 10u);
}

TEST(Link, ResetTellsTheSenderAfterTheLatency) {
  OneWay net(config_with(LatencyDistribution::fixed(4 * ms), FateOdds{.reset = 1.0}));
  net.send(Endpoint::a, "x");
  net.scheduler.run(100);
  EXPECT_TRUE(net.at_b.empty());
  EXPECT_EQ(net.failures, (std::vector<std::pair<TimeNs, LinkError>>{{4 * ms, LinkError::reset}}));
}

TEST(Link, HangDeliversNothingAndTellsNobody) {
  OneWay net(config_with(LatencyDistribution::fixed(1 * ms), FateOdds{.hang = 1.0}));
  net.send(Endpoint::a, "x");
  net.send(Endpoint::b, "y");
  EXPECT_TRUE(net.scheduler.empty());  // Nothing will ever happen for a hung message.
  net.scheduler.run(100);
  EXPECT_TRUE(net.at_a.empty() && net.at_b.empty() && net.failures.empty());
  EXPECT_EQ(net.link.fate_count(Fate::hang), 2u);
}

TEST(Link, PartitionDropsNewMessagesCutsInFlightOnesAndHealRestores) {
  OneWay net(config_with(LatencyDistribution::fixed(10 * ms)));
  net.send(Endpoint::a, "in flight");
  net.scheduler.run_until(5 * ms, 100);
  net.link.partition(PartitionMode::drop);
  net.send(Endpoint::b, "during");
  // Healed before the in-flight message would arrive: it is lost all the same.
  net.scheduler.run_until(8 * ms, 100);
  net.link.heal();
  net.scheduler.run(100);
  EXPECT_TRUE(net.at_a.empty());
  EXPECT_TRUE(net.at_b.empty());
  EXPECT_TRUE(net.failures.empty());
  EXPECT_EQ(net.link.fate_count(Fate::cut), 1u);
  EXPECT_EQ(net.link.fate_count(Fate::drop), 1u);
  net.send(Endpoint::a, "after");
  net.scheduler.run(100);
  EXPECT_EQ(net.at_b, (std::vector<std::pair<TimeNs, std::string>>{{20 * ms, "after"}}));
}

TEST(Link, PartitionInRefuseModeTellsTheSender) {
  OneWay net(config_with(LatencyDistribution::fixed(3 * ms)));
  net.link.partition(PartitionMode::refuse);
  EXPECT_TRUE(net.link.partitioned());
  net.send(Endpoint::b, "x");
  net.scheduler.run(100);
  EXPECT_TRUE(net.at_a.empty());
  EXPECT_EQ(net.failures,
            (std::vector<std::pair<TimeNs, LinkError>>{{3 * ms, LinkError::refused}}));
}

TEST(Link, FatesFollowTheirOdds) {
  OneWay net(config_with(LatencyDistribution::fixed(1 * ms),
                         FateOdds{.drop = 0.2, .reset = 0.1, .hang = 0.05}));
  const int count = 20000;
  for (int i = 0; i < count; ++i) net.send(Endpoint::a, "x");
  net.scheduler.run(10 * count);
  EXPECT_NEAR(net.link.fate_count(Fate::drop), 0.2 * count, 400);
  EXPECT_NEAR(net.link.fate_count(Fate::reset), 0.1 * count, 300);
  EXPECT_NEAR(net.link.fate_count(Fate::hang), 0.05 * count, 200);
  EXPECT_EQ(net.at_b.size(), net.link.fate_count(Fate::deliver));
  EXPECT_EQ(net.failures.size(), net.link.fate_count(Fate::reset));
}

TEST(Link, SameSeedSameFatesAndLatencies) {
  auto run = [](std::uint64_t seed) {
    OneWay net(config_with(LatencyDistribution::log_normal(5 * ms, 0.8, 1 * ms, 100 * ms),
                           FateOdds{.drop = 0.1, .reset = 0.1, .hang = 0.1}),
               seed);
    for (int i = 0; i < 500; ++i) net.send(i % 2 ? Endpoint::a : Endpoint::b, std::to_string(i));
    net.scheduler.run(10000);
    return net.trace.hash();
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

// An RPC link from a client to a server that answers each request after `service_ns`.
struct Rpc {
  Scheduler scheduler;
  Trace trace;
  RpcLink<std::string, std::string> link;
  TimeNs service_ns = 0;
  std::vector<std::string> served;
  std::vector<std::pair<TimeNs, std::string>> responses;
  std::vector<std::pair<TimeNs, LinkError>> errors;

  Rpc(LinkConfig config, std::uint64_t seed = 1)
      : link(scheduler, RandomStream::named(seed, "net.rpc"), std::move(config), &trace) {
    link.serve([this](RpcLink<std::string, std::string>::CallId call, std::string request) {
      served.push_back(request);
      scheduler.schedule_after(service_ns,
                               [this, call, request] { link.respond(call, "re:" + request); });
    });
  }
  void call(std::string request, TimeNs timeout_ns) {
    link.call(
        std::move(request), timeout_ns,
        [this](std::string response) { responses.emplace_back(scheduler.now(), response); },
        [this](LinkError error) { errors.emplace_back(scheduler.now(), error); });
  }
};

TEST(RpcLink, ARequestAndItsResponseEachTakeALatencyAndTheTimeoutIsCancelled) {
  Rpc rpc(config_with(LatencyDistribution::fixed(2 * ms)));
  rpc.service_ns = 1 * ms;
  rpc.call("put", 100 * ms);
  rpc.scheduler.run(100);
  EXPECT_EQ(rpc.served, (std::vector<std::string>{"put"}));
  EXPECT_EQ(rpc.responses, (std::vector<std::pair<TimeNs, std::string>>{{5 * ms, "re:put"}}));
  EXPECT_TRUE(rpc.errors.empty());
  EXPECT_EQ(rpc.scheduler.now(), 5 * ms);  // The cancelled timeout did not run.
  EXPECT_EQ(rpc.link.calls_waiting(), 0u);
}

TEST(RpcLink, ALostResponseMeansTheServerActedButTheClientTimesOut) {
  // "Commit then lost response": the server served the request; the caller only sees a timeout.
  LinkConfig config = config_with(LatencyDistribution::fixed(2 * ms));
  config.odds_b_to_a = FateOdds{.drop = 1.0};
  Rpc rpc(config);
  rpc.call("put", 50 * ms);
  rpc.scheduler.run(100);
  EXPECT_EQ(rpc.served, (std::vector<std::string>{"put"}));
  EXPECT_TRUE(rpc.responses.empty());
  EXPECT_EQ(rpc.errors, (std::vector<std::pair<TimeNs, LinkError>>{{50 * ms, LinkError::timeout}}));
}

TEST(RpcLink, AResetResponseLegReachesTheClientAsAReset) {
  LinkConfig config = config_with(LatencyDistribution::fixed(2 * ms));
  config.odds_b_to_a = FateOdds{.reset = 1.0};
  Rpc rpc(config);
  rpc.call("put", 50 * ms);
  rpc.scheduler.run(100);
  EXPECT_EQ(rpc.served.size(), 1u);
  EXPECT_EQ(rpc.errors, (std::vector<std::pair<TimeNs, LinkError>>{{4 * ms, LinkError::reset}}));
}

TEST(RpcLink, AHungRequestNeverReachesTheServerAndOnlyTheTimeoutEndsTheCall) {
  Rpc rpc(config_with(LatencyDistribution::fixed(2 * ms), FateOdds{.hang = 1.0}));
  rpc.call("put", 30 * ms);
  rpc.scheduler.run(100);
  EXPECT_TRUE(rpc.served.empty());
  EXPECT_EQ(rpc.errors, (std::vector<std::pair<TimeNs, LinkError>>{{30 * ms, LinkError::timeout}}));
}

TEST(RpcLink, ARefusedCallFailsFastAndALateResponseIsIgnored) {
  Rpc rpc(config_with(LatencyDistribution::fixed(2 * ms)));
  rpc.link.partition(PartitionMode::refuse);
  rpc.call("refused", 30 * ms);
  rpc.scheduler.run(100);
  rpc.link.heal();
  rpc.service_ns = 100 * ms;  // The server answers after the caller gave up.
  rpc.call("slow", 30 * ms);
  rpc.scheduler.run(100);
  EXPECT_EQ(rpc.errors, (std::vector<std::pair<TimeNs, LinkError>>{{2 * ms, LinkError::refused},
                                                                   {32 * ms, LinkError::timeout}}));
  EXPECT_TRUE(rpc.responses.empty());
  EXPECT_EQ(rpc.served, (std::vector<std::string>{"slow"}));
  EXPECT_EQ(rpc.trace.kept_records().back().kind, "late");
}

TEST(RpcLinkDeathTest, RespondingTwiceIsABug) {
  Scheduler scheduler;
  RpcLink<int, int> link(scheduler, RandomStream(1), LinkConfig{});
  link.serve([&](RpcLink<int, int>::CallId call, int) {
    link.respond(call, 1);
    link.respond(call, 2);
  });
  link.call(
      0, ms, [](int) {}, [](LinkError) {});
  EXPECT_DEATH(scheduler.run(100), "respond\\(\\) to a call not being served");
}

// Random odds, partitions, heals, server delays and timeouts: every call ends exactly once.
TEST(RpcLinkProperty, EveryCallEndsExactlyOnce) {
  s3chaos::test::check_property(
      [] {
        const auto seed = *rc::gen::arbitrary<std::uint64_t>();
        auto odds = [] {
          const int drop = *rc::gen::inRange(0, 40);
          const int reset = *rc::gen::inRange(0, 40);
          const int hang = *rc::gen::inRange(0, 20);
          return FateOdds{drop / 100.0, reset / 100.0, hang / 100.0};
        };
        LinkConfig config = config_with(LatencyDistribution::uniform(1 * ms, 20 * ms));
        config.odds_a_to_b = odds();
        config.odds_b_to_a = odds();
        Scheduler scheduler;
        RpcLink<int, int> link(scheduler, RandomStream::named(seed, "net"), config);
        RandomStream choices = RandomStream::named(seed, "test");
        link.serve([&](RpcLink<int, int>::CallId call, int request) {
          if (choices.chance(0.1)) return;  // The server never answers this one.
          scheduler.schedule_after(choices.between(0, 40 * ms),
                                   [&link, call, request] { link.respond(call, request); });
        });
        const int calls = *rc::gen::inRange(1, 200);
        std::vector<int> outcomes(calls, 0);
        for (int i = 0; i < calls; ++i) {
          scheduler.schedule_at(i * ms, [&, i] {
            if (choices.chance(0.05))
              link.partition(choices.chance(0.5) ? PartitionMode::drop : PartitionMode::refuse);
            if (choices.chance(0.1)) link.heal();
            link.call(
                i, choices.between(1, 60 * ms),
                [&outcomes, i](int response) {
                  RC_ASSERT(response == i);
                  ++outcomes[i];
                },
                [&outcomes, i](LinkError) { ++outcomes[i]; });
          });
        }
        const RunResult result = scheduler.run(1'000'000);
        RC_ASSERT(result.reason == StopReason::queue_empty);
        for (int count : outcomes) RC_ASSERT(count == 1);
        RC_ASSERT(link.calls_waiting() == 0u);
      },
      200);
}

}  // namespace
}  // namespace s3chaos::sim
