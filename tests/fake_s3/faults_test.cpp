// Proves the fault injector: plans parse (and bad plans are refused with the rule index and
// field), every effect does what docs/fault_plan.md says to the response and to the truth,
// windows and matchers select the right requests, and fates are deterministic.
#include "fake_s3/faults.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "fake_s3_test_support.hpp"
#include "source_dir.hpp"

namespace s3chaos::fake_s3 {
namespace {

using testing::request;

std::string plans_directory() {
  return (test::source_dir() / "fake_s3" / "plans").string() + "/";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string plan_error(std::string_view text) {
  try {
    parse_fault_plan(text);
  } catch (const FaultPlanError& error) {
    return error.what();
  }
  return "parsed";
}

FaultyS3 service_with(std::string_view plan_json, std::uint64_t seed = 1) {
  CoreSettings settings;
  settings.part_size_min_bytes = 1;
  FaultyS3 service(settings, parse_fault_plan(plan_json), seed);
  EXPECT_TRUE(service.core().create_bucket(RequestContext{}, "photos").ok());
  return service;
}

TEST(FaultPlan, ShippedPlansParseAndRoundTrip) {
  // Every plan under fake_s3/plans parses, and serialising it gives a plan that parses to the
  // same JSON again.
  for (const char* name :
       {"photoshare-2008.json", "honest.json", "brownout.json", "lying-store.json"}) {
    const std::string text = read_file(plans_directory() + name);
    ASSERT_FALSE(text.empty()) << name;
    FaultPlan plan = parse_fault_plan(text);
    const std::string once = fault_plan_to_json(plan);
    EXPECT_EQ(fault_plan_to_json(parse_fault_plan(once)), once) << name;
  }
  EXPECT_EQ(parse_fault_plan(read_file(plans_directory() + "photoshare-2008.json")).events.size(),
            1u);
}

TEST(FaultPlan, ErrorsNameTheRuleAndField) {
  // A bad plan is refused with a message that points at the rule or event and the field.
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "refuse"}, "colour": 1}]})"),
            "rules[0].colour: unknown field");
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "refuse"}},
                                     {"effect": {"type": "durability_lag", "lag_ms": -1}}]})"),
            "rules[1].effect.lag_ms: expected milliseconds in [0, 1e12]");
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "durability_lag"}}]})"),
            "rules[0].effect.lag_ms: required field is missing");
  EXPECT_EQ(
      plan_error(R"({"rules": [{"match": {"operations": ["Put"]}, "effect": {"type": "hang"}}]})"),
      "rules[0].match.operations[0]: unknown operation 'Put' (expected an S3 API name such "
      "as PutObject)");
  EXPECT_EQ(plan_error(R"({"rules": [{"match": {"probability": 2}, "effect": {"type": "hang"}}]})"),
            "rules[0].match.probability: expected a number in [0, 1]");
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "explode"}}]})"),
            "rules[0].effect.type: unknown effect type 'explode'");
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "error", "code": "Teapot"}}]})"),
            "rules[0].effect.code: expected ServiceUnavailable, InternalError or SlowDown");
  EXPECT_EQ(plan_error(R"({"rules": [{"effect": {"type": "refuse", "lag_ms": 3}}]})"),
            "rules[0].effect.lag_ms: unknown field");
  EXPECT_EQ(
      plan_error(
          R"({"rules": [{"window": {"start_ms": 5, "end_ms": 1}, "effect": {"type": "hang"}}]})"),
      "rules[0].window.end_ms: must not be before start_ms");
  EXPECT_EQ(plan_error(R"({"events": [{"type": "death"}]})"),
            "events[0].at_ms: required field is missing");
  EXPECT_EQ(plan_error(R"({"events": [{"type": "meteor", "at_ms": 1}]})"),
            "events[0].type: unknown event type 'meteor' (expected death or bit_rot)");
  EXPECT_EQ(plan_error(R"({"rulez": []})"), "plan.rulez: unknown field");
  EXPECT_EQ(plan_error("[1]"), "plan: expected an object");
  const std::string syntax = plan_error("{\n  \"rules\": [\n    {,}\n  ]\n}");
  EXPECT_EQ(syntax.rfind("line 3, column 6: invalid JSON", 0), 0u) << syntax;
}

