// The S3 core: bucket, object and multipart semantics plus the ground truth, sans-I/O.
//
// Requests come in as typed calls with a RequestContext (the simulated time and the fault
// modifiers the injector chose); results come back as values or S3 errors. Nothing here reads
// a clock, opens a socket or touches a disk. The HTTP shape (http.hpp) and the fault injector
// (faults.hpp) are layers over this class; the simulator and the `fake-s3` server both use it
// unchanged.
//
// Ground truth. Every write of an object is a Version. A version acknowledged at t with a
// durability lag W is *volatile* until t + W and *durable* from then on; a death (kill())
// before t + W discards it, and the truth records it as lost with both times. Reads before the
// death may return a volatile version (that is the 2008 life/death window). truth() reports
// what is really stored, whatever any response said.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "s3proto/checksum.hpp"
#include "sim/random.hpp"
#include "sim/time.hpp"

namespace s3chaos::fake_s3 {

using sim::TimeNs;

// An S3 error as S3 sends it: HTTP status, code (NoSuchKey, ...), human message, and the
// resource it concerns. The request id is added by the HTTP layer.
struct S3Error {
  int http_status = 500;
  std::string code;
  std::string message;
  std::string resource;
};

// A value or an S3 error. 304 Not Modified is carried as an error with status 304 and code
// "NotModified" because, like an error, it has no body and stops the operation.
template <class T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(S3Error error) : state_(std::move(error)) {}
  bool ok() const { return state_.index() == 0; }
  const T& value() const { return std::get<0>(state_); }
  T& value() { return std::get<0>(state_); }
  const S3Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, S3Error> state_;
};

struct Empty {};

// Limits and knobs. Every limit S3 enforces is here, named with its unit.
struct CoreSettings {
  // Non-last multipart parts below this size make CompleteMultipartUpload fail with
  // EntityTooSmall. S3 uses 5 MiB; tests lower it.
  std::uint64_t part_size_min_bytes = 5ull << 20;
  // Largest single PUT / part body (EntityTooLarge above). S3 allows 5 GiB; an in-memory fake
  // keeps a lower default.
  std::uint64_t object_size_max_bytes = 1ull << 30;
  std::uint64_t key_bytes_max = 1024;
  int part_number_max = 10000;
  int list_keys_max = 1000;
  std::size_t buckets_max = 1000;
  std::size_t uploads_per_bucket_max = 10000;
  std::size_t delete_objects_keys_max = 1000;
  std::size_t user_metadata_bytes_max = 2048;
  std::string region = "us-east-1";
  // How long superseded versions are kept so stale reads can serve them. The fault layer
  // raises it to the longest stale_reads rule; zero keeps only what the truth needs.
  TimeNs history_retention_ns = 0;
  // Unix time (seconds) of simulated time zero, for Last-Modified and XML dates.
  // Default: 2008-07-20T00:00:00Z, the day of the PhotoShare incident.
  std::int64_t epoch_unix_seconds = 1216512000;
};

// Fault modifiers for one request, chosen by the injector (all defaults = an honest S3).
struct RequestContext {
  // The request's simulated time. Writes assert it is not before the last advance_to(): time
  // never goes back in a simulation.
  TimeNs now = 0;
  // Objects this request stores become durable at now + durability_lag_ns (0: immediately).
  TimeNs durability_lag_ns = 0;
  // Reads (GET, HEAD, LIST) see the store as it was at now - read_staleness_ns.
  TimeNs read_staleness_ns = 0;
  // PutObject: verify digests against the whole body, answer with its ETag, but store only
  // this many bytes (a store bug; the truth marks the version truncated_by_store).
  std::optional<std::uint64_t> truncate_stored_bytes;
  // UploadPart: acknowledge the part with its ETag but do not keep it.
  bool drop_part_after_ack = false;
};

// Object bytes shared between versions, copies and responses without copying.
struct Body {
  std::shared_ptr<const std::string> data;
  std::size_t offset = 0;
  std::size_t length = 0;
  std::string_view view() const {
    return data ? std::string_view(*data).substr(offset, length) : std::string_view();
  }
};

using Checksums = std::vector<std::pair<s3proto::ChecksumAlgorithm, std::string>>;  // base64
using UserMetadata = std::map<std::string, std::string>;  // x-amz-meta-* without the prefix

