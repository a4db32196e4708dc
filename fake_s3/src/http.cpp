// The HTTP shape of the core: see http.hpp.
#include "fake_s3/http.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <pugixml.hpp>
#include <sstream>

#include "errors.hpp"
#include "sim/assert.hpp"

namespace s3chaos::fake_s3 {

namespace {

constexpr std::string_view s3_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";
// Request bodies that are XML (Delete, CompleteMultipartUpload with 10000 parts) stay well
// under this; anything larger is refused before parsing.
constexpr std::size_t xml_body_bytes_max = 2u << 20;
constexpr std::size_t query_parameters_max = 64;
constexpr std::string_view owner_id =
    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
constexpr std::string_view owner_display_name = "s3chaos";

char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  }
  return true;
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct NameEntry {
  Operation operation;
  std::string_view name;
};
constexpr std::array<NameEntry, 21> operation_names = {{
    {Operation::invalid, "Invalid"},
    {Operation::list_buckets, "ListBuckets"},
    {Operation::create_bucket, "CreateBucket"},
    {Operation::head_bucket, "HeadBucket"},
    {Operation::delete_bucket, "DeleteBucket"},
    {Operation::get_bucket_location, "GetBucketLocation"},
    {Operation::list_objects, "ListObjects"},
    {Operation::list_objects_v2, "ListObjectsV2"},
    {Operation::list_object_versions, "ListObjectVersions"},
    {Operation::delete_objects, "DeleteObjects"},
    {Operation::put_object, "PutObject"},
    {Operation::copy_object, "CopyObject"},
    {Operation::get_object, "GetObject"},
    {Operation::head_object, "HeadObject"},
    {Operation::delete_object, "DeleteObject"},
    {Operation::create_multipart_upload, "CreateMultipartUpload"},
    {Operation::upload_part, "UploadPart"},
    {Operation::complete_multipart_upload, "CompleteMultipartUpload"},
    {Operation::abort_multipart_upload, "AbortMultipartUpload"},
    {Operation::list_parts, "ListParts"},
    {Operation::list_multipart_uploads, "ListMultipartUploads"},
}};

using Query = std::map<std::string, std::string, std::less<>>;

// A request taken apart: where it goes, its decoded query, or why it cannot be routed.
struct Routed {
  RequestTarget target;
  Query query;
  std::optional<S3Error> error;
};

bool has(const Query& query, std::string_view name) {
  return query.find(name) != query.end();
}

std::string_view get(const Query& query, std::string_view name) {
  auto it = query.find(name);
  return it == query.end() ? std::string_view() : std::string_view(it->second);
}

S3Error invalid_uri(std::string_view resource) {
  return errors::make(400, "InvalidURI", "Couldn't parse the specified URI.", resource);
}

Routed route(const HttpRequest& request) {
  Routed routed;
  const std::string_view target = request.target;
  const auto question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (raw_path.empty() || raw_path.front() != '/') {
    routed.error = invalid_uri(raw_path);
    return routed;
  }
  auto path = percent_decode(raw_path, false);
  if (!path) {
    routed.error = invalid_uri(raw_path);
    return routed;
  }
  std::size_t start = 0;
  while (start <= raw_query.size() && !raw_query.empty()) {
    std::size_t amp = raw_query.find('&', start);
    if (amp == std::string_view::npos) amp = raw_query.size();
    const std::string_view item = raw_query.substr(start, amp - start);
    if (!item.empty()) {
      const auto equals = item.find('=');
      auto name = percent_decode(item.substr(0, equals), true);
      auto value = equals == std::string_view::npos ? std::optional<std::string>(std::string())
                                                    : percent_decode(item.substr(equals + 1), true);
      if (!name || !value || routed.query.size() >= query_parameters_max) {
        routed.error = invalid_uri(raw_path);
        return routed;
      }
      routed.query.emplace(std::move(*name), std::move(*value));
    }
    start = amp + 1;
  }
  const std::string_view decoded = *path;
  const std::string_view rest = decoded.substr(1);
  const auto slash = rest.find('/');
  routed.target.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) routed.target.key = std::string(rest.substr(slash + 1));
  const std::string& method = request.method;
  const Query& query = routed.query;
  Operation& operation = routed.target.operation;
  const std::string resource = std::string(decoded);
  if (routed.target.bucket.empty()) {
    if (method == "GET") {
      operation = Operation::list_buckets;
    } else {
      routed.error = errors::method_not_allowed(resource);
    }
    return routed;
  }
  // Sub-resources this fake does not implement are refused rather than misread as plain
  // object operations.
  static constexpr std::array<std::string_view, 14> unsupported = {
      "acl",          "tagging",     "policy",     "cors",        "lifecycle",
      "versioning",   "website",     "encryption", "replication", "logging",
      "notification", "object-lock", "retention",  "select"};
  for (auto name : unsupported) {
    if (has(query, name)) {
      routed.error = errors::not_implemented(resource);
      return routed;
    }
  }
  if (routed.target.key.empty()) {
    if (method == "PUT") {
      operation = Operation::create_bucket;
    } else if (method == "HEAD") {
      operation = Operation::head_bucket;
    } else if (method == "DELETE") {
      operation = Operation::delete_bucket;
    } else if (method == "POST" && has(query, "delete")) {
      operation = Operation::delete_objects;
    } else if (method == "GET") {
      if (has(query, "location")) {
        operation = Operation::get_bucket_location;
      } else if (has(query, "uploads")) {
        operation = Operation::list_multipart_uploads;
      } else if (has(query, "versions")) {
        operation = Operation::list_object_versions;
      } else if (get(query, "list-type") == "2") {
        operation = Operation::list_objects_v2;
      } else if (has(query, "list-type")) {
        routed.error = errors::invalid_argument("Invalid list type", resource);
      } else {
        operation = Operation::list_objects;
      }
    } else {
      routed.error = errors::method_not_allowed(resource);
    }
    return routed;
  }
  if (method == "PUT") {
    const bool copy = find_header(request.headers, "x-amz-copy-source").has_value();
    if (has(query, "partNumber") || has(query, "uploadId")) {
      if (copy) {
        routed.error = errors::not_implemented(resource);  // UploadPartCopy
      } else {
        operation = Operation::upload_part;
      }
    } else {
      operation = copy ? Operation::copy_object : Operation::put_object;
    }
  } else if (method == "GET") {
    operation = has(query, "uploadId") ? Operation::list_parts : Operation::get_object;
  } else if (method == "HEAD") {
    operation = Operation::head_object;
  } else if (method == "DELETE") {
    operation =
        has(query, "uploadId") ? Operation::abort_multipart_upload : Operation::delete_object;
  } else if (method == "POST") {
    if (has(query, "uploads")) {
      operation = Operation::create_multipart_upload;
    } else if (has(query, "uploadId")) {
      operation = Operation::complete_multipart_upload;
    } else {
      routed.error = errors::method_not_allowed(resource);
    }
  } else {
    routed.error = errors::method_not_allowed(resource);
  }
  return routed;
}