TEST(Faults, OutageEffectsStopTheRequestBeforeTheCore) {
  // refuse, hang, reset, 503, 500, SlowDown and clock skew never reach the core: nothing is
  // stored, and the client sees exactly the transport outcome or S3 error named.
  struct Case {
    const char* effect;
    Transport transport;
    int status;
    const char* code;
  };
  const Case cases[] = {
      {R"({"type": "refuse"})", Transport::refused, 0, ""},
      {R"({"type": "hang"})", Transport::hang, 0, ""},
      {R"({"type": "reset"})", Transport::reset, 0, ""},
      {R"({"type": "error"})", Transport::response, 503, "ServiceUnavailable"},
      {R"({"type": "error", "code": "InternalError"})", Transport::response, 500, "InternalError"},
      {R"({"type": "error", "code": "SlowDown"})", Transport::response, 503, "SlowDown"},
      {R"({"type": "clock_skew"})", Transport::response, 403, "RequestTimeTooSkewed"},
  };
  for (const auto& c : cases) {
    FaultyS3 service = service_with(std::string(R"({"rules": [{"effect": )") + c.effect + "}]}");
    Outcome outcome = service.handle(0, request("PUT", "/photos/a", "x"));
    EXPECT_EQ(outcome.transport, c.transport) << c.effect;
    EXPECT_FALSE(outcome.processed) << c.effect;
    EXPECT_EQ(outcome.rules_fired, std::vector<int>{0});
    if (c.transport != Transport::response) {
      EXPECT_EQ(outcome.response.status, 0);
    }
    if (c.transport == Transport::response) {
      EXPECT_EQ(outcome.response.status, c.status);
      EXPECT_NE(outcome.response.body.find(std::string("<Code>") + c.code + "</Code>"),
                std::string::npos)
          << outcome.response.body;
    }
    EXPECT_TRUE(service.truth().durable_objects.empty()) << c.effect;
    EXPECT_TRUE(service.truth().pending.empty()) << c.effect;
  }
}

TEST(Faults, LatencyIsAddedAndWindowsSelectRequests) {
  // A fixed latency rule adds exactly its latency inside its time window and nothing outside;
  // a request-sequence window selects requests by number.
  FaultyS3 service = service_with(R"({"rules": [
      {"window": {"start_ms": 10, "end_ms": 20},
       "effect": {"type": "latency", "distribution": "fixed", "ms": 7}},
      {"window": {"first_request": 3, "last_request": 3}, "effect": {"type": "reset"}}]})");
  EXPECT_EQ(service.handle(sim::from_milliseconds(5), request("GET", "/")).added_latency_ns, 0);
  Outcome inside = service.handle(sim::from_milliseconds(10), request("GET", "/"));
  EXPECT_EQ(inside.added_latency_ns, sim::from_milliseconds(7));
  EXPECT_EQ(inside.response.status, 200);
  Outcome third = service.handle(sim::from_milliseconds(19), request("GET", "/"));
  EXPECT_EQ(third.request_sequence, 3u);
  EXPECT_EQ(third.transport, Transport::reset);
  EXPECT_EQ(service.handle(sim::from_milliseconds(20), request("GET", "/")).added_latency_ns, 0);
}

