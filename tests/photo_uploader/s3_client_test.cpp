// The S3 client's translation, without sockets: every request it builds verifies under
// s3proto's SigV4 verifier (the one the fake S3 uses), carries the digests the core asked for,
// and every HTTP outcome maps to the response the core expects.
#include <gtest/gtest.h>

#include "photo_uploader/s3_client.hpp"
#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace s3chaos::photo_uploader {
namespace {

using uploader::ObjectStoreOp;
using uploader::ObjectStoreRequest;
using uploader::ResponseOutcome;
using uploader::TransportError;

constexpr const char* amz_date = "20080720T084000Z";

S3Endpoint endpoint(bool virtual_hosted = false) {
  S3Endpoint e;
  e.endpoint = {"127.0.0.1", 9000};
  e.region = "us-west-2";
  e.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
  e.virtual_hosted = virtual_hosted;
  return e;
}

ObjectStoreRequest request(ObjectStoreOp op) {
  ObjectStoreRequest r;
  r.id = 7;
  r.op = op;
  r.bucket = "photos";
  r.key = "photos/000000000042 a+b";
  if (op == ObjectStoreOp::put) {
    r.body = "the photo's bytes";
    r.content_md5 = s3proto::md5_base64(r.body);
    r.checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
    r.checksum_base64 = s3proto::checksum_base64(*r.checksum_algorithm, r.body);
  }
  r.timeout_ns = sim::from_seconds(5);
  return r;
}

s3proto::VerifyResult verify(const net::HttpClientRequest& http, std::string_view secret) {
  s3proto::HeaderList headers(http.headers.begin(), http.headers.end());
  s3proto::VerifyOptions options;
  options.now_amz_date = amz_date;
  options.expected_region = "us-west-2";
  return s3proto::verify_request(
      {http.method, http.target, &headers},
      [secret](std::string_view key) -> std::optional<std::string> {
        if (key == "AKIDEXAMPLE") return std::string(secret);
        return std::nullopt;
      },
      options);
}

std::optional<std::string> header(const net::HttpClientRequest& http, std::string_view name) {
  for (const auto& [key, value] : http.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Each operation's request verifies with the right secret and fails with a wrong one.
TEST(S3Request, EveryOperationIsSignedVerifiably) {
  for (auto op : {ObjectStoreOp::put, ObjectStoreOp::head, ObjectStoreOp::get, ObjectStoreOp::list,
                  ObjectStoreOp::delete_object}) {
    for (bool virtual_hosted : {false, true}) {
      const auto http = build_s3_request(request(op), endpoint(virtual_hosted), amz_date);
      const auto good = verify(http, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
      ASSERT_TRUE(std::holds_alternative<s3proto::VerifiedRequest>(good))
          << uploader::object_store_op_name(op) << " " << std::get<s3proto::S3Error>(good).code;
      const auto& verified = std::get<s3proto::VerifiedRequest>(good);
      EXPECT_EQ(verified.payload_mode, s3proto::PayloadMode::sha256_hex);
      EXPECT_EQ(verified.payload_sha256_hex, s3proto::sha256_hex(http.body));
      const auto bad = verify(http, "another secret");
      ASSERT_TRUE(std::holds_alternative<s3proto::S3Error>(bad));
      EXPECT_EQ(std::get<s3proto::S3Error>(bad).code, "SignatureDoesNotMatch");
    }
  }
}

// PutObject carries the body, Content-MD5 and the client's checksum; the key is encoded once.
TEST(S3Request, PutCarriesTheDigestsTheCoreAskedFor) {
  const auto r = request(ObjectStoreOp::put);
  const auto http = build_s3_request(r, endpoint(), amz_date);
  EXPECT_EQ(http.method, "PUT");
  EXPECT_EQ(http.target, "/photos/photos/000000000042%20a%2Bb");
  EXPECT_EQ(http.body, r.body);
  EXPECT_EQ(header(http, "content-md5"), r.content_md5);
  EXPECT_EQ(header(http, "x-amz-checksum-crc32c"), r.checksum_base64);
  EXPECT_EQ(header(http, "host"), "127.0.0.1:9000");
  const auto virtual_http = build_s3_request(r, endpoint(true), amz_date);
  EXPECT_EQ(virtual_http.target, "/photos/000000000042%20a%2Bb");
  EXPECT_EQ(header(virtual_http, "host"), "photos.127.0.0.1:9000");
  const auto list = build_s3_request(request(ObjectStoreOp::list), endpoint(), amz_date);
  EXPECT_EQ(list.target, "/photos?list-type=2&prefix=photos%2F000000000042%20a%2Bb");
}

net::HttpClientResult answer(int status, net::HeaderFields headers, std::string body) {
  net::HttpClientResult result;
  result.response.status = status;
  result.response.headers = std::move(headers);
  result.response.body = std::move(body);
  return result;
}

// HTTP outcomes become what the core reads: ETag, size, checksum, listed keys, S3 error codes,
// and transport failures split into "nothing sent" and "unknown outcome".
TEST(S3Response, OutcomesMapToTheCoresView) {
  const auto put =
      parse_s3_response(request(ObjectStoreOp::put), answer(200, {{"ETag", "\"abc\""}}, ""));
  EXPECT_EQ(put.outcome, ResponseOutcome::ok);
  EXPECT_EQ(put.etag, "\"abc\"");
  EXPECT_EQ(put.id, 7u);

  const auto head = parse_s3_response(
      request(ObjectStoreOp::head),
      answer(
          200,
          {{"etag", "\"abc\""}, {"Content-Length", "1234"}, {"x-amz-checksum-crc32c", "AAAAAA=="}},
          ""));
  EXPECT_EQ(head.size_bytes, 1234u);
  EXPECT_EQ(head.checksum_base64, "AAAAAA==");

  const auto get = parse_s3_response(request(ObjectStoreOp::get), answer(200, {}, "bytes"));
  EXPECT_EQ(get.body, "bytes");
  EXPECT_EQ(get.size_bytes, 5u);

  const auto list = parse_s3_response(
      request(ObjectStoreOp::list),
      answer(200, {},
             "<?xml version=\"1.0\"?><ListBucketResult><Contents><Key>a</Key></Contents>"
             "<Contents><Key>b</Key></Contents></ListBucketResult>"));
  EXPECT_EQ(list.listed_keys, (std::vector<std::string>{"a", "b"}));
  const auto garbage = parse_s3_response(request(ObjectStoreOp::list), answer(200, {}, "<oops"));
  EXPECT_EQ(garbage.outcome, ResponseOutcome::transport_error);

  const auto missing = parse_s3_response(request(ObjectStoreOp::head), answer(404, {}, ""));
  EXPECT_EQ(missing.outcome, ResponseOutcome::http_error);
  EXPECT_EQ(missing.http_status, 404);
  EXPECT_EQ(missing.error_code, "NoSuchKey");
  const auto slow = parse_s3_response(
      request(ObjectStoreOp::put),
      answer(503, {}, "<Error><Code>SlowDown</Code><Message>m</Message></Error>"));
  EXPECT_EQ(slow.http_status, 503);
  EXPECT_EQ(slow.error_code, "SlowDown");

  const std::pair<net::HttpClientError, TransportError> transports[] = {
      {net::HttpClientError::connection_refused, TransportError::connection_refused},
      {net::HttpClientError::resolve_failed, TransportError::connection_refused},
      {net::HttpClientError::queue_full, TransportError::connection_refused},
      {net::HttpClientError::timeout, TransportError::timeout},
      {net::HttpClientError::connection_reset, TransportError::connection_reset},
      {net::HttpClientError::protocol_error, TransportError::connection_reset},
  };
  for (const auto& [error, expected] : transports) {
    net::HttpClientResult failed;
    failed.error = error;
    const auto response = parse_s3_response(request(ObjectStoreOp::put), failed);
    EXPECT_EQ(response.outcome, ResponseOutcome::transport_error);
    EXPECT_EQ(response.transport_error, expected) << net::http_client_error_name(error);
  }
}

TEST(S3Request, AmzDateFromUnixSeconds) {
  EXPECT_EQ(amz_date_from_unix_seconds(1216543200), "20080720T084000Z");
  EXPECT_EQ(amz_date_from_unix_seconds(0), "19700101T000000Z");
}

// URLs: http only, with a port and an optional path prefix; clear errors otherwise.
TEST(HttpUrl, ParsesEndpointsAndRejectsTheRest) {
  std::string prefix;
  std::string error;
  auto e = net::parse_http_url("http://127.0.0.1:9000", prefix, error);
  ASSERT_TRUE(e.has_value()) << error;
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 9000);
  EXPECT_EQ(prefix, "");
  e = net::parse_http_url("http://s3.us-west-2.amazonaws.com/", prefix, error);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->host_header(), "s3.us-west-2.amazonaws.com");
  e = net::parse_http_url("http://[::1]:8080/s3", prefix, error);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(prefix, "/s3");
  EXPECT_FALSE(net::parse_http_url("https://s3.amazonaws.com", prefix, error).has_value());
  EXPECT_NE(error.find("https"), std::string::npos);
  EXPECT_FALSE(net::parse_http_url("http://host:99999", prefix, error).has_value());
  EXPECT_FALSE(net::parse_http_url("http://:80", prefix, error).has_value());
  EXPECT_FALSE(net::parse_http_url("ftp://x", prefix, error).has_value());
}

}  // namespace
}  // namespace s3chaos::photo_uploader
