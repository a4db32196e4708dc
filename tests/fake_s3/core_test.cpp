// Proves the typed S3 core's semantics operation by operation: buckets, objects, ETags,
// digests, conditions, ranges, listings, multipart, and the ground truth under durability lag,
// death and bit rot.
#include "fake_s3/core.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace s3chaos::fake_s3 {
namespace {

using s3proto::ChecksumAlgorithm;

RequestContext at(TimeNs now) {
  RequestContext ctx;
  ctx.now = now;
  return ctx;
}

class CoreTest : public ::testing::Test {
 protected:
  CoreTest() {
    CoreSettings settings;
    settings.part_size_min_bytes = 10;
    core = std::make_unique<S3Core>(settings);
    EXPECT_TRUE(core->create_bucket(at(0), "photos").ok());
  }

  Result<PutObjectOutput> put(std::string key, std::string body, TimeNs now = 0) {
    PutObjectInput input;
    input.bucket = "photos";
    input.key = std::move(key);
    input.body = std::move(body);
    return core->put_object(at(now), std::move(input));
  }

  std::string get_body(const std::string& key, TimeNs now = 0) {
    GetObjectInput input{"photos", key, std::nullopt, {}};
    auto result = core->get_object(at(now), input);
    if (!result.ok()) return "<" + result.error().code + ">";
    return std::string(result.value().body.view());
  }

  std::unique_ptr<S3Core> core;
};

TEST_F(CoreTest, BucketLifecycleAndErrors) {
  // Creating twice, deleting a non-empty bucket and naming rules give S3's codes and statuses.
  auto again = core->create_bucket(at(0), "photos");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "BucketAlreadyOwnedByYou");
  EXPECT_EQ(again.error().http_status, 409);
  EXPECT_EQ(core->create_bucket(at(0), "Bad_Name").error().code, "InvalidBucketName");
  EXPECT_EQ(core->create_bucket(at(0), "ab").error().code, "InvalidBucketName");
  EXPECT_EQ(core->create_bucket(at(0), "192.168.1.1").error().code, "InvalidBucketName");
  EXPECT_EQ(core->create_bucket(at(0), "a..b").error().code, "InvalidBucketName");
  EXPECT_TRUE(core->head_bucket(at(0), "photos").ok());
  EXPECT_EQ(core->head_bucket(at(0), "nope-bucket").error().http_status, 404);
  ASSERT_TRUE(put("a", "x").ok());
  auto not_empty = core->delete_bucket(at(0), "photos");
  EXPECT_EQ(not_empty.error().code, "BucketNotEmpty");
  EXPECT_EQ(not_empty.error().http_status, 409);
  ASSERT_TRUE(core->delete_object(at(0), "photos", "a").ok());
  EXPECT_TRUE(core->delete_bucket(at(0), "photos").ok());
  EXPECT_EQ(core->delete_bucket(at(0), "photos").error().code, "NoSuchBucket");
  EXPECT_TRUE(core->list_buckets(at(0)).empty());
  EXPECT_EQ(core->get_bucket_location(at(0), "photos").error().code, "NoSuchBucket");
}

TEST_F(CoreTest, ListBucketsIsSortedAndLocationIsEmptyForUsEast1) {
  // Buckets list in name order; us-east-1 reports an empty LocationConstraint, others fail.
  ASSERT_TRUE(core->create_bucket(at(5), "apples").ok());
  const auto buckets = core->list_buckets(at(5));
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].name, "apples");
  EXPECT_EQ(buckets[1].name, "photos");
  EXPECT_EQ(buckets[0].created_at, 5);
  EXPECT_EQ(core->get_bucket_location(at(5), "apples").value(), "");
  EXPECT_EQ(core->create_bucket(at(5), "elsewhere", "eu-west-1").error().code,
            "IllegalLocationConstraintException");
}

