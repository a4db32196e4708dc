// Proves SigV4 signing against AWS's published S3 examples, and verification as S3 does it:
// round trips verify, and every change to a signed part, a wrong key, or a stale date is
// rejected with S3's error code; random mutations never crash the verifier.
#include "s3proto/sigv4.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cctype>

#include "s3proto/checksum.hpp"
#include "s3proto_property.hpp"

namespace s3chaos::s3proto {
namespace {

using testing::check_property;

// The example credentials and time every AWS S3 SigV4 example uses.
const Credentials example_credentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
constexpr std::string_view example_date = "20130524T000000Z";
constexpr std::string_view example_host = "examplebucket.s3.amazonaws.com";

std::optional<std::string> example_lookup(std::string_view access_key_id) {
  if (access_key_id == example_credentials.access_key_id) {
    return example_credentials.secret_access_key;
  }
  return std::nullopt;
}

// A signed request as a server receives it.
struct WireRequest {
  std::string method;
  std::string target;
  HeaderList headers;
};

WireRequest to_wire(const SigningRequest& request, const SignedRequest& signed_request) {
  WireRequest wire{request.method, signed_request.request_target, request.headers};
  wire.headers.emplace_back("X-Amz-Date", signed_request.amz_date);
  wire.headers.emplace_back("X-Amz-Content-Sha256", signed_request.content_sha256);
  wire.headers.emplace_back("Authorization", signed_request.authorization);
  return wire;
}

VerifyResult verify_wire(const WireRequest& wire, std::string_view now = example_date,
                         const SecretLookup& lookup = example_lookup) {
  VerifyOptions options;
  options.now_amz_date = now;
  return verify_request(VerifyRequest{wire.method, wire.target, &wire.headers}, lookup, options);
}

std::string error_code(const VerifyResult& result) {
  if (const auto* error = std::get_if<S3Error>(&result)) return error->code;
  return "OK";
}

SigningRequest example_get_object() {
  SigningRequest request;
  request.method = "GET";
  request.path = "/test.txt";
  request.headers = {{"Host", std::string(example_host)}, {"Range", "bytes=0-9"}};
  request.payload_hash = std::string(empty_payload_sha256_hex);
  return request;
}

TEST(SigV4Examples, GetObjectWithRange) {
  // S3 API reference, "Example: GET Object".
  const SignedRequest signed_request =
      sign_request(example_get_object(), example_credentials, "us-east-1", example_date);
  EXPECT_EQ(signed_request.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(signed_request.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(signed_request.request_target, "/test.txt");
}

TEST(SigV4Examples, PutObjectEncodesTheKeyOnce) {
  // "Example: PUT Object": the key test$file.text becomes /test%24file.text, and Date is signed.
  SigningRequest request;
  request.method = "PUT";
  request.path = "/test$file.text";
  request.headers = {{"Host", std::string(example_host)},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  request.payload_hash = sha256_hex("Welcome to Amazon S3.");
  EXPECT_EQ(request.payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  EXPECT_EQ(signed_request.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(signed_request.request_target, "/test%24file.text");
  // A client that sends the '$' unencoded still verifies: the server encodes once, as S3 does.
  WireRequest wire = to_wire(request, signed_request);
  wire.target = "/test$file.text";
  EXPECT_EQ(error_code(verify_wire(wire)), "OK");
}

TEST(SigV4Examples, GetBucketLifecycleAndListObjects) {
  // "Example: GET Bucket Lifecycle" (a value-less parameter) and "Example: Get Bucket (List
  // Objects)" (parameters sorted).
  SigningRequest lifecycle;
  lifecycle.method = "GET";
  lifecycle.path = "/";
  lifecycle.query = {{"lifecycle", ""}};
  lifecycle.headers = {{"Host", std::string(example_host)}};
  lifecycle.payload_hash = std::string(empty_payload_sha256_hex);
  EXPECT_EQ(sign_request(lifecycle, example_credentials, "us-east-1", example_date).signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");

  SigningRequest list = lifecycle;
  list.query = {{"prefix", "J"}, {"max-keys", "2"}};
  const SignedRequest signed_list =
      sign_request(list, example_credentials, "us-east-1", example_date);
  EXPECT_EQ(signed_list.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  EXPECT_EQ(signed_list.request_target, "/?max-keys=2&prefix=J");
}

TEST(SigV4Examples, PresignedGetObject) {
  // "Example: presigned URL": GET /test.txt valid for 86400 s, only host signed.
  SigningRequest request;
  request.method = "GET";
  request.path = "/test.txt";
  request.headers = {{"Host", std::string(example_host)}};
  const std::string target =
      presign_target(request, example_credentials, "us-east-1", example_date, 86400);
  EXPECT_EQ(target,
            "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");

  const HeaderList headers = {{"Host", std::string(example_host)}};
  VerifyOptions options;
  options.now_amz_date = "20130524T235959Z";
  const auto ok = verify_request({"GET", target, &headers}, example_lookup, options);
  ASSERT_EQ(error_code(ok), "OK");
  EXPECT_TRUE(std::get<VerifiedRequest>(ok).presigned);
  EXPECT_EQ(std::get<VerifiedRequest>(ok).payload_mode, PayloadMode::unsigned_payload);

  options.now_amz_date = "20130525T000001Z";
  const auto expired = verify_request({"GET", target, &headers}, example_lookup, options);
  ASSERT_EQ(error_code(expired), "AccessDenied");
  EXPECT_EQ(std::get<S3Error>(expired).message, "Request has expired");
  EXPECT_EQ(std::get<S3Error>(expired).http_status, 403);

  options.now_amz_date = "20130524T000000Z";
  const std::string tampered = target.substr(0, 1) + "x" + target.substr(1);
  EXPECT_EQ(error_code(verify_request({"GET", tampered, &headers}, example_lookup, options)),
            "SignatureDoesNotMatch");
  const std::string too_long = [&] {
    std::string text = target;
    text.replace(text.find("86400"), 5, "604801");
    return text;
  }();
  EXPECT_EQ(error_code(verify_request({"GET", too_long, &headers}, example_lookup, options)),
            "AuthorizationQueryParametersError");
}

TEST(SigV4Examples, StreamingSeedSignature) {
  // "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
  // Chunks": the seed signature of a 66560-byte aws-chunked upload.
  SigningRequest request;
  request.method = "PUT";
  request.path = "/examplebucket/chunkObject.txt";
  request.headers = {{"Host", "s3.amazonaws.com"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                     {"Content-Encoding", "aws-chunked"},
                     {"x-amz-decoded-content-length", "66560"},
                     {"Content-Length", "66824"}};
  request.payload_hash = std::string(streaming_signed_payload);
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  EXPECT_EQ(signed_request.signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  const auto verified = verify_wire(to_wire(request, signed_request));
  ASSERT_EQ(error_code(verified), "OK");
  EXPECT_EQ(std::get<VerifiedRequest>(verified).payload_mode, PayloadMode::streaming_signed);
  EXPECT_EQ(std::get<VerifiedRequest>(verified).signature, signed_request.signature);
  EXPECT_EQ(std::get<VerifiedRequest>(verified).signing_key, signed_request.signing_key);
  EXPECT_EQ(std::get<VerifiedRequest>(verified).scope, "20130524/us-east-1/s3/aws4_request");
}

TEST(SigV4CrossCheck, RequestsSignedByBotocoreVerify) {
  // Requests signed by botocore 1.43 (the AWS CLI's and boto3's signer) for a key with reserved
  // characters, an unsigned User-Agent, a header value with inner spaces, and a presigned GET of
  // a UTF-8 key: our verifier accepts each, and rejects them one second past their lifetime.
  const SecretLookup lookup = [](std::string_view key) -> std::optional<std::string> {
    if (key == "AKTEST") return "secret/with+chars";
    return std::nullopt;
  };
  VerifyOptions options;
  options.now_amz_date = "20261125T131644Z";
  options.expected_region = "us-west-2";
  const HeaderList put_headers = {
      {"x-amz-meta-note", "  two  spaces "},
      {"User-Agent", "x"},
      {"X-Amz-Date", "20261125T131644Z"},
      {"X-Amz-Content-SHA256", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"},
      {"Authorization",
       "AWS4-HMAC-SHA256 Credential=AKTEST/20261125/us-west-2/s3/aws4_request, "
       "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-note, "
       "Signature=379d06f96b47aaf3fa931527997702d07428df56e7714b2b92bbc9e690b974df"},
      {"Content-Length", "11"},
      {"Host", "localhost:9000"}};
  const std::string put_target =
      "/bucket/a%20b/c%24d%2Be%3Df%26g.txt?prefix=a%20b%2F%2B&list-type=2&empty=";
  const auto put = verify_request({"PUT", put_target, &put_headers}, lookup, options);
  ASSERT_EQ(error_code(put), "OK");
  EXPECT_EQ(std::get<VerifiedRequest>(put).payload_sha256_hex, sha256_hex("hello world"));

  const HeaderList host = {{"Host", "localhost:9000"}};
  const std::string presigned_target =
      "/bucket/%C3%BCn%C3%AF/%C3%A7%C3%B8d%C3%A9~x?X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKTEST%2F20261125%2Fus-west-2%2Fs3%2Faws4_request"
      "&X-Amz-Date=20261125T131644Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host"
      "&X-Amz-Signature=9151527afd5af615ba9b8f62101ac2ddd0b05b4ff05b64711fdbaf8e7d7cbdd1";
  EXPECT_EQ(error_code(verify_request({"GET", presigned_target, &host}, lookup, options)), "OK");
  options.now_amz_date = "20261125T133145Z";
  EXPECT_EQ(error_code(verify_request({"GET", presigned_target, &host}, lookup, options)),
            "AccessDenied");
}

TEST(SigV4Encoding, SegmentsAreEncodedOnceAndQueryIsSorted) {
  EXPECT_EQ(canonical_uri("/photos/a b/%/ü~"), "/photos/a%20b/%25/%C3%BC~");
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_query_string({{"b", "2"}, {"a", "x y"}, {"a", "/"}}), "a=%2F&a=x%20y&b=2");
  EXPECT_EQ(uri_decode("%41%zz", false), std::nullopt);
  EXPECT_EQ(uri_decode("a%2", false), std::nullopt);
  EXPECT_EQ(uri_decode("a+b%2B", false), "a+b+");
  EXPECT_EQ(parse_query_string("a=b+c&&d"), (QueryList{{"a", "b c"}, {"d", ""}}));
}

TEST(SigV4Encoding, AmzDatesParseOnlyRealTimes) {
  EXPECT_EQ(parse_amz_date("19700101T000000Z"), 0);
  EXPECT_EQ(parse_amz_date("20130524T000000Z"), 1369353600);
  EXPECT_EQ(parse_amz_date("20000229T235959Z"), 951868799);
  EXPECT_EQ(parse_amz_date("20010229T000000Z"), std::nullopt);
  EXPECT_EQ(parse_amz_date("20130524T240000Z"), std::nullopt);
  EXPECT_EQ(parse_amz_date("20130524 000000Z"), std::nullopt);
  EXPECT_EQ(parse_amz_date("2013-05-24T00:00:00Z"), std::nullopt);
}

TEST(SigV4Verify, HeaderAuthRoundTripAndEachFailureHasItsCode) {
  const SigningRequest request = example_get_object();
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  const WireRequest wire = to_wire(request, signed_request);

  const auto ok = verify_wire(wire);
  ASSERT_EQ(error_code(ok), "OK");
  const auto& verified = std::get<VerifiedRequest>(ok);
  EXPECT_EQ(verified.access_key_id, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(verified.region, "us-east-1");
  EXPECT_EQ(verified.payload_mode, PayloadMode::sha256_hex);
  EXPECT_EQ(verified.payload_sha256_hex, empty_payload_sha256_hex);
  EXPECT_FALSE(verified.presigned);

  // Fifteen minutes either way is accepted; a second more is RequestTimeTooSkewed.
  EXPECT_EQ(error_code(verify_wire(wire, "20130524T001500Z")), "OK");
  EXPECT_EQ(error_code(verify_wire(wire, "20130523T234500Z")), "OK");
  EXPECT_EQ(error_code(verify_wire(wire, "20130524T001501Z")), "RequestTimeTooSkewed");
  EXPECT_EQ(error_code(verify_wire(wire, "20130523T234459Z")), "RequestTimeTooSkewed");

  const SecretLookup wrong_secret = [](std::string_view) -> std::optional<std::string> {
    return "not-the-secret";
  };
  EXPECT_EQ(error_code(verify_wire(wire, example_date, wrong_secret)), "SignatureDoesNotMatch");
  const SecretLookup nobody = [](std::string_view) -> std::optional<std::string> {
    return std::nullopt;
  };
  EXPECT_EQ(error_code(verify_wire(wire, example_date, nobody)), "InvalidAccessKeyId");

  WireRequest changed_header = wire;
  changed_header.headers[1].second = "bytes=0-10";
  EXPECT_EQ(error_code(verify_wire(changed_header)), "SignatureDoesNotMatch");
  WireRequest changed_path = wire;
  changed_path.target = "/test.txT";
  EXPECT_EQ(error_code(verify_wire(changed_path)), "SignatureDoesNotMatch");
  WireRequest changed_method = wire;
  changed_method.method = "DELETE";
  EXPECT_EQ(error_code(verify_wire(changed_method)), "SignatureDoesNotMatch");
  WireRequest added_query = wire;
  added_query.target += "?versionId=1";
  EXPECT_EQ(error_code(verify_wire(added_query)), "SignatureDoesNotMatch");

  // Unsigned headers outside x-amz-* may be added, as proxies and clients do.
  WireRequest added_user_agent = wire;
  added_user_agent.headers.emplace_back("User-Agent", "test");
  EXPECT_EQ(error_code(verify_wire(added_user_agent)), "OK");
  WireRequest added_amz = wire;
  added_amz.headers.emplace_back("x-amz-meta-extra", "1");
  EXPECT_EQ(error_code(verify_wire(added_amz)), "AccessDenied");
  EXPECT_EQ(std::get<S3Error>(verify_wire(added_amz)).http_status, 400);  // S3 uses 400 here
}

TEST(SigV4Verify, MalformedAuthenticationGetsS3sCodes) {
  const SigningRequest request = example_get_object();
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  const WireRequest wire = to_wire(request, signed_request);
  auto with_authorization = [&](std::string value) {
    WireRequest copy = wire;
    copy.headers.back().second = std::move(value);
    return error_code(verify_wire(copy));
  };
  EXPECT_EQ(with_authorization("AWS AKIAIOSFODNN7EXAMPLE:abc"), "InvalidRequest");
  EXPECT_EQ(with_authorization("Bearer x"), "InvalidArgument");
  EXPECT_EQ(with_authorization("AWS4-HMAC-SHA256"), "AuthorizationHeaderMalformed");
  EXPECT_EQ(with_authorization("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=0"),
            "AuthorizationHeaderMalformed");
  EXPECT_EQ(with_authorization("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=0"),
            "AuthorizationHeaderMalformed");
  std::string other_region = signed_request.authorization;
  other_region.replace(other_region.find("us-east-1"), 9, "eu-west-1");
  EXPECT_EQ(with_authorization(other_region), "SignatureDoesNotMatch");
  std::string other_date = signed_request.authorization;
  other_date.replace(other_date.find("20130524"), 8, "20130525");
  EXPECT_EQ(with_authorization(other_date), "AuthorizationHeaderMalformed");

  VerifyOptions options;
  options.now_amz_date = example_date;
  options.expected_region = "eu-west-1";
  EXPECT_EQ(
      error_code(verify_request({"GET", wire.target, &wire.headers}, example_lookup, options)),
      "AuthorizationHeaderMalformed");

  WireRequest no_content_sha = wire;
  std::erase_if(no_content_sha.headers,
                [](const auto& header) { return header.first == "X-Amz-Content-Sha256"; });
  EXPECT_EQ(error_code(verify_wire(no_content_sha)), "InvalidRequest");
  WireRequest bad_content_sha = wire;
  for (auto& header : bad_content_sha.headers) {
    if (header.first == "X-Amz-Content-Sha256") header.second = "STREAMING-SOMETHING";
  }
  EXPECT_EQ(error_code(verify_wire(bad_content_sha)), "InvalidArgument");
  WireRequest no_date = wire;
  std::erase_if(no_date.headers, [](const auto& header) { return header.first == "X-Amz-Date"; });
  EXPECT_EQ(error_code(verify_wire(no_date)), "AccessDenied");
  WireRequest bad_uri = wire;
  bad_uri.target = "/test%zz";
  EXPECT_EQ(error_code(verify_wire(bad_uri)), "InvalidURI");

  WireRequest anonymous = wire;
  anonymous.headers.pop_back();
  EXPECT_FALSE(has_authentication(anonymous.target, anonymous.headers));
  EXPECT_TRUE(has_authentication(wire.target, wire.headers));
  EXPECT_EQ(error_code(verify_wire(anonymous)), "AccessDenied");

  WireRequest both = wire;
  both.target += "?X-Amz-Algorithm=AWS4-HMAC-SHA256";
  EXPECT_EQ(error_code(verify_wire(both)), "InvalidArgument");
}

TEST(SigV4Verify, EveryTruncationOfTheAuthenticationFails) {
  // Cutting the Authorization value, the target or the presigned query at every byte never
  // verifies (the cut parts are all signed or carry the signature) and never crashes.
  const SigningRequest request = example_get_object();
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  const WireRequest wire = to_wire(request, signed_request);
  for (std::size_t cut = 0; cut < signed_request.authorization.size(); ++cut) {
    WireRequest cut_wire = wire;
    cut_wire.headers.back().second = signed_request.authorization.substr(0, cut);
    EXPECT_NE(error_code(verify_wire(cut_wire)), "OK") << cut;
  }
  SigningRequest presign_request = request;
  presign_request.headers = {request.headers.front()};
  const std::string target =
      presign_target(presign_request, example_credentials, "us-east-1", example_date, 60);
  const WireRequest presigned{"GET", target, presign_request.headers};
  ASSERT_EQ(error_code(verify_wire(presigned)), "OK");
  for (std::size_t cut = 0; cut < target.size(); ++cut) {
    WireRequest cut_wire = presigned;
    cut_wire.target = target.substr(0, cut);
    EXPECT_NE(error_code(verify_wire(cut_wire)), "OK") << cut;
  }
}

// ---- properties ----

// Strings over a small alphabet that stresses encoding: reserved characters, '%', '+', '/',
// spaces and a multi-byte UTF-8 letter.
// Generated inside a property: up to `pieces_max` pieces, so targets stay far below the
// verifier's length limits.
std::string tricky_string(int pieces_max = 12) {
  const auto count = *rc::gen::inRange(0, pieces_max + 1);
  const auto pieces = *rc::gen::container<std::vector<std::string>>(
      static_cast<std::size_t>(count),
      rc::gen::element<std::string>("a", "Z", "0", "-", "_", ".", "~", " ", "%", "+", "/", "$", "&",
                                    "=", "?", "#", "\xc3\xbc", "%20", "*"));
  std::string out;
  for (const auto& piece : pieces) out += piece;
  return out;
}

struct Generated {
  SigningRequest request;
  Credentials credentials;
  std::string region;
};

Generated generate_request() {
  Generated generated;
  generated.request.method = *rc::gen::element<std::string>("GET", "PUT", "HEAD", "DELETE", "POST");
  generated.request.path = "/" + tricky_string(24);
  const int param_count = *rc::gen::inRange(0, 5);
  for (int i = 0; i < param_count; ++i) {
    generated.request.query.emplace_back("q" + tricky_string(), tricky_string());
  }
  generated.request.headers = {{"Host", "bucket.localhost:9000"}};
  const int meta_count = *rc::gen::inRange(0, 4);
  for (int i = 0; i < meta_count; ++i) {
    generated.request.headers.emplace_back(
        "X-Amz-Meta-K" + std::to_string(i),
        *rc::gen::element<std::string>("v", "  spaced   out  ", "", "a,b", "\xc3\xbc"));
  }
  generated.request.payload_hash = *rc::gen::element<std::string>(
      std::string(unsigned_payload), std::string(empty_payload_sha256_hex),
      std::string(streaming_signed_payload), std::string(streaming_unsigned_payload_trailer));
  generated.credentials = {"AK" + std::to_string(*rc::gen::inRange(0, 1000)),
                           "secret" + tricky_string()};
  generated.region = *rc::gen::element<std::string>("us-east-1", "eu-west-1", "local");
  return generated;
}

SecretLookup lookup_for(const Credentials& credentials) {
  return [credentials](std::string_view key) -> std::optional<std::string> {
    if (key == credentials.access_key_id) return credentials.secret_access_key;
    return std::nullopt;
  };
}

TEST(SigV4Properties, SignThenVerifyRoundTrips) {
  // Any request our signer signs, sent as signed, verifies with the same key, region and mode.
  check_property([] {
    const Generated generated = generate_request();
    const SignedRequest signed_request =
        sign_request(generated.request, generated.credentials, generated.region, example_date);
    const WireRequest wire = to_wire(generated.request, signed_request);
    const auto result = verify_wire(wire, example_date, lookup_for(generated.credentials));
    RC_ASSERT(error_code(result) == "OK");
    const auto& verified = std::get<VerifiedRequest>(result);
    RC_ASSERT(verified.access_key_id == generated.credentials.access_key_id);
    RC_ASSERT(verified.region == generated.region);
    RC_ASSERT(verified.signature == signed_request.signature);

    // A presigned target of the same request verifies too.
    HeaderList host_only = {generated.request.headers.front()};
    SigningRequest presign_request = generated.request;
    presign_request.headers = host_only;
    const std::string target =
        presign_target(presign_request, generated.credentials, generated.region, example_date, 60);
    VerifyOptions options;
    options.now_amz_date = example_date;
    const auto presigned = verify_request({generated.request.method, target, &host_only},
                                          lookup_for(generated.credentials), options);
    RC_ASSERT(error_code(presigned) == "OK");
  });
}

// The canonical request of what the server received, under the names the client signed, plus
// the signature it carries: two requests with the same result are the same signed request.
std::string received_signed_parts(const WireRequest& wire, const std::vector<std::string>& names,
                                  bool presigned) {
  const std::size_t question = wire.target.find('?');
  const auto path = uri_decode(wire.target.substr(0, question), false);
  const auto query = parse_query_string(
      question == std::string::npos ? std::string() : wire.target.substr(question + 1));
  if (!path || !query) return "unparseable";
  std::string payload_hash(unsigned_payload);
  std::string signature;
  for (const auto& [name, value] : wire.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "x-amz-content-sha256") payload_hash = value;
    if (lower == "authorization") signature = value.substr(value.find("Signature=") + 1);
  }
  QueryList signed_query;
  for (const auto& [key, value] : *query) {
    if (presigned && key == "X-Amz-Signature") {
      signature = value;
    } else {
      signed_query.emplace_back(key, value);
    }
  }
  return canonical_request(wire.method, canonical_uri(*path), canonical_query_string(signed_query),
                           wire.headers, names, payload_hash) +
         "\n" + signature;
}

std::vector<std::string> signed_names(const std::string& authorization) {
  const std::size_t start = authorization.find("SignedHeaders=") + 14;
  const std::size_t end = authorization.find(',', start);
  std::vector<std::string> names;
  std::string list = authorization.substr(start, end - start);
  std::size_t from = 0;
  while (true) {
    const std::size_t semicolon = list.find(';', from);
    names.push_back(list.substr(from, semicolon - from));
    if (semicolon == std::string::npos) break;
    from = semicolon + 1;
  }
  return names;
}

// One to three random byte edits (insert, replace, erase) to the target, the method, or a
// header's name or value.
void mutate(WireRequest& wire) {
  const int mutation_count = *rc::gen::inRange(1, 4);
  for (int i = 0; i < mutation_count; ++i) {
    std::string* field = nullptr;
    const int which = *rc::gen::inRange(0, 4);
    if (which == 0) field = &wire.target;
    if (which == 1) field = &wire.method;
    if (which >= 2) {
      auto& header = wire.headers[*rc::gen::inRange<std::size_t>(0, wire.headers.size())];
      field = which == 2 ? &header.second : &header.first;
    }
    const int edit = *rc::gen::inRange(0, 3);
    const char byte = *rc::gen::element<char>('a', '%', '/', '?', '&', '=', ' ', ',', ';', '\0',
                                              '\xff', 'A', '0', '+');
    if (field->empty() || edit == 0) {
      field->insert(field->begin() + *rc::gen::inRange<std::size_t>(0, field->size() + 1), byte);
    } else if (edit == 1) {
      (*field)[*rc::gen::inRange<std::size_t>(0, field->size())] = byte;
    } else {
      field->erase(field->begin() + *rc::gen::inRange<std::size_t>(0, field->size()));
    }
  }
}

TEST(SigV4Properties, MutationsNeverCrashAndNeverVerifyUnlessSignedPartsAreUnchanged) {
  // Random byte edits to a header-signed request: the verifier returns a result, and accepts
  // only when the canonical request and signature are the ones that were signed.
  check_property(
      [] {
        const Generated generated = generate_request();
        const SignedRequest signed_request =
            sign_request(generated.request, generated.credentials, generated.region, example_date);
        const WireRequest original = to_wire(generated.request, signed_request);
        const std::vector<std::string> names = signed_names(signed_request.authorization);
        WireRequest mutated = original;
        mutate(mutated);
        const auto result = verify_wire(mutated, example_date, lookup_for(generated.credentials));
        if (error_code(result) == "OK") {
          RC_ASSERT(received_signed_parts(mutated, names, false) ==
                    received_signed_parts(original, names, false));
          RC_ASSERT(std::get<VerifiedRequest>(result).access_key_id ==
                    generated.credentials.access_key_id);
        }
      },
      300);
}

TEST(SigV4Properties, PresignedMutationsNeverVerifyUnlessSignedPartsAreUnchanged) {
  // The same for presigned targets, whose signature and credentials live in the query.
  check_property(
      [] {
        const Generated generated = generate_request();
        WireRequest original{generated.request.method, "", {generated.request.headers.front()}};
        SigningRequest request = generated.request;
        request.headers = original.headers;
        original.target =
            presign_target(request, generated.credentials, generated.region, example_date, 3600);
        WireRequest mutated = original;
        mutate(mutated);
        const auto result = verify_wire(mutated, example_date, lookup_for(generated.credentials));
        if (error_code(result) == "OK") {
          RC_ASSERT(received_signed_parts(mutated, {"host"}, true) ==
                    received_signed_parts(original, {"host"}, true));
          RC_ASSERT(std::get<VerifiedRequest>(result).presigned);
        }
      },
      300);
}

TEST(SigV4Properties, ArbitraryBytesNeverCrashTheVerifier) {
  // Fully random targets and header values: always a result, never a success without a key.
  check_property([] {
    const std::string target = *rc::gen::string<std::string>();
    const HeaderList headers = {
        {"Authorization",
         *rc::gen::oneOf(
             rc::gen::string<std::string>(),
             rc::gen::just(std::string("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/"
                                       "s3/aws4_request, SignedHeaders=host, Signature=00")))},
        {"x-amz-date", *rc::gen::element<std::string>(std::string(example_date), "junk")},
        {"x-amz-content-sha256", *rc::gen::string<std::string>()},
        {"host", *rc::gen::string<std::string>()}};
    VerifyOptions options;
    options.now_amz_date = example_date;
    const auto result = verify_request({"GET", target, &headers}, example_lookup, options);
    RC_ASSERT(error_code(result) != "OK");
    RC_ASSERT(std::get<S3Error>(result).http_status >= 400);
  });
}

}  // namespace
}  // namespace s3chaos::s3proto
