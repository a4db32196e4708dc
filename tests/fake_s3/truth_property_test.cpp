// Proves, under random fault plans, that responses never contradict the truth and the truth
// loses only what a death may lose: after the faults end, every key reads back exactly as the
// last write the store executed and did not lose; every lost version is a volatile write that
// a death discarded inside its durability lag; and the same plan, seed and requests always
// give the same outcomes.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "fake_s3/faults.hpp"
#include "fake_s3_test_support.hpp"

namespace s3chaos::fake_s3 {
namespace {

constexpr std::int64_t fault_horizon_ms = 10'000;
constexpr std::int64_t lag_max_ms = 3'000;
constexpr std::int64_t down_max_ms = 500;
constexpr std::int64_t honest_at_ms = fault_horizon_ms + lag_max_ms + down_max_ms + 1'000;

rc::Gen<std::string> rule_generator() {
  return rc::gen::exec([] {
    const std::int64_t start = *rc::gen::inRange<std::int64_t>(0, fault_horizon_ms);
    const std::int64_t end = *rc::gen::inRange<std::int64_t>(start, fault_horizon_ms + 1);
    const double probability = *rc::gen::element(0.1, 0.5, 1.0);
    const std::string effect = *rc::gen::oneOf(
        rc::gen::just<std::string>(R"({"type": "refuse"})"),
        rc::gen::just<std::string>(R"({"type": "hang"})"),
        rc::gen::just<std::string>(R"({"type": "reset"})"),
        rc::gen::element<std::string>(R"({"type": "error", "code": "InternalError"})",
                                      R"({"type": "error", "code": "SlowDown"})",
                                      R"({"type": "clock_skew"})"),
        rc::gen::map(rc::gen::inRange<std::int64_t>(0, lag_max_ms),
                     [](std::int64_t lag) {
                       return R"({"type": "durability_lag", "lag_ms": )" + std::to_string(lag) +
                              "}";
                     }),
        rc::gen::element<std::string>(R"({"type": "lose_response", "outcome": "reset"})",
                                      R"({"type": "lose_response", "outcome": "hang"})",
                                      R"({"type": "lose_response", "outcome": "internal_error"})"),
        rc::gen::map(rc::gen::inRange<std::int64_t>(0, 2'000),
                     [](std::int64_t stale) {
                       return R"({"type": "stale_reads", "stale_ms": )" + std::to_string(stale) +
                              "}";
                     }),
        rc::gen::just<std::string>(R"({"type": "corrupt_read", "bit_flips": 2})"),
        rc::gen::element<std::string>(R"({"type": "truncate_write", "respond": "ok"})",
                                      R"({"type": "truncate_write", "respond": "internal_error"})"),
        rc::gen::just<std::string>(
            R"({"type": "latency", "distribution": "uniform", "min_ms": 1, "max_ms": 50})"));
    return R"({"window": {"start_ms": )" + std::to_string(start) + R"(, "end_ms": )" +
           std::to_string(end) + R"(}, "match": {"probability": )" + std::to_string(probability) +
           R"(}, "effect": )" + effect + "}";
  });
}

rc::Gen<std::string> event_generator() {
  return rc::gen::exec([] {
    const std::int64_t at = *rc::gen::inRange<std::int64_t>(0, fault_horizon_ms);
    if (*rc::gen::inRange(0, 5) == 0) {
      return R"({"type": "bit_rot", "at_ms": )" + std::to_string(at) + R"(, "probability": 0.3})";
    }
    return R"({"type": "death", "at_ms": )" + std::to_string(at) + R"(, "down_ms": )" +
           std::to_string(*rc::gen::inRange<std::int64_t>(0, down_max_ms)) + "}";
  });
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

// How many cases saw a death lose writes: the property must not pass vacuously.
int cases_with_losses = 0;

struct Step {
  std::int64_t at_ms = 0;
  int kind = 0;  // 0 put, 1 get, 2 delete
  int key = 0;
};

// A write the store executed (whatever the client saw).
struct ProcessedWrite {
  bool is_delete = false;
  std::string body;
  TimeNs at = 0;
};

std::string log_of(const Outcome& outcome) {
  return std::string(transport_name(outcome.transport)) + "/" +
         std::to_string(outcome.response.status) + "/" + outcome.response.body + "/" +
         std::to_string(outcome.added_latency_ns) + "/" + std::to_string(outcome.processed);
}

TEST(TruthProperty, ResponsesAndTruthAgreeUnderRandomFaultPlans) {
  testing::check_property(500, 60, [] {
    const auto rules = *rc::gen::container<std::vector<std::string>>(
        *rc::gen::inRange<std::size_t>(0, 5), rule_generator());
    const auto events = *rc::gen::container<std::vector<std::string>>(
        *rc::gen::inRange<std::size_t>(0, 3), event_generator());
    auto all_rules = rules;
    auto all_events = events;
    if (*rc::gen::arbitrary<bool>()) {
      // Half the plans hold a 2008-style window: every write lags, then a death inside it.
      const auto lag = *rc::gen::inRange<std::int64_t>(1, lag_max_ms);
      const auto death = *rc::gen::inRange<std::int64_t>(0, fault_horizon_ms);
      all_rules.push_back(R"({"effect": {"type": "durability_lag", "lag_ms": )" +
                          std::to_string(lag) + "}}");
      all_events.push_back(R"({"type": "death", "at_ms": )" + std::to_string(death) + "}");
    }
    const std::string plan_json =
        R"({"rules": [)" + join(all_rules) + R"(], "events": [)" + join(all_events) + "]}";
    auto steps = *rc::gen::container<std::vector<Step>>(rc::gen::build<Step>(
        rc::gen::set(&Step::at_ms, rc::gen::inRange<std::int64_t>(0, fault_horizon_ms)),
        rc::gen::set(&Step::kind, rc::gen::element(0, 0, 1, 2)),
        rc::gen::set(&Step::key, rc::gen::inRange(0, 6))));
    std::stable_sort(steps.begin(), steps.end(),
                     [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
    const auto seed = *rc::gen::arbitrary<std::uint64_t>();
    RC_LOG() << "plan " << plan_json << " seed " << seed << "\n";

    std::vector<std::string> logs[2];
    for (int run = 0; run < 2; ++run) {
      FaultyS3 service(CoreSettings{}, parse_fault_plan(plan_json), seed);
      RC_ASSERT(service.core().create_bucket(RequestContext{}, "photos").ok());
      std::map<int, std::vector<ProcessedWrite>> writes;
      int body_counter = 0;
      for (const Step& step : steps) {
        const TimeNs now = sim::from_milliseconds(step.at_ms);
        const std::string target = "/photos/key" + std::to_string(step.key);
        Outcome outcome;
        if (step.kind == 0) {
          const std::string body = "body-" + std::to_string(body_counter++) + "-" + target;
          outcome = service.handle(now, testing::request("PUT", target, body));
          if (outcome.processed) {
            RC_ASSERT(outcome.transport != Transport::response || outcome.response.status == 200 ||
                      outcome.response.status == 500);
            writes[step.key].push_back({false, body, now});
          }
          if (outcome.transport == Transport::response && outcome.response.status == 200) {
            // Even a lying store answers with the ETag of the bytes the client sent.
            RC_ASSERT(std::string(*outcome.response.header("ETag")) ==
                      "\"" + s3proto::md5_hex(body) + "\"");
          }
        } else if (step.kind == 2) {
          outcome = service.handle(now, testing::request("DELETE", target));
          if (outcome.processed) writes[step.key].push_back({true, "", now});
        } else {
          outcome = service.handle(now, testing::request("GET", target));
          bool corrupted = false;
          for (int index : outcome.rules_fired) {
            corrupted =
                corrupted || service.plan().rules[static_cast<std::size_t>(index)].effect.type ==
                                 EffectType::corrupt_read;
          }
          if (outcome.transport == Transport::response && outcome.response.status == 200 &&
              !corrupted) {
            // A read returns bytes some executed write stored (or a store-truncated prefix or
            // a rotted copy of them, which the truth then records).
            bool known = false;
            for (const auto& write : writes[step.key]) {
              known =
                  known || (!write.is_delete && write.body.compare(0, outcome.response.body.size(),
                                                                   outcome.response.body) == 0);
            }
            // Bit rot may have changed any version stored before it, including one a stale
            // read still serves: then the bytes are at most as long as an executed write
            // (a truncated one may have rotted too).
            bool rotted = false;
            for (const auto& event : service.plan().events) {
              if (event.type != EventType::bit_rot || event.at_ns > now) continue;
              for (const auto& write : writes[step.key]) {
                rotted = rotted || write.body.size() >= outcome.response.body.size();
              }
            }
            if (!known && !rotted) {
              RC_LOG() << "GET key" << step.key << " at " << step.at_ms << " ms read '"
                       << outcome.response.body << "'\n";
              for (const auto& write : writes[step.key]) {
                RC_LOG() << "  executed " << (write.is_delete ? "DELETE" : write.body) << " at "
                         << write.at << "\n";
              }
            }
            RC_ASSERT(known || rotted);
          }
        }
        logs[run].push_back(log_of(outcome));
      }

      // Faults are over: advance past every window, lag and restart, then read honestly.
      service.advance_to(sim::from_milliseconds(honest_at_ms));
      const TruthView truth = service.truth();
      RC_ASSERT(truth.pending.empty());
      RC_ASSERT(service.is_up());
      if (run == 0 && !truth.lost.empty()) ++cases_with_losses;
      // Every lost version is a volatile write a death discarded inside its lag.
      std::vector<TimeNs> deaths;
      for (const auto& event : service.plan().events) {
        if (event.type == EventType::death) deaths.push_back(event.at_ns);
      }
      for (const auto& lost : truth.lost) {
        RC_ASSERT(lost.lost_at.has_value());
        RC_ASSERT(std::find(deaths.begin(), deaths.end(), *lost.lost_at) != deaths.end());
        RC_ASSERT(lost.acked_at <= *lost.lost_at);
        RC_ASSERT(*lost.lost_at < lost.durable_at);
        const int key = std::stoi(lost.key.substr(3));
        bool executed = false;
        for (const auto& write : writes[key]) {
          executed = executed || (!write.is_delete && write.at == lost.acked_at &&
                                  lost.etag == "\"" + s3proto::md5_hex(write.body) + "\"");
        }
        RC_ASSERT(executed);
      }
      for (int key = 0; key < 6; ++key) {
        // The expected state: the last executed write that was not lost.
        const ProcessedWrite* expected = nullptr;
        for (const auto& write : writes[key]) {
          bool was_lost = false;
          for (const auto& lost : truth.lost) {
            was_lost = was_lost || (lost.key == "key" + std::to_string(key) && !write.is_delete &&
                                    lost.acked_at == write.at &&
                                    lost.etag == "\"" + s3proto::md5_hex(write.body) + "\"");
          }
          if (!was_lost) expected = &write;
        }
        const std::string target = "/photos/key" + std::to_string(key);
        Outcome read =
            service.handle(sim::from_milliseconds(honest_at_ms), testing::request("GET", target));
        RC_ASSERT(read.transport == Transport::response);
        RC_ASSERT(read.rules_fired.empty());
        auto durable = service.core().durable_object("photos", "key" + std::to_string(key));
        if (!expected || expected->is_delete) {
          RC_ASSERT(read.response.status == 404);
          RC_ASSERT(!durable.has_value());
          continue;
        }
        RC_ASSERT(read.response.status == 200);
        RC_ASSERT(durable.has_value());
        RC_ASSERT(read.response.body == *durable->bytes);
        RC_ASSERT(durable->etag == "\"" + s3proto::md5_hex(expected->body) + "\"");
        if (durable->truncated_by_store) {
          RC_ASSERT(read.response.body.size() < expected->body.size());
          if (!durable->rotted_at) {
            RC_ASSERT(expected->body.compare(0, read.response.body.size(), read.response.body) ==
                      0);
          }
        } else if (durable->rotted_at) {
          RC_ASSERT(read.response.body.size() == expected->body.size());
        } else {
          RC_ASSERT(read.response.body == expected->body);
        }
      }
    }
    RC_ASSERT(logs[0] == logs[1]);
  });
  EXPECT_GT(cases_with_losses, 10) << "too few random plans lost anything to a death";
}

}  // namespace
}  // namespace s3chaos::fake_s3