TEST_F(CoreTest, PutGetHeadDeleteRoundTripWithMd5ETag) {
  // A PUT's ETag is the quoted MD5 hex; GET returns the bytes; DELETE makes GET 404 NoSuchKey.
  auto put_result = put("k", "abc");
  ASSERT_TRUE(put_result.ok());
  EXPECT_EQ(put_result.value().etag, "\"900150983cd24fb0d6963f7d28e17f72\"");
  EXPECT_EQ(get_body("k"), "abc");
  auto head = core->head_object(at(0), GetObjectInput{"photos", "k", std::nullopt, {}});
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head.value().meta.size_bytes, 3u);
  EXPECT_TRUE(head.value().body.view().empty());
  ASSERT_TRUE(put("k", "abcd").ok());
  EXPECT_EQ(get_body("k"), "abcd");
  ASSERT_TRUE(core->delete_object(at(0), "photos", "k").ok());
  EXPECT_EQ(get_body("k"), "<NoSuchKey>");
  EXPECT_TRUE(core->delete_object(at(0), "photos", "k").ok());  // idempotent, 204
  EXPECT_EQ(core->delete_object(at(0), "nope-bucket", "k").error().code, "NoSuchBucket");
  PutObjectInput input{"nope-bucket", "k", "x", {}, {}, "", {}, false, {}};
  EXPECT_EQ(core->put_object(at(0), input).error().http_status, 404);
}

TEST_F(CoreTest, KeyValidation) {
  // Keys over 1024 bytes are KeyTooLongError; NUL and broken UTF-8 are InvalidArgument.
  EXPECT_TRUE(put(std::string(1024, 'k'), "x").ok());
  EXPECT_EQ(put(std::string(1025, 'k'), "x").error().code, "KeyTooLongError");
  EXPECT_EQ(put(std::string("a\0b", 3), "x").error().code, "InvalidArgument");
  EXPECT_EQ(put("\xff\xfe", "x").error().code, "InvalidArgument");
  EXPECT_EQ(put("caf\xc3", "x").error().code, "InvalidArgument");
  EXPECT_TRUE(put("caf\xc3\xa9/../x", "x").ok());
}

TEST_F(CoreTest, ContentMd5IsChecked) {
  // A matching Content-MD5 stores; a wrong one is 400 BadDigest; a malformed one InvalidDigest.
  PutObjectInput input;
  input.bucket = "photos";
  input.key = "k";
  input.body = "abc";
  input.content_md5 = s3proto::md5_base64("abc");
  EXPECT_TRUE(core->put_object(at(0), input).ok());
  input.content_md5 = s3proto::md5_base64("abd");
  auto bad = core->put_object(at(0), input);
  EXPECT_EQ(bad.error().code, "BadDigest");
  EXPECT_EQ(bad.error().http_status, 400);
  input.content_md5 = "not base64!";
  EXPECT_EQ(core->put_object(at(0), input).error().code, "InvalidDigest");
  input.content_md5 = s3proto::base64_encode("short");
  EXPECT_EQ(core->put_object(at(0), input).error().code, "InvalidDigest");
}

TEST_F(CoreTest, FlexibleChecksumsAreCheckedAndStored) {
  // Every x-amz-checksum algorithm is verified (BadDigest when wrong, InvalidRequest when
  // malformed or more than one), stored, and returned with the object.
  for (auto algorithm : s3proto::all_checksum_algorithms) {
    PutObjectInput input;
    input.bucket = "photos";
    input.key = "k";
    input.body = "hello";
    input.checksums = {{algorithm, s3proto::checksum_base64(algorithm, "hello")}};
    auto ok = core->put_object(at(0), input);
    ASSERT_TRUE(ok.ok()) << s3proto::checksum_algorithm_name(algorithm);
    auto got = core->get_object(at(0), GetObjectInput{"photos", "k", std::nullopt, {}});
    ASSERT_EQ(got.value().meta.checksums.size(), 1u);
    EXPECT_EQ(got.value().meta.checksums[0].second, s3proto::checksum_base64(algorithm, "hello"));
    input.checksums = {{algorithm, s3proto::checksum_base64(algorithm, "hellO")}};
    auto bad = core->put_object(at(0), input);
    EXPECT_EQ(bad.error().code, "BadDigest");
    EXPECT_NE(bad.error().message.find("did not match the calculated checksum"), std::string::npos);
    input.checksums = {{algorithm, "AAAA"}};
    if (algorithm != ChecksumAlgorithm::crc32 && algorithm != ChecksumAlgorithm::crc32c) {
      EXPECT_EQ(core->put_object(at(0), input).error().code, "InvalidRequest");
    }
  }
  PutObjectInput two;
  two.bucket = "photos";
  two.key = "k";
  two.body = "x";
  two.checksums = {
      {ChecksumAlgorithm::crc32, s3proto::checksum_base64(ChecksumAlgorithm::crc32, "x")},
      {ChecksumAlgorithm::sha1, s3proto::checksum_base64(ChecksumAlgorithm::sha1, "x")}};
  EXPECT_EQ(core->put_object(at(0), two).error().code, "InvalidRequest");
}

