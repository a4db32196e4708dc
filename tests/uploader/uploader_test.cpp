// Unit tests of every transition of the uploader core, driven through its public events on a
// SimDisk with the SQLite VFS and the in-test fake store (harness.hpp).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "uploader/policy.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::uploader {
namespace {

using testing::FakeStore;
using testing::Harness;
using testing::make_photo;
using testing::PutFate;
using testing::test_settings;

sim::TimeNs seconds(std::int64_t s) {
  return sim::from_seconds(s);
}

const CopyView& copy0(const PhotoView& view) {
  return view.copies.at(0);
}

// Two vendors, a copy required on each.
Settings both_of_two_targets() {
  auto settings = test_settings();
  settings.targets = {Target{"a", "bucket-a"}, Target{"b", "bucket-b"}};
  settings.targets_required = 2;
  return settings;
}

// Every policy name resolves to a policy with that name and a description; unknown names fail.
TEST(Policy, CatalogueNamesResolve) {
  const auto names = policy_names();
  ASSERT_EQ(names.size(), 9u);
  EXPECT_EQ(names.front(), "protected");
  for (std::string_view name : names) {
    auto policy = policy_by_name(name);
    ASSERT_TRUE(policy.has_value()) << name;
    EXPECT_EQ(policy->name, name);
    EXPECT_FALSE(policy_description(name).empty()) << name;
  }
  EXPECT_FALSE(policy_by_name("yolo").has_value());
  // Each unsafe policy differs from protected in at least one switch.
  const Policy safe = protected_policy();
  for (std::string_view name : names) {
    if (name == "protected") continue;
    const Policy p = *policy_by_name(name);
    const bool differs = p.ack_after_durable != safe.ack_after_durable ||
                         p.sync_content_directory != safe.sync_content_directory ||
                         p.durable_keys != safe.durable_keys ||
                         p.verify_before_evict != safe.verify_before_evict ||
                         p.settle_before_verify != safe.settle_before_verify ||
                         p.unknown_put_outcome_is_success != safe.unknown_put_outcome_is_success ||
                         p.verify_by_list != safe.verify_by_list ||
                         p.evict_after_one_target != safe.evict_after_one_target;
    EXPECT_TRUE(differs) << name;
  }
}

// Settings that cannot run are named, not accepted.
TEST(Settings, ErrorsAreReported) {
  EXPECT_FALSE(settings_error(Settings{}).has_value());
  Settings settings;
  settings.targets_required = 2;
  EXPECT_TRUE(settings_error(settings).has_value());
  settings = Settings{};
  settings.targets.clear();
  EXPECT_TRUE(settings_error(settings).has_value());
  settings = Settings{};
  settings.request_timeout_ns = 0;
  EXPECT_TRUE(settings_error(settings).has_value());
}

// The full life of one photo under protected: received -> acknowledged (durable first) ->
// PUT with Content-MD5 and the client's checksum -> uploaded -> no read before the settle
// time -> HEAD after it -> verified -> evicted, local file gone, the store holds the bytes.
TEST(Transitions, HappyPathAcknowledgesUploadsSettlesVerifiesEvicts) {
  Harness h(test_settings());
  h.start();
  ASSERT_TRUE(h.uploader().ready());
  const auto photo = make_photo("p1", "jpeg bytes of photo one");
  ASSERT_TRUE(h.post(photo));
  // Acknowledged means durable: the journal row and the content file both exist now.
  auto view = h.view_of("p1");
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->state, PhotoState::acknowledged);
  EXPECT_EQ(view->object_key, "photos/000000000001");
  EXPECT_EQ(h.uploader().read_local_copy("p1"), photo.bytes);
  // The PUT went out with the same call.
  ASSERT_EQ(h.store().requests.size(), 1u);
  EXPECT_EQ(h.store().requests[0].op, ObjectStoreOp::put);
  EXPECT_EQ(h.store().requests[0].key, "photos/000000000001");
  EXPECT_EQ(h.store().requests[0].timeout_ns, h.settings().request_timeout_ns);

  ASSERT_TRUE(h.run_until(seconds(1)));
  // The 200's record is staged, not committed alone: it joins the next journal transaction
  // (group commit), here the eviction.
  view = h.view_of("p1");
  EXPECT_EQ(copy0(*view).state, CopyState::pending);
  // Before the settle time: no read, nothing evicted.
  ASSERT_TRUE(h.run_until(seconds(10)));
  EXPECT_EQ(h.store().requests.size(), 1u);
  EXPECT_TRUE(h.evicted().empty());

