#include "photo_uploader/s3_client.hpp"

#include <chrono>
#include <ctime>
#include <pugixml.hpp>

#include "s3proto/checksum.hpp"

namespace s3chaos::photo_uploader {
namespace {

using uploader::ObjectStoreOp;
using uploader::ObjectStoreRequest;
using uploader::ObjectStoreResponse;
using uploader::TransportError;

// The <Code> of an S3 error document, or "" when the body is not one.
std::string error_code_of(std::string_view body) {
  if (body.empty()) return {};
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) return {};
  return document.child("Error").child("Code").text().as_string();
}

std::string bucket_path(const S3Endpoint& endpoint, const ObjectStoreRequest& request,
                        bool with_key) {
  std::string path = endpoint.path_prefix;
  if (!endpoint.virtual_hosted) path += "/" + request.bucket;
  if (with_key) {
    path += "/" + request.key;
  } else if (endpoint.virtual_hosted) {
    path += "/";
  }
  return path;
}

}  // namespace

std::string amz_date_from_unix_seconds(std::int64_t seconds) {
  const std::time_t time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

net::HttpEndpoint s3_http_endpoint(const S3Endpoint& endpoint, std::string_view bucket) {
  net::HttpEndpoint http = endpoint.endpoint;
  if (endpoint.virtual_hosted) http.host = std::string(bucket) + "." + http.host;
  return http;
}

net::HttpClientRequest build_s3_request(const ObjectStoreRequest& request,
                                        const S3Endpoint& endpoint, std::string_view amz_date) {
  s3proto::SigningRequest signing;
  signing.headers.emplace_back("host", s3_http_endpoint(endpoint, request.bucket).host_header());
  std::string body;
  switch (request.op) {
    case ObjectStoreOp::put:
      signing.method = "PUT";
      signing.path = bucket_path(endpoint, request, true);
      signing.headers.emplace_back("content-md5", request.content_md5);
      signing.headers.emplace_back("content-type", "application/octet-stream");
      if (request.checksum_algorithm.has_value()) {
        signing.headers.emplace_back(
            std::string(s3proto::checksum_header_name(*request.checksum_algorithm)),
            request.checksum_base64);
      }
      signing.payload_hash = s3proto::sha256_hex(request.body);
      body = request.body;
      break;
    case ObjectStoreOp::head:
    case ObjectStoreOp::get:
      signing.method = request.op == ObjectStoreOp::head ? "HEAD" : "GET";
      signing.path = bucket_path(endpoint, request, true);
      signing.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
      signing.payload_hash = std::string(s3proto::empty_payload_sha256_hex);
      break;
    case ObjectStoreOp::list:
      signing.method = "GET";
      signing.path = bucket_path(endpoint, request, false);
      signing.query = {{"list-type", "2"}, {"prefix", request.key}};
      signing.payload_hash = std::string(s3proto::empty_payload_sha256_hex);
      break;
    case ObjectStoreOp::delete_object:
      signing.method = "DELETE";
      signing.path = bucket_path(endpoint, request, true);
      signing.payload_hash = std::string(s3proto::empty_payload_sha256_hex);
      break;
  }
  const s3proto::SignedRequest signed_request =
      s3proto::sign_request(signing, endpoint.credentials, endpoint.region, amz_date);
  net::HttpClientRequest http;
  http.method = signing.method;
  http.target = signed_request.request_target;
  http.headers = signing.headers;
  http.headers.emplace_back("x-amz-date", signed_request.amz_date);
  http.headers.emplace_back("x-amz-content-sha256", signed_request.content_sha256);
  http.headers.emplace_back("authorization", signed_request.authorization);
  http.body = std::move(body);
  return http;
}

ObjectStoreResponse parse_s3_response(const ObjectStoreRequest& request,
                                      const net::HttpClientResult& result) {
  switch (result.error) {
    case net::HttpClientError::none:
      break;
    case net::HttpClientError::connection_refused:
    case net::HttpClientError::resolve_failed:
    case net::HttpClientError::queue_full:
      return ObjectStoreResponse::transport(request.id, TransportError::connection_refused);
    case net::HttpClientError::timeout:
      return ObjectStoreResponse::transport(request.id, TransportError::timeout);
    case net::HttpClientError::connection_reset:
    case net::HttpClientError::protocol_error:
    case net::HttpClientError::client_stopped:
      return ObjectStoreResponse::transport(request.id, TransportError::connection_reset);
  }
  const net::HttpClientResponse& http = result.response;
  if (http.status < 200 || http.status >= 300) {
    std::string code = error_code_of(http.body);
    if (code.empty() && http.status == 404 && request.op != ObjectStoreOp::list) {
      code = "NoSuchKey";
    }
    return ObjectStoreResponse::http(request.id, http.status, std::move(code));
  }
  ObjectStoreResponse response = ObjectStoreResponse::ok(request.id);
  response.http_status = http.status;
  response.etag = http.header("etag").value_or("");
  for (const auto algorithm : s3proto::all_checksum_algorithms) {
    if (auto value = http.header(s3proto::checksum_header_name(algorithm))) {
      response.checksum_base64 = *value;
      break;
    }
  }
  switch (request.op) {
    case ObjectStoreOp::head: {
      const std::string length = http.header("content-length").value_or("");
      std::uint64_t size = 0;
      bool valid = !length.empty();
      for (char c : length) {
        if (c < '0' || c > '9' || size > (UINT64_MAX - 9) / 10) {
          valid = false;
          break;
        }
        size = size * 10 + static_cast<std::uint64_t>(c - '0');
      }
      // A HEAD without a usable length cannot confirm the size: the core reads it as a
      // mismatch and uploads again, which is safe.
      response.size_bytes = valid ? size : 0;
      break;
    }
    case ObjectStoreOp::get:
      response.body = http.body;
      response.size_bytes = http.body.size();
      break;
    case ObjectStoreOp::list: {
      pugi::xml_document document;
      if (!document.load_buffer(http.body.data(), http.body.size())) {
        // A 200 that is not a listing: an unknown answer, read again later.
        return ObjectStoreResponse::transport(request.id, TransportError::connection_reset);
      }
      for (const auto& contents : document.child("ListBucketResult").children("Contents")) {
        response.listed_keys.emplace_back(contents.child("Key").text().as_string());
      }
      break;
    }
    case ObjectStoreOp::put:
    case ObjectStoreOp::delete_object:
      break;
  }
  return response;
}

S3Client::S3Client(net::HttpClient& http, std::vector<S3Endpoint> targets)
    : http_(http), targets_(std::move(targets)) {}

void S3Client::send(const ObjectStoreRequest& request, Callback done) {
  if (request.target_index >= targets_.size()) {
    done(ObjectStoreResponse::transport(request.id, TransportError::connection_refused));
    return;
  }
  const S3Endpoint& target = targets_[request.target_index];
  const auto now = std::chrono::system_clock::now();
  const std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  net::HttpClientRequest http =
      build_s3_request(request, target, amz_date_from_unix_seconds(seconds));
  const auto timeout =
      std::chrono::milliseconds(std::max<std::int64_t>(1, request.timeout_ns / 1'000'000));
  // The callback keeps only what parse_s3_response reads (not the body).
  ObjectStoreRequest header_only;
  header_only.id = request.id;
  header_only.op = request.op;
  header_only.target_index = request.target_index;
  http_.send(s3_http_endpoint(target, request.bucket), std::move(http), timeout,
             [header_only, done = std::move(done)](net::HttpClientResult result) {
               done(parse_s3_response(header_only, result));
             });
}

}  // namespace s3chaos::photo_uploader