// ---- XML ------------------------------------------------------------------------------------

std::string xml_to_string(const pugi::xml_document& document) {
  std::ostringstream out;
  document.save(out, "", pugi::format_raw | pugi::format_no_declaration);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + out.str();
}

pugi::xml_node root_element(pugi::xml_document& document, const char* name) {
  pugi::xml_node root = document.append_child(name);
  root.append_attribute("xmlns") = std::string(s3_namespace).c_str();
  return root;
}

void add_text(pugi::xml_node parent, const char* name, std::string_view text) {
  parent.append_child(name).text().set(std::string(text).c_str());
}

void add_owner(pugi::xml_node parent, const char* name = "Owner") {
  pugi::xml_node owner = parent.append_child(name);
  add_text(owner, "ID", owner_id);
  add_text(owner, "DisplayName", owner_display_name);
}

const char* bool_text(bool value) {
  return value ? "true" : "false";
}

// Parses a decimal integer parameter in [0, max]. nullopt if malformed.
std::optional<int> parse_int_parameter(std::string_view text, int max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return static_cast<int>(std::min<long long>(value, max));
}

std::optional<pugi::xml_document> parse_xml_body(std::string_view body) {
  if (body.size() > xml_body_bytes_max) return std::nullopt;
  pugi::xml_document document;
  // No DOCTYPE processing of any kind: pugixml never expands external entities.
  const auto parsed = document.load_buffer(body.data(), body.size(), pugi::parse_default);
  if (!parsed) return std::nullopt;
  return document;
}

// ---- Responses --------------------------------------------------------------------------------