  ASSERT_TRUE(h.run_until(seconds(11)));
  ASSERT_EQ(h.store().requests.size(), 2u);
  EXPECT_EQ(h.store().requests[1].op, ObjectStoreOp::head);
  EXPECT_GE(h.store().requests[1].timeout_ns, 1);
  EXPECT_TRUE(h.evicted().count("p1"));
  view = h.view_of("p1");
  EXPECT_EQ(view->state, PhotoState::evicted);
  EXPECT_EQ(copy0(*view).state, CopyState::verified);
  EXPECT_EQ(copy0(*view).put_acked_ns, sim::from_milliseconds(1));
  EXPECT_GE(copy0(*view).verified_ns, copy0(*view).put_acked_ns + h.settings().settle_time_ns);
  EXPECT_FALSE(h.uploader().read_local_copy("p1").has_value());
  EXPECT_EQ(h.store().find(0, "photos/000000000001")->bytes, photo.bytes);
  EXPECT_EQ(h.uploader().metrics().cache_photos, 0u);
  EXPECT_EQ(h.uploader().metrics().cache_bytes, 0u);
}

// GET verification compares the body's checksum with the client's.
TEST(Transitions, GetVerificationReadsTheBody) {
  auto settings = test_settings();
  settings.verify_method = VerifyMethod::get;
  Harness h(settings);
  h.start();
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(20)));
  ASSERT_EQ(h.store().requests.size(), 2u);
  EXPECT_EQ(h.store().requests[1].op, ObjectStoreOp::get);
  EXPECT_TRUE(h.evicted().count("p1"));
}

// Bad input is refused with a clear status and never acknowledged or journaled.
TEST(Transitions, BadInputIsRefused) {
  auto settings = test_settings();
  settings.photo_bytes_max = 10;
  Harness h(settings);
  h.start();
  auto bad_checksum = make_photo("p1", "bytes");
  bad_checksum.checksum_base64 = s3proto::checksum_base64(bad_checksum.checksum_algorithm, "other");
  EXPECT_FALSE(h.post(bad_checksum));
  EXPECT_FALSE(h.post(make_photo("", "bytes")));
  EXPECT_FALSE(h.post(make_photo("bad\nid", "bytes")));
  EXPECT_FALSE(h.post(make_photo(std::string(300, 'x'), "bytes")));
  EXPECT_FALSE(h.post(make_photo("big", "more than ten bytes")));
  ASSERT_EQ(h.refusals().size(), 5u);
  EXPECT_EQ(h.refusals()[0].http_status, 400);
  EXPECT_EQ(h.refusals()[1].http_status, 400);
  EXPECT_EQ(h.refusals()[2].http_status, 400);
  EXPECT_EQ(h.refusals()[3].http_status, 400);
  EXPECT_EQ(h.refusals()[4].http_status, 413);
  EXPECT_TRUE(h.uploader().journal_view().empty());
  EXPECT_TRUE(h.store().requests.empty());
}

// Posting the same id again is idempotent: same bytes are acknowledged again without a second
// row or upload; other bytes under the same id are refused with 409.
TEST(Transitions, RepostIsIdempotent) {
  Harness h(test_settings());
  h.start();
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  EXPECT_FALSE(h.post(make_photo("p1", "other bytes")));
  EXPECT_EQ(h.refusals().back().http_status, 409);
  EXPECT_EQ(h.uploader().journal_view().size(), 1u);
  EXPECT_EQ(h.store().requests.size(), 1u);
  // Still idempotent after eviction.
  ASSERT_TRUE(h.run_until(seconds(20)));
  ASSERT_TRUE(h.evicted().count("p1"));
  EXPECT_TRUE(h.post(make_photo("p1", "bytes")));
  EXPECT_EQ(h.uploader().journal_view().size(), 1u);
}