struct ObjectMeta {
  std::string key;
  std::string etag;  // quoted, as in the ETag header
  std::uint64_t size_bytes = 0;
  TimeNs last_modified = 0;
  std::string content_type;
  UserMetadata user_metadata;
  Checksums checksums;
  int parts_count = 0;  // 0 for a single-part object
};

struct BucketInfo {
  std::string name;
  TimeNs created_at = 0;
};

struct PutObjectInput {
  std::string bucket;
  std::string key;
  std::string body;
  std::optional<std::string> content_md5;  // base64, as in the header
  Checksums checksums;                     // x-amz-checksum-* values the client sent
  std::string content_type;
  UserMetadata user_metadata;
  bool if_none_match_star = false;      // If-None-Match: *
  std::optional<std::string> if_match;  // If-Match: "etag"
};
struct PutObjectOutput {
  std::string etag;
  Checksums checksums;
  std::uint64_t version_sequence = 0;  // the truth's id of the stored version
};

// Conditional read headers, already parsed. Times are simulated times; comparisons are at
// one-second granularity, like HTTP dates.
struct ReadConditions {
  std::optional<std::string> if_match;       // raw header: "etag", "e1", "e2" or *
  std::optional<std::string> if_none_match;  // raw header
  std::optional<TimeNs> if_modified_since;
  std::optional<TimeNs> if_unmodified_since;
};

struct GetObjectInput {
  std::string bucket;
  std::string key;
  std::optional<std::string> range;  // raw Range header, e.g. "bytes=0-99"
  ReadConditions conditions;
};
struct GetObjectOutput {
  ObjectMeta meta;
  Body body;  // empty for HEAD
  // Set for a satisfiable Range: status 206 and "bytes first-last/size".
  std::optional<std::string> content_range;
};

struct DeleteObjectsOutput {
  std::vector<std::string> deleted;
  std::vector<std::pair<std::string, S3Error>> errors;  // key, error
};

struct CopyObjectInput {
  std::string source_bucket;
  std::string source_key;
  std::string bucket;
  std::string key;
  bool replace_metadata = false;  // x-amz-metadata-directive: REPLACE
  std::string content_type;
  UserMetadata user_metadata;
  ReadConditions source_conditions;  // x-amz-copy-source-if-*
};
struct CopyObjectOutput {
  std::string etag;
  TimeNs last_modified = 0;
};

// One listing request. `after` is exclusive: keys (and common prefixes) greater than it.
// V2's continuation token and start-after, V1's marker and ListObjectVersions' key-marker are
// all turned into `after` by the HTTP layer.
struct ListInput {
  std::string bucket;
  std::string prefix;
  std::string delimiter;
  std::string after;
  int max_keys = 1000;
};
struct ListOutput {
  std::vector<ObjectMeta> contents;
  std::vector<std::string> common_prefixes;
  bool is_truncated = false;
  std::string last_returned;  // last key or common prefix returned (the next `after`)
};

struct CreateMultipartUploadInput {
  std::string bucket;
  std::string key;
  std::string content_type;
  UserMetadata user_metadata;
  std::optional<s3proto::ChecksumAlgorithm> checksum_algorithm;
};
struct UploadPartInput {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number = 0;
  std::string body;
  std::optional<std::string> content_md5;
  Checksums checksums;
};
struct CompletedPart {
  int part_number = 0;
  std::string etag;
};
struct CompleteMultipartUploadOutput {
  std::string etag;
  std::uint64_t version_sequence = 0;
};
struct PartInfo {
  int part_number = 0;
  std::string etag;
  std::uint64_t size_bytes = 0;
  TimeNs last_modified = 0;
};
struct ListPartsOutput {
  std::vector<PartInfo> parts;
  bool is_truncated = false;
  int next_part_number_marker = 0;
  TimeNs initiated = 0;
};
struct UploadInfo {
  std::string key;
  std::string upload_id;
  TimeNs initiated = 0;
};
struct ListUploadsOutput {
  std::vector<UploadInfo> uploads;
  bool is_truncated = false;
};

// ---- Ground truth -----------------------------------------------------------------------

enum class Durability { volatile_pending, durable, lost };

