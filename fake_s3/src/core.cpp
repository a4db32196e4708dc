// The S3 core: see core.hpp for the contract.
#include "fake_s3/core.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <set>

#include "errors.hpp"
#include "fake_s3/storage.hpp"
#include "sim/assert.hpp"

namespace s3chaos::fake_s3 {

namespace {

using s3proto::ChecksumAlgorithm;

// One write of a key: an object or a delete.
struct Version {
  std::uint64_t sequence = 0;
  bool is_delete = false;
  std::shared_ptr<const std::string> bytes;
  ObjectMeta meta;
  TimeNs acked_at = 0;
  TimeNs durable_at = 0;
  bool durable = true;
  std::optional<TimeNs> rotted_at;
  bool truncated_by_store = false;
};

// Versions of one key, oldest first; the last one is what the key shows now.
struct KeyHistory {
  std::vector<Version> versions;
};

struct Part {
  std::string etag;
  std::array<unsigned char, 16> md5{};
  std::shared_ptr<const std::string> bytes;
  TimeNs last_modified = 0;
};

struct Upload {
  std::string key;
  std::string upload_id;
  TimeNs initiated = 0;
  std::string content_type;
  UserMetadata user_metadata;
  std::map<int, Part> parts;
};

struct Bucket {
  TimeNs created_at = 0;
  std::map<std::string, KeyHistory, std::less<>> keys;
  std::map<std::string, Upload, std::less<>> uploads;  // by upload id
};

// A version that is acknowledged but not yet durable, with what the truth must remember if a
// death discards it (the key's history may have dropped it by then).
struct PendingVersion {
  std::string bucket;
  std::string key;
  TruthVersion truth;
};

std::string_view strip_quotes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A raw MD5 digest, as s3proto::md5 returns it: computed once per PUT or part, for the ETag.
using Md5 = std::array<unsigned char, 16>;

// "\"<32 hex digits>\"", the ETag of a single-part object or a part, in one allocation.
std::string quoted_hex(const Md5& digest) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 + 2 * digest.size(), '"');
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[1 + 2 * i] = digits[digest[i] >> 4];
    out[2 + 2 * i] = digits[digest[i] & 0x0f];
  }
  return out;
}

std::string quoted(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() + 2);
  out += '"';
  out += hex;
  out += '"';
  return out;
}

std::size_t raw_checksum_bytes(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::crc32:
    case ChecksumAlgorithm::crc32c:
      return 4;
    case ChecksumAlgorithm::crc64nvme:
      return 8;
    case ChecksumAlgorithm::sha1:
      return 20;
    case ChecksumAlgorithm::sha256:
      return 32;
  }
  return 0;
}

// Strictly valid UTF-8 without NUL. S3 accepts any UTF-8; NUL and broken UTF-8 cannot travel
// in XML listings, so the fake refuses them up front (documented deviation).
bool valid_key_bytes(std::string_view key) {
  std::size_t i = 0;
  while (i < key.size()) {
    const auto byte = static_cast<unsigned char>(key[i]);
    if (byte == 0) return false;
    std::size_t extra = 0;
    if (byte < 0x80) {
      extra = 0;
    } else if ((byte & 0xE0) == 0xC0 && byte >= 0xC2) {
      extra = 1;
    } else if ((byte & 0xF0) == 0xE0) {
      extra = 2;
    } else if ((byte & 0xF8) == 0xF0 && byte <= 0xF4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= key.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(key[i + k]);
      if ((next & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

// Checks Content-MD5 and x-amz-checksum-* against the body. `md5_raw` is the body's MD5.
std::optional<S3Error> verify_digests(const std::optional<std::string>& content_md5,
                                      const Checksums& checksums,
                                      const std::array<unsigned char, 16>& md5_raw,
                                      std::string_view body, std::string_view resource) {
  if (content_md5) {
    const auto decoded = s3proto::base64_decode(*content_md5);
    if (!decoded || decoded->size() != 16) {
      return errors::make(400, "InvalidDigest", "The Content-MD5 you specified is not valid.",
                          resource);
    }
    if (std::memcmp(decoded->data(), md5_raw.data(), 16) != 0) {
      return errors::make(400, "BadDigest",
                          "The Content-MD5 you specified did not match what we received.",
                          resource);
    }
  }
  if (checksums.size() > 1) {
    return errors::invalid_request(
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        resource);
  }
  for (const auto& [algorithm, value] : checksums) {
    const auto decoded = s3proto::base64_decode(value);
    const std::string name(s3proto::checksum_algorithm_name(algorithm));
    if (!decoded || decoded->size() != raw_checksum_bytes(algorithm)) {
      return errors::invalid_request("Value for " +
                                         std::string(s3proto::checksum_header_name(algorithm)) +
                                         " header is invalid.",
                                     resource);
    }
    if (s3proto::checksum_base64(algorithm, body) != value) {
      std::string lower = name;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return errors::make(400, "BadDigest",
                          "The " + lower + " you specified did not match the calculated checksum.",
                          resource);
    }
  }
  return std::nullopt;
}

std::int64_t seconds_of(TimeNs time) {
  // Floor division so times before simulated zero round down like dates do.
  const TimeNs per_second = sim::nanoseconds_per_second;
  return time >= 0 ? time / per_second : -((-time + per_second - 1) / per_second);
}

// True if `etag` appears in a comma-separated If-Match / If-None-Match list (or it is "*").
bool etag_list_matches(std::string_view list, std::string_view etag) {
  const std::string_view want = strip_quotes(etag);
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(start, comma - start);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (starts_with(item, "W/")) item.remove_prefix(2);
    if (item == "*" || strip_quotes(item) == want) return true;
    start = comma + 1;
  }
  return false;
}

// RFC 7232 evaluation order, which is also S3's documented behaviour for the combinations
// (If-Match true + If-Unmodified-Since false -> 200; If-None-Match false + If-Modified-Since
// true -> 304).
std::optional<S3Error> evaluate_conditions(const ReadConditions& conditions, const ObjectMeta& meta,
                                           std::string_view resource) {
  const std::int64_t modified_s = seconds_of(meta.last_modified);
  if (conditions.if_match) {
    if (!etag_list_matches(*conditions.if_match, meta.etag)) {
      return errors::precondition_failed(resource);
    }
  } else if (conditions.if_unmodified_since) {
    if (modified_s > seconds_of(*conditions.if_unmodified_since)) {
      return errors::precondition_failed(resource);
    }
  }
  if (conditions.if_none_match) {
    if (etag_list_matches(*conditions.if_none_match, meta.etag)) {
      return errors::not_modified(resource);
    }
  } else if (conditions.if_modified_since) {
    if (modified_s <= seconds_of(*conditions.if_modified_since)) {
      return errors::not_modified(resource);
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Days since 1970-01-01 to (year, month, day): Howard Hinnant's civil_from_days.
void civil_from_days(std::int64_t days, std::int64_t& year, unsigned& month, unsigned& day) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

constexpr std::array<const char*, 7> weekday_names = {"Thu", "Fri", "Sat", "Sun",
                                                      "Mon", "Tue", "Wed"};
constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

}  // namespace

std::string format_http_date(TimeNs time, std::int64_t epoch_unix_seconds) {
  const std::int64_t unix_s = epoch_unix_seconds + seconds_of(time);
  const std::int64_t days = floor_div(unix_s, 86400);
  const std::int64_t second_of_day = unix_s - days * 86400;
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7) % 7);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT",
                weekday_names[weekday], day, month_names[month - 1], static_cast<long long>(year),
                static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60));
  return buffer;
}

std::string format_iso8601(TimeNs time, std::int64_t epoch_unix_seconds) {
  const std::int64_t whole_s = seconds_of(time);
  const std::int64_t millis = (time - whole_s * sim::nanoseconds_per_second) / 1'000'000;
  const std::int64_t unix_s = epoch_unix_seconds + whole_s;
  const std::int64_t days = floor_div(unix_s, 86400);
  const std::int64_t second_of_day = unix_s - days * 86400;
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), month, day,
                static_cast<long long>(second_of_day / 3600),
                static_cast<long long>(second_of_day / 60 % 60),
                static_cast<long long>(second_of_day % 60), static_cast<long long>(millis));
  return buffer;
}

