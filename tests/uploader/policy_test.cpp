// Each unsafe policy of the catalogue loses or damages an acknowledged photo in a small
// targeted scenario in which `protected` loses nothing; and the settle-time boundary: with a
// settle time above the store's durability lag W protected is safe, below it the loss shows.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "harness.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::uploader {
namespace {

using testing::Harness;
using testing::make_photo;
using testing::PutFate;
using testing::test_settings;

sim::TimeNs seconds(std::int64_t s) {
  return sim::from_seconds(s);
}

// The checker's judgement at the end of a scenario: the acknowledged photos whose exact bytes
// are neither in local durable state nor durable in the store.
std::vector<std::string> lost_photos(Harness& h, const std::map<std::string, std::string>& sent) {
  std::vector<std::string> lost;
  for (const auto& id : h.acknowledged()) {
    if (!h.recoverable(id, sent.at(id))) lost.push_back(id);
  }
  return lost;
}

// The life/death window: the store acknowledges the PUT, shows the object for `lag`, then
// dies before it became durable. Returns the lost photos.
std::vector<std::string> life_death_window(Settings settings, sim::TimeNs lag) {
  Harness h(std::move(settings));
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::ack_then_lose, 0, lag});
  const auto photo = make_photo("p1", "the photo posted at the start of the outage");
  EXPECT_TRUE(h.post(photo));
  EXPECT_TRUE(h.run_until(seconds(120)));
  return lost_photos(h, {{"p1", photo.bytes}});
}

// naive-2008 deletes the local copy on the first 200 and loses the photo the store then
// loses; protected re-uploads after its verification read misses.
TEST(UnsafePolicies, Naive2008LosesTheLifeDeathWindowWrite) {
  EXPECT_TRUE(life_death_window(test_settings("protected"), seconds(5)).empty());
  EXPECT_EQ(life_death_window(test_settings("naive-2008"), seconds(5)).size(), 1u);
}

// no-settle reads right after the 200, sees the volatile write and evicts.
TEST(UnsafePolicies, NoSettleTrustsAVolatileWrite) {
  EXPECT_TRUE(life_death_window(test_settings("protected"), seconds(5)).empty());
  EXPECT_EQ(life_death_window(test_settings("no-settle"), seconds(5)).size(), 1u);
}

// The boundary of the promise: with the settle time above W protected is safe; with the
// settle time below W even protected's verification sees the volatile write, and the loss
// shows (the harness must be able to find it).
TEST(SettleBoundary, SafeAboveTheLagLossBelowIt) {
  auto settings = test_settings("protected");
  settings.settle_time_ns = seconds(10);
  EXPECT_TRUE(life_death_window(settings, seconds(5)).empty());
  EXPECT_TRUE(life_death_window(settings, seconds(9)).empty());
  settings.settle_time_ns = seconds(2);
  EXPECT_EQ(life_death_window(settings, seconds(5)).size(), 1u);
}

// Both sides of the boundary as a property: for a random durability lag W and settle time,
// protected loses the photo exactly when its verification read (sent settle_time after the
// 200 arrived, itself 1 ms after the store acknowledged) still sees the volatile write.
TEST(SettleBoundary, LossExactlyWhenTheReadPrecedesDurability) {
  testing::check_property(
      [](std::uint32_t lag_ms_raw, std::uint32_t settle_ms_raw) {
        const sim::TimeNs lag = sim::from_milliseconds(lag_ms_raw % 20'000);
        const sim::TimeNs settle = sim::from_milliseconds(settle_ms_raw % 20'000);
        auto settings = test_settings("protected");
        settings.settle_time_ns = settle;
        const auto lost = life_death_window(settings, lag);
        const bool read_sees_volatile_write = settle + sim::from_milliseconds(1) < lag;
        RC_ASSERT(lost.size() == (read_sees_volatile_write ? 1u : 0u));
      },
      40);
}

// A PUT that timed out stored nothing: timeout-as-success evicts anyway, protected retries.
std::vector<std::string> put_times_out(const std::string& policy) {
  Harness h(test_settings(policy));
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::timeout});
  const auto photo = make_photo("p1", "bytes");
  EXPECT_TRUE(h.post(photo));
  EXPECT_TRUE(h.run_until(seconds(120)));
  return lost_photos(h, {{"p1", photo.bytes}});
}