TEST_F(CoreTest, ConditionalPut) {
  // If-None-Match: * refuses to overwrite (412); If-Match needs the current ETag.
  PutObjectInput input;
  input.bucket = "photos";
  input.key = "k";
  input.body = "one";
  input.if_none_match_star = true;
  auto first = core->put_object(at(0), input);
  ASSERT_TRUE(first.ok());
  auto second = core->put_object(at(0), input);
  EXPECT_EQ(second.error().code, "PreconditionFailed");
  EXPECT_EQ(second.error().http_status, 412);
  input.if_none_match_star = false;
  input.if_match = "\"0000\"";
  EXPECT_EQ(core->put_object(at(0), input).error().code, "PreconditionFailed");
  input.if_match = first.value().etag;
  EXPECT_TRUE(core->put_object(at(0), input).ok());
  input.key = "absent";
  EXPECT_EQ(core->put_object(at(0), input).error().code, "NoSuchKey");
}

TEST_F(CoreTest, ConditionalGet) {
  // If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since give 412 or 304 as S3.
  const TimeNs written = sim::from_seconds(100);
  auto etag = put("k", "data", written).value().etag;
  auto get_with = [&](ReadConditions conditions) {
    auto result =
        core->get_object(at(written), GetObjectInput{"photos", "k", std::nullopt, conditions});
    return result.ok() ? 200 : result.error().http_status;
  };
  EXPECT_EQ(get_with({etag, {}, {}, {}}), 200);
  EXPECT_EQ(get_with({"\"other\"", {}, {}, {}}), 412);
  EXPECT_EQ(get_with({"\"other\", " + etag, {}, {}, {}}), 200);
  EXPECT_EQ(get_with({"*", {}, {}, {}}), 200);
  EXPECT_EQ(get_with({{}, etag, {}, {}}), 304);
  EXPECT_EQ(get_with({{}, "\"other\"", {}, {}}), 200);
  EXPECT_EQ(get_with({{}, {}, written, {}}), 304);
  EXPECT_EQ(get_with({{}, {}, written - sim::from_seconds(1), {}}), 200);
  EXPECT_EQ(get_with({{}, {}, {}, written}), 200);
  EXPECT_EQ(get_with({{}, {}, {}, written - sim::from_seconds(1)}), 412);
  // S3's documented pairs: If-Match true wins over If-Unmodified-Since false...
  EXPECT_EQ(get_with({etag, {}, {}, written - sim::from_seconds(1)}), 200);
  // ...and If-None-Match false wins over If-Modified-Since true (304).
  EXPECT_EQ(get_with({{}, etag, written - sim::from_seconds(1), {}}), 304);
}

TEST_F(CoreTest, Ranges) {
  // Single byte ranges, suffix ranges and open ranges; unsatisfiable is 416 InvalidRange;
  // unparsable ranges are ignored.
  ASSERT_TRUE(put("k", "0123456789").ok());
  auto range = [&](std::string header) -> std::string {
    auto result = core->get_object(at(0), GetObjectInput{"photos", "k", header, {}});
    if (!result.ok()) return result.error().code;
    return std::string(result.value().body.view()) + "|" +
           result.value().content_range.value_or("none");
  };
  EXPECT_EQ(range("bytes=0-3"), "0123|bytes 0-3/10");
  EXPECT_EQ(range("bytes=7-"), "789|bytes 7-9/10");
  EXPECT_EQ(range("bytes=-2"), "89|bytes 8-9/10");
  EXPECT_EQ(range("bytes=-20"), "0123456789|bytes 0-9/10");
  EXPECT_EQ(range("bytes=5-100"), "56789|bytes 5-9/10");
  EXPECT_EQ(range("bytes=10-"), "InvalidRange");
  EXPECT_EQ(range("bytes=3-1"), "0123456789|none");
  EXPECT_EQ(range("bytes=0-1,3-4"), "0123456789|none");
  EXPECT_EQ(range("items=0-1"), "0123456789|none");
}