// One stored version as it really is. `bytes` are the stored bytes now (rotted if rotted).
struct TruthVersion {
  std::string bucket;
  std::string key;
  std::uint64_t version_sequence = 0;
  bool is_delete = false;
  std::shared_ptr<const std::string> bytes;
  std::string etag;  // the ETag the client was told
  TimeNs acked_at = 0;
  TimeNs durable_at = 0;  // acked_at + lag; meaningful unless lost
  std::optional<TimeNs> lost_at;
  Durability durability = Durability::durable;
  std::optional<TimeNs> rotted_at;  // the store changed the bytes after storing them
  bool truncated_by_store = false;  // stored bytes are a prefix of what was acknowledged
};

// What the store really holds, sorted by (bucket, key). The checker judges against this.
struct TruthView {
  // The newest durable version of every key whose newest durable version is an object.
  std::vector<TruthVersion> durable_objects;
  // Versions acknowledged but not yet durable (any kind, including deletes).
  std::vector<TruthVersion> pending;
  // Versions a death discarded, oldest first.
  std::vector<TruthVersion> lost;
};

class ObjectStorage;  // storage.hpp

class S3Core {
 public:
  // A core with no durable record: everything lives in memory and a restart keeps nothing
  // (the simulation's S3; deaths are modelled by kill()).
  explicit S3Core(CoreSettings settings = {});
  // A core over a durable record (storage.hpp): restores every bucket, durable object and
  // multipart upload the storage holds, then records every durable change in it before
  // acknowledging it. Throws StorageError if the record is damaged. A null `storage` is the
  // core with no record.
  S3Core(CoreSettings settings, std::unique_ptr<ObjectStorage> storage);
  ~S3Core();
  S3Core(const S3Core&) = delete;
  S3Core& operator=(const S3Core&) = delete;
  S3Core(S3Core&&) noexcept;
  S3Core& operator=(S3Core&&) noexcept;

  const CoreSettings& settings() const { return settings_; }
  // The durable record, or nullptr for a core without one.
  ObjectStorage* storage() const { return storage_.get(); }
  void set_history_retention(TimeNs retention_ns) { settings_.history_retention_ns = retention_ns; }

  // ---- Buckets. CreateBucket on an existing bucket: 409 BucketAlreadyOwnedByYou. ----
  Result<Empty> create_bucket(const RequestContext& ctx, std::string_view bucket,
                              std::string_view location_constraint = {});
  Result<Empty> head_bucket(const RequestContext& ctx, std::string_view bucket) const;
  // 409 BucketNotEmpty while any object or multipart upload exists.
  Result<Empty> delete_bucket(const RequestContext& ctx, std::string_view bucket);
  std::vector<BucketInfo> list_buckets(const RequestContext& ctx) const;
  // The region, or "" for us-east-1 (as S3's LocationConstraint says).
  Result<std::string> get_bucket_location(const RequestContext& ctx, std::string_view bucket) const;

  // ---- Objects ----
  // Checks key, size, Content-MD5 (400 InvalidDigest if malformed, BadDigest if wrong) and each
  // x-amz-checksum-* (400 InvalidRequest if malformed, BadDigest if wrong), then the
  // conditions (412 PreconditionFailed), then stores. The ETag is the quoted MD5 hex.
  Result<PutObjectOutput> put_object(const RequestContext& ctx, PutObjectInput input);
  // Range: single "bytes=a-b", "bytes=a-" or "bytes=-n"; unsatisfiable is 416 InvalidRange,
  // unparsable is ignored (whole object), as S3 does. Conditions give 304 or 412.
  Result<GetObjectOutput> get_object(const RequestContext& ctx, const GetObjectInput& input) const;
  Result<GetObjectOutput> head_object(const RequestContext& ctx, const GetObjectInput& input) const;
  // Succeeds (204) whether or not the key exists; NoSuchBucket if the bucket does not.
  Result<Empty> delete_object(const RequestContext& ctx, std::string_view bucket,
                              std::string_view key);
  Result<DeleteObjectsOutput> delete_objects(const RequestContext& ctx, std::string_view bucket,
                                             const std::vector<std::string>& keys);
  Result<CopyObjectOutput> copy_object(const RequestContext& ctx, const CopyObjectInput& input);
  Result<ListOutput> list_objects(const RequestContext& ctx, const ListInput& input) const;

