// Crash recovery at EVERY mutating disk call (Beast's failMatrix style): for k = 1, 2, ... the
// SimDisk dies at the k-th mutating call of the ingest path, then of the upload / verify /
// evict path, until the operation completes without reaching k. After each crash and restart
// no acknowledged photo is lost or duplicated and no temp file is left; then the photo drains.
// A RapidCheck property adds random store faults, several photos and a random crash point.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

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

// Enough crash points for any single operation here; reaching it means the loop never ended.
constexpr std::uint64_t crash_points_max = 2000;

void expect_clean_recovery(Harness& h, const std::map<std::string, std::string>& acked,
                           std::uint64_t k) {
  ASSERT_TRUE(h.uploader().ready()) << "k=" << k;
  EXPECT_TRUE(h.temp_files().empty()) << "k=" << k;
  std::set<std::string> ids;
  for (const PhotoView& view : h.uploader().journal_view()) {
    EXPECT_NE(view.state, PhotoState::received) << "k=" << k;
    EXPECT_NE(view.state, PhotoState::lost) << "k=" << k;
    EXPECT_TRUE(ids.insert(view.photo_id).second) << "duplicate " << view.photo_id << " k=" << k;
  }
  for (const auto& [id, bytes] : acked) {
    EXPECT_TRUE(h.recoverable(id, bytes)) << id << " k=" << k;
  }
  EXPECT_TRUE(h.lost_locally().empty()) << "k=" << k;
}

// Crash at every mutating call of on_photo (journal insert, temp write, fsync, rename,
// directory fsync, journal commit): an acknowledged photo always survives; an unacknowledged
// one may vanish, and the phone's retry is then acknowledged exactly once.
TEST(CrashPoints, EveryCallOfTheIngestPath) {
  std::uint64_t completed_at = 0;
  for (std::uint64_t k = 1; k < crash_points_max && completed_at == 0; ++k) {
    Harness h(test_settings("protected"), k);
    h.start();
    h.store().down = true;
    const auto earlier = make_photo("p0", "an earlier photo");
    ASSERT_TRUE(h.post(earlier));
    const auto photo = make_photo("p1", "the photo being ingested");
    h.disk().arm_crash_point(h.disk().mutating_call_count() + k);
    const bool acked = h.post(photo);
    if (!h.disk().crash_point_reached()) {
      ASSERT_TRUE(acked);
      completed_at = k;
      break;
    }
    std::map<std::string, std::string> must_survive{{"p0", earlier.bytes}};
    if (acked) must_survive["p1"] = photo.bytes;
    h.crash_and_restart();
    expect_clean_recovery(h, must_survive, k);
    // The phone retries until it is told yes; then both drain.
    ASSERT_TRUE(h.post(photo)) << "k=" << k;
    EXPECT_EQ(h.uploader().metrics().cache_photos, 2u) << "k=" << k;
    h.store().down = false;
    ASSERT_TRUE(h.run_until(h.now() + seconds(60)));
    EXPECT_EQ(h.evicted().size(), 2u) << "k=" << k;
    expect_clean_recovery(h, {{"p0", earlier.bytes}, {"p1", photo.bytes}}, k);
  }
  // The loop must have covered a real number of crash points, then completed.
  EXPECT_GT(completed_at, 5u);
  RecordProperty("ingest_crash_points", static_cast<int>(completed_at - 1));
}

// The enumeration can fail: run over the ingest of an unsafe policy, it finds crash points
// that lose an acknowledged photo (and none under protected).
std::size_t ingest_crash_points_losing_a_photo(const std::string& policy) {
  std::size_t losing = 0;
  for (std::uint64_t k = 1; k < crash_points_max; ++k) {
    Harness h(test_settings(policy), k);
    h.start();
    h.store().down = true;
    const auto photo = make_photo("p1", "the photo being ingested");
    h.disk().arm_crash_point(h.disk().mutating_call_count() + k);
    const bool acked = h.post(photo);
    if (!h.disk().crash_point_reached()) break;
    h.crash_and_restart();
    if (acked && !h.recoverable("p1", photo.bytes)) ++losing;
  }
  return losing;
}

TEST(CrashPoints, TheIngestEnumerationCatchesUnsafePolicies) {
  EXPECT_EQ(ingest_crash_points_losing_a_photo("protected"), 0u);
  EXPECT_GT(ingest_crash_points_losing_a_photo("ack-before-fsync"), 0u);
}

// Crash at every mutating call from "acknowledged" to "evicted" (journal records of uploaded
// and verified, the journal's evicted, the unlink and its directory fsync): after restart the
// photo is in local durable state or durable in the store, then it drains.
TEST(CrashPoints, EveryCallOfTheUploadVerifyEvictPath) {
  for (const VerifyMethod method : {VerifyMethod::head, VerifyMethod::get}) {
    std::uint64_t completed_at = 0;
    for (std::uint64_t k = 1; k < crash_points_max && completed_at == 0; ++k) {
      auto settings = test_settings("protected");
      settings.verify_method = method;
      Harness h(settings, k);
      h.start();
      const auto photo = make_photo("p1", "the photo being uploaded");
      ASSERT_TRUE(h.post(photo));
      h.disk().arm_crash_point(h.disk().mutating_call_count() + k);
      if (h.run_until(seconds(60))) {
        ASSERT_FALSE(h.disk().crash_point_reached());
        EXPECT_TRUE(h.evicted().count("p1"));
        completed_at = k;
        break;
      }
      h.crash_and_restart();
      expect_clean_recovery(h, {{"p1", photo.bytes}}, k);
      ASSERT_TRUE(h.run_until(h.now() + seconds(60)));
      const auto view = h.view_of("p1");
      ASSERT_TRUE(view.has_value()) << "k=" << k;
      EXPECT_EQ(view->state, PhotoState::evicted) << "k=" << k;
      EXPECT_TRUE(h.recoverable("p1", photo.bytes)) << "k=" << k;
      std::vector<std::string> content;
      (void)h.disk().list_directory(h.settings().data_directory + "/content", content);
      EXPECT_TRUE(content.empty()) << "k=" << k;
    }
    EXPECT_GT(completed_at, 3u);
  }
}