TEST_F(CoreTest, CopyObject) {
  // A copy shares the bytes and has their MD5 ETag; self-copy without REPLACE is InvalidRequest;
  // source conditions give 412.
  auto etag = put("src", "payload").value().etag;
  CopyObjectInput copy;
  copy.source_bucket = "photos";
  copy.source_key = "src";
  copy.bucket = "photos";
  copy.key = "dst";
  auto result = core->copy_object(at(1), copy);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value().etag, etag);
  EXPECT_EQ(get_body("dst", 1), "payload");
  copy.key = "src";
  EXPECT_EQ(core->copy_object(at(1), copy).error().code, "InvalidRequest");
  copy.replace_metadata = true;
  copy.user_metadata = {{"color", "blue"}};
  EXPECT_TRUE(core->copy_object(at(1), copy).ok());
  copy.key = "other";
  copy.source_conditions.if_match = "\"nope\"";
  EXPECT_EQ(core->copy_object(at(1), copy).error().code, "PreconditionFailed");
  copy.source_key = "absent";
  EXPECT_EQ(core->copy_object(at(1), copy).error().code, "NoSuchKey");
}

TEST_F(CoreTest, DeleteObjectsReportsEachKey) {
  // DeleteObjects deletes each key (absent ones too) and reports per-key results.
  ASSERT_TRUE(put("a", "1").ok());
  auto result = core->delete_objects(at(0), "photos", {"a", "b"});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value().deleted, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(get_body("a"), "<NoSuchKey>");
  EXPECT_EQ(core->delete_objects(at(0), "photos", {}).error().code, "MalformedXML");
}

