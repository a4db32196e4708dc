// S3's errors, with the status and message S3 sends, in one place.
#pragma once

#include <string>
#include <string_view>

#include "fake_s3/core.hpp"

namespace s3chaos::fake_s3::errors {

inline S3Error make(int status, std::string_view code, std::string_view message,
                    std::string_view resource = {}) {
  return S3Error{status, std::string(code), std::string(message), std::string(resource)};
}

inline std::string resource_of(std::string_view bucket, std::string_view key = {}) {
  std::string resource = "/";
  resource += bucket;
  if (!key.empty()) {
    resource += '/';
    resource += key;
  }
  return resource;
}

inline S3Error no_such_bucket(std::string_view bucket) {
  return make(404, "NoSuchBucket", "The specified bucket does not exist", resource_of(bucket));
}
inline S3Error no_such_key(std::string_view bucket, std::string_view key) {
  return make(404, "NoSuchKey", "The specified key does not exist.", resource_of(bucket, key));
}
inline S3Error no_such_upload(std::string_view bucket, std::string_view key) {
  return make(404, "NoSuchUpload",
              "The specified upload does not exist. The upload ID may be invalid, or the upload "
              "may have been aborted or completed.",
              resource_of(bucket, key));
}
inline S3Error invalid_bucket_name(std::string_view bucket) {
  return make(400, "InvalidBucketName", "The specified bucket is not valid.", resource_of(bucket));
}
inline S3Error key_too_long(std::string_view bucket) {
  return make(400, "KeyTooLongError", "Your key is too long", resource_of(bucket));
}
inline S3Error invalid_argument(std::string_view message, std::string_view resource = {}) {
  return make(400, "InvalidArgument", message, resource);
}
inline S3Error invalid_request(std::string_view message, std::string_view resource = {}) {
  return make(400, "InvalidRequest", message, resource);
}
inline S3Error precondition_failed(std::string_view resource) {
  return make(412, "PreconditionFailed",
              "At least one of the pre-conditions you specified did not hold", resource);
}
inline S3Error not_modified(std::string_view resource) {
  return make(304, "NotModified", "Not Modified", resource);
}
inline S3Error malformed_xml(std::string_view resource = {}) {
  return make(400, "MalformedXML",
              "The XML you provided was not well-formed or did not validate against our "
              "published schema",
              resource);
}
inline S3Error internal_error(std::string_view resource = {}) {
  return make(500, "InternalError", "We encountered an internal error. Please try again.",
              resource);
}
inline S3Error service_unavailable(std::string_view resource = {}) {
  return make(503, "ServiceUnavailable", "Please reduce your request rate.", resource);
}
inline S3Error slow_down(std::string_view resource = {}) {
  return make(503, "SlowDown", "Please reduce your request rate.", resource);
}
inline S3Error request_time_too_skewed(std::string_view resource = {}) {
  return make(403, "RequestTimeTooSkewed",
              "The difference between the request time and the current time is too large.",
              resource);
}
inline S3Error not_implemented(std::string_view resource = {}) {
  return make(501, "NotImplemented",
              "A header you provided implies functionality that is not implemented", resource);
}
inline S3Error method_not_allowed(std::string_view resource = {}) {
  return make(405, "MethodNotAllowed", "The specified method is not allowed against this resource.",
              resource);
}

}  // namespace s3chaos::fake_s3::errors