class ResponseBuilder {
 public:
  explicit ResponseBuilder(std::string_view request_id) {
    response_.headers.emplace_back("x-amz-request-id", std::string(request_id));
    response_.headers.emplace_back("x-amz-id-2", std::string(request_id));
  }
  ResponseBuilder& status(int status) {
    response_.status = status;
    return *this;
  }
  ResponseBuilder& header(std::string name, std::string value) {
    response_.headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  HttpResponse xml(const pugi::xml_document& document) {
    response_.body = xml_to_string(document);
    response_.headers.emplace_back("Content-Type", "application/xml");
    return finish();
  }
  HttpResponse finish(std::optional<std::uint64_t> content_length = std::nullopt) {
    response_.headers.emplace_back("Content-Length",
                                   std::to_string(content_length.value_or(response_.body.size())));
    return std::move(response_);
  }
  HttpResponse& raw() { return response_; }

 private:
  HttpResponse response_;
};

std::string checksum_header_value_name(s3proto::ChecksumAlgorithm algorithm) {
  return std::string(s3proto::checksum_header_name(algorithm));
}

// Collects x-amz-checksum-<algorithm> headers of the request.
Checksums request_checksums(const HeaderList& headers) {
  Checksums checksums;
  for (auto algorithm : s3proto::all_checksum_algorithms) {
    if (auto value = find_header(headers, s3proto::checksum_header_name(algorithm))) {
      checksums.emplace_back(algorithm, std::string(*value));
    }
  }
  return checksums;
}

UserMetadata request_metadata(const HeaderList& headers) {
  UserMetadata metadata;
  for (const auto& [name, value] : headers) {
    if (istarts_with(name, "x-amz-meta-")) {
      std::string lower = name.substr(11);
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](char c) { return lower_ascii(c); });
      metadata[lower] = value;
    }
  }
  return metadata;
}

std::optional<std::string> optional_header(const HeaderList& headers, std::string_view name) {
  if (auto value = find_header(headers, name)) return std::string(*value);
  return std::nullopt;
}

// Parses conditional headers. An unparsable date is ignored, as HTTP says.
ReadConditions read_conditions(const HeaderList& headers, std::string_view prefix,
                               std::int64_t epoch_unix_seconds) {
  ReadConditions conditions;
  const std::string p(prefix);
  conditions.if_match = optional_header(headers, p + "if-match");
  conditions.if_none_match = optional_header(headers, p + "if-none-match");
  if (auto text = find_header(headers, p + "if-modified-since")) {
    conditions.if_modified_since = parse_http_date(*text, epoch_unix_seconds);
  }
  if (auto text = find_header(headers, p + "if-unmodified-since")) {
    conditions.if_unmodified_since = parse_http_date(*text, epoch_unix_seconds);
  }
  return conditions;
}

void add_object_headers(ResponseBuilder& builder, const ObjectMeta& meta,
                        std::int64_t epoch_unix_seconds, bool with_checksums) {
  builder.header("ETag", meta.etag);
  builder.header("Last-Modified", format_http_date(meta.last_modified, epoch_unix_seconds));
  builder.header("Content-Type", meta.content_type);
  builder.header("Accept-Ranges", "bytes");
  for (const auto& [name, value] : meta.user_metadata) builder.header("x-amz-meta-" + name, value);
  if (with_checksums) {
    for (const auto& [algorithm, value] : meta.checksums) {
      builder.header(checksum_header_value_name(algorithm), value);
    }
  }
}

class Handler {
 public:
  Handler(S3Core& core, const RequestContext& ctx, const HttpRequest& request,
          std::string_view request_id)
      : core_(core),
        ctx_(ctx),
        request_(request),
        request_id_(request_id),
        epoch_(core.settings().epoch_unix_seconds) {}

  HttpResponse run() {
    Routed routed = route(request_);
    if (routed.error) return fail(*routed.error);
    target_ = &routed.target;
    query_ = &routed.query;
    switch (routed.target.operation) {
      case Operation::list_buckets:
        return list_buckets();
      case Operation::create_bucket:
        return create_bucket();
      case Operation::head_bucket:
        return empty_or_error(core_.head_bucket(ctx_, bucket()), 200);
      case Operation::delete_bucket:
        return empty_or_error(core_.delete_bucket(ctx_, bucket()), 204);
      case Operation::get_bucket_location:
        return get_bucket_location();
      case Operation::list_objects:
        return list_objects(1);
      case Operation::list_objects_v2:
        return list_objects(2);
      case Operation::list_object_versions:
        return list_object_versions();
      case Operation::delete_objects:
        return delete_objects();
      case Operation::put_object:
        return put_object();
      case Operation::copy_object:
        return copy_object();
      case Operation::get_object:
        return get_object(false);
      case Operation::head_object:
        return get_object(true);
      case Operation::delete_object:
        return empty_or_error(core_.delete_object(ctx_, bucket(), key()), 204);
      case Operation::create_multipart_upload:
        return create_multipart_upload();
      case Operation::upload_part:
        return upload_part();
      case Operation::complete_multipart_upload:
        return complete_multipart_upload();
      case Operation::abort_multipart_upload:
        return empty_or_error(
            core_.abort_multipart_upload(ctx_, bucket(), key(), get(*query_, "uploadId")), 204);
      case Operation::list_parts:
        return list_parts();
      case Operation::list_multipart_uploads:
        return list_multipart_uploads();
      case Operation::invalid:
        break;
    }
    return fail(errors::invalid_request("Unroutable request"));
  }

 private:
  const std::string& bucket() const { return target_->bucket; }
  const std::string& key() const { return target_->key; }

