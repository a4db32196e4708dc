// The fake-s3 server over real loopback sockets: an in-process Server on port 0 and a raw
// socket client that sends exactly the bytes each test writes, so that truncated bodies,
// floods, bad signatures and hostile keys reach the server as an attacker would send them.
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_s3_server/server.hpp"
#include "raw_http.hpp"

namespace {

using namespace s3chaos;
using raw_http::Connection;
using raw_http::Request;

const s3proto::Credentials good{"AKIDTEST", "secret/test+key"};
const s3proto::Credentials other{"AKIDOTHER", "another-secret"};

fake_s3_server::ServerOptions test_options() {
  fake_s3_server::ServerOptions options;
  options.service.credentials = {good, other};
  options.service.admin_token = "admin-token";
  options.service.object_bytes_max = 1 << 20;
  options.http.threads = 2;
  options.http.read_timeout = std::chrono::milliseconds(2000);
  options.http.idle_timeout = std::chrono::milliseconds(5000);
  options.http.hang_max = std::chrono::milliseconds(3000);
  options.http.shutdown_grace = std::chrono::milliseconds(1000);
  return options;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start(test_options()); }

  void start(fake_s3_server::ServerOptions options) {
    server_.reset();
    server_ = std::make_unique<fake_s3_server::Server>(std::move(options));
    server_->start();
    port_ = server_->port();
  }

  // One signed request on a fresh connection.
  raw_http::Response send(const Request& request, const s3proto::Credentials& credentials = good) {
    Connection connection(port_);
    EXPECT_TRUE(connection.ok());
    connection.send(raw_http::signed_request(request, port_, credentials) + request.body);
    return raw_http::read_response(connection, request.method == "HEAD");
  }

  raw_http::Response put(const std::string& path, const std::string& body) {
    return send(Request{"PUT", path, {}, {}, body});
  }
  raw_http::Response get(const std::string& path) { return send(Request{"GET", path, {}, {}, ""}); }

  raw_http::Response admin(const std::string& method, const std::string& target,
                           const std::string& body = "", const std::string& token = "admin-token") {
    Connection connection(port_);
    connection.send(method + " " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    token + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                    body);
    return raw_http::read_response(connection);
  }

  std::unique_ptr<fake_s3_server::Server> server_;
  std::uint16_t port_ = 0;
};

TEST_F(ServerTest, PutGetListRoundTripWithSignedHeaders) {
  // Proves the basic S3 cycle works over the wire with SigV4 header authentication.
  ASSERT_EQ(put("/photos", "").status, 200);
  const auto stored = put("/photos/2008/07/a b.jpg", "jpeg bytes");
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.header("etag").value_or(""), "\"" + s3proto::md5_hex("jpeg bytes") + "\"");
  EXPECT_TRUE(stored.header("date").has_value());
  const auto read = get("/photos/2008/07/a b.jpg");
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(read.body, "jpeg bytes");
  const auto head = send(Request{"HEAD", "/photos/2008/07/a b.jpg", {}, {}, ""});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length").value_or(""), "10");
  const auto listing = send(Request{"GET", "/photos", {{"list-type", "2"}}, {}, ""});
  ASSERT_EQ(listing.status, 200);
  EXPECT_NE(listing.body.find("<Key>2008/07/a b.jpg</Key>"), std::string::npos) << listing.body;
  EXPECT_EQ(get("/photos/missing").error_code(), "NoSuchKey");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  // Proves a connection is reused: three requests, three responses, one socket.
  ASSERT_EQ(put("/keep", "").status, 200);
  Connection connection(port_);
  for (int i = 0; i < 3; ++i) {
    const Request request{"PUT", "/keep/k" + std::to_string(i), {}, {}, "v"};
    ASSERT_TRUE(connection.send(raw_http::signed_request(request, port_, good) + request.body));
    EXPECT_EQ(raw_http::read_response(connection).status, 200);
  }
}

