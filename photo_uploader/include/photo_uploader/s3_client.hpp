// The S3 client of the real photo-uploader: it turns the core's ObjectStoreRequest values into
// SigV4-signed HTTP requests to any S3-compatible endpoint, and HTTP outcomes back into
// ObjectStoreResponse values. The translation is two pure functions (build_s3_request,
// parse_s3_response) so tests can check it without sockets; S3Client adds the wire (net/).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "net/http_client.hpp"
#include "s3proto/sigv4.hpp"
#include "uploader/object_store.hpp"

namespace s3chaos::photo_uploader {

// One S3-compatible service as a target of the uploader (the bucket comes with each request).
struct S3Endpoint {
  net::HttpEndpoint endpoint;
  // A path the service is mounted under ("" for most), without a trailing '/'.
  std::string path_prefix;
  std::string region = "us-east-1";
  s3proto::Credentials credentials;
  // Virtual-hosted style ("bucket.host") instead of path style ("host/bucket"). AWS accepts
  // both; most S3-compatible services and every local fake want path style.
  bool virtual_hosted = false;
};

// "YYYYMMDDTHHMMSSZ" for seconds since the Unix epoch (UTC).
std::string amz_date_from_unix_seconds(std::int64_t seconds);

// The signed HTTP request for `request` at `amz_date`: PutObject with Content-MD5,
// x-amz-checksum-<algorithm> and the body's SHA-256 as x-amz-content-sha256; HeadObject and
// GetObject with x-amz-checksum-mode: ENABLED; ListObjectsV2 with the key as prefix;
// DeleteObject.
net::HttpClientRequest build_s3_request(const uploader::ObjectStoreRequest& request,
                                        const S3Endpoint& endpoint, std::string_view amz_date);

// The endpoint a request for `bucket` goes to (virtual-hosted style prefixes the bucket).
net::HttpEndpoint s3_http_endpoint(const S3Endpoint& endpoint, std::string_view bucket);

// The core's view of an HTTP outcome. Transport failures where nothing was sent (refused,
// unresolved, queue full) become connection_refused; a timeout stays a timeout; anything that
// may have reached the service (reset, malformed answer) becomes connection_reset, an unknown
// outcome. An HTTP error carries the S3 <Code> from the XML body (NoSuchKey for a body-less
// 404, as HEAD gets).
uploader::ObjectStoreResponse parse_s3_response(const uploader::ObjectStoreRequest& request,
                                                const net::HttpClientResult& result);

// Sends requests over a shared HttpClient. Thread-safe; `done` runs on the client's I/O thread.
class S3Client {
 public:
  using Callback = std::function<void(uploader::ObjectStoreResponse)>;

  // `targets[i]` serves ObjectStoreRequest::target_index i. `http` must outlive this.
  S3Client(net::HttpClient& http, std::vector<S3Endpoint> targets);

  // Signs with the system clock's current time and sends. A target_index out of range answers
  // connection_refused at once (a core bug, reported rather than crashed on).
  void send(const uploader::ObjectStoreRequest& request, Callback done);

  std::size_t target_count() const { return targets_.size(); }

 private:
  net::HttpClient& http_;
  std::vector<S3Endpoint> targets_;
};

}  // namespace s3chaos::photo_uploader
