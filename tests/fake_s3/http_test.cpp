// Proves the HTTP shape of the core: routing of every operation, S3's XML for results and
// errors (parsed back with pugixml), header handling, and that malformed requests of any kind
// give an S3 error, never a crash.
#include "fake_s3/http.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <pugixml.hpp>

#include "fake_s3_test_support.hpp"

namespace s3chaos::fake_s3 {
namespace {

using testing::request;

class HttpTest : public ::testing::Test {
 protected:
  HttpTest() {
    CoreSettings settings;
    settings.part_size_min_bytes = 5;
    core = std::make_unique<S3Core>(settings);
    EXPECT_EQ(send(request("PUT", "/photos")).status, 200);
  }

  HttpResponse send(const HttpRequest& http) {
    RequestContext ctx;
    ctx.now = now;
    return handle_http(*core, ctx, http, "REQ1");
  }

  static pugi::xml_document parse(const std::string& body) {
    pugi::xml_document document;
    EXPECT_TRUE(document.load_string(body.c_str())) << body;
    return document;
  }

  static std::string error_code(const HttpResponse& response) {
    return parse(response.body).child("Error").child_value("Code");
  }

  std::unique_ptr<S3Core> core;
  TimeNs now = 0;
};

TEST_F(HttpTest, ClassifiesEveryOperation) {
  // Method, path and query select the S3 operation the fault plan matches on.
  struct Case {
    const char* method;
    const char* target;
    Operation operation;
  };
  const Case cases[] = {
      {"GET", "/", Operation::list_buckets},
      {"PUT", "/b", Operation::create_bucket},
      {"HEAD", "/b", Operation::head_bucket},
      {"DELETE", "/b/", Operation::delete_bucket},
      {"GET", "/b?location", Operation::get_bucket_location},
      {"GET", "/b", Operation::list_objects},
      {"GET", "/b?list-type=2&prefix=a", Operation::list_objects_v2},
      {"GET", "/b?versions", Operation::list_object_versions},
      {"POST", "/b?delete", Operation::delete_objects},
      {"GET", "/b?uploads", Operation::list_multipart_uploads},
      {"PUT", "/b/k", Operation::put_object},
      {"GET", "/b/k", Operation::get_object},
      {"HEAD", "/b/k", Operation::head_object},
      {"DELETE", "/b/k", Operation::delete_object},
      {"POST", "/b/k?uploads", Operation::create_multipart_upload},
      {"PUT", "/b/k?partNumber=1&uploadId=u", Operation::upload_part},
      {"POST", "/b/k?uploadId=u", Operation::complete_multipart_upload},
      {"DELETE", "/b/k?uploadId=u", Operation::abort_multipart_upload},
      {"GET", "/b/k?uploadId=u", Operation::list_parts},
      {"PATCH", "/b/k", Operation::invalid},
      {"GET", "/b/k?acl", Operation::invalid},
      {"GET", "no-slash", Operation::invalid},
      {"GET", "/b/%zz", Operation::invalid},
  };
  for (const auto& c : cases) {
    const RequestTarget target = classify_request(request(c.method, c.target));
    EXPECT_EQ(operation_name(target.operation), operation_name(c.operation))
        << c.method << " " << c.target;
  }
  const RequestTarget copy =
      classify_request(request("PUT", "/b/dir/a%20b", "", {{"X-Amz-Copy-Source", "/b/src"}}));
  EXPECT_EQ(copy.operation, Operation::copy_object);
  EXPECT_EQ(copy.bucket, "b");
  EXPECT_EQ(copy.key, "dir/a b");
  EXPECT_EQ(parse_operation_name("PutObject"), Operation::put_object);
  EXPECT_FALSE(parse_operation_name("Invalid").has_value());
}

TEST_F(HttpTest, PutGetHeadWithHeaders) {
  // PUT returns the ETag; GET returns bytes and object headers; HEAD the same headers, no
  // body; checksums come back only with x-amz-checksum-mode: ENABLED.
  const std::string checksum =
      s3proto::checksum_base64(s3proto::ChecksumAlgorithm::crc32c, "hello");
  auto put = send(request("PUT", "/photos/a%2Fb.jpg", "hello",
                          {{"Content-Type", "image/jpeg"},
                           {"x-amz-meta-Owner", "ann"},
                           {"x-amz-checksum-crc32c", checksum},
                           {"Content-MD5", s3proto::md5_base64("hello")}}));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(*put.header("etag"), "\"5d41402abc4b2a76b9719d911017c592\"");
  EXPECT_EQ(*put.header("x-amz-checksum-crc32c"), checksum);
  EXPECT_EQ(*put.header("x-amz-request-id"), "REQ1");
  auto get = send(request("GET", "/photos/a/b.jpg"));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "hello");
  EXPECT_EQ(*get.header("content-type"), "image/jpeg");
  EXPECT_EQ(*get.header("x-amz-meta-owner"), "ann");
  EXPECT_EQ(*get.header("Content-Length"), "5");
  EXPECT_EQ(*get.header("Last-Modified"), "Sun, 20 Jul 2008 00:00:00 GMT");
  EXPECT_FALSE(get.header("x-amz-checksum-crc32c").has_value());
  auto with_checksum =
      send(request("GET", "/photos/a/b.jpg", "", {{"x-amz-checksum-mode", "ENABLED"}}));
  EXPECT_EQ(*with_checksum.header("x-amz-checksum-crc32c"), checksum);
  auto head = send(request("HEAD", "/photos/a/b.jpg"));
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(*head.header("Content-Length"), "5");
  auto range = send(request("GET", "/photos/a/b.jpg", "", {{"Range", "bytes=1-2"}}));
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, "el");
  EXPECT_EQ(*range.header("Content-Range"), "bytes 1-2/5");
  EXPECT_EQ(*range.header("Content-Length"), "2");
  auto unsatisfiable = send(request("GET", "/photos/a/b.jpg", "", {{"Range", "bytes=9-"}}));
  EXPECT_EQ(unsatisfiable.status, 416);
  EXPECT_EQ(error_code(unsatisfiable), "InvalidRange");
}

