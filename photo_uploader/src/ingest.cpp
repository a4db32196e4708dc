// The ingest endpoint: HTTP requests from phones and tools, mapped onto the Runtime.
#include <nlohmann/json.hpp>

#include "photo_uploader/photo_uploader.hpp"
#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace s3chaos::photo_uploader {
namespace {

constexpr std::string_view photos_prefix = "/photos/";
// GET /photos lists at most this many photos (the count says how many there are).
constexpr std::size_t pending_photos_max = 1000;

net::Response json_response(int status, const nlohmann::json& document) {
  net::Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = document.dump() + "\n";
  return response;
}

net::Response json_text_response(int status, std::string text) {
  net::Response response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(text) + "\n";
  return response;
}

net::Response error_response(int status, std::string message) {
  return json_response(status, {{"error", std::move(message)}});
}

net::Reply reply(net::Response response) {
  return net::Reply::respond_with(std::move(response));
}

// The path without its query.
std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

IngestHandler::IngestHandler(Runtime& runtime, std::uint64_t photo_bytes_max)
    : runtime_(runtime), photo_bytes_max_(photo_bytes_max) {}

net::HeadDecision IngestHandler::check_head(const net::RequestHead& head) {
  net::HeadDecision decision;
  const std::string_view path = path_of(head.target);
  const bool photo_path = path.substr(0, photos_prefix.size()) == photos_prefix;
  if (head.method == "PUT" && photo_path) {
    if (head.content_length.has_value() && *head.content_length > photo_bytes_max_) {
      decision.reply = reply(error_response(
          413, "a photo may be at most " + std::to_string(photo_bytes_max_) + " bytes"));
      return decision;
    }
    // One byte over the limit is enough to tell "too large" apart (a chunked body).
    decision.body_bytes_max = photo_bytes_max_ + 1;
    return decision;
  }
  const bool known_get = path == "/photos" || path == "/health" || path == "/metrics" ||
                         (photo_path && path.size() > photos_prefix.size());
  if ((head.method == "GET" || head.method == "HEAD") && known_get) {
    decision.body_bytes_max = 0;
    return decision;
  }
  if (known_get || photo_path) {
    decision.reply = reply(error_response(405, "method not allowed on " + std::string(path)));
  } else {
    decision.reply = reply(error_response(
        404, "unknown path; try PUT/GET /photos/{id}, GET /photos, /health, /metrics"));
  }
  return decision;
}

net::Reply IngestHandler::handle_request(const net::RequestHead& head, std::string body,
                                         std::any& /*state*/) {
  const std::string_view path = path_of(head.target);
  if (path == "/health") {
    const bool ready = runtime_.ready();
    return reply(json_response(ready ? 200 : 503, {{"ready", ready}}));
  }
  if (path == "/metrics") return reply(json_text_response(200, runtime_.metrics_json()));
  if (path == "/photos") {
    return reply(json_text_response(200, runtime_.pending_json(pending_photos_max)));
  }
  const auto photo_id = s3proto::uri_decode(path.substr(photos_prefix.size()), false);
  if (!photo_id.has_value() || photo_id->empty()) {
    return reply(error_response(400, "the photo id in the path is not valid percent-encoding"));
  }
  if (head.method == "GET" || head.method == "HEAD") {
    int status = 0;
    auto bytes = runtime_.read_photo(*photo_id, status);
    if (!bytes.has_value()) {
      return reply(error_response(status, status == 404 ? "no such photo"
                                          : status == 502
                                              ? "the photo is evicted and the store read failed"
                                              : "the uploader is not running"));
    }
    net::Response response;
    response.headers.emplace_back("Content-Type", "application/octet-stream");
    response.headers.emplace_back("Content-MD5", s3proto::md5_base64(*bytes));
    if (head.method == "HEAD") {
      response.headers.emplace_back("Content-Length", std::to_string(bytes->size()));
    } else {
      response.body = std::move(*bytes);
    }
    return reply(std::move(response));
  }
  // PUT /photos/{id}
  if (body.size() > photo_bytes_max_) {
    return reply(error_response(
        413, "a photo may be at most " + std::to_string(photo_bytes_max_) + " bytes"));
  }
  uploader::PhotoArrival arrival;
  arrival.photo_id = *photo_id;
  bool has_checksum = false;
  for (const auto algorithm : s3proto::all_checksum_algorithms) {
    if (auto value =
            net::find_header_field(head.headers, s3proto::checksum_header_name(algorithm))) {
      arrival.checksum_algorithm = algorithm;
      arrival.checksum_base64 = std::string(*value);
      has_checksum = true;
      break;
    }
  }
  if (!has_checksum) {
    return reply(error_response(
        400,
        "send the photo's checksum: x-amz-checksum-sha256 (or -crc32c, -crc32, -crc64nvme, "
        "-sha1), the base64 of its digest"));
  }
  arrival.bytes = std::move(body);
  const IngestOutcome outcome = runtime_.ingest(std::move(arrival));
  if (outcome.http_status == 200) {
    return reply(json_response(
        200,
        {{"photo_id", *photo_id}, {"object_key", outcome.object_key}, {"acknowledged", true}}));
  }
  net::Response response = error_response(outcome.http_status, outcome.reason);
  if (outcome.retry_after_seconds > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(outcome.retry_after_seconds));
  }
  return reply(std::move(response));
}

net::Response IngestHandler::protocol_error_response(net::ProtocolError error) {
  switch (error) {
    case net::ProtocolError::header_too_large:
      return error_response(431, "request header too large");
    case net::ProtocolError::body_too_large:
      return error_response(
          413, "a photo may be at most " + std::to_string(photo_bytes_max_) + " bytes");
    case net::ProtocolError::malformed:
      break;
  }
  return error_response(400, "malformed HTTP request");
}

}  // namespace s3chaos::photo_uploader