TEST_F(ServerTest, AuthenticationFailuresAreS3Errors) {
  // Proves wrong secrets, unknown keys, stale dates and anonymous requests are refused.
  ASSERT_EQ(put("/auth", "").status, 200);
  const Request request{"GET", "/auth", {}, {}, ""};
  auto response = send(request, s3proto::Credentials{good.access_key_id, "wrong"});
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.error_code(), "SignatureDoesNotMatch");
  response = send(request, s3proto::Credentials{"AKIDUNKNOWN", "x"});
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.error_code(), "InvalidAccessKeyId");
  {
    Connection connection(port_);
    connection.send(raw_http::signed_request(request, port_, good, std::nullopt, std::nullopt,
                                             raw_http::amz_date_now(-3600)));
    response = raw_http::read_response(connection);
    EXPECT_EQ(response.status, 403);
    EXPECT_EQ(response.error_code(), "RequestTimeTooSkewed");
  }
  {
    Connection connection(port_);
    connection.send("GET /auth HTTP/1.1\r\nHost: x\r\n\r\n");
    response = raw_http::read_response(connection);
    EXPECT_EQ(response.status, 403);
    EXPECT_EQ(response.error_code(), "AccessDenied");
  }
  EXPECT_EQ(send(request, other).status, 200);  // a second configured key works
}

TEST_F(ServerTest, AnonymousAccessOnlyWhenEnabled) {
  // Proves --allow-anonymous serves unauthenticated requests (and only then).
  auto options = test_options();
  options.service.allow_anonymous = true;
  start(std::move(options));
  Connection connection(port_);
  connection.send("PUT /anon HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(raw_http::read_response(connection).status, 200);
}

TEST_F(ServerTest, PresignedGetWorksAndExpires) {
  // Proves a presigned URL fetched with no headers but Host returns the object.
  ASSERT_EQ(put("/pre", "").status, 200);
  ASSERT_EQ(put("/pre/k", "presigned body").status, 200);
  s3proto::SigningRequest signing;
  signing.method = "GET";
  signing.path = "/pre/k";
  signing.headers = {{"host", "127.0.0.1:" + std::to_string(port_)}};
  auto target = s3proto::presign_target(signing, good, "us-east-1", raw_http::amz_date_now(), 300);
  Connection connection(port_);
  connection.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                  "\r\n\r\n");
  auto response = raw_http::read_response(connection);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "presigned body");
  // Signed an hour ago for 60 seconds: expired.
  target = s3proto::presign_target(signing, good, "us-east-1", raw_http::amz_date_now(-3600), 60);
  connection.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                  "\r\n\r\n");
  response = raw_http::read_response(connection);
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.error_code(), "AccessDenied");
}

TEST_F(ServerTest, PayloadHashMismatchLeavesTheOldObject) {
  // Proves a body that does not match its signed x-amz-content-sha256 is refused unstored.
  ASSERT_EQ(put("/hash", "").status, 200);
  ASSERT_EQ(put("/hash/k", "original").status, 200);
  Connection connection(port_);
  const Request request{"PUT", "/hash/k", {}, {}, "replaced"};
  connection.send(raw_http::signed_request(request, port_, good, s3proto::sha256_hex("other")) +
                  request.body);
  const auto response = raw_http::read_response(connection);
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.error_code(), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(get("/hash/k").body, "original");
}

TEST_F(ServerTest, UnsignedPayloadIsAccepted) {
  // Proves UNSIGNED-PAYLOAD requests store their body as sent.
  ASSERT_EQ(put("/unsigned", "").status, 200);
  Connection connection(port_);
  const Request request{"PUT", "/unsigned/k", {}, {}, "no hash"};
  connection.send(raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD") +
                  request.body);
  EXPECT_EQ(raw_http::read_response(connection).status, 200);
  EXPECT_EQ(get("/unsigned/k").body, "no hash");
}