TEST_F(CoreTest, ListingWithPrefixDelimiterAndPaging) {
  // Listing returns keys in order, rolls keys up into common prefixes, and pages exactly.
  for (const char* key : {"a/1", "a/2", "b", "c/x/1", "c/y", "d"}) ASSERT_TRUE(put(key, "v").ok());
  ListInput input;
  input.bucket = "photos";
  input.delimiter = "/";
  auto all = core->list_objects(at(0), input).value();
  ASSERT_EQ(all.contents.size(), 2u);
  EXPECT_EQ(all.contents[0].key, "b");
  EXPECT_EQ(all.contents[1].key, "d");
  EXPECT_EQ(all.common_prefixes, (std::vector<std::string>{"a/", "c/"}));
  EXPECT_FALSE(all.is_truncated);
  // Paging with max-keys 1 visits a/, b, c/, d in order.
  std::vector<std::string> seen;
  input.max_keys = 1;
  for (int page = 0; page < 10; ++page) {
    auto out = core->list_objects(at(0), input).value();
    for (auto& meta : out.contents) seen.push_back(meta.key);
    for (auto& prefix : out.common_prefixes) seen.push_back(prefix);
    if (!out.is_truncated) break;
    input.after = out.last_returned;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a/", "b", "c/", "d"}));
  input = ListInput{"photos", "c/", "/", "", 1000};
  auto nested = core->list_objects(at(0), input).value();
  EXPECT_EQ(nested.common_prefixes, (std::vector<std::string>{"c/x/"}));
  ASSERT_EQ(nested.contents.size(), 1u);
  EXPECT_EQ(nested.contents[0].key, "c/y");
  input = ListInput{"photos", "", "", "b", 2};
  auto after = core->list_objects(at(0), input).value();
  ASSERT_EQ(after.contents.size(), 2u);
  EXPECT_EQ(after.contents[0].key, "c/x/1");
  EXPECT_TRUE(after.is_truncated);
  input.max_keys = 0;
  EXPECT_TRUE(core->list_objects(at(0), input).value().contents.empty());
  input.max_keys = -1;
  EXPECT_EQ(core->list_objects(at(0), input).error().code, "InvalidArgument");
}

TEST_F(CoreTest, MultipartHappyPathAndETag) {
  // Parts assemble in order; the ETag is md5(concatenated part md5s)-N.
  auto upload_id = core->create_multipart_upload(at(0), {"photos", "big", "", {}, {}}).value();
  const std::string part1(10, 'a');
  const std::string part2 = "tail";
  auto etag1 = core->upload_part(at(0), {"photos", "big", upload_id, 1, part1, {}, {}}).value();
  auto etag2 = core->upload_part(at(0), {"photos", "big", upload_id, 2, part2, {}, {}}).value();
  EXPECT_EQ(etag1, "\"" + s3proto::md5_hex(part1) + "\"");
  auto listed = core->list_parts(at(0), "photos", "big", upload_id, 0, 1).value();
  ASSERT_EQ(listed.parts.size(), 1u);
  EXPECT_TRUE(listed.is_truncated);
  auto uploads = core->list_multipart_uploads(at(0), "photos", "", "", "", 1000).value();
  ASSERT_EQ(uploads.uploads.size(), 1u);
  EXPECT_EQ(uploads.uploads[0].upload_id, upload_id);
  auto done =
      core->complete_multipart_upload(at(0), "photos", "big", upload_id, {{1, etag1}, {2, etag2}});
  ASSERT_TRUE(done.ok());
  const auto md5_1 = s3proto::md5(part1);
  const auto md5_2 = s3proto::md5(part2);
  std::string concatenated(reinterpret_cast<const char*>(md5_1.data()), 16);
  concatenated.append(reinterpret_cast<const char*>(md5_2.data()), 16);
  EXPECT_EQ(done.value().etag, "\"" + s3proto::md5_hex(concatenated) + "-2\"");
  EXPECT_EQ(get_body("big"), part1 + part2);
  EXPECT_EQ(core->list_parts(at(0), "photos", "big", upload_id, 0, 10).error().code,
            "NoSuchUpload");
}

TEST_F(CoreTest, MultipartErrors) {
  // InvalidPartOrder, InvalidPart, EntityTooSmall, NoSuchUpload and part-number bounds.
  auto upload_id = core->create_multipart_upload(at(0), {"photos", "big", "", {}, {}}).value();
  auto etag_small =
      core->upload_part(at(0), {"photos", "big", upload_id, 1, "tiny", {}, {}}).value();
  auto etag2 = core->upload_part(at(0), {"photos", "big", upload_id, 2, "more", {}, {}}).value();
  auto complete = [&](std::vector<CompletedPart> parts) {
    auto result = core->complete_multipart_upload(at(0), "photos", "big", upload_id, parts);
    return result.ok() ? std::string("ok") : result.error().code;
  };
  EXPECT_EQ(complete({{2, etag2}, {1, etag_small}}), "InvalidPartOrder");
  EXPECT_EQ(complete({{1, etag_small}, {1, etag_small}}), "InvalidPartOrder");
  EXPECT_EQ(complete({{1, etag_small}, {3, etag2}}), "InvalidPart");
  EXPECT_EQ(complete({{1, etag2}}), "InvalidPart");
  EXPECT_EQ(complete({{1, etag_small}, {2, etag2}}), "EntityTooSmall");
  EXPECT_EQ(complete({}), "MalformedXML");
  EXPECT_EQ(core->upload_part(at(0), {"photos", "big", upload_id, 0, "x", {}, {}}).error().code,
            "InvalidArgument");
  EXPECT_EQ(core->upload_part(at(0), {"photos", "big", upload_id, 10001, "x", {}, {}}).error().code,
            "InvalidArgument");
  EXPECT_EQ(core->upload_part(at(0), {"photos", "big", "nope", 1, "x", {}, {}}).error().code,
            "NoSuchUpload");
  EXPECT_EQ(core->upload_part(at(0), {"photos", "other", upload_id, 1, "x", {}, {}}).error().code,
            "NoSuchUpload");
  EXPECT_EQ(complete({{2, etag2}}), "ok");  // a single (last) part may be small
  EXPECT_EQ(core->abort_multipart_upload(at(0), "photos", "big", upload_id).error().code,
            "NoSuchUpload");
  auto second = core->create_multipart_upload(at(0), {"photos", "x", "", {}, {}}).value();
  EXPECT_NE(second, upload_id);
  EXPECT_EQ(core->delete_bucket(at(0), "photos").error().code, "BucketNotEmpty");
  EXPECT_TRUE(core->abort_multipart_upload(at(0), "photos", "x", second).ok());
}

TEST_F(CoreTest, DurabilityLagAndDeathLoseOnlyVolatileWrites) {
  // The 2008 window: a write acked with lag W is readable at once, durable at t+W, and gone
  // if a death comes first; the truth records the loss with both times.
  RequestContext lagging = at(sim::from_seconds(1));
  lagging.durability_lag_ns = sim::from_seconds(10);
  ASSERT_TRUE(put("durable", "old", 0).ok());
  PutObjectInput input{"photos", "durable", "new", {}, {}, "", {}, false, {}};
  ASSERT_TRUE(core->put_object(lagging, input).ok());
  input.key = "fresh";
  ASSERT_TRUE(core->put_object(lagging, input).ok());
  EXPECT_EQ(get_body("durable", sim::from_seconds(2)), "new");  // reads see the volatile write
  EXPECT_EQ(core->next_event_time(), sim::from_seconds(11));
  auto truth = core->truth();
  ASSERT_EQ(truth.durable_objects.size(), 1u);
  EXPECT_EQ(*truth.durable_objects[0].bytes, "old");
  ASSERT_EQ(truth.pending.size(), 2u);
  core->kill(sim::from_seconds(5));
  EXPECT_EQ(get_body("durable", sim::from_seconds(5)), "old");
  EXPECT_EQ(get_body("fresh", sim::from_seconds(5)), "<NoSuchKey>");
  truth = core->truth();
  EXPECT_TRUE(truth.pending.empty());
  ASSERT_EQ(truth.lost.size(), 2u);
  EXPECT_EQ(truth.lost[0].lost_at, sim::from_seconds(5));
  EXPECT_EQ(truth.lost[0].acked_at, sim::from_seconds(1));
  EXPECT_EQ(truth.lost[0].durability, Durability::lost);
  EXPECT_EQ(*truth.lost[0].bytes, "new");
  EXPECT_FALSE(core->next_event_time().has_value());
}

TEST_F(CoreTest, DurabilityLagExpiresIntoDurable) {
  // After t+W the write is durable and a death no longer touches it.
  RequestContext lagging = at(0);
  lagging.durability_lag_ns = 100;
  PutObjectInput input{"photos", "k", "v", {}, {}, "", {}, false, {}};
  ASSERT_TRUE(core->put_object(lagging, input).ok());
  EXPECT_FALSE(core->durable_object("photos", "k").has_value());
  core->advance_to(100);
  ASSERT_TRUE(core->durable_object("photos", "k").has_value());
  core->kill(200);
  EXPECT_EQ(get_body("k", 200), "v");
  EXPECT_TRUE(core->truth().lost.empty());
}

TEST_F(CoreTest, StaleReadsSeeThePast) {
  // A read with staleness D sees the store as it was D ago: 404 after a PUT, old bytes after
  // an overwrite, a LIST without the new key.
  core->set_history_retention(sim::from_seconds(10));
  ASSERT_TRUE(put("k", "old", sim::from_seconds(1)).ok());
  ASSERT_TRUE(put("k", "new", sim::from_seconds(5)).ok());
  ASSERT_TRUE(put("n", "x", sim::from_seconds(5)).ok());
  RequestContext stale = at(sim::from_seconds(6));
  stale.read_staleness_ns = sim::from_seconds(3);
  auto old = core->get_object(stale, GetObjectInput{"photos", "k", std::nullopt, {}});
  EXPECT_EQ(old.value().body.view(), "old");
  EXPECT_EQ(core->get_object(stale, GetObjectInput{"photos", "n", std::nullopt, {}}).error().code,
            "NoSuchKey");
  auto listed = core->list_objects(stale, ListInput{"photos", "", "", "", 1000}).value();
  ASSERT_EQ(listed.contents.size(), 1u);
  EXPECT_EQ(listed.contents[0].key, "k");
  EXPECT_EQ(get_body("k", sim::from_seconds(6)), "new");
}

TEST_F(CoreTest, TruncatedWriteAndDroppedPartAreRecorded) {
  // A truncating store answers with the full body's ETag, stores a prefix, and the truth says
  // so; a dropped part is acknowledged but completing with it fails InvalidPart.
  RequestContext truncating = at(0);
  truncating.truncate_stored_bytes = 2;
  PutObjectInput input{"photos", "k", "abcdef", {}, {}, "", {}, false, {}};
  auto result = core->put_object(truncating, input);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value().etag, "\"" + s3proto::md5_hex("abcdef") + "\"");
  EXPECT_EQ(get_body("k"), "ab");
  auto truth = core->durable_object("photos", "k");
  ASSERT_TRUE(truth.has_value());
  EXPECT_TRUE(truth->truncated_by_store);
  auto upload_id = core->create_multipart_upload(at(0), {"photos", "m", "", {}, {}}).value();
  RequestContext dropping = at(0);
  dropping.drop_part_after_ack = true;
  auto etag = core->upload_part(dropping, {"photos", "m", upload_id, 1, "part", {}, {}});
  ASSERT_TRUE(etag.ok());
  EXPECT_EQ(core->complete_multipart_upload(at(0), "photos", "m", upload_id, {{1, etag.value()}})
                .error()
                .code,
            "InvalidPart");
}