// Back-pressure: a photo that would push the cache over cache_bytes_max (or the count over
// cache_photos_max) gets 503 + Retry-After, and is accepted again once eviction frees room.
TEST(Transitions, BackPressureRefusesWithRetryAfterUntilEvictionFreesRoom) {
  auto settings = test_settings();
  settings.cache_bytes_max = 10;
  settings.cache_photos_max = 3;
  Harness h(settings);
  h.start();
  h.store().down = true;  // an outage: nothing drains
  ASSERT_TRUE(h.post(make_photo("a", "12345")));
  ASSERT_TRUE(h.post(make_photo("b", "1234")));
  EXPECT_FALSE(h.post(make_photo("c", "12")));  // 11 bytes > 10
  ASSERT_EQ(h.refusals().size(), 1u);
  EXPECT_EQ(h.refusals()[0].http_status, 503);
  EXPECT_EQ(h.refusals()[0].retry_after_seconds, settings.retry_after_seconds);
  ASSERT_TRUE(h.post(make_photo("d", "1")));  // 10 bytes: fits exactly
  EXPECT_FALSE(h.post(make_photo("e", "")));  // a fourth photo: over the count
  EXPECT_EQ(h.uploader().metrics().cache_bytes, 10u);
  EXPECT_EQ(h.uploader().metrics().cache_photos, 3u);
  // Keep accepting nothing while S3 is down; once it is back, the cache drains.
  ASSERT_TRUE(h.run_until(seconds(60)));
  EXPECT_TRUE(h.evicted().empty());
  h.store().down = false;
  ASSERT_TRUE(h.run_until(seconds(120)));
  EXPECT_EQ(h.evicted().size(), 3u);
  EXPECT_TRUE(h.post(make_photo("c", "12")));
}

// A failing disk (ENOSPC on the content write, EIO on a sync) refuses the photo with 503 and
// leaves no acknowledged trace; the uploader keeps working afterwards.
TEST(Transitions, DiskErrorsRefuseNeverAcknowledge) {
  Harness h(test_settings());
  h.start();
  sim::DiskFaults faults;
  faults.capacity_bytes = h.disk().used_bytes() + 64;
  h.disk().set_faults(faults);
  EXPECT_FALSE(h.post(make_photo("big", std::string(4096, 'x'))));
  ASSERT_EQ(h.refusals().size(), 1u);
  EXPECT_EQ(h.refusals()[0].http_status, 503);
  h.disk().set_faults(sim::DiskFaults{});
  for (std::uint64_t n = 1; n <= 6; ++n) {
    h.disk().inject_sync_error_after(n);
    const std::string id = "eio" + std::to_string(n);
    const bool acked = h.post(make_photo(id, "bytes " + id));
    h.disk().inject_sync_error_after(0);
    if (acked) {
      EXPECT_EQ(h.uploader().read_local_copy(id), "bytes " + id) << n;
    } else {
      EXPECT_FALSE(h.view_of(id).has_value() && h.view_of(id)->state == PhotoState::acknowledged)
          << n;
    }
  }
  EXPECT_GE(h.uploader().metrics().io_errors, 1u);
  ASSERT_TRUE(h.post(make_photo("after", "after bytes")));
  ASSERT_TRUE(h.run_until(seconds(30)));
  EXPECT_TRUE(h.evicted().count("after"));
}

// Failed PUTs (5xx, timeouts, resets) are retried with exponential backoff: delays grow,
// never exceed the cap (plus the request timeout), and the photo lands once the faults end.
TEST(Transitions, RetriesBackOffExponentiallyWithinTheCap) {
  Harness h(test_settings());
  h.start();
  for (int i = 0; i < 12; ++i) h.store().put_fates.push_back({PutFate::Kind::http_error, 503});
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(120)));
  const auto& times = h.put_times();
  ASSERT_EQ(times.size(), 13u);
  const sim::TimeNs latency = sim::from_milliseconds(1);
  for (std::size_t i = 1; i < times.size(); ++i) {
    const sim::TimeNs delay = times[i] - times[i - 1] - latency;
    const sim::TimeNs nominal =
        std::min<sim::TimeNs>(h.settings().backoff_base_ns << (i - 1), h.settings().backoff_max_ns);
    EXPECT_GE(delay, nominal / 2) << i;
    EXPECT_LE(delay, nominal) << i;
  }
  EXPECT_TRUE(h.evicted().count("p1"));
}