// An aws-chunked PUT of `payload` in `mode`, signed; `corrupt` flips a byte of the encoding.
raw_http::Response chunked_put(std::uint16_t port, const std::string& path,
                               const std::string& payload, s3proto::PayloadMode mode,
                               bool corrupt_chunk = false, bool truncate = false) {
  const bool trailer = mode == s3proto::PayloadMode::streaming_unsigned_trailer;
  const std::string content_sha256(trailer ? s3proto::streaming_unsigned_payload_trailer
                                           : s3proto::streaming_signed_payload);
  Request request{"PUT", path, {}, {}, ""};
  request.headers = {{"content-encoding", "aws-chunked"},
                     {"x-amz-decoded-content-length", std::to_string(payload.size())}};
  if (trailer) request.headers.emplace_back("x-amz-trailer", "x-amz-checksum-crc32");
  const std::size_t chunk_bytes = 8192;
  // The signature is needed for the chunk codec: sign once to learn it, then encode.
  s3proto::SigningRequest signing;
  signing.method = "PUT";
  signing.path = path;
  signing.headers = request.headers;
  signing.headers.emplace_back("host", "127.0.0.1:" + std::to_string(port));
  signing.payload_hash = content_sha256;
  const std::string amz_date = raw_http::amz_date_now();
  const auto signed_request = s3proto::sign_request(signing, good, "us-east-1", amz_date);
  s3proto::AwsChunkedEncoderConfig config;
  config.mode = mode;
  if (!trailer) config.signing = s3proto::chunk_signing_context(signed_request);
  if (trailer) config.trailer_checksum = s3proto::ChecksumAlgorithm::crc32;
  std::string encoded = s3proto::encode_aws_chunked(payload, chunk_bytes, config);
  if (corrupt_chunk) encoded[encoded.find("\r\n") + 5] ^= 1;
  const std::uint64_t length = encoded.size();
  if (truncate) encoded.resize(encoded.size() / 2);
  Connection connection(port);
  connection.send(raw_http::signed_request(request, port, good, content_sha256, length, amz_date) +
                  encoded);
  if (truncate) {
    ::shutdown(connection.fd, SHUT_WR);
  }
  return raw_http::read_response(connection, false, 3000);
}

TEST_F(ServerTest, AwsChunkedSignedAndTrailerUploadsStoreTheDecodedBytes) {
  // Proves both streaming modes SDKs use decode to the payload, and a bad chunk or a cut
  // body leaves the previous object untouched.
  ASSERT_EQ(put("/chunked", "").status, 200);
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += static_cast<char>('a' + i % 26);
  auto response =
      chunked_put(port_, "/chunked/signed", payload, s3proto::PayloadMode::streaming_signed);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(get("/chunked/signed").body, payload);
  response = chunked_put(port_, "/chunked/trailer", payload,
                         s3proto::PayloadMode::streaming_unsigned_trailer);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(get("/chunked/trailer").body, payload);
  const auto head =
      send(Request{"HEAD", "/chunked/trailer", {}, {{"x-amz-checksum-mode", "ENABLED"}}, ""});
  EXPECT_EQ(head.header("x-amz-checksum-crc32").value_or(""),
            s3proto::checksum_base64(s3proto::ChecksumAlgorithm::crc32, payload));

  response = chunked_put(port_, "/chunked/signed", "tampered payload of some length",
                         s3proto::PayloadMode::streaming_signed, /*corrupt_chunk=*/true);
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.error_code(), "SignatureDoesNotMatch");
  response = chunked_put(port_, "/chunked/trailer", std::string(30000, 'z'),
                         s3proto::PayloadMode::streaming_unsigned_trailer, false,
                         /*truncate=*/true);
  EXPECT_EQ(response.status, 0);  // the connection just closes: nothing to answer
  EXPECT_EQ(get("/chunked/signed").body, payload);
  EXPECT_EQ(get("/chunked/trailer").body, payload);
}