TEST(Faults, LatencyDistributionsHaveTheirShape) {
  // Each latency distribution draws within its bounds and around its parameter: uniform in
  // [min, max] with a mean near the middle, exponential with a mean near mean_ms, log-normal
  // with a median near median_ms; sigma 0 makes log-normal constant.
  auto draws = [](const std::string& effect) {
    FaultyS3 service =
        service_with(R"({"rules": [{"effect": {"type": "latency", )" + effect + "}}]}");
    std::vector<double> ms;
    for (int i = 0; i < 2000; ++i) {
      ms.push_back(
          static_cast<double>(
              service.handle(sim::from_milliseconds(i), request("GET", "/")).added_latency_ns) /
          1e6);
    }
    std::sort(ms.begin(), ms.end());
    return ms;
  };
  auto mean = [](const std::vector<double>& values) {
    double sum = 0;
    for (const double value : values) sum += value;
    return sum / static_cast<double>(values.size());
  };
  const auto uniform = draws(R"("distribution": "uniform", "min_ms": 10, "max_ms": 30)");
  EXPECT_GE(uniform.front(), 10.0);
  EXPECT_LE(uniform.back(), 30.0);
  EXPECT_NEAR(mean(uniform), 20.0, 1.0);
  EXPECT_LT(uniform.front(), 11.0);  // spread over the whole range, not one value
  EXPECT_GT(uniform.back(), 29.0);
  const auto exponential = draws(R"("distribution": "exponential", "mean_ms": 50)");
  EXPECT_GE(exponential.front(), 0.0);
  EXPECT_NEAR(mean(exponential), 50.0, 5.0);
  EXPECT_NEAR(exponential[exponential.size() / 2], 50.0 * std::log(2.0), 5.0);  // median
  const auto log_normal = draws(R"("distribution": "log_normal", "median_ms": 40, "sigma": 0.5)");
  EXPECT_GT(log_normal.front(), 0.0);
  EXPECT_NEAR(log_normal[log_normal.size() / 2], 40.0, 3.0);
  EXPECT_GT(log_normal.back(), 80.0);  // a right tail: exp(2 sigma) is 2.7 times the median
  const auto constant = draws(R"("distribution": "log_normal", "median_ms": 40, "sigma": 0)");
  EXPECT_DOUBLE_EQ(constant.front(), 40.0);
  EXPECT_DOUBLE_EQ(constant.back(), 40.0);
}

TEST(Faults, MatchersSelectOperationBucketAndPrefix) {
  // A rule fires only for its operations, bucket and key prefix.
  FaultyS3 service = service_with(R"({"rules": [{"match": {"operations": ["PutObject"],
      "bucket": "photos", "key_prefix": "img/"}, "effect": {"type": "error"}}]})");
  ASSERT_TRUE(service.core().create_bucket(RequestContext{}, "other").ok());
  EXPECT_EQ(service.handle(0, request("PUT", "/photos/img/1", "x")).response.status, 503);
  EXPECT_EQ(service.handle(0, request("PUT", "/photos/doc/1", "x")).response.status, 200);
  EXPECT_EQ(service.handle(0, request("PUT", "/other/img/1", "x")).response.status, 200);
  EXPECT_EQ(service.handle(0, request("GET", "/photos/doc/1")).response.status, 200);
}

TEST(Faults, PhotoshareWindowLosesOnlyWritesInsideTheLag) {
  // The 2008 incident: writes acked less than W before the death are answered 200 with a
  // valid ETag, readable until the death, then gone; earlier writes survive; the service
  // refuses connections while down and comes back at the restart.
  FaultyS3 service = service_with(read_file(plans_directory() + "photoshare-2008.json"));
  const TimeNs second = sim::nanoseconds_per_second;
  Outcome early = service.handle(50 * second, request("PUT", "/photos/early", "early bytes"));
  Outcome late = service.handle(58 * second, request("PUT", "/photos/late", "late bytes"));
  ASSERT_EQ(early.response.status, 200);
  ASSERT_EQ(late.response.status, 200);
  EXPECT_EQ(*late.response.header("ETag"), "\"" + s3proto::md5_hex("late bytes") + "\"");
  EXPECT_EQ(service.handle(59 * second, request("GET", "/photos/late")).response.body,
            "late bytes");
  EXPECT_EQ(service.next_event_time(), 60 * second);
  service.advance_to(60 * second);
  EXPECT_FALSE(service.is_up());
  EXPECT_EQ(service.epoch(), 1u);
  EXPECT_EQ(service.handle(61 * second, request("GET", "/photos/late")).transport,
            Transport::refused);
  const TruthView truth = service.truth();
  ASSERT_EQ(truth.durable_objects.size(), 1u);
  EXPECT_EQ(truth.durable_objects[0].key, "early");
  ASSERT_EQ(truth.lost.size(), 1u);
  EXPECT_EQ(truth.lost[0].key, "late");
  EXPECT_EQ(truth.lost[0].acked_at, 58 * second);
  EXPECT_EQ(truth.lost[0].lost_at, 60 * second);
  EXPECT_EQ(truth.lost[0].etag, *late.response.header("ETag"));
  const TimeNs restart = 60 * second + sim::from_milliseconds(28'800'000);
  EXPECT_EQ(service.next_event_time(), restart);
  service.advance_to(restart);
  EXPECT_TRUE(service.is_up());
  // After the restart, reads are honest (latency rules may still apply).
  Outcome after = service.handle(restart + 900 * second, request("GET", "/photos/late"));
  EXPECT_EQ(after.response.status, 404);
  EXPECT_EQ(service.handle(restart + 900 * second, request("GET", "/photos/early")).response.body,
            "early bytes");
}