// A PUT that never gets an answer is timed out by the core itself at request_timeout_ns and
// retried; so is a read.
TEST(Transitions, UnansweredRequestsTimeOutAndRetry) {
  Harness h(test_settings());
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::timeout});
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(h.settings().request_timeout_ns - 1));
  EXPECT_EQ(h.put_times().size(), 1u);
  EXPECT_EQ(h.uploader().metrics().requests_in_flight, 1u);
  ASSERT_TRUE(h.run_until(h.settings().request_timeout_ns + h.settings().backoff_base_ns + 1));
  EXPECT_EQ(h.put_times().size(), 2u);
  ASSERT_TRUE(h.run_until(seconds(60)));
  EXPECT_TRUE(h.evicted().count("p1"));
}

// An unknown outcome that actually committed (reset after commit) is retried with the same
// key: idempotent, one object, one photo.
TEST(Transitions, UnknownOutcomeIsRetriedUnderTheSameKey) {
  Harness h(test_settings());
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::commit_then_reset});
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(60)));
  ASSERT_EQ(h.put_times().size(), 2u);
  EXPECT_EQ(h.store().requests[0].key, h.store().requests[1].key);
  EXPECT_EQ(h.store().objects.size(), 1u);
  EXPECT_TRUE(h.evicted().count("p1"));
}

// A verification read that finds nothing (the write was lost in the window) sends the photo
// back to upload; protected loses nothing when the store loses a write acknowledged inside
// the settle time.
TEST(Transitions, VerificationMissReuploads) {
  Harness h(test_settings());
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::ack_then_lose, 0, seconds(5)});
  const auto photo = make_photo("p1", "bytes");
  ASSERT_TRUE(h.post(photo));
  ASSERT_TRUE(h.run_until(seconds(60)));
  EXPECT_EQ(h.put_times().size(), 2u);
  EXPECT_TRUE(h.evicted().count("p1"));
  EXPECT_TRUE(h.recoverable("p1", photo.bytes));
}

// A store that answers a damaged object (wrong ETag or size) fails verification; the photo is
// uploaded again.
TEST(Transitions, DamagedObjectFailsVerification) {
  Harness h(test_settings());
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::truncate});
  const auto photo = make_photo("p1", "twelve bytes");
  ASSERT_TRUE(h.post(photo));
  ASSERT_TRUE(h.run_until(seconds(60)));
  EXPECT_EQ(h.put_times().size(), 2u);
  EXPECT_TRUE(h.recoverable("p1", photo.bytes));
}

// Never more than requests_in_flight_max requests at once; every photo still drains.
TEST(Transitions, ConcurrencyIsBounded) {
  auto settings = test_settings();
  settings.requests_in_flight_max = 3;
  Harness h(settings);
  h.start();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(h.post(make_photo("p" + std::to_string(i), "bytes " + std::to_string(i))));
  }
  ASSERT_TRUE(h.run_until(seconds(120), sim::from_milliseconds(50)));
  EXPECT_EQ(h.max_in_flight(), 3u);
  EXPECT_EQ(h.evicted().size(), 20u);
}

// With two targets and targets_required = 2, the local copy stays until both hold verified
// copies (one vendor down keeps it local).
TEST(Transitions, TwoTargetsBothRequired) {
  Harness h(both_of_two_targets());
  h.start();
  // Vendor b is down for a while.
  h.store().down_targets = {1};
  const auto photo = make_photo("p1", "bytes");
  ASSERT_TRUE(h.post(photo));
  // Past the longest wait of a staged record (a minute): the journal shows the verification.
  ASSERT_TRUE(h.run_until(seconds(70)));
  auto view = h.view_of("p1");
  EXPECT_EQ(view->copies[0].state, CopyState::verified);
  EXPECT_NE(view->copies[1].state, CopyState::verified);
  EXPECT_EQ(view->state, PhotoState::acknowledged);
  EXPECT_EQ(h.uploader().read_local_copy("p1"), photo.bytes);
  h.store().down_targets.clear();
  ASSERT_TRUE(h.run_until(seconds(100)));
  EXPECT_TRUE(h.evicted().count("p1"));
  EXPECT_EQ(h.store().find(0, view->object_key)->bytes, photo.bytes);
  EXPECT_EQ(h.store().find(1, view->object_key)->bytes, photo.bytes);
}