std::optional<TimeNs> parse_http_date(std::string_view text, std::int64_t epoch_unix_seconds) {
  // "Sun, 20 Jul 2008 00:00:00 GMT": fixed width, 29 characters.
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  const auto day = parse_decimal(text.substr(5, 2));
  const auto year = parse_decimal(text.substr(12, 4));
  const auto hour = parse_decimal(text.substr(17, 2));
  const auto minute = parse_decimal(text.substr(20, 2));
  const auto second = parse_decimal(text.substr(23, 2));
  unsigned month = 0;
  for (unsigned m = 0; m < 12; ++m) {
    if (text.substr(8, 3) == month_names[m]) month = m + 1;
  }
  if (!day || !year || !hour || !minute || !second || month == 0 || *day < 1 || *day > 31 ||
      *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(static_cast<std::int64_t>(*year), month, static_cast<unsigned>(*day));
  const std::int64_t unix_s =
      days * 86400 + static_cast<std::int64_t>(*hour * 3600 + *minute * 60 + *second);
  return (unix_s - epoch_unix_seconds) * sim::nanoseconds_per_second;
}

struct S3Core::State {
  std::map<std::string, Bucket, std::less<>> buckets;
  // Pending versions by (durable_at, sequence): deterministic order, earliest first.
  std::map<std::pair<TimeNs, std::uint64_t>, PendingVersion> pending;
  std::vector<TruthVersion> lost;

  Bucket* find_bucket(std::string_view name) {
    auto it = buckets.find(name);
    return it == buckets.end() ? nullptr : &it->second;
  }
  const Bucket* find_bucket(std::string_view name) const {
    auto it = buckets.find(name);
    return it == buckets.end() ? nullptr : &it->second;
  }
};

namespace {

// The version a read at `as_of` sees: the newest one acknowledged at or before it.
const Version* visible_version(const KeyHistory& history, TimeNs as_of) {
  for (auto it = history.versions.rbegin(); it != history.versions.rend(); ++it) {
    if (it->acked_at <= as_of) return it->is_delete ? nullptr : &*it;
  }
  return nullptr;
}

TruthVersion truth_of(std::string_view bucket, std::string_view key, const Version& version) {
  TruthVersion truth;
  truth.bucket = std::string(bucket);
  truth.key = std::string(key);
  truth.version_sequence = version.sequence;
  truth.is_delete = version.is_delete;
  truth.bytes = version.bytes;
  truth.etag = version.meta.etag;
  truth.acked_at = version.acked_at;
  truth.durable_at = version.durable_at;
  truth.durability = version.durable ? Durability::durable : Durability::volatile_pending;
  truth.rotted_at = version.rotted_at;
  truth.truncated_by_store = version.truncated_by_store;
  return truth;
}

}  // namespace

namespace {

StoredObject stored_of(std::string_view bucket, const Version& version) {
  S3CHAOS_ASSERT(!version.is_delete && version.bytes != nullptr);
  StoredObject stored;
  stored.bucket = std::string(bucket);
  stored.meta = version.meta;
  stored.version_sequence = version.sequence;
  stored.acked_at = version.acked_at;
  stored.durable_at = version.durable_at;
  stored.rotted_at = version.rotted_at;
  stored.truncated_by_store = version.truncated_by_store;
  stored.bytes = version.bytes;
  return stored;
}

// Whether `version` (durable) is the newest durable version of its key: no later version in
// the history is durable. Only that one belongs in the durable record.
bool newest_durable(const KeyHistory& history, const Version& version) {
  bool after = false;
  for (const Version& other : history.versions) {
    if (&other == &version) {
      after = true;
    } else if (after && other.durable) {
      return false;
    }
  }
  S3CHAOS_ASSERT(after);
  return true;
}

}  // namespace

S3Core::S3Core(CoreSettings settings)
    : settings_(std::move(settings)), state_(std::make_unique<State>()) {}

S3Core::S3Core(CoreSettings settings, std::unique_ptr<ObjectStorage> storage)
    : settings_(std::move(settings)),
      state_(std::make_unique<State>()),
      storage_(std::move(storage)) {
  if (!storage_) return;
  StoredState stored = storage_->load();
  for (const StoredBucket& bucket : stored.buckets) {
    state_->buckets[bucket.name].created_at = bucket.created_at;
  }
  for (StoredObject& object : stored.objects) {
    Bucket* bucket = state_->find_bucket(object.bucket);
    if (!bucket) {
      throw StorageError("object " + errors::resource_of(object.bucket, object.meta.key) +
                         " is recorded in a bucket that is not");
    }
    Version version;
    version.sequence = object.version_sequence;
    version.bytes = std::move(object.bytes);
    version.meta = std::move(object.meta);
    // A restored version was stored before this process began: it is visible to every read
    // whatever time base the driver uses now (its Last-Modified keeps the stored time).
    version.acked_at = std::min<TimeNs>(object.acked_at, 0);
    version.durable_at = std::min<TimeNs>(object.durable_at, 0);
    version.durable = true;
    version.rotted_at = object.rotted_at;
    version.truncated_by_store = object.truncated_by_store;
    std::string key = version.meta.key;
    bucket->keys[std::move(key)].versions.push_back(std::move(version));
  }
  for (StoredUpload& stored_upload : stored.uploads) {
    Bucket* bucket = state_->find_bucket(stored_upload.bucket);
    if (!bucket) {
      throw StorageError("upload " + stored_upload.upload_id +
                         " is recorded in a bucket that is not: " + stored_upload.bucket);
    }
    Upload upload;
    upload.key = std::move(stored_upload.key);
    upload.upload_id = stored_upload.upload_id;
    upload.initiated = stored_upload.initiated;
    upload.content_type = std::move(stored_upload.content_type);
    upload.user_metadata = std::move(stored_upload.user_metadata);
    for (StoredPart& stored_part : stored_upload.parts) {
      Part& part = upload.parts[stored_part.part_number];
      part.etag = std::move(stored_part.etag);
      part.md5 = stored_part.md5;
      part.bytes = std::move(stored_part.bytes);
      part.last_modified = stored_part.last_modified;
    }
    bucket->uploads.emplace(stored_upload.upload_id, std::move(upload));
  }
  next_version_sequence_ = std::max<std::uint64_t>(stored.next_version_sequence, 1);
  next_upload_number_ = std::max<std::uint64_t>(stored.next_upload_number, 1);
}
S3Core::~S3Core() = default;
S3Core::S3Core(S3Core&&) noexcept = default;
S3Core& S3Core::operator=(S3Core&&) noexcept = default;

bool S3Core::valid_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto is_lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!is_lower_or_digit(name.front()) || !is_lower_or_digit(name.back())) return false;
  bool all_digits_or_dots = true;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_lower_or_digit(c) && c != '.' && c != '-') return false;
    if (c == '.' && i + 1 < name.size() && (name[i + 1] == '.' || name[i + 1] == '-')) {
      return false;
    }
    if (c == '-' && i + 1 < name.size() && name[i + 1] == '.') return false;
    if (!(c >= '0' && c <= '9') && c != '.') all_digits_or_dots = false;
  }
  if (all_digits_or_dots) return false;  // looks like an IP address
  if (starts_with(name, "xn--")) return false;
  if (name.size() >= 8 && name.substr(name.size() - 8) == "-s3alias") return false;
  return true;
}

