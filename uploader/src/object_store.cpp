#include "uploader/object_store.hpp"

namespace s3chaos::uploader {

std::string_view object_store_op_name(ObjectStoreOp op) {
  switch (op) {
    case ObjectStoreOp::put:
      return "PUT";
    case ObjectStoreOp::head:
      return "HEAD";
    case ObjectStoreOp::get:
      return "GET";
    case ObjectStoreOp::list:
      return "LIST";
    case ObjectStoreOp::delete_object:
      return "DELETE";
  }
  return "?";
}

ObjectStoreResponse ObjectStoreResponse::ok(RequestId id) {
  ObjectStoreResponse response;
  response.id = id;
  return response;
}

ObjectStoreResponse ObjectStoreResponse::http(RequestId id, int status, std::string error_code) {
  ObjectStoreResponse response;
  response.id = id;
  response.outcome = ResponseOutcome::http_error;
  response.http_status = status;
  response.error_code = std::move(error_code);
  return response;
}

ObjectStoreResponse ObjectStoreResponse::transport(RequestId id, TransportError error) {
  ObjectStoreResponse response;
  response.id = id;
  response.outcome = ResponseOutcome::transport_error;
  response.http_status = 0;
  response.transport_error = error;
  return response;
}

}  // namespace s3chaos::uploader