TEST(UnsafePolicies, TimeoutAsSuccessEvictsWhatWasNeverStored) {
  EXPECT_TRUE(put_times_out("protected").empty());
  EXPECT_EQ(put_times_out("timeout-as-success").size(), 1u);
}

// The same with a 500 InternalError.
TEST(UnsafePolicies, TimeoutAsSuccessAlsoTrusts5xx) {
  for (const std::string policy : {"protected", "timeout-as-success"}) {
    Harness h(test_settings(policy));
    h.start();
    h.store().put_fates.push_back({PutFate::Kind::http_error, 500});
    const auto photo = make_photo("p1", "bytes");
    ASSERT_TRUE(h.post(photo));
    ASSERT_TRUE(h.run_until(seconds(120)));
    EXPECT_EQ(lost_photos(h, {{"p1", photo.bytes}}).size(), policy == "protected" ? 0u : 1u)
        << policy;
  }
}

// The machine dies during the ingest's first disk write: ack-before-fsync already told the
// phone yes; protected had not.
std::vector<std::string> crash_during_ingest(const std::string& policy) {
  Harness h(test_settings(policy));
  h.start();
  h.disk().arm_crash_point(h.disk().mutating_call_count() + 1);
  const auto photo = make_photo("p1", "bytes");
  h.post(photo);
  EXPECT_TRUE(h.disk().crash_point_reached());
  h.crash_and_restart();
  EXPECT_TRUE(h.run_until(seconds(60)));
  return lost_photos(h, {{"p1", photo.bytes}});
}

TEST(UnsafePolicies, AckBeforeFsyncLosesOnACrashBeforeTheWrite) {
  EXPECT_TRUE(crash_during_ingest("protected").empty());
  EXPECT_EQ(crash_during_ingest("ack-before-fsync").size(), 1u);
}

// Without a crash, a full disk after an early acknowledgement loses the photo too, and the
// uploader says so (LocalCopyLost) instead of refusing a photo it already acknowledged.
TEST(UnsafePolicies, AckBeforeFsyncLosesOnAFullDisk) {
  for (const std::string policy : {"protected", "ack-before-fsync"}) {
    Harness h(test_settings(policy));
    h.start();
    sim::DiskFaults faults;
    faults.capacity_bytes = h.disk().used_bytes() + 16;
    h.disk().set_faults(faults);
    const auto photo = make_photo("p1", std::string(4096, 'x'));
    const bool acked = h.post(photo);
    EXPECT_EQ(acked, policy != "protected") << policy;
    EXPECT_EQ(h.refusals().size(), policy == "protected" ? 1u : 0u) << policy;
    EXPECT_EQ(h.lost_locally().size(), policy == "protected" ? 0u : 1u) << policy;
    EXPECT_EQ(lost_photos(h, {{"p1", photo.bytes}}).size(), policy == "protected" ? 0u : 1u);
  }
}

// A crash right after the ingest, with the store down: without the directory fsync the
// rename into content/ is forgotten and the acknowledged photo with it.
std::vector<std::string> crash_after_ingest(const std::string& policy) {
  Harness h(test_settings(policy));
  h.start();
  h.store().down = true;
  const auto photo = make_photo("p1", "bytes");
  EXPECT_TRUE(h.post(photo));
  h.crash_and_restart();
  h.store().down = false;
  EXPECT_TRUE(h.run_until(seconds(60)));
  EXPECT_EQ(h.lost_locally().size(), policy == "protected" ? 0u : 1u);
  return lost_photos(h, {{"p1", photo.bytes}});
}