// ---- Buckets --------------------------------------------------------------------------------

Result<Empty> S3Core::create_bucket(const RequestContext& ctx, std::string_view bucket,
                                    std::string_view location_constraint) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  if (!valid_bucket_name(bucket)) return errors::invalid_bucket_name(bucket);
  const std::string_view region_asked =
      location_constraint.empty() ? std::string_view("us-east-1") : location_constraint;
  if (region_asked != settings_.region) {
    return errors::make(400, "IllegalLocationConstraintException",
                        "The " + std::string(location_constraint) +
                            " location constraint is incompatible for the region specific "
                            "endpoint this request was sent to.",
                        errors::resource_of(bucket));
  }
  if (state_->find_bucket(bucket)) {
    return errors::make(409, "BucketAlreadyOwnedByYou",
                        "Your previous request to create the named bucket succeeded and you "
                        "already own it.",
                        errors::resource_of(bucket));
  }
  if (state_->buckets.size() >= settings_.buckets_max) {
    return errors::make(400, "TooManyBuckets",
                        "You have attempted to create more buckets than allowed",
                        errors::resource_of(bucket));
  }
  if (storage_ && storage_->put_bucket({std::string(bucket), ctx.now})) {
    return errors::internal_error(errors::resource_of(bucket));
  }
  Bucket& created = state_->buckets[std::string(bucket)];
  created.created_at = ctx.now;
  S3CHAOS_ASSERT(state_->find_bucket(bucket) != nullptr);
  return Empty{};
}

Result<Empty> S3Core::head_bucket(const RequestContext&, std::string_view bucket) const {
  if (!state_->find_bucket(bucket)) return errors::no_such_bucket(bucket);
  return Empty{};
}

Result<Empty> S3Core::delete_bucket(const RequestContext& ctx, std::string_view bucket) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* found = state_->find_bucket(bucket);
  if (!found) return errors::no_such_bucket(bucket);
  bool empty = found->uploads.empty();
  for (const auto& [key, history] : found->keys) {
    if (!empty) break;
    if (!history.versions.empty() && !history.versions.back().is_delete) empty = false;
  }
  if (!empty) {
    return errors::make(409, "BucketNotEmpty", "The bucket you tried to delete is not empty",
                        errors::resource_of(bucket));
  }
  if (storage_ && storage_->remove_bucket(bucket)) {
    return errors::internal_error(errors::resource_of(bucket));
  }
  state_->buckets.erase(state_->buckets.find(bucket));
  return Empty{};
}

std::vector<BucketInfo> S3Core::list_buckets(const RequestContext&) const {
  std::vector<BucketInfo> out;
  out.reserve(state_->buckets.size());
  for (const auto& [name, bucket] : state_->buckets) out.push_back({name, bucket.created_at});
  return out;
}

Result<std::string> S3Core::get_bucket_location(const RequestContext&,
                                                std::string_view bucket) const {
  if (!state_->find_bucket(bucket)) return errors::no_such_bucket(bucket);
  return settings_.region == "us-east-1" ? std::string() : settings_.region;
}

// ---- Objects --------------------------------------------------------------------------------

