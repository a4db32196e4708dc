// Regression for the request storm found by eventual-consistency-storm under no-settle (seed
// 7003: 163,000 requests for 563 photos): a store whose reads lag its writes answers every PUT
// 200 and every verification read 404. Each miss must back off further (seeded jitter, capped)
// instead of restarting at the base backoff after every successful re-PUT.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::uploader {
namespace {

using testing::Harness;
using testing::make_photo;
using testing::PutFate;
using testing::test_settings;

// Every PUT is acknowledged and gone at once (lag 0), so every verification read misses.
// Before the fix a re-PUT reset the failure count and each cycle waited only the base backoff
// (about 600 PUTs in 60 s here); now the delays double up to the cap.
TEST(VerifyBackoff, RepeatedVerificationMissesBackOffExponentially) {
  for (const char* policy : {"no-settle", "protected"}) {
    Settings settings = test_settings(policy);
    settings.settle_time_ns = sim::from_seconds(1);
    Harness h(settings);
    h.start();
    for (int i = 0; i < 2000; ++i) h.store().put_fates.push_back({PutFate::Kind::ack_then_lose});
    ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
    ASSERT_TRUE(h.run_until(sim::from_seconds(60)));
    const auto& times = h.put_times();
    ASSERT_GE(times.size(), 6u) << policy;
    // Base 100 ms, cap 5 s: about 6 s to reach the cap, then one cycle per 2.5-5 s (plus the
    // settle time under protected).
    EXPECT_LE(times.size(), 30u) << policy;
    const sim::TimeNs settle =
        h.settings().policy.settle_before_verify ? h.settings().settle_time_ns : 0;
    for (std::size_t miss = 1; miss + 1 < times.size() && miss <= 8; ++miss) {
      const sim::TimeNs gap = times[miss] - times[miss - 1];
      const sim::TimeNs nominal = std::min<sim::TimeNs>(h.settings().backoff_base_ns << (miss - 1),
                                                        h.settings().backoff_max_ns);
      EXPECT_GE(gap, settle + nominal / 2) << policy << " miss " << miss;
    }
    EXPECT_TRUE(h.evicted().empty()) << policy;
  }
}

// One successful verification resets the count: a later miss starts again at the base.
TEST(VerifyBackoff, SuccessfulVerificationResetsTheMissCount) {
  Settings settings = test_settings("no-settle");
  Harness h(settings);
  h.start();
  for (int i = 0; i < 6; ++i) h.store().put_fates.push_back({PutFate::Kind::ack_then_lose});
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(sim::from_seconds(60)));
  EXPECT_EQ(h.put_times().size(), 7u);
  EXPECT_TRUE(h.evicted().count("p1"));
  h.store().put_fates.push_back({PutFate::Kind::ack_then_lose});
  ASSERT_TRUE(h.post(make_photo("p2", "other bytes")));
  const sim::TimeNs posted = h.now();
  ASSERT_TRUE(h.run_until(posted + sim::from_seconds(60)));
  ASSERT_EQ(h.put_times().size(), 9u);
  // p2's one miss waits the base backoff (50-100 ms), not p1's grown one.
  EXPECT_LE(h.put_times()[8] - h.put_times()[7],
            h.settings().backoff_base_ns + sim::from_milliseconds(5));
  EXPECT_TRUE(h.evicted().count("p2"));
}

}  // namespace
}  // namespace s3chaos::uploader
