// The object-store client interface the uploader core speaks, as plain values.
//
// The core never does I/O to a store: it emits ObjectStoreRequest values and is handed
// ObjectStoreResponse values back, matched by request id. A driver turns them into HTTP:
// in simulation, fake_s3's HTTP-shaped core behind the simulated network; in production,
// SigV4-signed requests over Boost.Beast to any S3-compatible endpoint. The uploader does not
// know which one answers (DESIGN.md: "the uploader must not know whether it talks to the fake
// or to real S3").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "s3proto/checksum.hpp"
#include "sim/time.hpp"

namespace s3chaos::uploader {

// Unique per request within one journal's lifetime: the high 32 bits are the uploader's
// durable boot count, the low 32 bits a per-boot sequence, so a late response addressed to a
// previous incarnation never matches a request of the current one.
using RequestId = std::uint64_t;

enum class ObjectStoreOp {
  put,            // PutObject: body, Content-MD5, x-amz-checksum-<algorithm>.
  head,           // HeadObject: answers etag and size.
  get,            // GetObject: answers the body (and the stored checksum if the store has one).
  list,           // ListObjectsV2 with `key` as the prefix: answers listed_keys.
  delete_object,  // DeleteObject (not sent by any current policy; here for drivers and tools).
};

// "PUT", "HEAD", "GET", "LIST", "DELETE".
std::string_view object_store_op_name(ObjectStoreOp op);

struct ObjectStoreRequest {
  RequestId id = 0;
  // Index into Settings::targets: which bucket / vendor the driver must address.
  std::size_t target_index = 0;
  ObjectStoreOp op = ObjectStoreOp::put;
  std::string bucket;
  // The object key; for list, the prefix.
  std::string key;
  // put only: the exact bytes to store.
  std::string body;
  // put only: base64 MD5 of body (the Content-MD5 header).
  std::string content_md5;
  // put only: the client's end-to-end checksum (x-amz-checksum-<algorithm>: value), so the
  // store itself rejects bytes damaged between the phone and the store.
  std::optional<s3proto::ChecksumAlgorithm> checksum_algorithm;
  std::string checksum_base64;
  // The driver should give up after this long and answer a transport timeout. The core also
  // enforces it on its own (it synthesises the timeout at the deadline), so a driver that never
  // answers cannot wedge an upload slot.
  sim::TimeNs timeout_ns = 0;
};

enum class ResponseOutcome {
  ok,               // 2xx.
  http_error,       // An HTTP answer with status >= 300 (http_status, error_code).
  transport_error,  // No HTTP answer at all (transport_error says why).
};

enum class TransportError { none, connection_reset, timeout, connection_refused };

struct ObjectStoreResponse {
  RequestId id = 0;
  ResponseOutcome outcome = ResponseOutcome::ok;
  int http_status = 200;
  // The S3 error code from the XML body ("NoSuchKey", "InternalError", "SlowDown", ...).
  std::string error_code;
  TransportError transport_error = TransportError::none;
  // put / head / get: the ETag as sent (with or without the double quotes).
  std::string etag;
  // head / get: Content-Length of the object.
  std::uint64_t size_bytes = 0;
  // get: the object's bytes.
  std::string body;
  // put / head / get: x-amz-checksum-<algorithm> as the store reports it (may be empty).
  std::string checksum_base64;
  // list: the keys under the prefix, as the store listed them.
  std::vector<std::string> listed_keys;

  // Convenience constructors for drivers and tests.
  static ObjectStoreResponse ok(RequestId id);
  static ObjectStoreResponse http(RequestId id, int status, std::string error_code);
  static ObjectStoreResponse transport(RequestId id, TransportError error);
};

}  // namespace s3chaos::uploader
