// Group commit (Uploader::on_photos): one answer per photo, the same answers on_photo gives, one
// journal transaction for the batch, and durability before acknowledgement at every crash
// point of the batch (the disk dies at its k-th mutating call, for every k).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::uploader {
namespace {

using testing::Harness;
using testing::make_photo;
using testing::test_settings;

// The harness posts one photo at a time; a batch goes straight to the core, and the test
// reads the answers from the actions.
std::map<std::string, int> post_batch(Harness& h, const std::vector<PhotoArrival>& photos,
                                      std::vector<std::string>* order = nullptr) {
  std::map<std::string, int> answers;
  for (const Action& action : h.uploader().on_photos(h.now(), photos)) {
    if (const auto* ack = std::get_if<AcknowledgePhoto>(&action)) {
      answers[ack->photo_id] = 200;
      if (order) order->push_back(ack->photo_id);
    } else if (const auto* refuse = std::get_if<RefusePhoto>(&action)) {
      answers[refuse->photo_id] = refuse->http_status;
      if (order) order->push_back(refuse->photo_id);
    }
  }
  return answers;
}

TEST(GroupCommit, OneAnswerPerPhotoAsOnPhotoWouldGive) {
  Settings settings = test_settings();
  settings.cache_photos_max = 5;
  Harness h(settings);
  h.start();
  ASSERT_TRUE(h.post(make_photo("known", "known bytes")));
  auto bad = make_photo("bad-checksum", "bytes");
  bad.checksum_base64 = "AAAAAA==";
  std::vector<std::string> order;
  const auto answers =
      post_batch(h,
                 {make_photo("a", "a bytes"), make_photo("b", "b bytes"), bad,
                  make_photo("known", "known bytes"), make_photo("known", "other bytes"),
                  make_photo("", "x"), make_photo("a", "a bytes"), make_photo("c", "c bytes"),
                  make_photo("d", "d bytes"), make_photo("e", "e bytes")},
                 &order);
  EXPECT_EQ(order.size(), 10u);  // one answer per posted photo
  EXPECT_EQ(answers.at("a"), 200);
  EXPECT_EQ(answers.at("b"), 200);
  EXPECT_EQ(answers.at("bad-checksum"), 400);
  EXPECT_EQ(answers.at(""), 400);
  // "known" twice: acknowledged again with the same bytes, 409 with other bytes (the second
  // occurrence is handled after the batch, as a re-post).
  EXPECT_EQ(answers.at("c"), 200);
  EXPECT_EQ(answers.at("d"), 200);
  // known + a, b, c, d fill the cache of five: e is refused with 503.
  EXPECT_EQ(answers.at("e"), 503);
  const auto views = h.uploader().journal_view();
  EXPECT_EQ(views.size(), 5u);
  std::set<std::string> keys;
  for (const auto& view : views) EXPECT_TRUE(keys.insert(view.object_key).second);
  // The batch drains like any photo.
  ASSERT_TRUE(h.run_until(h.now() + sim::from_seconds(60)));
  EXPECT_EQ(h.uploader().metrics().cache_photos, 0u);
  EXPECT_EQ(h.uploader().metrics().photos_evicted, 5u);
}

// The batch's disk calls: n content files (create, truncate, write, fsync, rename), one
// directory fsync and one transaction, against n full ingests one by one.
TEST(GroupCommit, FewerMutatingCallsThanOneByOne) {
  std::vector<PhotoArrival> photos;
  for (int i = 0; i < 8; ++i)
    photos.push_back(make_photo("p" + std::to_string(i), "bytes " + std::to_string(i)));
  Harness batch(test_settings());
  batch.start();
  batch.store().down = true;
  const auto before_batch = batch.disk().mutating_call_count();
  EXPECT_EQ(post_batch(batch, photos).size(), 8u);
  const auto batch_calls = batch.disk().mutating_call_count() - before_batch;
  Harness single(test_settings());
  single.start();
  single.store().down = true;
  const auto before_single = single.disk().mutating_call_count();
  for (const auto& photo : photos) ASSERT_TRUE(single.post(photo));
  const auto single_calls = single.disk().mutating_call_count() - before_single;
  EXPECT_LT(batch_calls * 2, single_calls) << batch_calls << " vs " << single_calls;
}

// Crash at every mutating call of a batch of three: either the batch was acknowledged and
// survives whole, or nothing was acknowledged; recovery leaves no temp file and no orphan row;
// the phones' retries are then acknowledged exactly once and drain.
TEST(GroupCommit, EveryCrashPointOfABatch) {
  const std::vector<PhotoArrival> photos = {make_photo("b0", "first of the batch"),
                                            make_photo("b1", "second of the batch"),
                                            make_photo("b2", "third of the batch")};
  std::uint64_t completed_at = 0;
  for (std::uint64_t k = 1; k < 2000 && completed_at == 0; ++k) {
    Harness h(test_settings("protected"), k);
    h.start();
    h.store().down = true;
    const auto earlier = make_photo("p0", "an earlier photo");
    ASSERT_TRUE(h.post(earlier));
    h.disk().arm_crash_point(h.disk().mutating_call_count() + k);
    const auto answers = post_batch(h, photos);
    if (!h.disk().crash_point_reached()) {
      for (const auto& photo : photos) ASSERT_EQ(answers.at(photo.photo_id), 200) << k;
      completed_at = k;
      break;
    }
    std::map<std::string, std::string> must_survive{{"p0", earlier.bytes}};
    for (const auto& photo : photos) {
      auto it = answers.find(photo.photo_id);
      if (it != answers.end() && it->second == 200) must_survive[photo.photo_id] = photo.bytes;
    }
    h.crash_and_restart();
    ASSERT_TRUE(h.uploader().ready()) << "k=" << k;
    EXPECT_TRUE(h.temp_files().empty()) << "k=" << k;
    std::set<std::string> ids;
    for (const PhotoView& view : h.uploader().journal_view()) {
      EXPECT_EQ(view.state, PhotoState::acknowledged) << "k=" << k;
      EXPECT_TRUE(ids.insert(view.photo_id).second) << view.photo_id << " k=" << k;
    }
    for (const auto& [id, bytes] : must_survive) {
      EXPECT_TRUE(h.recoverable(id, bytes)) << id << " k=" << k;
    }
    const auto retried = post_batch(h, photos);
    for (const auto& photo : photos) EXPECT_EQ(retried.at(photo.photo_id), 200) << "k=" << k;
    EXPECT_EQ(h.uploader().metrics().cache_photos, 4u) << "k=" << k;
    h.store().down = false;
    ASSERT_TRUE(h.run_until(h.now() + sim::from_seconds(60)));
    EXPECT_EQ(h.evicted().size(), 4u) << "k=" << k;
    EXPECT_TRUE(h.lost_locally().empty()) << "k=" << k;
  }
  EXPECT_GT(completed_at, 10u);
  RecordProperty("batch_crash_points", static_cast<int>(completed_at - 1));
}

}  // namespace
}  // namespace s3chaos::uploader