  HttpResponse fail(const S3Error& error) {
    return error_response(error, request_id_, request_.method == "HEAD");
  }

  template <class T>
  HttpResponse empty_or_error(const Result<T>& result, int status) {
    if (!result.ok()) return fail(result.error());
    return ResponseBuilder(request_id_).status(status).finish();
  }

  HttpResponse list_buckets() {
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "ListAllMyBucketsResult");
    add_owner(root);
    pugi::xml_node buckets = root.append_child("Buckets");
    for (const auto& info : core_.list_buckets(ctx_)) {
      pugi::xml_node node = buckets.append_child("Bucket");
      add_text(node, "Name", info.name);
      add_text(node, "CreationDate", format_iso8601(info.created_at, epoch_));
    }
    return ResponseBuilder(request_id_).xml(document);
  }

  HttpResponse create_bucket() {
    std::string location;
    if (!request_.body.empty()) {
      auto document = parse_xml_body(request_.body);
      if (!document) return fail(errors::malformed_xml(errors::resource_of(bucket())));
      pugi::xml_node config = document->child("CreateBucketConfiguration");
      if (!config) return fail(errors::malformed_xml(errors::resource_of(bucket())));
      location = config.child_value("LocationConstraint");
    }
    auto result = core_.create_bucket(ctx_, bucket(), location);
    if (!result.ok()) return fail(result.error());
    return ResponseBuilder(request_id_).header("Location", "/" + bucket()).finish();
  }

  HttpResponse get_bucket_location() {
    auto result = core_.get_bucket_location(ctx_, bucket());
    if (!result.ok()) return fail(result.error());
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "LocationConstraint");
    if (!result.value().empty()) root.text().set(result.value().c_str());
    return ResponseBuilder(request_id_).xml(document);
  }

  // With encoding-type=url, S3 URL-encodes keys and prefixes in listings.
  std::string encoded(std::string_view text) const {
    return url_encoding_ ? percent_encode_path(text) : std::string(text);
  }

  std::optional<S3Error> read_list_parameters(ListInput& input) {
    input.bucket = bucket();
    input.prefix = std::string(get(*query_, "prefix"));
    input.delimiter = std::string(get(*query_, "delimiter"));
    if (has(*query_, "max-keys")) {
      auto max_keys = parse_int_parameter(get(*query_, "max-keys"), 1'000'000);
      if (!max_keys) {
        return errors::invalid_argument("Provided max-keys not an integer or within integer range",
                                        errors::resource_of(bucket()));
      }
      input.max_keys = *max_keys;
    }
    if (has(*query_, "encoding-type")) {
      if (get(*query_, "encoding-type") != "url") {
        return errors::invalid_argument("Invalid Encoding Method specified in Request",
                                        errors::resource_of(bucket()));
      }
      url_encoding_ = true;
    }
    return std::nullopt;
  }

  void add_listing(pugi::xml_node root, const ListOutput& output, bool with_owner) {
    for (const auto& meta : output.contents) {
      pugi::xml_node node = root.append_child("Contents");
      add_text(node, "Key", encoded(meta.key));
      add_text(node, "LastModified", format_iso8601(meta.last_modified, epoch_));
      add_text(node, "ETag", meta.etag);
      add_text(node, "Size", std::to_string(meta.size_bytes));
      if (with_owner) add_owner(node);
      add_text(node, "StorageClass", "STANDARD");
    }
    for (const auto& common : output.common_prefixes) {
      add_text(root.append_child("CommonPrefixes"), "Prefix", encoded(common));
    }
  }

  HttpResponse list_objects(int version) {
    ListInput input;
    if (auto error = read_list_parameters(input)) return fail(*error);
    std::string continuation_token;
    if (version == 2) {
      input.after = std::string(get(*query_, "start-after"));
      if (has(*query_, "continuation-token")) {
        continuation_token = std::string(get(*query_, "continuation-token"));
        auto decoded = s3proto::base64_decode(continuation_token);
        if (!decoded || decoded->empty() || decoded->front() != 'k') {
          return fail(errors::invalid_argument("The continuation token provided is incorrect",
                                               errors::resource_of(bucket())));
        }
        input.after = decoded->substr(1);
      }
    } else {
      input.after = std::string(get(*query_, "marker"));
    }
    auto result = core_.list_objects(ctx_, input);
    if (!result.ok()) return fail(result.error());
    const ListOutput& output = result.value();
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "ListBucketResult");
    add_text(root, "Name", bucket());
    add_text(root, "Prefix", encoded(input.prefix));
    if (version == 2) {
      if (has(*query_, "continuation-token"))
        add_text(root, "ContinuationToken", continuation_token);
      if (has(*query_, "start-after")) {
        add_text(root, "StartAfter", encoded(get(*query_, "start-after")));
      }
      add_text(root, "KeyCount",
               std::to_string(output.contents.size() + output.common_prefixes.size()));
    } else {
      add_text(root, "Marker", encoded(input.after));
      if (output.is_truncated && !input.delimiter.empty()) {
        add_text(root, "NextMarker", encoded(output.last_returned));
      }
    }
    add_text(root, "MaxKeys", std::to_string(input.max_keys));
    if (!input.delimiter.empty()) add_text(root, "Delimiter", encoded(input.delimiter));
    if (url_encoding_) add_text(root, "EncodingType", "url");
    add_text(root, "IsTruncated", bool_text(output.is_truncated));
    if (version == 2 && output.is_truncated) {
      add_text(root, "NextContinuationToken", s3proto::base64_encode("k" + output.last_returned));
    }
    add_listing(root, output, version == 1 || get(*query_, "fetch-owner") == "true");
    return ResponseBuilder(request_id_).xml(document);
  }

  HttpResponse list_object_versions() {
    ListInput input;
    if (auto error = read_list_parameters(input)) return fail(*error);
    input.after = std::string(get(*query_, "key-marker"));
    auto result = core_.list_objects(ctx_, input);
    if (!result.ok()) return fail(result.error());
    const ListOutput& output = result.value();
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "ListVersionsResult");
    add_text(root, "Name", bucket());
    add_text(root, "Prefix", encoded(input.prefix));
    add_text(root, "KeyMarker", encoded(input.after));
    add_text(root, "VersionIdMarker", get(*query_, "version-id-marker"));
    if (output.is_truncated) {
      add_text(root, "NextKeyMarker", encoded(output.last_returned));
      add_text(root, "NextVersionIdMarker", "null");
    }
    add_text(root, "MaxKeys", std::to_string(input.max_keys));
    if (!input.delimiter.empty()) add_text(root, "Delimiter", encoded(input.delimiter));
    if (url_encoding_) add_text(root, "EncodingType", "url");
    add_text(root, "IsTruncated", bool_text(output.is_truncated));
    for (const auto& meta : output.contents) {
      // An unversioned bucket: every key has the single version "null", and it is the latest.
      pugi::xml_node node = root.append_child("Version");
      add_text(node, "Key", encoded(meta.key));
      add_text(node, "VersionId", "null");
      add_text(node, "IsLatest", "true");
      add_text(node, "LastModified", format_iso8601(meta.last_modified, epoch_));
      add_text(node, "ETag", meta.etag);
      add_text(node, "Size", std::to_string(meta.size_bytes));
      add_owner(node);
      add_text(node, "StorageClass", "STANDARD");
    }
    for (const auto& common : output.common_prefixes) {
      add_text(root.append_child("CommonPrefixes"), "Prefix", encoded(common));
    }
    return ResponseBuilder(request_id_).xml(document);
  }

  // Verifies the optional Content-MD5 / x-amz-checksum-* of an XML request body.
  std::optional<S3Error> verify_body_digest() {
    const std::string resource = errors::resource_of(bucket(), key());
    if (auto md5 = find_header(request_.headers, "content-md5")) {
      auto decoded = s3proto::base64_decode(*md5);
      if (!decoded || decoded->size() != 16) {
        return errors::make(400, "InvalidDigest", "The Content-MD5 you specified is not valid.",
                            resource);
      }
      if (*decoded !=
          std::string(reinterpret_cast<const char*>(s3proto::md5(request_.body).data()), 16)) {
        return errors::make(400, "BadDigest",
                            "The Content-MD5 you specified did not match what we received.",
                            resource);
      }
    }
    return std::nullopt;
  }

  HttpResponse delete_objects() {
    if (auto error = verify_body_digest()) return fail(*error);
    auto document = parse_xml_body(request_.body);
    if (!document) return fail(errors::malformed_xml(errors::resource_of(bucket())));
    pugi::xml_node root = document->child("Delete");
    if (!root) return fail(errors::malformed_xml(errors::resource_of(bucket())));
    const bool quiet = std::string_view(root.child_value("Quiet")) == "true";
    std::vector<std::string> keys;
    for (pugi::xml_node object : root.children("Object")) {
      pugi::xml_node key_node = object.child("Key");
      if (!key_node) return fail(errors::malformed_xml(errors::resource_of(bucket())));
      keys.emplace_back(key_node.child_value());
    }
    auto result = core_.delete_objects(ctx_, bucket(), keys);
    if (!result.ok()) return fail(result.error());
    pugi::xml_document out;
    pugi::xml_node result_root = root_element(out, "DeleteResult");
    if (!quiet) {
      for (const auto& deleted : result.value().deleted) {
        add_text(result_root.append_child("Deleted"), "Key", deleted);
      }
    }
    for (const auto& [failed_key, error] : result.value().errors) {
      pugi::xml_node node = result_root.append_child("Error");
      add_text(node, "Key", failed_key);
      add_text(node, "Code", error.code);
      add_text(node, "Message", error.message);
    }
    return ResponseBuilder(request_id_).xml(out);
  }

  HttpResponse put_object() {
    PutObjectInput input;
    input.bucket = bucket();
    input.key = key();
    input.body = request_.body;
    input.content_md5 = optional_header(request_.headers, "content-md5");
    input.checksums = request_checksums(request_.headers);
    input.content_type = std::string(find_header(request_.headers, "content-type").value_or(""));
    input.user_metadata = request_metadata(request_.headers);
    if (auto if_none_match = find_header(request_.headers, "if-none-match")) {
      if (*if_none_match != "*") {
        return fail(errors::not_implemented(errors::resource_of(bucket(), key())));
      }
      input.if_none_match_star = true;
    }
    input.if_match = optional_header(request_.headers, "if-match");
    auto result = core_.put_object(ctx_, std::move(input));
    if (!result.ok()) return fail(result.error());
    ResponseBuilder builder(request_id_);
    builder.header("ETag", result.value().etag);
    for (const auto& [algorithm, value] : result.value().checksums) {
      builder.header(checksum_header_value_name(algorithm), value);
    }
    return builder.finish();
  }

  HttpResponse copy_object() {
    CopyObjectInput input;
    std::string_view source = *find_header(request_.headers, "x-amz-copy-source");
    source = source.substr(0, source.find('?'));  // versionId is irrelevant: unversioned
    auto decoded = percent_decode(source, false);
    if (!decoded) return fail(invalid_uri(source));
    std::string_view path = *decoded;
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    const auto slash = path.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
      return fail(
          errors::invalid_argument("Copy Source must mention the source bucket and key: "
                                   "sourcebucket/sourcekey",
                                   errors::resource_of(bucket(), key())));
    }
    input.source_bucket = std::string(path.substr(0, slash));
    input.source_key = std::string(path.substr(slash + 1));
    input.bucket = bucket();
    input.key = key();
    const std::string_view directive =
        find_header(request_.headers, "x-amz-metadata-directive").value_or("COPY");
    if (directive != "COPY" && directive != "REPLACE") {
      return fail(errors::invalid_argument("Unknown metadata directive.",
                                           errors::resource_of(bucket(), key())));
    }
    input.replace_metadata = directive == "REPLACE";
    input.content_type = std::string(find_header(request_.headers, "content-type").value_or(""));
    input.user_metadata = request_metadata(request_.headers);
    input.source_conditions = read_conditions(request_.headers, "x-amz-copy-source-", epoch_);
    auto result = core_.copy_object(ctx_, input);
    if (!result.ok()) return fail(result.error());
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "CopyObjectResult");
    add_text(root, "LastModified", format_iso8601(result.value().last_modified, epoch_));
    add_text(root, "ETag", result.value().etag);
    return ResponseBuilder(request_id_).xml(document);
  }

  HttpResponse get_object(bool head) {
    GetObjectInput input;
    input.bucket = bucket();
    input.key = key();
    input.range = optional_header(request_.headers, "range");
    input.conditions = read_conditions(request_.headers, "", epoch_);
    if (has(*query_, "partNumber")) {
      return fail(errors::not_implemented(errors::resource_of(bucket(), key())));
    }
    auto result = head ? core_.head_object(ctx_, input) : core_.get_object(ctx_, input);
    if (!result.ok()) return fail(result.error());
    const GetObjectOutput& output = result.value();
    ResponseBuilder builder(request_id_);
    // S3 returns stored checksums only when asked (x-amz-checksum-mode: ENABLED) and only for
    // whole-object reads.
    const bool checksum_mode =
        iequals(find_header(request_.headers, "x-amz-checksum-mode").value_or(""), "ENABLED");
    add_object_headers(builder, output.meta, epoch_, checksum_mode && !output.content_range);
    if (output.content_range) {
      builder.status(206).header("Content-Range", *output.content_range);
    }
    std::uint64_t length = output.meta.size_bytes;
    if (output.content_range) {
      // Range requests report the range's length, also for HEAD.
      const auto& range = *output.content_range;
      const auto dash = range.find('-');
      const auto slash = range.find('/');
      length = std::stoull(range.substr(dash + 1, slash - dash - 1)) -
               std::stoull(range.substr(6, dash - 6)) + 1;
    }
    if (!head) {
      const std::string_view bytes = output.body.view();
      builder.raw().body.assign(bytes.data(), bytes.size());
    }
    return builder.finish(length);
  }

  HttpResponse create_multipart_upload() {
    CreateMultipartUploadInput input;
    input.bucket = bucket();
    input.key = key();
    input.content_type = std::string(find_header(request_.headers, "content-type").value_or(""));
    input.user_metadata = request_metadata(request_.headers);
    auto result = core_.create_multipart_upload(ctx_, input);
    if (!result.ok()) return fail(result.error());
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "InitiateMultipartUploadResult");
    add_text(root, "Bucket", bucket());
    add_text(root, "Key", key());
    add_text(root, "UploadId", result.value());
    return ResponseBuilder(request_id_).xml(document);
  }

  HttpResponse upload_part() {
    UploadPartInput input;
    input.bucket = bucket();
    input.key = key();
    input.upload_id = std::string(get(*query_, "uploadId"));
    auto part_number = parse_int_parameter(get(*query_, "partNumber"), 1'000'000);
    if (!part_number || !has(*query_, "uploadId")) {
      return fail(
          errors::invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                   errors::resource_of(bucket(), key())));
    }
    input.part_number = *part_number;
    input.body = request_.body;
    input.content_md5 = optional_header(request_.headers, "content-md5");
    input.checksums = request_checksums(request_.headers);
    auto result = core_.upload_part(ctx_, std::move(input));
    if (!result.ok()) return fail(result.error());
    return ResponseBuilder(request_id_).header("ETag", result.value()).finish();
  }

  HttpResponse complete_multipart_upload() {
    const std::string resource = errors::resource_of(bucket(), key());
    auto document = parse_xml_body(request_.body);
    if (!document) return fail(errors::malformed_xml(resource));
    pugi::xml_node root = document->child("CompleteMultipartUpload");
    if (!root) return fail(errors::malformed_xml(resource));
    std::vector<CompletedPart> parts;
    for (pugi::xml_node part : root.children("Part")) {
      auto number = parse_int_parameter(part.child_value("PartNumber"), 1'000'000);
      if (!number || !part.child("ETag")) return fail(errors::malformed_xml(resource));
      parts.push_back({*number, part.child_value("ETag")});
    }
    auto result =
        core_.complete_multipart_upload(ctx_, bucket(), key(), get(*query_, "uploadId"), parts);
    if (!result.ok()) return fail(result.error());
    pugi::xml_document out;
    pugi::xml_node result_root = root_element(out, "CompleteMultipartUploadResult");
    add_text(result_root, "Location", "/" + bucket() + "/" + percent_encode_path(key()));
    add_text(result_root, "Bucket", bucket());
    add_text(result_root, "Key", key());
    add_text(result_root, "ETag", result.value().etag);
    return ResponseBuilder(request_id_).xml(out);
  }

  HttpResponse list_parts() {
    const std::string resource = errors::resource_of(bucket(), key());
    int max_parts = 1000;
    int marker = 0;
    if (has(*query_, "max-parts")) {
      auto parsed = parse_int_parameter(get(*query_, "max-parts"), 1'000'000);
      if (!parsed) return fail(errors::invalid_argument("Invalid max-parts", resource));
      max_parts = *parsed;
    }
    if (has(*query_, "part-number-marker")) {
      auto parsed = parse_int_parameter(get(*query_, "part-number-marker"), 1'000'000);
      if (!parsed) return fail(errors::invalid_argument("Invalid part-number-marker", resource));
      marker = *parsed;
    }
    const std::string upload_id(get(*query_, "uploadId"));
    auto result = core_.list_parts(ctx_, bucket(), key(), upload_id, marker, max_parts);
    if (!result.ok()) return fail(result.error());
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "ListPartsResult");
    add_text(root, "Bucket", bucket());
    add_text(root, "Key", key());
    add_text(root, "UploadId", upload_id);
    add_owner(root, "Initiator");
    add_owner(root);
    add_text(root, "StorageClass", "STANDARD");
    add_text(root, "PartNumberMarker", std::to_string(marker));
    add_text(root, "NextPartNumberMarker", std::to_string(result.value().next_part_number_marker));
    add_text(root, "MaxParts", std::to_string(max_parts));
    add_text(root, "IsTruncated", bool_text(result.value().is_truncated));
    for (const auto& part : result.value().parts) {
      pugi::xml_node node = root.append_child("Part");
      add_text(node, "PartNumber", std::to_string(part.part_number));
      add_text(node, "LastModified", format_iso8601(part.last_modified, epoch_));
      add_text(node, "ETag", part.etag);
      add_text(node, "Size", std::to_string(part.size_bytes));
    }
    return ResponseBuilder(request_id_).xml(document);
  }

  HttpResponse list_multipart_uploads() {
    int max_uploads = 1000;
    if (has(*query_, "max-uploads")) {
      auto parsed = parse_int_parameter(get(*query_, "max-uploads"), 1'000'000);
      if (!parsed) {
        return fail(errors::invalid_argument("Invalid max-uploads", errors::resource_of(bucket())));
      }
      max_uploads = *parsed;
    }
    const std::string_view prefix = get(*query_, "prefix");
    const std::string_view key_marker = get(*query_, "key-marker");
    const std::string_view upload_id_marker = get(*query_, "upload-id-marker");
    auto result = core_.list_multipart_uploads(ctx_, bucket(), prefix, key_marker, upload_id_marker,
                                               max_uploads);
    if (!result.ok()) return fail(result.error());
    const auto& uploads = result.value().uploads;
    pugi::xml_document document;
    pugi::xml_node root = root_element(document, "ListMultipartUploadsResult");
    add_text(root, "Bucket", bucket());
    add_text(root, "KeyMarker", key_marker);
    add_text(root, "UploadIdMarker", upload_id_marker);
    add_text(root, "NextKeyMarker", uploads.empty() ? "" : uploads.back().key);
    add_text(root, "NextUploadIdMarker", uploads.empty() ? "" : uploads.back().upload_id);
    add_text(root, "Prefix", prefix);
    add_text(root, "MaxUploads", std::to_string(max_uploads));
    add_text(root, "IsTruncated", bool_text(result.value().is_truncated));
    for (const auto& upload : uploads) {
      pugi::xml_node node = root.append_child("Upload");
      add_text(node, "Key", upload.key);
      add_text(node, "UploadId", upload.upload_id);
      add_owner(node, "Initiator");
      add_owner(node);
      add_text(node, "StorageClass", "STANDARD");
      add_text(node, "Initiated", format_iso8601(upload.initiated, epoch_));
    }
    return ResponseBuilder(request_id_).xml(document);
  }

  S3Core& core_;
  const RequestContext& ctx_;
  const HttpRequest& request_;
  std::string_view request_id_;
  std::int64_t epoch_;
  const RequestTarget* target_ = nullptr;
  const Query* query_ = nullptr;
  bool url_encoding_ = false;
};

}  // namespace