TEST_F(HttpTest, ErrorsAreS3Xml) {
  // Errors carry S3's code, message, resource and request id; HEAD errors have no body.
  auto missing = send(request("GET", "/photos/nope"));
  EXPECT_EQ(missing.status, 404);
  auto document = parse(missing.body);
  pugi::xml_node error = document.child("Error");
  EXPECT_STREQ(error.child_value("Code"), "NoSuchKey");
  EXPECT_STREQ(error.child_value("Message"), "The specified key does not exist.");
  EXPECT_STREQ(error.child_value("Resource"), "/photos/nope");
  EXPECT_STREQ(error.child_value("RequestId"), "REQ1");
  EXPECT_EQ(missing.body.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u);
  auto head = send(request("HEAD", "/photos/nope"));
  EXPECT_EQ(head.status, 404);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(error_code(send(request("GET", "/nobucket/k"))), "NoSuchBucket");
  EXPECT_EQ(error_code(send(request("PUT", "/Bad_Bucket"))), "InvalidBucketName");
  EXPECT_EQ(error_code(send(request("PUT", "/photos"))), "BucketAlreadyOwnedByYou");
  EXPECT_EQ(error_code(send(request("PATCH", "/photos/k"))), "MethodNotAllowed");
  EXPECT_EQ(error_code(send(request("GET", "/photos/k?tagging"))), "NotImplemented");
  EXPECT_EQ(error_code(send(request("GET", "/photos/%G1"))), "InvalidURI");
  EXPECT_EQ(error_code(send(request("PUT", "/photos/" + std::string(1025, 'k'), "x"))),
            "KeyTooLongError");
  EXPECT_EQ(error_code(send(request("GET", "/photos?list-type=2&max-keys=abc"))),
            "InvalidArgument");
  EXPECT_EQ(error_code(send(request("GET", "/photos?list-type=2&continuation-token=%21"))),
            "InvalidArgument");
  EXPECT_EQ(error_code(send(request("PUT", "/photos/k", "x", {{"Content-MD5", "bad"}}))),
            "InvalidDigest");
  EXPECT_EQ(error_code(send(request("PUT", "/photos/k", "x", {{"If-None-Match", "\"e\""}}))),
            "NotImplemented");
}

TEST_F(HttpTest, ConditionalRequests) {
  // If-None-Match: * on PUT gives 412; GET/HEAD conditions give 304 (no body) and 412.
  ASSERT_EQ(send(request("PUT", "/photos/k", "v", {{"If-None-Match", "*"}})).status, 200);
  EXPECT_EQ(send(request("PUT", "/photos/k", "w", {{"If-None-Match", "*"}})).status, 412);
  const std::string etag(*send(request("HEAD", "/photos/k")).header("ETag"));
  auto not_modified = send(request("GET", "/photos/k", "", {{"If-None-Match", etag}}));
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(send(request("GET", "/photos/k", "", {{"If-Match", "\"x\""}})).status, 412);
  EXPECT_EQ(send(request("HEAD", "/photos/k", "",
                         {{"If-Modified-Since", "Sun, 20 Jul 2008 00:00:00 GMT"}}))
                .status,
            304);
  EXPECT_EQ(send(request("GET", "/photos/k", "",
                         {{"If-Unmodified-Since", "Sat, 19 Jul 2008 00:00:00 GMT"}}))
                .status,
            412);
  EXPECT_EQ(send(request("GET", "/photos/k", "", {{"If-Modified-Since", "garbage"}})).status, 200);
}