TEST_F(CoreTest, BitRotChangesStoredBytesAndTheTruthSaysSo) {
  // Rot flips stored bits; later reads return the rotted bytes and the truth marks the time.
  ASSERT_TRUE(put("k", "abcdef").ok());
  sim::RandomStream random(7);
  EXPECT_EQ(core->rot(50, "photos", "", 1.0, 3, random), 1);
  EXPECT_NE(get_body("k", 50), "abcdef");
  auto truth = core->durable_object("photos", "k");
  ASSERT_TRUE(truth.has_value());
  EXPECT_EQ(truth->rotted_at, 50);
  EXPECT_EQ(*truth->bytes, get_body("k", 50));
}

TEST(CoreLimits, NamedLimitsGiveS3Errors) {
  // Body size, metadata size, bucket count and listing limits are enforced with S3's codes.
  CoreSettings settings;
  settings.object_size_max_bytes = 8;
  settings.buckets_max = 2;
  settings.user_metadata_bytes_max = 10;
  settings.list_keys_max = 2;
  S3Core core(settings);
  ASSERT_TRUE(core.create_bucket(at(0), "one").ok());
  ASSERT_TRUE(core.create_bucket(at(0), "two").ok());
  EXPECT_EQ(core.create_bucket(at(0), "three").error().code, "TooManyBuckets");
  auto too_large =
      core.put_object(at(0), PutObjectInput{"one", "k", "123456789", {}, {}, "", {}, false, {}});
  EXPECT_EQ(too_large.error().code, "EntityTooLarge");
  EXPECT_EQ(too_large.error().http_status, 400);
  auto metadata = core.put_object(
      at(0), PutObjectInput{"one", "k", "1", {}, {}, "", {{"name", "0123456789"}}, false, {}});
  EXPECT_EQ(metadata.error().code, "MetadataTooLarge");
  for (const char* key : {"a", "b", "c"}) {
    ASSERT_TRUE(
        core.put_object(at(0), PutObjectInput{"one", key, "1", {}, {}, "", {}, false, {}}).ok());
  }
  auto listed = core.list_objects(at(0), ListInput{"one", "", "", "", 1000}).value();
  EXPECT_EQ(listed.contents.size(), 2u);
  EXPECT_TRUE(listed.is_truncated);
}