// Crash points during recovery itself: a crash while recovering (removing temp files,
// dropping unacknowledged rows) is recovered from by the next start.
TEST(CrashPoints, EveryCallOfRecovery) {
  std::uint64_t completed_at = 0;
  for (std::uint64_t k = 1; k < crash_points_max && completed_at == 0; ++k) {
    Harness h(test_settings("protected"), k);
    h.start();
    h.store().down = true;
    const auto acked = make_photo("p0", "acknowledged before the crash");
    ASSERT_TRUE(h.post(acked));
    // Leave an unfinished ingest behind: crash in the middle of the second photo's write.
    h.disk().arm_crash_point(h.disk().mutating_call_count() + 3);
    h.post(make_photo("p1", "never acknowledged"));
    ASSERT_TRUE(h.disk().crash_point_reached());
    h.disk().crash();
    h.disk().arm_crash_point(h.disk().mutating_call_count() + k);
    h.start();
    if (!h.disk().crash_point_reached()) {
      completed_at = k;
      expect_clean_recovery(h, {{"p0", acked.bytes}}, k);
      break;
    }
    h.crash_and_restart();
    expect_clean_recovery(h, {{"p0", acked.bytes}}, k);
  }
  EXPECT_GT(completed_at, 3u);
}

// Random photos, random store faults (errors, timeouts, resets after commit, writes lost
// within the settle time, truncated objects), random disk faults (EIO on writes and syncs,
// torn writes at the crash), one crash at a random mutating call, then faults end: protected
// never loses an acknowledged photo, and everything drains.
TEST(CrashPoints, RandomFaultsAndOneCrashLoseNothing) {
  testing::check_property(
      [](std::uint64_t seed) {
        sim::RandomStream random(seed);
        auto settings = test_settings("protected");
        settings.requests_in_flight_max = 1 + random.below(3);
        settings.verify_method = random.chance(0.5) ? VerifyMethod::head : VerifyMethod::get;
        if (random.chance(0.3)) {
          settings.targets = {Target{"a", "bucket-a"}, Target{"b", "bucket-b"}};
          settings.targets_required = 1 + random.below(2);
        }
        Harness h(settings, seed);
        h.start();
        const std::uint64_t photo_count = 1 + random.below(5);
        for (int i = 0; i < 12; ++i) {
          PutFate fate;
          switch (random.below(6)) {
            case 0:
              fate = {PutFate::Kind::http_error, 500};
              break;
            case 1:
              fate = {PutFate::Kind::timeout};
              break;
            case 2:
              fate = {PutFate::Kind::commit_then_reset};
              break;
            case 3:
              fate = {PutFate::Kind::ack_then_lose, 0,
                      static_cast<sim::TimeNs>(
                          random.below(static_cast<std::uint64_t>(settings.settle_time_ns)))};
              break;
            case 4:
              fate = {PutFate::Kind::truncate};
              break;
            default:
              fate = {PutFate::Kind::ok};
          }
          h.store().put_fates.push_back(fate);
        }
        // Disk faults: torn writes at the crash, occasional EIO on writes and syncs.
        sim::DiskFaults faults;
        faults.torn_write_probability = random.chance(0.5) ? 0.5 : 0.0;
        faults.sync_error_probability = random.chance(0.3) ? 0.05 : 0.0;
        faults.write_error_probability = random.chance(0.3) ? 0.05 : 0.0;
        // Linux's fsync-EIO behaviour: a failed sync drops the changes it was to persist.
        faults.failed_sync_drops_changes = random.chance(0.5);
        h.disk().set_faults(faults);
        const std::uint64_t crash_after = 1 + random.below(120);
        h.disk().arm_crash_point(h.disk().mutating_call_count() + crash_after);
        std::map<std::string, std::string> sent;
        bool crashed = false;
        for (std::uint64_t i = 0; i < photo_count && !crashed; ++i) {
          const std::string id = "p" + std::to_string(i);
          const auto photo = make_photo(id, "bytes of " + id + " " + std::to_string(seed));
          sent[id] = photo.bytes;
          h.post(photo);
          crashed = !h.run_until(h.now() + sim::from_milliseconds(random.between(0, 3000)));
        }
        if (!crashed) crashed = !h.run_until(h.now() + seconds(5));
        h.disk().disarm_crash_point();
        if (crashed || h.disk().crash_point_reached()) {
          h.crash();
          h.disk().set_faults(sim::DiskFaults{});
          h.start();
          RC_ASSERT(h.uploader().ready());
        }
        h.disk().set_faults(sim::DiskFaults{});
        for (const auto& id : h.acknowledged()) {
          RC_ASSERT(h.recoverable(id, sent.at(id)));
        }
        // Faults end: everything acknowledged drains and stays recoverable.
        h.store().put_fates.clear();
        RC_ASSERT(h.run_until(h.now() + seconds(300)));
        for (const auto& id : h.acknowledged()) {
          RC_ASSERT(h.recoverable(id, sent.at(id)));
          const auto view = h.view_of(id);
          RC_ASSERT(view.has_value());
          RC_ASSERT(view->state == PhotoState::evicted);
        }
        RC_ASSERT(h.uploader().metrics().cache_photos == 0u);
        RC_ASSERT(h.temp_files().empty());
      },
      60);
}

}  // namespace
}  // namespace s3chaos::uploader