TEST_F(ServerTest, ExpectContinueSendsContinueOnlyForAcceptedRequests) {
  // Proves 100 Continue is sent before the body when the request is acceptable, and a refused
  // request gets its error without the body ever being asked for.
  ASSERT_EQ(put("/expect", "").status, 200);
  Request request{"PUT", "/expect/k", {}, {{"Expect", "100-continue"}}, "continued body"};
  Connection connection(port_);
  connection.send(raw_http::signed_request(request, port_, good));
  auto interim = raw_http::read_response(connection);
  ASSERT_EQ(interim.status, 100);
  connection.send(request.body);
  EXPECT_EQ(raw_http::read_response(connection).status, 200);
  EXPECT_EQ(get("/expect/k").body, "continued body");

  // An empty body still gets its 100 Continue before the final answer, and the connection
  // stays usable (botocore sends this for every empty file and stalls without the 100).
  Request empty{"PUT", "/expect/empty", {}, {{"Expect", "100-continue"}}, ""};
  Connection empty_connection(port_);
  empty_connection.send(raw_http::signed_request(empty, port_, good));
  EXPECT_EQ(raw_http::read_response(empty_connection).status, 100);
  EXPECT_EQ(raw_http::read_response(empty_connection).status, 200);
  Request after{"PUT", "/expect/after", {}, {}, "next on the same connection"};
  empty_connection.send(raw_http::signed_request(after, port_, good) + after.body);
  EXPECT_EQ(raw_http::read_response(empty_connection).status, 200);
  EXPECT_EQ(get("/expect/after").body, "next on the same connection");

  Connection refused(port_);
  refused.send(raw_http::signed_request(request, port_, s3proto::Credentials{"AKIDTEST", "bad"}));
  const auto answer = raw_http::read_response(refused);
  EXPECT_EQ(answer.status, 403);
}

TEST_F(ServerTest, TruncatedBodyOrHangUpNeverReplacesTheObject) {
  // Proves a client that sends fewer bytes than Content-Length, then hangs up or stalls, leaves
  // the stored object exactly as it was.
  ASSERT_EQ(put("/cut", "").status, 200);
  ASSERT_EQ(put("/cut/k", "the original").status, 200);
  const std::string body(1000, 'x');
  {
    Connection connection(port_);
    const Request request{"PUT", "/cut/k", {}, {}, body};
    connection.send(raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD") +
                    body.substr(0, 500));
    connection.close();  // hang up mid-body
  }
  {
    Connection connection(port_);
    const Request request{"PUT", "/cut/k", {}, {}, body};
    connection.send(raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD") +
                    body.substr(0, 999));
    ::shutdown(connection.fd, SHUT_WR);  // half-close: fewer bytes than announced
    EXPECT_EQ(raw_http::read_response(connection, false, 3000).status, 0);
  }
  {
    // Stalls: the server's read time-out (2 s here) closes the connection.
    Connection connection(port_);
    const Request request{"PUT", "/cut/k", {}, {}, body};
    connection.send(raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD") +
                    body.substr(0, 10));
    EXPECT_TRUE(connection.closed_by_peer(5000));
  }
  EXPECT_EQ(get("/cut/k").body, "the original");
}

TEST_F(ServerTest, HostileKeysAreRefusedOrStoredVerbatim) {
  // Proves keys with NUL or over 1024 bytes are S3 errors, while '..' and '/' are plain key
  // bytes (S3 semantics) that never act as paths.
  ASSERT_EQ(put("/keys", "").status, 200);
  EXPECT_EQ(put("/keys/../../etc/passwd", "dots").status, 200);
  EXPECT_EQ(get("/keys/../../etc/passwd").body, "dots");
  EXPECT_EQ(put("/keys/a//b/", "slashes").status, 200);
  EXPECT_EQ(get("/keys/a//b/").body, "slashes");
  auto response = put(std::string("/keys/nul\0byte", 14), "nul");
  EXPECT_EQ(response.status, 400) << response.body;
  response = put("/keys/" + std::string(1025, 'k'), "long");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.error_code(), "KeyTooLongError");
  EXPECT_EQ(put("/keys/" + std::string(1024, 'k'), "longest").status, 200);
}