TEST(UnsafePolicies, NoDirFsyncLosesTheRenameOnACrash) {
  EXPECT_TRUE(crash_after_ingest("protected").empty());
  EXPECT_EQ(crash_after_ingest("no-dir-fsync").size(), 1u);
}

// counter-keys: after a crash the counter restarts, the next photo gets the key of an old,
// already evicted photo and overwrites it in the store.
std::vector<std::string> crash_then_new_photo(const std::string& policy) {
  Harness h(test_settings(policy));
  h.start();
  const auto first = make_photo("p1", "the first photo");
  const auto second = make_photo("p2", "the second photo");
  EXPECT_TRUE(h.post(first));
  EXPECT_TRUE(h.run_until(seconds(30)));
  EXPECT_TRUE(h.evicted().count("p1"));
  h.crash_and_restart();
  EXPECT_TRUE(h.post(second));
  EXPECT_TRUE(h.run_until(seconds(90)));
  return lost_photos(h, {{"p1", first.bytes}, {"p2", second.bytes}});
}

TEST(UnsafePolicies, CounterKeysOverwriteAnOldPhotoAfterACrash) {
  EXPECT_TRUE(crash_then_new_photo("protected").empty());
  EXPECT_EQ(crash_then_new_photo("counter-keys"), std::vector<std::string>{"p1"});
}

// trust-list: the store keeps only half of the bytes but lists the key; presence in the LIST
// passes for verification and the local copy is evicted. protected's HEAD sees the wrong size.
std::vector<std::string> truncated_write(const std::string& policy) {
  Harness h(test_settings(policy));
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::truncate});
  const auto photo = make_photo("p1", "a photo of some length");
  EXPECT_TRUE(h.post(photo));
  EXPECT_TRUE(h.run_until(seconds(120)));
  return lost_photos(h, {{"p1", photo.bytes}});
}

TEST(UnsafePolicies, TrustListEvictsATruncatedObject) {
  EXPECT_TRUE(truncated_write("protected").empty());
  EXPECT_EQ(truncated_write("trust-list").size(), 1u);
}

// single-vendor-evict: two vendors configured, vendor b down; the photo is evicted after a's
// copy alone is verified; then vendor a loses the object (breaking its contract). Protected
// waited for b and still has the photo there.
std::vector<std::string> one_vendor_rots(const std::string& policy) {
  auto settings = test_settings(policy);
  settings.targets = {Target{"a", "bucket-a"}, Target{"b", "bucket-b"}};
  settings.targets_required = 2;
  Harness h(settings);
  h.start();
  h.store().down_targets = {1};
  const auto photo = make_photo("p1", "bytes");
  EXPECT_TRUE(h.post(photo));
  EXPECT_TRUE(h.run_until(seconds(30)));
  h.store().down_targets.clear();
  EXPECT_TRUE(h.run_until(seconds(90)));
  EXPECT_TRUE(h.evicted().count("p1"));
  h.store().lose(0, h.view_of("p1")->object_key);
  return lost_photos(h, {{"p1", photo.bytes}});
}

TEST(UnsafePolicies, SingleVendorEvictLosesWhenThatVendorRots) {
  EXPECT_TRUE(one_vendor_rots("protected").empty());
  EXPECT_EQ(one_vendor_rots("single-vendor-evict").size(), 1u);
}

// With one target only, a store that rots a verified object loses the photo even under
// protected: that loss is on the store's side of the contract, and only a second vendor
// covers it (the test above).
TEST(SettleBoundary, OneVendorRottingAfterVerificationIsBeyondAnyPolicy) {
  Harness h(test_settings("protected"));
  h.start();
  const auto photo = make_photo("p1", "bytes");
  ASSERT_TRUE(h.post(photo));
  ASSERT_TRUE(h.run_until(seconds(30)));
  ASSERT_TRUE(h.evicted().count("p1"));
  h.store().lose(0, h.view_of("p1")->object_key);
  EXPECT_EQ(lost_photos(h, {{"p1", photo.bytes}}).size(), 1u);
}

}  // namespace
}  // namespace s3chaos::uploader