namespace {

std::optional<S3Error> validate_key(const CoreSettings& settings, std::string_view bucket,
                                    std::string_view key) {
  if (key.size() > settings.key_bytes_max) return errors::key_too_long(bucket);
  if (key.empty() || !valid_key_bytes(key)) {
    return errors::invalid_argument("Object key is not valid UTF-8 or contains NUL",
                                    errors::resource_of(bucket));
  }
  return std::nullopt;
}

std::optional<S3Error> validate_metadata(const CoreSettings& settings, const UserMetadata& metadata,
                                         std::string_view resource) {
  std::size_t total = 0;
  for (const auto& [name, value] : metadata) total += name.size() + value.size();
  if (total > settings.user_metadata_bytes_max) {
    return errors::make(400, "MetadataTooLarge",
                        "Your metadata headers exceed the maximum allowed metadata size.",
                        resource);
  }
  return std::nullopt;
}

}  // namespace

using KeyMap = std::map<std::string, KeyHistory, std::less<>>;

// Appends `version` to the key's history, registers it as pending if it is volatile, and
// drops history the retention window no longer needs. `position` is keys.lower_bound(key),
// which a caller that looked the key up already has (one tree walk per PUT, not three).
// Returns the key's entry, or keys.end() if the history ended with a forgotten delete.
static KeyMap::iterator store_version(S3Core::State& state, const CoreSettings& settings,
                                      Bucket& bucket, std::string_view bucket_name,
                                      std::string_view key, Version version, TimeNs now,
                                      KeyMap::iterator position) {
  // O(1) half of "position is lower_bound(key)": it is not before the key.
  S3CHAOS_ASSERT(position == bucket.keys.end() || std::string_view(position->first) >= key);
  auto it = position;
  if (it == bucket.keys.end() || it->first != key) {
    it = bucket.keys.emplace_hint(position, std::string(key), KeyHistory{});
  }
  KeyHistory& history = it->second;
  if (!version.durable) {
    PendingVersion pending{std::string(bucket_name), std::string(key),
                           truth_of(bucket_name, key, version)};
    state.pending.emplace(std::make_pair(version.durable_at, version.sequence), std::move(pending));
  }
  history.versions.push_back(std::move(version));
  // A superseded version is dropped once it is durable and the version after it is durable
  // and older than the retention window: no read, stale or not, can see it any more, and the
  // truth's newest durable version is never dropped.
  const TimeNs horizon = now - settings.history_retention_ns;
  std::size_t drop = 0;
  while (drop + 1 < history.versions.size() && history.versions[drop].durable &&
         history.versions[drop + 1].durable && history.versions[drop + 1].acked_at <= horizon) {
    ++drop;
  }
  if (drop > 0) {
    history.versions.erase(history.versions.begin(),
                           history.versions.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  if (history.versions.size() == 1 && history.versions.front().is_delete &&
      history.versions.front().durable && history.versions.front().acked_at <= horizon) {
    bucket.keys.erase(it);
    return bucket.keys.end();
  }
  return it;
}

static void store_version(S3Core::State& state, const CoreSettings& settings, Bucket& bucket,
                          std::string_view bucket_name, std::string_view key, Version version,
                          TimeNs now) {
  store_version(state, settings, bucket, bucket_name, key, std::move(version), now,
                bucket.keys.lower_bound(key));
}

Result<PutObjectOutput> S3Core::put_object(const RequestContext& ctx, PutObjectInput input) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  if (auto error = validate_key(settings_, input.bucket, input.key)) return *error;
  // Built only for an error: a successful PUT never needs it.
  auto resource = [&input] { return errors::resource_of(input.bucket, input.key); };
  if (input.body.size() > settings_.object_size_max_bytes) {
    return errors::make(400, "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed object size.",
                        resource());
  }
  if (!input.user_metadata.empty()) {
    if (auto error = validate_metadata(settings_, input.user_metadata, resource())) return *error;
  }
  const auto md5_raw = s3proto::md5(input.body);
  if (input.content_md5 || !input.checksums.empty()) {
    if (auto error =
            verify_digests(input.content_md5, input.checksums, md5_raw, input.body, resource())) {
      return *error;
    }
  }
  const auto position = bucket->keys.lower_bound(input.key);
  if (input.if_none_match_star || input.if_match) {
    const bool exists = position != bucket->keys.end() && position->first == input.key;
    const Version* current = exists ? visible_version(position->second, ctx.now) : nullptr;
    if (input.if_none_match_star && current) return errors::precondition_failed(resource());
    if (input.if_match) {
      if (!current) return errors::no_such_key(input.bucket, input.key);
      if (!etag_list_matches(*input.if_match, current->meta.etag)) {
        return errors::precondition_failed(resource());
      }
    }
  }

  Version version;
  version.sequence = next_version_sequence_++;
  version.meta.key = input.key;
  version.meta.etag = quoted_hex(md5_raw);
  version.meta.last_modified = ctx.now;
  version.meta.content_type =
      input.content_type.empty() ? "binary/octet-stream" : std::move(input.content_type);
  version.meta.user_metadata = std::move(input.user_metadata);
  version.meta.checksums = input.checksums;
  if (ctx.truncate_stored_bytes && *ctx.truncate_stored_bytes < input.body.size()) {
    input.body.resize(*ctx.truncate_stored_bytes);
    version.truncated_by_store = true;
  }
  version.meta.size_bytes = input.body.size();
  version.bytes = std::make_shared<const std::string>(std::move(input.body));
  version.acked_at = ctx.now;
  version.durable_at = ctx.now + ctx.durability_lag_ns;
  version.durable = ctx.durability_lag_ns <= 0;

  if (storage_ && version.durable && storage_->put_object(stored_of(input.bucket, version))) {
    return errors::internal_error(resource());
  }
  PutObjectOutput output;
  output.etag = version.meta.etag;
  output.checksums = std::move(input.checksums);
  output.version_sequence = version.sequence;
  const auto stored = store_version(*state_, settings_, *bucket, input.bucket, input.key,
                                    std::move(version), ctx.now, position);
  S3CHAOS_ASSERT(stored != bucket->keys.end() && stored->first == input.key &&
                 stored->second.versions.back().sequence == output.version_sequence);
  return output;
}

namespace {

// Parses a single byte range against an object of `size` bytes. Returns nullopt to mean
// "ignore the header" (S3 serves the whole object for a syntactically invalid range) and
// sets `unsatisfiable` for a valid range that selects nothing.
std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view header,
                                                                   std::uint64_t size,
                                                                   bool& unsatisfiable) {
  unsatisfiable = false;
  if (!starts_with(header, "bytes=")) return std::nullopt;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view first_text = spec.substr(0, dash);
  const std::string_view last_text = spec.substr(dash + 1);
  if (first_text.empty()) {
    const auto suffix = parse_decimal(last_text);
    if (!suffix) return std::nullopt;
    if (*suffix == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    const std::uint64_t length = std::min(*suffix, size);
    return std::make_pair(size - length, size - 1);
  }
  const auto first = parse_decimal(first_text);
  if (!first) return std::nullopt;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto parsed_last = parse_decimal(last_text);
    if (!parsed_last || *parsed_last < *first) return std::nullopt;
    last = std::min(*parsed_last, last);
  }
  if (*first >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  return std::make_pair(*first, last);
}

}  // namespace

Result<GetObjectOutput> S3Core::get_object(const RequestContext& ctx,
                                           const GetObjectInput& input) const {
  const Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  if (input.key.size() > settings_.key_bytes_max) return errors::key_too_long(input.bucket);
  auto found = bucket->keys.find(input.key);
  const Version* version = found == bucket->keys.end()
                               ? nullptr
                               : visible_version(found->second, ctx.now - ctx.read_staleness_ns);
  if (!version) return errors::no_such_key(input.bucket, input.key);
  const std::string_view key = found->first;
  if (input.conditions.if_match || input.conditions.if_none_match ||
      input.conditions.if_modified_since || input.conditions.if_unmodified_since) {
    if (auto error = evaluate_conditions(input.conditions, version->meta,
                                         errors::resource_of(input.bucket, key))) {
      return *error;
    }
  }
  GetObjectOutput output;
  output.meta = version->meta;
  output.body.data = version->bytes;
  output.body.offset = 0;
  output.body.length = version->bytes->size();
  if (input.range) {
    bool unsatisfiable = false;
    const auto range = parse_range(*input.range, version->bytes->size(), unsatisfiable);
    if (unsatisfiable) {
      return errors::make(416, "InvalidRange", "The requested range is not satisfiable",
                          errors::resource_of(input.bucket, key));
    }
    if (range) {
      output.body.offset = range->first;
      output.body.length = range->second - range->first + 1;
      output.content_range = "bytes " + std::to_string(range->first) + "-" +
                             std::to_string(range->second) + "/" +
                             std::to_string(version->bytes->size());
    }
  }
  S3CHAOS_ASSERT(output.body.offset + output.body.length <= version->bytes->size());
  return output;
}

Result<GetObjectOutput> S3Core::head_object(const RequestContext& ctx,
                                            const GetObjectInput& input) const {
  auto result = get_object(ctx, input);
  if (result.ok()) {
    // HEAD carries the headers of the GET it stands for, without the bytes.
    result.value().body.data.reset();
    result.value().body.length = 0;
  }
  return result;
}

Result<Empty> S3Core::delete_object(const RequestContext& ctx, std::string_view bucket_name,
                                    std::string_view key) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return errors::no_such_bucket(bucket_name);
  if (key.size() > settings_.key_bytes_max) return errors::key_too_long(bucket_name);
  auto found = bucket->keys.find(key);
  if (found == bucket->keys.end()) return Empty{};
  if (found->second.versions.back().is_delete) return Empty{};
  // Deletes are durable at once: the durability lag models lost PUTs, the 2008 failure.
  Version tombstone;
  tombstone.sequence = next_version_sequence_++;
  tombstone.is_delete = true;
  tombstone.meta.key = std::string(key);
  tombstone.acked_at = ctx.now;
  tombstone.durable_at = ctx.now;
  tombstone.durable = true;
  if (storage_ && storage_->remove_object(bucket_name, key, tombstone.sequence)) {
    return errors::internal_error(errors::resource_of(bucket_name, key));
  }
  store_version(*state_, settings_, *bucket, bucket_name, key, std::move(tombstone), ctx.now);
  return Empty{};
}