TEST_F(CoreTest, MultipartUploadListingMarkers) {
  // ListMultipartUploads orders by (key, upload id) and resumes after key-marker /
  // upload-id-marker; ListParts resumes after part-number-marker.
  std::vector<std::string> ids;
  for (const char* key : {"b", "a", "a"}) {
    ids.push_back(core->create_multipart_upload(at(0), {"photos", key, "", {}, {}}).value());
  }
  auto all = core->list_multipart_uploads(at(0), "photos", "", "", "", 1000).value();
  ASSERT_EQ(all.uploads.size(), 3u);
  EXPECT_EQ(all.uploads[0].key, "a");
  EXPECT_EQ(all.uploads[2].key, "b");
  EXPECT_LT(all.uploads[0].upload_id, all.uploads[1].upload_id);
  auto after_key = core->list_multipart_uploads(at(0), "photos", "", "a", "", 1000).value();
  ASSERT_EQ(after_key.uploads.size(), 1u);
  EXPECT_EQ(after_key.uploads[0].key, "b");
  auto after_id =
      core->list_multipart_uploads(at(0), "photos", "", "a", all.uploads[0].upload_id, 1000)
          .value();
  ASSERT_EQ(after_id.uploads.size(), 2u);
  EXPECT_EQ(after_id.uploads[0].upload_id, all.uploads[1].upload_id);
  auto limited = core->list_multipart_uploads(at(0), "photos", "b", "", "", 1000).value();
  EXPECT_EQ(limited.uploads.size(), 1u);
  for (int part = 1; part <= 3; ++part) {
    ASSERT_TRUE(core->upload_part(at(0), {"photos", "b", ids[0], part, "p", {}, {}}).ok());
  }
  auto parts = core->list_parts(at(0), "photos", "b", ids[0], 1, 1).value();
  ASSERT_EQ(parts.parts.size(), 1u);
  EXPECT_EQ(parts.parts[0].part_number, 2);
  EXPECT_TRUE(parts.is_truncated);
  EXPECT_EQ(parts.next_part_number_marker, 2);
}

