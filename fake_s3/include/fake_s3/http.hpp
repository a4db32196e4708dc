// The HTTP shape of the S3 core: a request as it arrives on the wire (after SigV4 has been
// checked by the server), a response as it leaves. Path-style routing, query parsing, XML
// request bodies and XML responses and errors exactly as S3 shapes them.
//
// Nothing here does I/O: the server (Beast) and the simulator both build an HttpRequest and
// send back the HttpResponse. Malformed input of any kind gives an S3 error response.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fake_s3/core.hpp"

namespace s3chaos::fake_s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header called `name`.
std::optional<std::string_view> find_header(const HeaderList& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // raw path and query, percent-encoded as on the wire
  HeaderList headers;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;  // in a deterministic order
  std::string body;
  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
};

// S3 operation names, as in the API reference; the fault plan matches on these names.
enum class Operation {
  invalid,  // the request does not route to any operation (an error response follows)
  list_buckets,
  create_bucket,
  head_bucket,
  delete_bucket,
  get_bucket_location,
  list_objects,
  list_objects_v2,
  list_object_versions,
  delete_objects,
  put_object,
  copy_object,
  get_object,
  head_object,
  delete_object,
  create_multipart_upload,
  upload_part,
  complete_multipart_upload,
  abort_multipart_upload,
  list_parts,
  list_multipart_uploads,
};

// "PutObject", "GetObject", ... ("Invalid" for Operation::invalid).
std::string_view operation_name(Operation operation);
std::optional<Operation> parse_operation_name(std::string_view name);
// Writes that store an object (the durability lag applies to them).
bool stores_object(Operation operation);
// Reads that a stale-reads rule affects.
bool reads_objects(Operation operation);

// Where a request goes: its operation, bucket and key (decoded). Computed without touching the
// store, so the fault injector can match rules before the core runs.
struct RequestTarget {
  Operation operation = Operation::invalid;
  std::string bucket;
  std::string key;
};
RequestTarget classify_request(const HttpRequest& request);

// Rewrites a virtual-hosted-style request (Host: bucket.base_domain) into path style
// (/bucket/key). Returns the request unchanged if the Host is the base domain itself or does
// not end with it.
HttpRequest virtual_host_to_path_style(HttpRequest request, std::string_view base_domain);

// Runs one request against the core. `request_id` goes into x-amz-request-id and into error
// bodies. The context's fault modifiers apply to the operation (see core.hpp).
HttpResponse handle_http(S3Core& core, const RequestContext& ctx, const HttpRequest& request,
                         std::string_view request_id);

// The S3 error response for `error` (XML body unless the request was HEAD or status is 304).
HttpResponse error_response(const S3Error& error, std::string_view request_id, bool head_request);

// Percent-decoding of a path segment or query component. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// S3's URI encoding of a key for a path (unreserved characters and '/' kept).
std::string percent_encode_path(std::string_view text);

}  // namespace s3chaos::fake_s3