TEST(Faults, LoseResponseCommitsTheWrite) {
  // Commit then lose the response: the client sees a reset / hang / 500, the object is
  // durable.
  for (const char* outcome_name : {"reset", "hang", "internal_error"}) {
    FaultyS3 service =
        service_with(std::string(R"({"rules": [{"match": {"operations": ["PutObject"]},
        "effect": {"type": "lose_response", "outcome": ")") +
                     outcome_name + "\"}}]}");
    Outcome outcome = service.handle(0, request("PUT", "/photos/k", "bytes"));
    EXPECT_TRUE(outcome.processed);
    if (std::string(outcome_name) == "internal_error") {
      EXPECT_EQ(outcome.response.status, 500);
    } else {
      EXPECT_EQ(transport_name(outcome.transport), outcome_name);
    }
    auto durable = service.core().durable_object("photos", "k");
    ASSERT_TRUE(durable.has_value()) << outcome_name;
    EXPECT_EQ(*durable->bytes, "bytes");
  }
}

TEST(Faults, TruncatedWriteStoresAPrefix) {
  // truncate_write stores a prefix; with respond=ok the client gets 200 and the full body's
  // ETag (the store lies), with respond=internal_error a 500. The truth marks the damage.
  for (bool respond_ok : {true, false}) {
    FaultyS3 service = service_with(std::string(R"({"rules": [{"effect": {"type": "truncate_write",
        "keep_fraction": 0.25, "respond": ")") +
                                    (respond_ok ? "ok" : "internal_error") + "\"}}]}");
    Outcome outcome = service.handle(0, request("PUT", "/photos/k", "12345678"));
    EXPECT_EQ(outcome.response.status, respond_ok ? 200 : 500);
    if (respond_ok) {
      EXPECT_EQ(*outcome.response.header("ETag"), "\"" + s3proto::md5_hex("12345678") + "\"");
    }
    auto durable = service.core().durable_object("photos", "k");
    ASSERT_TRUE(durable.has_value());
    EXPECT_EQ(*durable->bytes, "12");
    EXPECT_TRUE(durable->truncated_by_store);
  }
}

TEST(Faults, LostPartFailsCompletion) {
  // lose_part: UploadPart answers 200 with an ETag, but CompleteMultipartUpload then says
  // InvalidPart and nothing is stored.
  FaultyS3 service = service_with(R"({"rules": [{"match": {"operations": ["UploadPart"]},
      "effect": {"type": "lose_part"}}]})");
  Outcome created = service.handle(0, request("POST", "/photos/big?uploads"));
  const auto begin = created.response.body.find("<UploadId>") + 10;
  const std::string upload_id =
      created.response.body.substr(begin, created.response.body.find("</UploadId>") - begin);
  Outcome part =
      service.handle(0, request("PUT", "/photos/big?partNumber=1&uploadId=" + upload_id, "p"));
  EXPECT_EQ(part.response.status, 200);
  const std::string etag(*part.response.header("ETag"));
  Outcome complete =
      service.handle(0, request("POST", "/photos/big?uploadId=" + upload_id,
                                "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" +
                                    etag + "</ETag></Part></CompleteMultipartUpload>"));
  EXPECT_EQ(complete.response.status, 400);
  EXPECT_NE(complete.response.body.find("InvalidPart"), std::string::npos);
  EXPECT_TRUE(service.truth().durable_objects.empty());
}

