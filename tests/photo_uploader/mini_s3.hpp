// A small S3-compatible endpoint for the photo_uploader tests, on net::HttpServer at
// 127.0.0.1 port 0: it checks every request's SigV4 signature (s3proto's verifier), the
// x-amz-content-sha256, Content-MD5 and x-amz-checksum-* of PUT bodies, and serves PutObject,
// HeadObject, GetObject, ListObjectsV2 and DeleteObject from memory. Not fake_s3 (no faults,
// no durability model): the runtime's tests need a correct store, and a switch to make it
// refuse everything (an outage).
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "net/http_server.hpp"
#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace s3chaos::photo_uploader::testing {

inline constexpr const char* mini_s3_access_key = "AKIDMINIS3TEST";
inline constexpr const char* mini_s3_secret_key = "mini-s3-secret-key";

class MiniS3 final : public net::HttpHandler {
 public:
  MiniS3() : server_(options(), *this) { server_.start(); }
  ~MiniS3() override { server_.stop(); }

  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  // While true every request gets 503 SlowDown.
  std::atomic<bool> down{false};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bad_signatures{0};
  std::atomic<std::uint64_t> puts{0};

  std::map<std::string, std::string> objects(const std::string& bucket) {
    std::lock_guard lock(mutex_);
    std::map<std::string, std::string> result;
    for (const auto& [where, bytes] : objects_) {
      if (where.first == bucket) result[where.second] = bytes;
    }
    return result;
  }

  net::HeadDecision check_head(const net::RequestHead&) override {
    net::HeadDecision decision;
    decision.body_bytes_max = 64ull << 20;
    return decision;
  }

  net::Reply handle_request(const net::RequestHead& head, std::string body, std::any&) override {
    ++requests;
    if (down) return reply(error(503, "SlowDown"));
    s3proto::VerifyOptions verify;
    const std::string now = now_amz_date();
    verify.now_amz_date = now;
    const s3proto::VerifyRequest request{head.method, head.target, &head.headers};
    const auto verified = s3proto::verify_request(
        request,
        [](std::string_view key) -> std::optional<std::string> {
          if (key == mini_s3_access_key) return std::string(mini_s3_secret_key);
          return std::nullopt;
        },
        verify);
    if (const auto* failure = std::get_if<s3proto::S3Error>(&verified)) {
      ++bad_signatures;
      return reply(error(failure->http_status, failure->code));
    }
    const auto& signature = std::get<s3proto::VerifiedRequest>(verified);
    if (signature.payload_mode == s3proto::PayloadMode::sha256_hex &&
        s3proto::sha256_hex(body) != signature.payload_sha256_hex) {
      return reply(error(400, "XAmzContentSHA256Mismatch"));
    }
    const std::string target = head.target;
    const std::size_t question = target.find('?');
    const auto path = s3proto::uri_decode(target.substr(0, question), false);
    if (!path.has_value() || path->size() < 2) return reply(error(400, "InvalidURI"));
    const std::size_t slash = path->find('/', 1);
    const std::string bucket =
        path->substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    const std::string key = slash == std::string::npos ? "" : path->substr(slash + 1);
    std::lock_guard lock(mutex_);
    if (key.empty()) {
      if (head.method != "GET") return reply(error(405, "MethodNotAllowed"));
      const auto query = s3proto::parse_query_string(
          question == std::string::npos ? "" : target.substr(question + 1));
      std::string prefix;
      for (const auto& [name, value] : query.value_or(s3proto::QueryList{})) {
        if (name == "prefix") prefix = value;
      }
      std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>";
      for (const auto& [where, bytes] : objects_) {
        if (where.first == bucket && where.second.starts_with(prefix)) {
          xml += "<Contents><Key>" + where.second + "</Key><Size>" + std::to_string(bytes.size()) +
                 "</Size></Contents>";
        }
      }
      xml += "</ListBucketResult>";
      return reply(net::Response{200, {{"Content-Type", "application/xml"}}, xml});
    }
    const std::pair<std::string, std::string> where{bucket, key};
    if (head.method == "PUT") {
      ++puts;
      auto md5 = net::find_header_field(head.headers, "content-md5");
      if (!md5.has_value() || *md5 != s3proto::md5_base64(body)) {
        return reply(error(400, "BadDigest"));
      }
      for (const auto algorithm : s3proto::all_checksum_algorithms) {
        auto value = net::find_header_field(head.headers, s3proto::checksum_header_name(algorithm));
        if (value.has_value() && *value != s3proto::checksum_base64(algorithm, body)) {
          return reply(error(400, "BadDigest"));
        }
      }
      const std::string etag = "\"" + s3proto::md5_hex(body) + "\"";
      objects_[where] = std::move(body);
      return reply(net::Response{200, {{"ETag", etag}}, ""});
    }
    auto it = objects_.find(where);
    if (head.method == "DELETE") {
      if (it != objects_.end()) objects_.erase(it);
      return reply(net::Response{204, {}, ""});
    }
    if (it == objects_.end()) {
      if (head.method == "HEAD") return reply(net::Response{404, {}, ""});
      return reply(error(404, "NoSuchKey"));
    }
    net::Response response{200,
                           {{"ETag", "\"" + s3proto::md5_hex(it->second) + "\""},
                            {"Content-Type", "application/octet-stream"}},
                           ""};
    if (head.method == "HEAD") {
      response.headers.emplace_back("Content-Length", std::to_string(it->second.size()));
    } else {
      response.body = it->second;
    }
    return reply(std::move(response));
  }

  net::Response protocol_error_response(net::ProtocolError) override {
    return error(400, "MalformedRequest");
  }

 private:
  static net::HttpServerOptions options() {
    net::HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    return options;
  }

  static std::string now_amz_date() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
  }

  static net::Response error(int status, const std::string& code) {
    return net::Response{status,
                         {{"Content-Type", "application/xml"}},
                         "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                             "</Code><Message>" + code + "</Message></Error>"};
  }

  static net::Reply reply(net::Response response) {
    return net::Reply::respond_with(std::move(response));
  }

  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, std::string> objects_;
  net::HttpServer server_;
};

}  // namespace s3chaos::photo_uploader::testing