TEST_F(HttpTest, ListObjectsV2PagesWithContinuationTokens) {
  // ListBucketResult has S3's shape: Name, Prefix, KeyCount, MaxKeys, IsTruncated, Contents,
  // CommonPrefixes; NextContinuationToken pages through everything exactly once.
  for (const char* key : {"a/1", "a/2", "b", "c"}) {
    ASSERT_EQ(send(request("PUT", std::string("/photos/") + key, "x")).status, 200);
  }
  auto first = send(request("GET", "/photos?list-type=2&delimiter=%2F&max-keys=2"));
  auto document = parse(first.body);
  pugi::xml_node root = document.child("ListBucketResult");
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_STREQ(root.child_value("Name"), "photos");
  EXPECT_STREQ(root.child_value("KeyCount"), "2");
  EXPECT_STREQ(root.child_value("MaxKeys"), "2");
  EXPECT_STREQ(root.child_value("IsTruncated"), "true");
  EXPECT_STREQ(root.child("CommonPrefixes").child_value("Prefix"), "a/");
  EXPECT_STREQ(root.child("Contents").child_value("Key"), "b");
  EXPECT_STREQ(root.child("Contents").child_value("StorageClass"), "STANDARD");
  const std::string token = root.child_value("NextContinuationToken");
  ASSERT_FALSE(token.empty());
  auto second =
      send(request("GET", "/photos?list-type=2&delimiter=%2F&max-keys=2&continuation-token=" +
                              percent_encode_path(token)));
  auto second_document = parse(second.body);
  pugi::xml_node second_root = second_document.child("ListBucketResult");
  EXPECT_STREQ(second_root.child_value("IsTruncated"), "false");
  EXPECT_STREQ(second_root.child("Contents").child_value("Key"), "c");
  EXPECT_STREQ(second_root.child_value("ContinuationToken"), token.c_str());
  auto start_after = parse(send(request("GET", "/photos?list-type=2&start-after=b")).body);
  EXPECT_STREQ(start_after.child("ListBucketResult").child("Contents").child_value("Key"), "c");
}

TEST_F(HttpTest, ListObjectsV1AndVersionsAndUrlEncoding) {
  // V1 uses Marker/NextMarker; ListObjectVersions reports version "null" for every key;
  // encoding-type=url encodes keys.
  ASSERT_EQ(send(request("PUT", "/photos/a%20b/1", "x")).status, 200);
  ASSERT_EQ(send(request("PUT", "/photos/c", "x")).status, 200);
  auto v1 = parse(send(request("GET", "/photos?delimiter=/&max-keys=1")).body);
  pugi::xml_node root = v1.child("ListBucketResult");
  EXPECT_STREQ(root.child_value("IsTruncated"), "true");
  EXPECT_STREQ(root.child_value("NextMarker"), "a b/");
  EXPECT_FALSE(root.child("Contents"));
  auto page2 = parse(send(request("GET", "/photos?delimiter=/&marker=a%20b/")).body);
  EXPECT_STREQ(page2.child("ListBucketResult").child("Contents").child_value("Key"), "c");
  EXPECT_STREQ(
      page2.child("ListBucketResult").child("Contents").child("Owner").child_value("DisplayName"),
      "s3chaos");
  auto versions = parse(send(request("GET", "/photos?versions")).body);
  pugi::xml_node version = versions.child("ListVersionsResult").child("Version");
  EXPECT_STREQ(version.child_value("Key"), "a b/1");
  EXPECT_STREQ(version.child_value("VersionId"), "null");
  EXPECT_STREQ(version.child_value("IsLatest"), "true");
  auto encoded = parse(send(request("GET", "/photos?list-type=2&encoding-type=url")).body);
  EXPECT_STREQ(encoded.child("ListBucketResult").child("Contents").child_value("Key"), "a%20b/1");
  EXPECT_STREQ(encoded.child("ListBucketResult").child_value("EncodingType"), "url");
}