TEST(Faults, StaleReadsThenHonest) {
  // Inside the stale window a GET after a PUT is 404, an overwrite reads old, a LIST misses
  // the new key; after the window the reads are current again.
  FaultyS3 service = service_with(R"({"rules": [{"window": {"start_ms": 0, "end_ms": 10000},
      "effect": {"type": "stale_reads", "stale_ms": 2000}}]})");
  const TimeNs ms = sim::nanoseconds_per_millisecond;
  ASSERT_EQ(service.handle(100 * ms, request("PUT", "/photos/k", "old")).response.status, 200);
  ASSERT_EQ(service.handle(3000 * ms, request("PUT", "/photos/k", "new")).response.status, 200);
  ASSERT_EQ(service.handle(3000 * ms, request("PUT", "/photos/n", "x")).response.status, 200);
  EXPECT_EQ(service.handle(4000 * ms, request("GET", "/photos/k")).response.body, "old");
  EXPECT_EQ(service.handle(4000 * ms, request("GET", "/photos/n")).response.status, 404);
  const std::string listing =
      service.handle(4000 * ms, request("GET", "/photos?list-type=2")).response.body;
  EXPECT_EQ(listing.find("<Key>n</Key>"), std::string::npos);
  EXPECT_NE(listing.find("<Key>k</Key>"), std::string::npos);
  EXPECT_EQ(service.handle(10000 * ms, request("GET", "/photos/k")).response.body, "new");
  EXPECT_EQ(service.handle(10000 * ms, request("GET", "/photos/n")).response.status, 200);
}

TEST(Faults, CorruptReadFlipsReturnedBitsOnly) {
  // corrupt_read returns flipped bits with a 200 and the right ETag; the stored bytes stay
  // intact and the truth is not rotted.
  FaultyS3 service = service_with(R"({"rules": [{"match": {"operations": ["GetObject"]},
      "effect": {"type": "corrupt_read", "bit_flips": 3}}]})");
  ASSERT_EQ(service.handle(0, request("PUT", "/photos/k", "payload!")).response.status, 200);
  Outcome read = service.handle(0, request("GET", "/photos/k"));
  EXPECT_EQ(read.response.status, 200);
  EXPECT_NE(read.response.body, "payload!");
  EXPECT_EQ(read.response.body.size(), 8u);
  int differing_bits = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    differing_bits +=
        __builtin_popcount(static_cast<unsigned char>(read.response.body[i] ^ "payload!"[i]));
  }
  EXPECT_EQ(differing_bits, 3);
  auto durable = service.core().durable_object("photos", "k");
  EXPECT_EQ(*durable->bytes, "payload!");
  EXPECT_FALSE(durable->rotted_at.has_value());
}

TEST(Faults, BitRotEventDamagesTheStoreAndTheTruthSaysSo) {
  // A bit_rot event changes stored objects under its prefix at its time; honest reads then
  // return the rotted bytes, and the truth records when.
  FaultyS3 service = service_with(R"({"events": [{"type": "bit_rot", "at_ms": 5,
      "key_prefix": "a/"}]})");
  ASSERT_EQ(service.handle(0, request("PUT", "/photos/a/1", "aaaa")).response.status, 200);
  ASSERT_EQ(service.handle(0, request("PUT", "/photos/b/1", "bbbb")).response.status, 200);
  Outcome rotted = service.handle(sim::from_milliseconds(5), request("GET", "/photos/a/1"));
  EXPECT_NE(rotted.response.body, "aaaa");
  EXPECT_EQ(service.handle(sim::from_milliseconds(5), request("GET", "/photos/b/1")).response.body,
            "bbbb");
  auto truth = service.core().durable_object("photos", "a/1");
  EXPECT_EQ(truth->rotted_at, sim::from_milliseconds(5));
  EXPECT_EQ(*truth->bytes, rotted.response.body);
}