std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [header_name, value] : headers) {
    if (iequals(header_name, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::string_view operation_name(Operation operation) {
  for (const auto& entry : operation_names) {
    if (entry.operation == operation) return entry.name;
  }
  return "Invalid";
}

std::optional<Operation> parse_operation_name(std::string_view name) {
  for (const auto& entry : operation_names) {
    if (entry.name == name && entry.operation != Operation::invalid) return entry.operation;
  }
  return std::nullopt;
}

bool stores_object(Operation operation) {
  return operation == Operation::put_object || operation == Operation::copy_object ||
         operation == Operation::complete_multipart_upload;
}

bool reads_objects(Operation operation) {
  return operation == Operation::get_object || operation == Operation::head_object ||
         operation == Operation::list_objects || operation == Operation::list_objects_v2 ||
         operation == Operation::list_object_versions;
}

RequestTarget classify_request(const HttpRequest& request) {
  Routed routed = route(request);
  if (routed.error)
    return RequestTarget{Operation::invalid, routed.target.bucket, routed.target.key};
  return routed.target;
}

HttpRequest virtual_host_to_path_style(HttpRequest request, std::string_view base_domain) {
  const auto host_header = find_header(request.headers, "host");
  if (!host_header) return request;
  std::string_view host = *host_header;
  host = host.substr(0, host.find(':'));
  if (host.size() <= base_domain.size() + 1 ||
      !iequals(host.substr(host.size() - base_domain.size()), base_domain) ||
      host[host.size() - base_domain.size() - 1] != '.') {
    return request;
  }
  const std::string bucket(host.substr(0, host.size() - base_domain.size() - 1));
  std::string target = request.target;
  if (target.empty() || target.front() != '/') target.insert(target.begin(), '/');
  request.target = "/" + bucket + target;
  return request;
}

HttpResponse error_response(const S3Error& error, std::string_view request_id, bool head_request) {
  ResponseBuilder builder(request_id);
  builder.status(error.http_status);
  if (head_request || error.http_status == 304) return builder.finish(0);
  pugi::xml_document document;
  pugi::xml_node root = document.append_child("Error");
  add_text(root, "Code", error.code);
  add_text(root, "Message", error.message);
  if (!error.resource.empty()) add_text(root, "Resource", error.resource);
  add_text(root, "RequestId", request_id);
  return builder.xml(document);
}

HttpResponse handle_http(S3Core& core, const RequestContext& ctx, const HttpRequest& request,
                         std::string_view request_id) {
  return Handler(core, ctx, request, request_id).run();
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string percent_encode_path(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
        (byte >= '0' && byte <= '9') || byte == '-' || byte == '_' || byte == '.' || byte == '~' ||
        byte == '/') {
      out += c;
    } else {
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 15];
    }
  }
  return out;
}

}  // namespace s3chaos::fake_s3