TEST_F(HttpTest, BucketOperations) {
  // ListAllMyBucketsResult, LocationConstraint, HeadBucket, DeleteBucket 409/204.
  auto list = parse(send(request("GET", "/")).body);
  EXPECT_STREQ(
      list.child("ListAllMyBucketsResult").child("Buckets").child("Bucket").child_value("Name"),
      "photos");
  auto location = parse(send(request("GET", "/photos?location")).body);
  EXPECT_STREQ(location.child_value("LocationConstraint"), "");
  EXPECT_EQ(send(request("HEAD", "/photos")).status, 200);
  ASSERT_EQ(send(request("PUT", "/photos/k", "x")).status, 200);
  EXPECT_EQ(error_code(send(request("DELETE", "/photos"))), "BucketNotEmpty");
  EXPECT_EQ(send(request("DELETE", "/photos/k")).status, 204);
  EXPECT_EQ(send(request("DELETE", "/photos")).status, 204);
  EXPECT_EQ(send(request("HEAD", "/photos")).status, 404);
  EXPECT_EQ(send(request("PUT", "/other",
                         "<CreateBucketConfiguration><LocationConstraint>us-east-1"
                         "</LocationConstraint></CreateBucketConfiguration>"))
                .status,
            200);
  EXPECT_EQ(error_code(send(request("PUT", "/third", "<nope"))), "MalformedXML");
}

TEST_F(HttpTest, DeleteObjectsAndCopy) {
  // DeleteObjects parses <Delete> and answers DeleteResult (Quiet omits successes);
  // CopyObject answers CopyObjectResult with the source's ETag.
  ASSERT_EQ(send(request("PUT", "/photos/a", "1")).status, 200);
  ASSERT_EQ(send(request("PUT", "/photos/b", "2")).status, 200);
  auto copy = send(request("PUT", "/photos/c", "", {{"x-amz-copy-source", "photos/a"}}));
  ASSERT_EQ(copy.status, 200) << copy.body;
  auto copy_document = parse(copy.body);
  EXPECT_EQ(std::string(copy_document.child("CopyObjectResult").child_value("ETag")),
            "\"" + s3proto::md5_hex("1") + "\"");
  EXPECT_EQ(send(request("GET", "/photos/c")).body, "1");
  EXPECT_EQ(error_code(send(request("PUT", "/photos/d", "", {{"x-amz-copy-source", "photos"}}))),
            "InvalidArgument");
  const std::string body =
      "<Delete><Object><Key>a</Key></Object><Object><Key>zz</Key></Object></Delete>";
  auto deleted =
      send(request("POST", "/photos?delete", body, {{"Content-MD5", s3proto::md5_base64(body)}}));
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  auto delete_document = parse(deleted.body);  // the nodes below live as long as it does
  auto result = delete_document.child("DeleteResult");
  int count = 0;
  for (auto node : result.children("Deleted")) {
    (void)node;
    ++count;
  }
  EXPECT_EQ(count, 2);
  auto quiet = send(request("POST", "/photos?delete",
                            "<Delete><Quiet>true</Quiet><Object><Key>b</Key></Object></Delete>"));
  EXPECT_FALSE(parse(quiet.body).child("DeleteResult").child("Deleted"));
  EXPECT_EQ(send(request("GET", "/photos/b")).status, 404);
  EXPECT_EQ(error_code(send(request("POST", "/photos?delete", "<Delete><Object/></Delete>"))),
            "MalformedXML");
  EXPECT_EQ(error_code(send(request("POST", "/photos?delete", body,
                                    {{"Content-MD5", s3proto::md5_base64("x")}}))),
            "BadDigest");
}

TEST_F(HttpTest, MultipartOverHttp) {
  // Initiate, upload parts, list parts and uploads, complete (with the S3 XML each step).
  auto initiated = parse(send(request("POST", "/photos/big?uploads")).body);
  const std::string upload_id =
      initiated.child("InitiateMultipartUploadResult").child_value("UploadId");
  ASSERT_FALSE(upload_id.empty());
  const std::string base = "/photos/big?uploadId=" + upload_id;
  auto part1 = send(request("PUT", "/photos/big?partNumber=1&uploadId=" + upload_id, "12345"));
  auto part2 = send(request("PUT", "/photos/big?partNumber=2&uploadId=" + upload_id, "67"));
  ASSERT_EQ(part1.status, 200);
  auto parts = parse(send(request("GET", base)).body);
  EXPECT_STREQ(parts.child("ListPartsResult").child("Part").child_value("Size"), "5");
  auto uploads = parse(send(request("GET", "/photos?uploads")).body);
  EXPECT_STREQ(uploads.child("ListMultipartUploadsResult").child("Upload").child_value("UploadId"),
               upload_id.c_str());
  EXPECT_EQ(error_code(send(request("PUT", "/photos/big?partNumber=x&uploadId=" + upload_id, "1"))),
            "InvalidArgument");
  EXPECT_EQ(error_code(send(request("POST", base, "<CompleteMultipartUpload/>"))), "MalformedXML");
  EXPECT_EQ(error_code(send(request("POST", base, "garbage"))), "MalformedXML");
  const std::string xml =
      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Part><PartNumber>1</PartNumber><ETag>" +
      std::string(*part1.header("ETag")) + "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" +
      std::string(*part2.header("ETag")) + "</ETag></Part></CompleteMultipartUpload>";
  auto completed = send(request("POST", base, xml));
  ASSERT_EQ(completed.status, 200) << completed.body;
  auto complete_document = parse(completed.body);
  const std::string etag =
      complete_document.child("CompleteMultipartUploadResult").child_value("ETag");
  EXPECT_EQ(etag.substr(etag.size() - 3), "-2\"");
  EXPECT_EQ(send(request("GET", "/photos/big")).body, "1234567");
  EXPECT_EQ(error_code(send(request("DELETE", base))), "NoSuchUpload");
}