// Recovery re-verifies copies the journal recorded as uploaded or verified, resumes pending
// uploads, and keys stay durable across the restart (no key is reused).
TEST(Transitions, RecoveryResumesAndReverifies) {
  Harness h(test_settings());
  h.start();
  ASSERT_TRUE(h.post(make_photo("p1", "one")));
  ASSERT_TRUE(h.run_until(seconds(1)));  // p1 uploaded, not verified
  h.store().down = true;
  ASSERT_TRUE(h.post(make_photo("p2", "two")));  // p2 pending
  h.crash_and_restart();
  EXPECT_TRUE(h.temp_files().empty());
  EXPECT_EQ(h.uploader().read_local_copy("p1"), "one");
  EXPECT_EQ(h.uploader().read_local_copy("p2"), "two");
  EXPECT_EQ(h.uploader().metrics().cache_photos, 2u);
  h.store().down = false;
  ASSERT_TRUE(h.post(make_photo("p3", "three")));
  EXPECT_EQ(h.view_of("p3")->object_key, "photos/000000000003");
  ASSERT_TRUE(h.run_until(seconds(60)));
  EXPECT_EQ(h.evicted().size(), 3u);
  for (const auto& [id, bytes] :
       std::map<std::string, std::string>{{"p1", "one"}, {"p2", "two"}, {"p3", "three"}}) {
    EXPECT_TRUE(h.recoverable(id, bytes)) << id;
  }
}

// Responses addressed to a previous incarnation are ignored.
TEST(Transitions, StaleResponsesAreIgnored) {
  Harness h(test_settings());
  h.start();
  h.store().put_fates.push_back({PutFate::Kind::timeout});
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  const RequestId old_id = h.store().requests.back().id;
  h.crash_and_restart();
  const RequestId new_id = h.store().requests.back().id;
  EXPECT_NE(old_id, new_id);
  auto stale = ObjectStoreResponse::ok(old_id);
  stale.etag = "\"" + s3proto::md5_hex("bytes") + "\"";
  const auto actions = h.uploader().on_response(h.now(), stale);
  EXPECT_EQ(copy0(*h.view_of("p1")).state, CopyState::pending);
  (void)actions;
}

}  // namespace
}  // namespace s3chaos::uploader

namespace s3chaos::uploader {
namespace {

using testing::Harness;
using testing::make_photo;
using testing::test_settings;

std::size_t count_ops(Harness& h, ObjectStoreOp op, std::size_t target = 0) {
  std::size_t count = 0;
  for (const auto& request : h.store().requests) {
    if (request.op == op && request.target_index == target) ++count;
  }
  return count;
}

// Actions describe themselves in one stable line (for traces).
TEST(Actions, DescribeIsStable) {
  EXPECT_EQ(describe_action(AcknowledgePhoto{"p1", "photos/000000000001"}),
            "ack p1 key=photos/000000000001");
  EXPECT_EQ(describe_action(SetTimer{42}), "timer at_ns=42");
  ObjectStoreRequest put;
  put.id = 7;
  put.bucket = "b";
  put.key = "k";
  put.body = "abc";
  put.content_md5 = s3proto::md5_base64("abc");
  put.timeout_ns = 5;
  EXPECT_EQ(describe_action(put),
            "request id=7 target=0 PUT b/k timeout_ns=5 bytes=3 content_md5=" + put.content_md5);
}

// A verification read that fails (500) leaves the outcome unknown: the read is retried with
// backoff, the PUT is not repeated, and the photo is evicted once a read succeeds.
TEST(Transitions, FailedVerificationReadIsRetriedNotReuploaded) {
  Harness h(test_settings());
  h.start();
  h.store().read_failures = 3;
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(sim::from_seconds(60)));
  EXPECT_EQ(count_ops(h, ObjectStoreOp::put), 1u);
  EXPECT_EQ(count_ops(h, ObjectStoreOp::head), 4u);
  EXPECT_TRUE(h.evicted().count("p1"));
}

// Eviction waits for the journal: while every fsync fails, the verified photo stays local
// (the journal cannot say evicted), and it is evicted once the disk heals.
TEST(Transitions, EvictionWaitsForTheJournal) {
  Harness h(test_settings());
  h.start();
  const auto photo = make_photo("p1", "bytes");
  ASSERT_TRUE(h.post(photo));
  ASSERT_TRUE(h.run_until(sim::from_seconds(5)));
  sim::DiskFaults faults;
  faults.sync_error_probability = 1.0;
  h.disk().set_faults(faults);
  ASSERT_TRUE(h.run_until(sim::from_seconds(30)));
  EXPECT_TRUE(h.evicted().empty());
  EXPECT_EQ(h.uploader().read_local_copy("p1"), photo.bytes);
  EXPECT_GE(h.uploader().metrics().io_errors, 1u);
  h.disk().set_faults(sim::DiskFaults{});
  ASSERT_TRUE(h.run_until(sim::from_seconds(90)));
  EXPECT_TRUE(h.evicted().count("p1"));
  EXPECT_FALSE(h.uploader().read_local_copy("p1").has_value());
}

// A copy the journal recorded as verified, on a photo not yet evicted (its second vendor is
// down), is read back again after a crash before it counts.
TEST(Transitions, RecoveryReverifiesVerifiedCopies) {
  Harness h(both_of_two_targets());
  h.start();
  h.store().down_targets = {1};
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  // Past the longest wait of a staged record: the journal holds the verification.
  ASSERT_TRUE(h.run_until(sim::from_seconds(70)));
  ASSERT_EQ(h.view_of("p1")->copies[0].state, CopyState::verified);
  const std::size_t heads_before = count_ops(h, ObjectStoreOp::head, 0);
  const std::string key = h.view_of("p1")->object_key;
  h.crash();
  // Vendor a rots the object while we were down: the re-verification must notice.
  h.store().lose(0, key);
  h.store().down_targets.clear();
  h.start();
  ASSERT_TRUE(h.run_until(h.now() + sim::from_seconds(60)));
  EXPECT_GT(count_ops(h, ObjectStoreOp::head, 0), heads_before);
  EXPECT_EQ(count_ops(h, ObjectStoreOp::put, 0), 2u);
  EXPECT_TRUE(h.evicted().count("p1"));
  EXPECT_NE(h.store().find(0, h.view_of("p1")->object_key), nullptr);
  EXPECT_NE(h.store().find(1, h.view_of("p1")->object_key), nullptr);
}

}  // namespace
}  // namespace s3chaos::uploader