TEST_F(ServerTest, HeaderFloodsGarbageAndOversizeBodiesGetErrorsAndTheServerLives) {
  // Proves malformed and oversized requests get an S3 error or a closed connection, and the
  // server keeps serving afterwards.
  ASSERT_EQ(put("/bad", "").status, 200);
  {
    Connection connection(port_);
    std::string flood = "GET /bad HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 5000; ++i) flood += "X-Flood-" + std::to_string(i) + ": yyyyyyyyyy\r\n";
    connection.send(flood + "\r\n");
    const auto response = raw_http::read_response(connection);
    EXPECT_TRUE(response.status == 400 || response.status == 0);
    if (response.status == 400) {
      EXPECT_EQ(response.error_code(), "RequestHeaderSectionTooLarge");
    }
  }
  {
    Connection connection(port_);
    connection.send("THIS IS NOT HTTP\r\n\r\n");
    EXPECT_EQ(raw_http::read_response(connection).status, 400);
  }
  {
    Connection connection(port_);
    const Request request{"PUT", "/bad/big", {}, {}, ""};
    connection.send(
        raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD", std::uint64_t{2} << 20));
    const auto response = raw_http::read_response(connection);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.error_code(), "EntityTooLarge");
  }
  {
    // A chunked (Transfer-Encoding) body that grows past the limit is cut.
    Connection connection(port_);
    Request request{"PUT", "/bad/chunked", {}, {{"Transfer-Encoding", "chunked"}}, ""};
    std::string wire = raw_http::signed_request(request, port_, good, "UNSIGNED-PAYLOAD");
    wire.erase(wire.find("Content-Length"), std::string("Content-Length: 0\r\n").size());
    connection.send(wire);
    const std::string chunk(64 * 1024, 'c');
    for (int i = 0; i < 40; ++i) {
      if (!connection.send("10000\r\n" + chunk + "\r\n")) break;
    }
    const auto response = raw_http::read_response(connection);
    EXPECT_TRUE(response.status == 400 || response.status == 0);
  }
  EXPECT_EQ(put("/bad/after", "still alive").status, 200);
  EXPECT_EQ(get("/bad/big").status, 404);
}

TEST_F(ServerTest, VirtualHostedStyleRoutesToTheBucket) {
  // Proves Host: bucket.localhost:port is the same bucket as the path /bucket.
  ASSERT_EQ(put("/vhost", "").status, 200);
  const std::string host = "vhost.localhost:" + std::to_string(port_);
  Connection connection(port_);
  Request request{"PUT", "/k", {}, {}, "virtual"};
  connection.send(raw_http::signed_request(request, port_, good, std::nullopt, std::nullopt,
                                           raw_http::amz_date_now(), host) +
                  request.body);
  ASSERT_EQ(raw_http::read_response(connection).status, 200);
  EXPECT_EQ(get("/vhost/k").body, "virtual");
}