Result<DeleteObjectsOutput> S3Core::delete_objects(const RequestContext& ctx,
                                                   std::string_view bucket_name,
                                                   const std::vector<std::string>& keys) {
  if (!state_->find_bucket(bucket_name)) return errors::no_such_bucket(bucket_name);
  if (keys.empty() || keys.size() > settings_.delete_objects_keys_max) {
    return errors::malformed_xml(errors::resource_of(bucket_name));
  }
  DeleteObjectsOutput output;
  for (const auto& key : keys) {
    auto result = key.empty() ? Result<Empty>(errors::invalid_argument("Invalid key"))
                              : delete_object(ctx, bucket_name, key);
    if (result.ok()) {
      output.deleted.push_back(key);
    } else {
      output.errors.emplace_back(key, result.error());
    }
  }
  return output;
}

Result<CopyObjectOutput> S3Core::copy_object(const RequestContext& ctx,
                                             const CopyObjectInput& input) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  const Bucket* source_bucket = state_->find_bucket(input.source_bucket);
  if (!source_bucket) return errors::no_such_bucket(input.source_bucket);
  Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  if (auto error = validate_key(settings_, input.bucket, input.key)) return *error;
  auto found = source_bucket->keys.find(input.source_key);
  const Version* source = found == source_bucket->keys.end()
                              ? nullptr
                              : visible_version(found->second, ctx.now - ctx.read_staleness_ns);
  if (!source) return errors::no_such_key(input.source_bucket, input.source_key);
  const std::string resource = errors::resource_of(input.bucket, input.key);
  if (auto error = evaluate_conditions(input.source_conditions, source->meta, resource)) {
    // S3 answers a failed copy-source condition with 412 in every case.
    return errors::precondition_failed(resource);
  }
  if (input.source_bucket == input.bucket && input.source_key == input.key &&
      !input.replace_metadata) {
    return errors::invalid_request(
        "This copy request is illegal because it is trying to copy an object to itself without "
        "changing the object's metadata, storage class, website redirect location or "
        "encryption attributes.",
        resource);
  }
  if (input.replace_metadata) {
    if (auto error = validate_metadata(settings_, input.user_metadata, resource)) return *error;
  }
  Version version;
  version.sequence = next_version_sequence_++;
  version.meta = source->meta;
  version.meta.key = input.key;
  // A copy is stored as one new single-part object (S3 does so for copies up to 5 GiB): its
  // ETag is the MD5 of the bytes copied, even when the source was multipart.
  version.meta.etag = quoted_hex(s3proto::md5(*source->bytes));
  version.meta.parts_count = 0;
  version.meta.last_modified = ctx.now;
  if (input.replace_metadata) {
    version.meta.content_type =
        input.content_type.empty() ? "binary/octet-stream" : input.content_type;
    version.meta.user_metadata = input.user_metadata;
  }
  version.bytes = source->bytes;
  version.rotted_at = source->rotted_at;
  version.truncated_by_store = source->truncated_by_store;
  version.acked_at = ctx.now;
  version.durable_at = ctx.now + ctx.durability_lag_ns;
  version.durable = ctx.durability_lag_ns <= 0;
  if (storage_ && version.durable && storage_->put_object(stored_of(input.bucket, version))) {
    return errors::internal_error(resource);
  }
  CopyObjectOutput output{version.meta.etag, ctx.now};
  store_version(*state_, settings_, *bucket, input.bucket, input.key, std::move(version), ctx.now);
  return output;
}