namespace s3chaos::uploader {
namespace {

// Availability and liveness at scale: through a 20-minute outage the uploader acknowledges a
// photo a second (the 2008 story's one success), then drains all of them within two minutes
// of the store's return (backoff is capped, work is indexed by due time).
TEST(Transitions, LongOutageKeepsAcceptingThenDrains) {
  testing::Harness h(testing::test_settings());
  h.start();
  h.store().down = true;
  const int photo_count = 1200;
  for (int i = 0; i < photo_count; ++i) {
    ASSERT_TRUE(h.run_until(sim::from_seconds(i)));
    ASSERT_TRUE(h.post(testing::make_photo("p" + std::to_string(i), "bytes " + std::to_string(i))));
  }
  EXPECT_EQ(h.uploader().metrics().cache_photos, static_cast<std::uint64_t>(photo_count));
  EXPECT_TRUE(h.evicted().empty());
  h.store().down = false;
  ASSERT_TRUE(h.run_until(h.now() + sim::from_seconds(120)));
  EXPECT_EQ(h.evicted().size(), static_cast<std::size_t>(photo_count));
  EXPECT_EQ(h.uploader().metrics().cache_photos, 0u);
}

// Copy records are group-committed: a PUT's 200 or a verification that permits nothing yet
// costs no disk call in its own step; the records join the next journal transaction, and one
// that finds none is written alone a minute after the oldest waiting record. A verification
// that permits an eviction commits with it, so verifying and evicting costs about one
// transaction (plus the unlink and the directory's fsync), not two.
TEST(Transitions, CopyRecordsJoinTheNextTransaction) {
  Harness waiting(both_of_two_targets());
  waiting.start();
  waiting.store().down_targets = {1};
  ASSERT_TRUE(waiting.post(make_photo("p1", "bytes")));
  const auto after_ingest = waiting.disk().mutating_call_count();
  ASSERT_TRUE(waiting.run_until(seconds(11)));  // copy 0: PUT 200 at 1 ms, verified at 10 s
  EXPECT_EQ(waiting.disk().mutating_call_count(), after_ingest);
  EXPECT_EQ(waiting.view_of("p1")->copies[0].state, CopyState::pending);
  // The next ingest commits them with its own row.
  ASSERT_TRUE(waiting.post(make_photo("p2", "more bytes")));
  EXPECT_EQ(waiting.view_of("p1")->copies[0].state, CopyState::verified);
  EXPECT_EQ(waiting.view_of("p1")->copies[0].put_acked_ns, sim::from_milliseconds(1));
  EXPECT_EQ(waiting.view_of("p1")->state, PhotoState::acknowledged);

  // With no transaction to join, the oldest record waits a minute, then all are written alone.
  Harness alone(both_of_two_targets());
  alone.start();
  alone.store().down_targets = {1};
  ASSERT_TRUE(alone.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(alone.run_until(seconds(59)));
  EXPECT_EQ(alone.view_of("p1")->copies[0].state, CopyState::pending);
  const auto before_flush = alone.disk().mutating_call_count();
  ASSERT_TRUE(alone.run_until(seconds(61)));
  const auto one_transaction = alone.disk().mutating_call_count() - before_flush;
  ASSERT_GT(one_transaction, 0u);
  EXPECT_EQ(alone.view_of("p1")->copies[0].state, CopyState::verified);

  // Verify and evict: one transaction, the unlink and the directory's fsync.
  Harness h(test_settings());
  h.start();
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(10)));
  const auto before_evict = h.disk().mutating_call_count();
  ASSERT_TRUE(h.run_until(seconds(11)));
  ASSERT_TRUE(h.evicted().count("p1"));
  const auto evict_calls = h.disk().mutating_call_count() - before_evict;
  EXPECT_LT(evict_calls, 2 * one_transaction) << evict_calls << " vs " << one_transaction;
  EXPECT_EQ(copy0(*h.view_of("p1")).state, CopyState::verified);
  EXPECT_EQ(h.view_of("p1")->state, PhotoState::evicted);
}

// Staged records that cannot be written (every fsync fails) stay staged and are tried again a
// minute later, not at once: the uploader does not wake again and again at one instant, and
// the records land once the disk heals.
TEST(Transitions, FailedFlushOfStagedRecordsWaitsBeforeTryingAgain) {
  Harness h(both_of_two_targets());
  h.start();
  h.store().down_targets = {1};
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(11)));  // copy 0 verified, its records staged
  sim::DiskFaults faults;
  faults.sync_error_probability = 1.0;
  h.disk().set_faults(faults);
  const auto syncs_before = h.uploader().metrics().io_errors;
  ASSERT_TRUE(h.run_until(seconds(300)));
  // One failed try per minute (about 5), each a few failed calls: not thousands.
  EXPECT_GE(h.uploader().metrics().io_errors, syncs_before + 1);
  EXPECT_LE(h.uploader().metrics().io_errors, syncs_before + 20);
  h.disk().set_faults(sim::DiskFaults{});
  ASSERT_TRUE(h.run_until(seconds(400)));
  EXPECT_EQ(h.view_of("p1")->copies[0].state, CopyState::verified);
}