TEST_F(CoreTest, CopyWithReplaceChangesMetadataOnly) {
  // REPLACE takes the request's metadata and content type; COPY keeps the source's.
  PutObjectInput input{"photos", "src", "bytes", {}, {}, "image/png", {{"a", "1"}}, false, {}};
  ASSERT_TRUE(core->put_object(at(0), input).ok());
  CopyObjectInput copy;
  copy.source_bucket = "photos";
  copy.source_key = "src";
  copy.bucket = "photos";
  copy.key = "kept";
  ASSERT_TRUE(core->copy_object(at(0), copy).ok());
  copy.key = "replaced";
  copy.replace_metadata = true;
  copy.content_type = "text/plain";
  copy.user_metadata = {{"b", "2"}};
  ASSERT_TRUE(core->copy_object(at(0), copy).ok());
  auto kept = core->head_object(at(0), GetObjectInput{"photos", "kept", std::nullopt, {}}).value();
  auto replaced =
      core->head_object(at(0), GetObjectInput{"photos", "replaced", std::nullopt, {}}).value();
  EXPECT_EQ(kept.meta.content_type, "image/png");
  EXPECT_EQ(kept.meta.user_metadata, (UserMetadata{{"a", "1"}}));
  EXPECT_EQ(replaced.meta.content_type, "text/plain");
  EXPECT_EQ(replaced.meta.user_metadata, (UserMetadata{{"b", "2"}}));
}

TEST(Dates, HttpAndIsoFormatsRoundTrip) {
  // Simulated zero is 2008-07-20 (a Sunday); HTTP dates parse back to the same second.
  EXPECT_EQ(format_http_date(0, 1216512000), "Sun, 20 Jul 2008 00:00:00 GMT");
  EXPECT_EQ(format_iso8601(sim::from_milliseconds(1500), 1216512000), "2008-07-20T00:00:01.500Z");
  EXPECT_EQ(format_http_date(sim::from_seconds(86400 * 200 + 3661), 1216512000),
            "Thu, 05 Feb 2009 01:01:01 GMT");
  EXPECT_EQ(parse_http_date("Thu, 05 Feb 2009 01:01:01 GMT", 1216512000),
            sim::from_seconds(86400 * 200 + 3661));
  EXPECT_FALSE(parse_http_date("yesterday", 1216512000).has_value());
  EXPECT_FALSE(parse_http_date("Wed, 05 Fob 2009 01:01:01 GMT", 1216512000).has_value());
}

}  // namespace
}  // namespace s3chaos::fake_s3