TEST_F(HttpTest, VirtualHostedStyleRewrites) {
  // Host: bucket.base names the bucket; other hosts are left alone.
  HttpRequest hosted = request("GET", "/key?x=1", "", {{"Host", "photos.s3.local:9000"}});
  EXPECT_EQ(virtual_host_to_path_style(hosted, "s3.local").target, "/photos/key?x=1");
  HttpRequest plain = request("GET", "/photos/key", "", {{"Host", "s3.local"}});
  EXPECT_EQ(virtual_host_to_path_style(plain, "s3.local").target, "/photos/key");
  HttpRequest foreign = request("GET", "/k", "", {{"Host", "example.com"}});
  EXPECT_EQ(virtual_host_to_path_style(foreign, "s3.local").target, "/k");
}

RC_GTEST_PROP(HttpFuzz, MalformedRequestsGiveS3ErrorsNeverCrashes, ()) {
  // Random methods, targets, headers and bodies (including XML-ish garbage) always produce a
  // response with a valid status; error responses carry an S3 error document.
  S3Core core;
  RequestContext ctx;
  RC_ASSERT(core.create_bucket(ctx, "photos").ok());
  const auto method =
      *rc::gen::element<std::string>("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "");
  const auto pieces = *rc::gen::container<std::vector<std::string>>(rc::gen::element<std::string>(
      "/", "photos", "/photos", "?", "&", "=", "uploads", "uploadId", "partNumber", "list-type=2",
      "delete", "versions", "location", "%", "%2", "%zz", "%00", "max-keys=", "-1", "99999999999",
      "continuation-token=", "key", "\xff", "..", "+", "marker", "start-after",
      "encoding-type=url"));
  std::string target;
  for (const auto& piece : pieces) target += piece;
  const auto body = *rc::gen::oneOf(
      rc::gen::arbitrary<std::string>(),
      rc::gen::element<std::string>(
          "<Delete><Object><Key>k</Key></Object></Delete>",
          "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
          "<ETag>x</ETag></Part></CompleteMultipartUpload>",
          "<CompleteMultipartUpload><Part><PartNumber>-5</PartNumber>"
          "</Part></CompleteMultipartUpload>",
          "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Delete>&e;</Delete>"));
  HeaderList headers;
  if (*rc::gen::arbitrary<bool>())
    headers.emplace_back("Range", *rc::gen::arbitrary<std::string>());
  if (*rc::gen::arbitrary<bool>())
    headers.emplace_back("Content-MD5", *rc::gen::arbitrary<std::string>());
  if (*rc::gen::arbitrary<bool>())
    headers.emplace_back("x-amz-copy-source", *rc::gen::arbitrary<std::string>());
  if (*rc::gen::arbitrary<bool>())
    headers.emplace_back("If-Match", *rc::gen::arbitrary<std::string>());
  if (*rc::gen::arbitrary<bool>())
    headers.emplace_back("x-amz-checksum-sha256", *rc::gen::arbitrary<std::string>());
  HttpResponse response = handle_http(core, ctx, HttpRequest{method, target, headers, body}, "R");
  RC_ASSERT(response.status >= 200);
  RC_ASSERT(response.status < 600);
  if (response.status >= 400 && method != "HEAD") {
    pugi::xml_document document;
    RC_ASSERT(static_cast<bool>(document.load_string(response.body.c_str())));
    RC_ASSERT(std::string(document.child("Error").child_value("Code")).size() > 0);
  }
}

}  // namespace
}  // namespace s3chaos::fake_s3