// The price of group commit: a crash loses the staged records, so recovery PUTs the photo
// again (same key, same bytes) and waits the settle time from that PUT's 200 before it reads
// back and evicts. Nothing is lost.
TEST(Transitions, CrashBeforeTheRecordsCommitRepeatsThePut) {
  Harness h(test_settings());
  h.start();
  ASSERT_TRUE(h.post(make_photo("p1", "bytes")));
  ASSERT_TRUE(h.run_until(seconds(1)));  // PUT 200 at 1 ms, record staged
  ASSERT_EQ(count_ops(h, ObjectStoreOp::put), 1u);
  h.crash_and_restart();
  EXPECT_EQ(copy0(*h.view_of("p1")).state, CopyState::pending);
  const sim::TimeNs restarted = h.now();
  ASSERT_TRUE(h.run_until(restarted + seconds(5)));
  EXPECT_EQ(count_ops(h, ObjectStoreOp::put), 2u);
  EXPECT_TRUE(h.evicted().empty());
  ASSERT_TRUE(h.run_until(restarted + seconds(30)));
  EXPECT_TRUE(h.evicted().count("p1"));
  EXPECT_GE(copy0(*h.view_of("p1")).verified_ns,
            copy0(*h.view_of("p1")).put_acked_ns + h.settings().settle_time_ns);
  EXPECT_GT(copy0(*h.view_of("p1")).put_acked_ns, restarted);
  EXPECT_TRUE(h.recoverable("p1", "bytes"));
}

}  // namespace
}  // namespace s3chaos::uploader