Result<ListOutput> S3Core::list_objects(const RequestContext& ctx, const ListInput& input) const {
  const Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  if (input.max_keys < 0) {
    return errors::invalid_argument("Provided max-keys not an integer or within integer range",
                                    errors::resource_of(input.bucket));
  }
  ListOutput output;
  const int max_keys = std::min(input.max_keys, settings_.list_keys_max);
  if (max_keys == 0) return output;
  const TimeNs as_of = ctx.now - ctx.read_staleness_ns;
  const std::string_view start =
      input.after > input.prefix ? std::string_view(input.after) : std::string_view(input.prefix);
  int count = 0;
  for (auto it = bucket->keys.lower_bound(start); it != bucket->keys.end(); ++it) {
    const std::string& key = it->first;
    if (!starts_with(key, input.prefix)) break;
    if (key <= input.after) continue;
    const Version* version = visible_version(it->second, as_of);
    if (!version) continue;
    if (!input.delimiter.empty()) {
      const auto position = key.find(input.delimiter, input.prefix.size());
      if (position != std::string::npos) {
        const std::string_view common =
            std::string_view(key).substr(0, position + input.delimiter.size());
        if (common <= input.after) continue;
        if (!output.common_prefixes.empty() && output.common_prefixes.back() == common) continue;
        if (count == max_keys) {
          output.is_truncated = true;
          break;
        }
        output.common_prefixes.emplace_back(common);
        output.last_returned = std::string(common);
        ++count;
        continue;
      }
    }
    if (count == max_keys) {
      output.is_truncated = true;
      break;
    }
    output.contents.push_back(version->meta);
    output.last_returned = key;
    ++count;
  }
  S3CHAOS_ASSERT(count <= max_keys);
  return output;
}

// ---- Multipart ------------------------------------------------------------------------------

Result<std::string> S3Core::create_multipart_upload(const RequestContext& ctx,
                                                    const CreateMultipartUploadInput& input) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  if (auto error = validate_key(settings_, input.bucket, input.key)) return *error;
  const std::string resource = errors::resource_of(input.bucket, input.key);
  if (auto error = validate_metadata(settings_, input.user_metadata, resource)) return *error;
  if (bucket->uploads.size() >= settings_.uploads_per_bucket_max) {
    return errors::make(503, "SlowDown", "Too many multipart uploads in progress.", resource);
  }
  const std::uint64_t number = next_upload_number_++;
  // Deterministic but opaque-looking, and unique: a hash for looks, the counter for uniqueness.
  char id[64];
  std::snprintf(id, sizeof id, "%016llx%08llx",
                static_cast<unsigned long long>(sim::stable_hash64(resource, number)),
                static_cast<unsigned long long>(number));
  Upload upload;
  upload.key = input.key;
  upload.upload_id = id;
  upload.initiated = ctx.now;
  upload.content_type = input.content_type.empty() ? "binary/octet-stream" : input.content_type;
  upload.user_metadata = input.user_metadata;
  if (storage_) {
    StoredUpload stored{input.bucket,     input.key,           upload.upload_id,     number,
                        upload.initiated, upload.content_type, upload.user_metadata, {}};
    if (storage_->put_upload(stored)) return errors::internal_error(resource);
  }
  bucket->uploads.emplace(upload.upload_id, std::move(upload));
  return std::string(id);
}

Result<std::string> S3Core::upload_part(const RequestContext& ctx, UploadPartInput input) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(input.bucket);
  if (!bucket) return errors::no_such_bucket(input.bucket);
  const std::string resource = errors::resource_of(input.bucket, input.key);
  if (input.part_number < 1 || input.part_number > settings_.part_number_max) {
    return errors::invalid_argument("Part number must be an integer between 1 and " +
                                        std::to_string(settings_.part_number_max) + ", inclusive",
                                    resource);
  }
  auto found = bucket->uploads.find(input.upload_id);
  if (found == bucket->uploads.end() || found->second.key != input.key) {
    return errors::no_such_upload(input.bucket, input.key);
  }
  if (input.body.size() > settings_.object_size_max_bytes) {
    return errors::make(400, "EntityTooLarge",
                        "Your proposed upload exceeds the maximum allowed object size.", resource);
  }
  const auto md5_raw = s3proto::md5(input.body);
  if (auto error =
          verify_digests(input.content_md5, input.checksums, md5_raw, input.body, resource)) {
    return *error;
  }
  Part part;
  part.md5 = md5_raw;
  part.etag = quoted_hex(md5_raw);
  part.last_modified = ctx.now;
  part.bytes = std::make_shared<const std::string>(std::move(input.body));
  std::string etag = part.etag;
  if (ctx.drop_part_after_ack) {
    // The fault "part acknowledged then lost": the client holds an ETag the store forgot.
    if (storage_ && storage_->remove_part(input.bucket, input.upload_id, input.part_number)) {
      return errors::internal_error(resource);
    }
    found->second.parts.erase(input.part_number);
  } else {
    if (storage_ && storage_->put_part(
                        input.bucket, input.upload_id,
                        {input.part_number, part.etag, part.md5, part.last_modified, part.bytes})) {
      return errors::internal_error(resource);
    }
    found->second.parts[input.part_number] = std::move(part);
  }
  return etag;
}