TEST(Faults, DeathWithoutDowntimeStillLosesVolatileWrites) {
  // A death with down_ms 0 restarts at once: requests keep succeeding, volatile writes are
  // gone, and the epoch tells in-flight requests apart.
  FaultyS3 service =
      service_with(R"({"rules": [{"effect": {"type": "durability_lag", "lag_ms": 100}}],
      "events": [{"type": "death", "at_ms": 50}]})");
  ASSERT_EQ(
      service.handle(sim::from_milliseconds(10), request("PUT", "/photos/k", "v")).response.status,
      200);
  EXPECT_EQ(service.epoch(), 0u);
  Outcome after = service.handle(sim::from_milliseconds(60), request("GET", "/photos/k"));
  EXPECT_EQ(service.epoch(), 1u);
  EXPECT_TRUE(service.is_up());
  EXPECT_EQ(after.response.status, 404);
  ASSERT_EQ(service.truth().lost.size(), 1u);
}

TEST(Faults, ProbabilityFiresAboutThatOften) {
  // A rule with probability 0.3 fires on roughly 30% of 2000 requests (fixed seed).
  FaultyS3 service = service_with(R"({"rules": [{"match": {"probability": 0.3},
      "effect": {"type": "error", "code": "SlowDown"}}]})",
                                  42);
  int throttled = 0;
  for (int i = 0; i < 2000; ++i) {
    throttled += service.handle(0, request("HEAD", "/photos")).response.status == 503;
  }
  EXPECT_GT(throttled, 500);
  EXPECT_LT(throttled, 700);
}

TEST(Faults, OverlappingDeathsAndRestartsAreOrdered) {
  // Two deaths: the service stays down until the later restart, each death bumps the epoch,
  // next_event_time walks through lag expiry, deaths and restarts in time order.
  FaultyS3 service =
      service_with(R"({"rules": [{"effect": {"type": "durability_lag", "lag_ms": 5}}],
      "events": [{"type": "death", "at_ms": 20, "down_ms": 30}, {"type": "death", "at_ms": 10, "down_ms": 20}]})");
  const TimeNs ms = sim::nanoseconds_per_millisecond;
  ASSERT_EQ(service.handle(1 * ms, request("PUT", "/photos/k", "v")).response.status, 200);
  EXPECT_EQ(service.next_event_time(), 6 * ms);  // the write becomes durable
  service.advance_to(6 * ms);
  EXPECT_EQ(service.next_event_time(), 10 * ms);
  service.advance_to(10 * ms);
  EXPECT_FALSE(service.is_up());
  EXPECT_EQ(service.epoch(), 1u);
  EXPECT_EQ(service.next_event_time(), 20 * ms);
  service.advance_to(30 * ms);  // the second death at 20 extends the outage to 50
  EXPECT_EQ(service.epoch(), 2u);
  EXPECT_FALSE(service.is_up());
  EXPECT_EQ(service.handle(49 * ms, request("GET", "/photos/k")).transport, Transport::refused);
  Outcome back = service.handle(50 * ms, request("GET", "/photos/k"));
  EXPECT_EQ(back.transport, Transport::response);
  EXPECT_EQ(back.response.body, "v");  // durable before the deaths
  EXPECT_TRUE(service.truth().lost.empty());
  EXPECT_FALSE(service.next_event_time().has_value());
}

std::vector<std::string> run_sequence(std::uint64_t seed) {
  FaultyS3 service = service_with(read_file(plans_directory() + "lying-store.json"), seed);
  std::vector<std::string> log;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "/photos/k" + std::to_string(i % 17);
    Outcome put =
        service.handle(sim::from_milliseconds(i), request("PUT", key, "body" + std::to_string(i)));
    Outcome get = service.handle(sim::from_milliseconds(i), request("GET", key));
    for (const Outcome* outcome : {&put, &get}) {
      log.push_back(std::string(transport_name(outcome->transport)) + " " +
                    std::to_string(outcome->response.status) + " " + outcome->response.body + " " +
                    std::to_string(outcome->added_latency_ns) + " " +
                    std::to_string(outcome->rules_fired.size()));
    }
  }
  return log;
}

TEST(Faults, SamePlanSeedAndRequestsGiveTheSameFates) {
  // Two runs with one seed agree on every outcome; another seed differs somewhere.
  EXPECT_EQ(run_sequence(7), run_sequence(7));
  EXPECT_NE(run_sequence(7), run_sequence(8));
}

}  // namespace
}  // namespace s3chaos::fake_s3