  // ---- Multipart ----
  Result<std::string> create_multipart_upload(const RequestContext& ctx,
                                              const CreateMultipartUploadInput& input);
  // Returns the part's quoted ETag. Re-uploading a part number replaces it.
  Result<std::string> upload_part(const RequestContext& ctx, UploadPartInput input);
  // Parts must be ascending (InvalidPartOrder), exist with the given ETag (InvalidPart), and
  // all but the last be at least part_size_min_bytes (EntityTooSmall). ETag: md5 of the
  // concatenated raw part MD5s, "-N".
  Result<CompleteMultipartUploadOutput> complete_multipart_upload(
      const RequestContext& ctx, std::string_view bucket, std::string_view key,
      std::string_view upload_id, const std::vector<CompletedPart>& parts);
  Result<Empty> abort_multipart_upload(const RequestContext& ctx, std::string_view bucket,
                                       std::string_view key, std::string_view upload_id);
  Result<ListPartsOutput> list_parts(const RequestContext& ctx, std::string_view bucket,
                                     std::string_view key, std::string_view upload_id,
                                     int part_number_marker, int max_parts) const;
  // Uploads sorted by (key, upload id), after (key_marker, upload_id_marker).
  Result<ListUploadsOutput> list_multipart_uploads(const RequestContext& ctx,
                                                   std::string_view bucket, std::string_view prefix,
                                                   std::string_view key_marker,
                                                   std::string_view upload_id_marker,
                                                   int max_uploads) const;

  // ---- Time and failures (driven by the fault layer or a test) ----
  // Makes every volatile version with durable_at <= now durable. `now` never goes back.
  void advance_to(TimeNs now);
  // The earliest durable_at of a pending version, if any.
  std::optional<TimeNs> next_event_time() const;
  // A death at `now`: every still-volatile version is discarded and recorded as lost; the
  // object each key shows falls back to its newest surviving version. Call advance_to(now)
  // first so that versions due exactly now are durable.
  void kill(TimeNs now);
  // Bit rot: flips `bit_flips` random bits of the stored current version of every object
  // whose key starts with `key_prefix` in `bucket` (all buckets if empty), each with
  // `probability`. Returns the number of objects rotted. The truth marks them.
  int rot(TimeNs now, std::string_view bucket, std::string_view key_prefix, double probability,
          int bit_flips, sim::RandomStream& random);

  // ---- Truth ----
  TruthView truth() const;
  // The newest durable version of (bucket, key), if it is an object.
  std::optional<TruthVersion> durable_object(std::string_view bucket, std::string_view key) const;
  // Number of versions acknowledged so far (puts, copies, completes, deletes).
  std::uint64_t versions_written() const { return next_version_sequence_ - 1; }

  // Validation helpers, also used by the HTTP layer for routing decisions.
  static bool valid_bucket_name(std::string_view name);

  struct State;  // private representation (core.cpp)

 private:
  CoreSettings settings_;
  std::unique_ptr<State> state_;
  std::unique_ptr<ObjectStorage> storage_;
  std::uint64_t next_version_sequence_ = 1;
  std::uint64_t next_upload_number_ = 1;
  TimeNs now_ = 0;
};

// Flips `bit_flips` distinct random bits of `bytes` (at least one; at most every bit). Used by
// bit rot and by corrupted reads. Empty `bytes` stay empty.
void flip_distinct_bits(std::string& bytes, int bit_flips, sim::RandomStream& random);

// Formats simulated time as an HTTP date ("Sun, 20 Jul 2008 00:00:00 GMT") and as ISO 8601
// with milliseconds ("2008-07-20T00:00:00.000Z"), given the Unix time of simulated zero.
std::string format_http_date(TimeNs time, std::int64_t epoch_unix_seconds);
std::string format_iso8601(TimeNs time, std::int64_t epoch_unix_seconds);
// Parses an IMF-fixdate HTTP date back to simulated time. nullopt if malformed.
std::optional<TimeNs> parse_http_date(std::string_view text, std::int64_t epoch_unix_seconds);

}  // namespace s3chaos::fake_s3