Result<CompleteMultipartUploadOutput> S3Core::complete_multipart_upload(
    const RequestContext& ctx, std::string_view bucket_name, std::string_view key,
    std::string_view upload_id, const std::vector<CompletedPart>& parts) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return errors::no_such_bucket(bucket_name);
  const std::string resource = errors::resource_of(bucket_name, key);
  auto found = bucket->uploads.find(upload_id);
  if (found == bucket->uploads.end() || found->second.key != key) {
    return errors::no_such_upload(bucket_name, key);
  }
  if (parts.empty() || parts.size() > static_cast<std::size_t>(settings_.part_number_max)) {
    return errors::malformed_xml(resource);
  }
  const Upload& upload = found->second;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      return errors::make(400, "InvalidPartOrder",
                          "The list of parts was not in ascending order. Parts must be ordered "
                          "by part number.",
                          resource);
    }
  }
  std::string md5_concatenation;
  std::uint64_t total_bytes = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto part = upload.parts.find(parts[i].part_number);
    if (part == upload.parts.end() ||
        strip_quotes(part->second.etag) != strip_quotes(parts[i].etag)) {
      return errors::make(400, "InvalidPart",
                          "One or more of the specified parts could not be found.  The part may "
                          "not have been uploaded, or the specified entity tag may not match the "
                          "part's entity tag.",
                          resource);
    }
    md5_concatenation.append(reinterpret_cast<const char*>(part->second.md5.data()), 16);
    total_bytes += part->second.bytes->size();
  }
  // Sizes are checked once every part is known to exist: InvalidPart before EntityTooSmall.
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (upload.parts.at(parts[i].part_number).bytes->size() < settings_.part_size_min_bytes) {
      return errors::make(400, "EntityTooSmall",
                          "Your proposed upload is smaller than the minimum allowed object size.",
                          resource);
    }
  }
  std::string bytes;
  bytes.reserve(total_bytes);
  for (const auto& completed : parts) bytes += *upload.parts.at(completed.part_number).bytes;

  Version version;
  version.sequence = next_version_sequence_++;
  version.meta.key = std::string(key);
  version.meta.etag =
      quoted(s3proto::md5_hex(md5_concatenation) + "-" + std::to_string(parts.size()));
  version.meta.size_bytes = bytes.size();
  version.meta.last_modified = ctx.now;
  version.meta.content_type = upload.content_type;
  version.meta.user_metadata = upload.user_metadata;
  version.meta.parts_count = static_cast<int>(parts.size());
  version.bytes = std::make_shared<const std::string>(std::move(bytes));
  version.acked_at = ctx.now;
  version.durable_at = ctx.now + ctx.durability_lag_ns;
  version.durable = ctx.durability_lag_ns <= 0;
  if (storage_) {
    // With no lag the object and the upload's end are one atomic change; with a lag the
    // upload ends now and the object is recorded when (if) it becomes durable.
    const std::error_code error =
        version.durable ? storage_->complete_upload(stored_of(bucket_name, version), upload_id)
                        : storage_->remove_upload(bucket_name, upload_id);
    if (error) return errors::internal_error(resource);
  }
  CompleteMultipartUploadOutput output{version.meta.etag, version.sequence};
  bucket->uploads.erase(found);
  store_version(*state_, settings_, *bucket, bucket_name, key, std::move(version), ctx.now);
  return output;
}

Result<Empty> S3Core::abort_multipart_upload(const RequestContext& ctx,
                                             std::string_view bucket_name, std::string_view key,
                                             std::string_view upload_id) {
  S3CHAOS_ASSERT(ctx.now >= now_);
  Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return errors::no_such_bucket(bucket_name);
  auto found = bucket->uploads.find(upload_id);
  if (found == bucket->uploads.end() || found->second.key != key) {
    return errors::no_such_upload(bucket_name, key);
  }
  if (storage_ && storage_->remove_upload(bucket_name, upload_id)) {
    return errors::internal_error(errors::resource_of(bucket_name, key));
  }
  bucket->uploads.erase(found);
  return Empty{};
}

Result<ListPartsOutput> S3Core::list_parts(const RequestContext&, std::string_view bucket_name,
                                           std::string_view key, std::string_view upload_id,
                                           int part_number_marker, int max_parts) const {
  const Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return errors::no_such_bucket(bucket_name);
  auto found = bucket->uploads.find(upload_id);
  if (found == bucket->uploads.end() || found->second.key != key) {
    return errors::no_such_upload(bucket_name, key);
  }
  if (max_parts < 0 || part_number_marker < 0) {
    return errors::invalid_argument("max-parts and part-number-marker must be non-negative",
                                    errors::resource_of(bucket_name, key));
  }
  const int limit = std::min(max_parts, settings_.list_keys_max);
  ListPartsOutput output;
  output.initiated = found->second.initiated;
  for (auto it = found->second.parts.upper_bound(part_number_marker);
       it != found->second.parts.end(); ++it) {
    if (static_cast<int>(output.parts.size()) == limit) {
      output.is_truncated = true;
      break;
    }
    output.parts.push_back(
        {it->first, it->second.etag, it->second.bytes->size(), it->second.last_modified});
    output.next_part_number_marker = it->first;
  }
  return output;
}

Result<ListUploadsOutput> S3Core::list_multipart_uploads(
    const RequestContext&, std::string_view bucket_name, std::string_view prefix,
    std::string_view key_marker, std::string_view upload_id_marker, int max_uploads) const {
  const Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return errors::no_such_bucket(bucket_name);
  if (max_uploads < 0) {
    return errors::invalid_argument("max-uploads must be non-negative",
                                    errors::resource_of(bucket_name));
  }
  std::vector<UploadInfo> all;
  for (const auto& [id, upload] : bucket->uploads) {
    if (!starts_with(upload.key, prefix)) continue;
    all.push_back({upload.key, upload.upload_id, upload.initiated});
  }
  std::sort(all.begin(), all.end(), [](const UploadInfo& a, const UploadInfo& b) {
    return std::tie(a.key, a.upload_id) < std::tie(b.key, b.upload_id);
  });
  ListUploadsOutput output;
  const int limit = std::min(max_uploads, settings_.list_keys_max);
  for (auto& upload : all) {
    if (!key_marker.empty()) {
      // After key-marker: later keys, or the same key with a later upload id when
      // upload-id-marker is given (S3's documented pairing).
      if (upload.key < key_marker) continue;
      if (upload.key == key_marker &&
          (upload_id_marker.empty() || upload.upload_id <= upload_id_marker)) {
        continue;
      }
    }
    if (static_cast<int>(output.uploads.size()) == limit) {
      output.is_truncated = true;
      break;
    }
    output.uploads.push_back(std::move(upload));
  }
  return output;
}

// ---- Time, death, rot -------------------------------------------------------------------------