TEST_F(ServerTest, ConcurrentConnectionsAllSucceed) {
  // Proves several clients at once each get their own objects back.
  ASSERT_EQ(put("/many", "").status, 200);
  constexpr int clients = 8;
  constexpr int requests_per_client = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      Connection connection(port_);
      for (int i = 0; i < requests_per_client; ++i) {
        const std::string key = "/many/c" + std::to_string(c) + "-" + std::to_string(i);
        const std::string body = "body " + key;
        Request put_request{"PUT", key, {}, {}, body};
        connection.send(raw_http::signed_request(put_request, port_, good) + body);
        if (raw_http::read_response(connection).status != 200) ++failures;
        Request get_request{"GET", key, {}, {}, ""};
        connection.send(raw_http::signed_request(get_request, port_, good));
        if (raw_http::read_response(connection).body != body) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ServerTest, SlowHeaderIsCutByTheReadTimeout) {
  // Proves a client that starts a request and never finishes its header is disconnected.
  Connection connection(port_);
  connection.send("GET /slow HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(connection.closed_by_peer(6000));
}

TEST_F(ServerTest, AdminApiReplacesThePlanKillsAndReportsTheTruth) {
  // Proves the admin API: authenticated; a replaced plan's request windows count from the
  // replacement; a death loses a write acknowledged under a durability lag; the truth says so.
  EXPECT_EQ(admin("GET", "/_s3chaos/status", "", "wrong").status, 401);
  ASSERT_EQ(put("/adm", "").status, 200);
  const std::string plan = R"({"rules": [
      {"name": "first two fail", "window": {"first_request": 1, "last_request": 2},
       "effect": {"type": "error", "code": "ServiceUnavailable"}},
      {"name": "lag", "match": {"key_prefix": "volatile"},
       "effect": {"type": "durability_lag", "lag_ms": 600000}}]})";
  auto response = admin("PUT", "/_s3chaos/plan", plan);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(put("/adm/k", "x").error_code(), "ServiceUnavailable");
  EXPECT_EQ(put("/adm/k", "x").error_code(), "ServiceUnavailable");
  EXPECT_EQ(put("/adm/durable", "kept").status, 200);
  EXPECT_EQ(put("/adm/volatile", "promised").status, 200);
  EXPECT_EQ(get("/adm/volatile").body, "promised");  // served while volatile

  auto truth = nlohmann::json::parse(admin("GET", "/_s3chaos/truth").body);
  ASSERT_EQ(truth["pending"].size(), 1u);
  EXPECT_EQ(truth["pending"][0]["key"], "volatile");

  response = admin("POST", "/_s3chaos/death");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_FALSE(nlohmann::json::parse(response.body)["up"].get<bool>());
  EXPECT_EQ(get("/adm/durable").status, 0);  // refused while dead
  ASSERT_EQ(admin("POST", "/_s3chaos/restart").status, 200);
  EXPECT_EQ(get("/adm/durable").body, "kept");
  EXPECT_EQ(get("/adm/volatile").status, 404);
  truth = nlohmann::json::parse(admin("GET", "/_s3chaos/truth").body);
  ASSERT_EQ(truth["lost"].size(), 1u);
  EXPECT_EQ(truth["lost"][0]["key"], "volatile");
  EXPECT_EQ(truth["lost"][0]["sha256"], s3proto::sha256_hex("promised"));

  EXPECT_EQ(admin("PUT", "/_s3chaos/plan", "{\"rules\": [{}]}").status, 400);
  EXPECT_EQ(admin("GET", "/_s3chaos/nothing").status, 404);
}

TEST_F(ServerTest, TransportFaultsCloseResetOrHoldTheConnection) {
  // Proves refuse, reset and hang fates reach the client as a closed connection, a reset and
  // a connection held without an answer, and latency delays the answer.
  ASSERT_EQ(put("/tfx", "").status, 200);
  const std::string plan = R"({"rules": [
      {"window": {"first_request": 1, "last_request": 1}, "effect": {"type": "refuse"}},
      {"window": {"first_request": 2, "last_request": 2}, "effect": {"type": "reset"}},
      {"window": {"first_request": 3, "last_request": 3}, "effect": {"type": "hang"}},
      {"window": {"first_request": 4, "last_request": 4},
       "effect": {"type": "latency", "distribution": "fixed", "ms": 300}}]})";
  ASSERT_EQ(admin("PUT", "/_s3chaos/plan", plan).status, 200);
  EXPECT_EQ(get("/tfx/a").status, 0);
  EXPECT_EQ(get("/tfx/a").status, 0);
  {
    Connection connection(port_);
    const Request request{"GET", "/tfx/a", {}, {}, ""};
    connection.send(raw_http::signed_request(request, port_, good));
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(raw_http::read_response(connection, false, 1000).status, 0);  // nothing for 1 s
    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  }
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(get("/tfx/a").error_code(), "NoSuchKey");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(290));
}

TEST_F(ServerTest, StopIsGracefulAndBounded) {
  // Proves stop() returns promptly with idle keep-alive connections open.
  Connection idle(port_);
  ASSERT_TRUE(idle.ok());
  const auto started = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
  EXPECT_TRUE(idle.closed_by_peer(1000));
}

}  // namespace