namespace {

Version* find_version(S3Core::State& state, std::string_view bucket_name, std::string_view key,
                      std::uint64_t sequence, Bucket** bucket_out = nullptr,
                      KeyHistory** history_out = nullptr) {
  Bucket* bucket = state.find_bucket(bucket_name);
  if (!bucket) return nullptr;
  auto found = bucket->keys.find(key);
  if (found == bucket->keys.end()) return nullptr;
  for (auto& version : found->second.versions) {
    if (version.sequence == sequence) {
      if (bucket_out) *bucket_out = bucket;
      if (history_out) *history_out = &found->second;
      return &version;
    }
  }
  return nullptr;
}

// Discards a volatile version (a death, or a record that refused it) and records it as lost.
void discard_pending(S3Core::State& state, const PendingVersion& pending, TimeNs now) {
  Bucket* bucket = nullptr;
  KeyHistory* history = nullptr;
  Version* version = find_version(state, pending.bucket, pending.key,
                                  pending.truth.version_sequence, &bucket, &history);
  TruthVersion lost = pending.truth;
  if (version) {
    S3CHAOS_ASSERT(!version->durable);
    lost.bytes = version->bytes;
    lost.rotted_at = version->rotted_at;
    const auto index = static_cast<std::ptrdiff_t>(version - history->versions.data());
    history->versions.erase(history->versions.begin() + index);
    if (history->versions.empty()) bucket->keys.erase(pending.key);
  }
  lost.durability = Durability::lost;
  lost.lost_at = now;
  state.lost.push_back(std::move(lost));
}

}  // namespace

void S3Core::advance_to(TimeNs now) {
  S3CHAOS_ASSERT(now >= now_);
  now_ = now;
  while (!state_->pending.empty() && state_->pending.begin()->first.first <= now) {
    auto node = state_->pending.extract(state_->pending.begin());
    PendingVersion& pending = node.mapped();
    KeyHistory* history = nullptr;
    Version* version = find_version(*state_, pending.bucket, pending.key,
                                    pending.truth.version_sequence, nullptr, &history);
    if (!version) continue;
    S3CHAOS_ASSERT(!version->durable);
    if (storage_ && !version->is_delete && newest_durable(*history, *version) &&
        storage_->put_object(stored_of(pending.bucket, *version))) {
      // The record could not keep what was promised: the write is lost, as if S3 had died
      // before it became durable (the life/death window, caused by the disk).
      discard_pending(*state_, pending, pending.truth.durable_at);
      continue;
    }
    version->durable = true;
  }
}

std::optional<TimeNs> S3Core::next_event_time() const {
  if (state_->pending.empty()) return std::nullopt;
  return state_->pending.begin()->first.first;
}

void S3Core::kill(TimeNs now) {
  advance_to(now);
  for (auto& [when, pending] : state_->pending) discard_pending(*state_, pending, now);
  state_->pending.clear();
  S3CHAOS_ASSERT(state_->pending.empty());
}

void flip_distinct_bits(std::string& bytes, int bit_flips, sim::RandomStream& random) {
  // Distinct positions, so that two flips never cancel out and the bytes always change.
  const std::uint64_t bits = bytes.size() * 8;
  const std::uint64_t wanted =
      std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max(1, bit_flips)), bits);
  std::set<std::uint64_t> flipped;
  while (flipped.size() < wanted) {
    const std::uint64_t bit = random.below(bits);
    if (!flipped.insert(bit).second) continue;
    bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
  }
}

int S3Core::rot(TimeNs now, std::string_view bucket_filter, std::string_view key_prefix,
                double probability, int bit_flips, sim::RandomStream& random) {
  advance_to(now);
  int rotted = 0;
  for (auto& [bucket_name, bucket] : state_->buckets) {
    if (!bucket_filter.empty() && bucket_name != bucket_filter) continue;
    for (auto it = bucket.keys.lower_bound(key_prefix); it != bucket.keys.end(); ++it) {
      if (!starts_with(it->first, key_prefix)) break;
      Version& version = it->second.versions.back();
      if (version.is_delete || version.bytes->empty()) continue;
      if (!random.chance(probability)) continue;
      std::string damaged = *version.bytes;
      flip_distinct_bits(damaged, bit_flips, random);
      version.bytes = std::make_shared<const std::string>(std::move(damaged));
      version.rotted_at = now;
      ++rotted;
      // The store itself changed: the durable record rots too. A record that fails to take
      // the damage keeps the intact bytes, which no client can tell from a lucky disk.
      if (storage_ && version.durable) (void)storage_->put_object(stored_of(bucket_name, version));
    }
  }
  return rotted;
}

// ---- Truth --------------------------------------------------------------------------------------

TruthView S3Core::truth() const {
  TruthView view;
  for (const auto& [bucket_name, bucket] : state_->buckets) {
    for (const auto& [key, history] : bucket.keys) {
      for (auto it = history.versions.rbegin(); it != history.versions.rend(); ++it) {
        if (!it->durable) continue;
        if (!it->is_delete) view.durable_objects.push_back(truth_of(bucket_name, key, *it));
        break;
      }
    }
  }
  for (const auto& [when, pending] : state_->pending) {
    TruthVersion truth = pending.truth;
    if (const Version* version =
            find_version(*state_, pending.bucket, pending.key, pending.truth.version_sequence)) {
      truth.bytes = version->bytes;
      truth.rotted_at = version->rotted_at;
    }
    view.pending.push_back(std::move(truth));
  }
  std::sort(view.pending.begin(), view.pending.end(),
            [](const TruthVersion& a, const TruthVersion& b) {
              return std::tie(a.bucket, a.key, a.version_sequence) <
                     std::tie(b.bucket, b.key, b.version_sequence);
            });
  view.lost = state_->lost;
  return view;
}

std::optional<TruthVersion> S3Core::durable_object(std::string_view bucket_name,
                                                   std::string_view key) const {
  const Bucket* bucket = state_->find_bucket(bucket_name);
  if (!bucket) return std::nullopt;
  auto found = bucket->keys.find(key);
  if (found == bucket->keys.end()) return std::nullopt;
  for (auto it = found->second.versions.rbegin(); it != found->second.versions.rend(); ++it) {
    if (!it->durable) continue;
    if (it->is_delete) return std::nullopt;
    return truth_of(bucket_name, key, *it);
  }
  return std::nullopt;
}

}  // namespace s3chaos::fake_s3
