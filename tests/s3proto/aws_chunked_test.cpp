// Proves the aws-chunked codec against AWS's documented 66560-byte streaming upload, and that
// the decoder accepts exactly what the encoder produced, however it is chunked and fed: every
// truncation is incomplete, and every corrupted signature, checksum or length is rejected.
#include "s3proto/aws_chunked.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "s3proto_property.hpp"

namespace s3chaos::s3proto {
namespace {

using testing::check_property;
using Status = AwsChunkedDecoder::Status;

const Credentials example_credentials{"AKIAIOSFODNN7EXAMPLE",
                                      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
constexpr std::string_view example_date = "20130524T000000Z";

// The request of "Example: PUT Object" in the S3 chunked-upload documentation.
SigningRequest example_streaming_request() {
  SigningRequest request;
  request.method = "PUT";
  request.path = "/examplebucket/chunkObject.txt";
  request.headers = {{"Host", "s3.amazonaws.com"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                     {"Content-Encoding", "aws-chunked"},
                     {"x-amz-decoded-content-length", "66560"},
                     {"Content-Length", "66824"}};
  request.payload_hash = std::string(streaming_signed_payload);
  return request;
}

struct Decoded {
  Status status;
  std::string bytes;
  std::string error_code;
};

Decoded decode_all(const AwsChunkedConfig& config, std::string_view body,
                   std::size_t piece_bytes = 0) {
  AwsChunkedDecoder decoder(config);
  Decoded decoded{Status::need_more, "", ""};
  if (piece_bytes == 0) piece_bytes = body.size() + 1;
  for (std::size_t offset = 0; offset < body.size(); offset += piece_bytes) {
    decoder.feed(body.substr(offset, piece_bytes), decoded.bytes);
  }
  decoded.status = decoder.finish();
  if (decoder.error()) decoded.error_code = decoder.error()->code;
  return decoded;
}

TEST(AwsChunkedExample, DocumentedUploadEncodesAndDecodes) {
  const SigningRequest request = example_streaming_request();
  const SignedRequest signed_request =
      sign_request(request, example_credentials, "us-east-1", example_date);
  ASSERT_EQ(signed_request.signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  const ChunkSigningContext context = chunk_signing_context(signed_request);
  const std::string payload(66560, 'a');
  EXPECT_EQ(chunk_signature(context, signed_request.signature, payload.substr(0, 65536)),
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648");
  EXPECT_EQ(
      chunk_signature(context, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                      payload.substr(65536)),
      "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497");
  EXPECT_EQ(chunk_signature(context,
                            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", ""),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9");

  const AwsChunkedEncoderConfig encoder_config{PayloadMode::streaming_signed, context,
                                               std::nullopt};
  const std::string body = encode_aws_chunked(payload, 65536, encoder_config);
  EXPECT_EQ(body.size(), 66824u);  // the example's Content-Length
  EXPECT_EQ(aws_chunked_encoded_length(payload.size(), 65536, encoder_config), 66824u);
  EXPECT_EQ(body.substr(0, 88),
            "10000;chunk-signature="
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
  EXPECT_EQ(body.substr(body.size() - 86),
            "0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
            "\r\n\r\n");

  // The server side: verify the headers, configure from them, decode the body.
  HeaderList wire_headers = request.headers;
  wire_headers.emplace_back("x-amz-date", signed_request.amz_date);
  wire_headers.emplace_back("x-amz-content-sha256", signed_request.content_sha256);
  wire_headers.emplace_back("Authorization", signed_request.authorization);
  VerifyOptions options;
  options.now_amz_date = example_date;
  const auto verified = verify_request(
      {"PUT", signed_request.request_target, &wire_headers},
      [](std::string_view) -> std::optional<std::string> {
        return example_credentials.secret_access_key;
      },
      options);
  ASSERT_TRUE(std::holds_alternative<VerifiedRequest>(verified));
  const auto config = aws_chunked_config(std::get<VerifiedRequest>(verified), wire_headers);
  ASSERT_TRUE(std::holds_alternative<AwsChunkedConfig>(config));
  const Decoded decoded = decode_all(std::get<AwsChunkedConfig>(config), body, 1000);
  EXPECT_EQ(decoded.status, Status::done) << decoded.error_code;
  EXPECT_EQ(decoded.bytes, payload);
}

ChunkSigningContext test_context() {
  SigningRequest request = example_streaming_request();
  return chunk_signing_context(
      sign_request(request, example_credentials, "us-east-1", example_date));
}

AwsChunkedConfig decoder_config(PayloadMode mode, std::uint64_t decoded_length,
                                std::optional<ChecksumAlgorithm> checksum) {
  AwsChunkedConfig config;
  config.mode = mode;
  if (mode != PayloadMode::streaming_unsigned_trailer) config.signing = test_context();
  config.decoded_length = decoded_length;
  config.trailer_checksum = checksum;
  return config;
}

AwsChunkedEncoderConfig encoder_config(PayloadMode mode,
                                       std::optional<ChecksumAlgorithm> checksum) {
  AwsChunkedEncoderConfig config;
  config.mode = mode;
  if (mode != PayloadMode::streaming_unsigned_trailer) config.signing = test_context();
  config.trailer_checksum = checksum;
  return config;
}

TEST(AwsChunkedDecoder, UnsignedTrailerAsSdksSendIt) {
  // The shape the AWS SDKs send by default: plain chunks, then a CRC32 trailer. Chunks are
  // tiny here for readability, so S3's 8 KiB minimum is lifted (it has its own test below).
  const std::string body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:" +
                           checksum_base64(ChecksumAlgorithm::crc32, "hello world") + "\r\n\r\n";
  auto config =
      decoder_config(PayloadMode::streaming_unsigned_trailer, 11, ChecksumAlgorithm::crc32);
  config.limits.chunk_bytes_min_except_last = 1;
  const Decoded decoded = decode_all(config, body, 1);
  EXPECT_EQ(decoded.status, Status::done) << decoded.error_code;
  EXPECT_EQ(decoded.bytes, "hello world");
  EXPECT_EQ(encode_aws_chunked(
                "hello world", 5,
                encoder_config(PayloadMode::streaming_unsigned_trailer, ChecksumAlgorithm::crc32)),
            "5\r\nhello\r\n5\r\n worl\r\n1\r\nd\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n");

  std::string wrong_checksum = body;
  wrong_checksum.replace(wrong_checksum.find("crc32:") + 6, 1, "A");
  EXPECT_EQ(decode_all(config, wrong_checksum).error_code, "BadDigest");
  std::string changed_data = body;
  changed_data[3] = 'j';
  EXPECT_EQ(decode_all(config, changed_data).error_code, "BadDigest");
  EXPECT_EQ(decode_all(config, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").error_code,
            "MalformedTrailerError");  // the declared trailer never came
  EXPECT_EQ(decode_all(config, "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:" +
                                   checksum_base64(ChecksumAlgorithm::crc32, "hello") + "\r\n\r\n")
                .error_code,
            "IncompleteBody");  // fewer bytes than x-amz-decoded-content-length
  EXPECT_EQ(decode_all(config, "c\r\nhello world!\r\n0\r\n\r\n").error_code,
            "IncompleteBody");  // more bytes than declared
  EXPECT_EQ(decode_all(config, body + "x").error_code, "IncompleteBody");  // data after the end
  EXPECT_EQ(decode_all(config, "zz\r\n").error_code, "IncompleteBody");
  EXPECT_EQ(decode_all(config, "5\nhello").error_code, "IncompleteBody");
  EXPECT_EQ(decode_all(config, "5\r\nhelloX\r\n").error_code, "IncompleteBody");
  EXPECT_EQ(decode_all(config, std::string(10000, '1')).error_code, "IncompleteBody");
  EXPECT_EQ(decode_all(config, "ffffffffffffffff\r\n").error_code, "EntityTooLarge");
  EXPECT_EQ(decode_all(config, "10000000000000000\r\n").error_code, "IncompleteBody");
  std::string bad_trailer = body;
  bad_trailer.replace(bad_trailer.find("crc32:"), 6, "crc32 ");
  EXPECT_EQ(decode_all(config, bad_trailer).error_code, "MalformedTrailerError");
  std::string bad_base64 = body;
  bad_base64.replace(bad_base64.find("crc32:") + 6, 1, "!");
  EXPECT_EQ(decode_all(config, bad_base64).error_code, "InvalidRequest");
}

TEST(AwsChunkedDecoder, OnlyTheLastChunkMayBeUnder8KiBInEveryMode) {
  // S3 answers InvalidChunkSizeError when a chunk under 8 KiB is followed by another data chunk,
  // signed or not; a short last chunk is fine.
  const std::string payload(20000, 'x');
  for (PayloadMode mode : {PayloadMode::streaming_signed, PayloadMode::streaming_signed_trailer,
                           PayloadMode::streaming_unsigned_trailer}) {
    const std::optional<ChecksumAlgorithm> checksum = mode == PayloadMode::streaming_signed
                                                          ? std::nullopt
                                                          : std::optional(ChecksumAlgorithm::crc32);
    const auto config = decoder_config(mode, payload.size(), checksum);
    const auto encoder = encoder_config(mode, checksum);
    EXPECT_EQ(decode_all(config, encode_aws_chunked(payload, 8192, encoder)).status, Status::done);
    EXPECT_EQ(decode_all(config, encode_aws_chunked(payload, 8191, encoder)).error_code,
              "InvalidChunkSizeError");
  }
}

TEST(AwsChunkedDecoder, SignedChunksRejectEveryBrokenLink) {
  const std::string payload(20000, 'x');
  const auto encoder = encoder_config(PayloadMode::streaming_signed, std::nullopt);
  const auto config = decoder_config(PayloadMode::streaming_signed, payload.size(), std::nullopt);
  const std::string body = encode_aws_chunked(payload, 8192, encoder);
  ASSERT_EQ(decode_all(config, body).status, Status::done);

  // Swapping two signatures, a wrong seed, and a changed data byte each break the chain.
  std::string corrupted = body;
  corrupted[corrupted.find("chunk-signature=") + 20] ^= 1;
  EXPECT_EQ(decode_all(config, corrupted).error_code, "SignatureDoesNotMatch");
  AwsChunkedConfig wrong_seed = config;
  wrong_seed.signing->seed_signature[0] = wrong_seed.signing->seed_signature[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(decode_all(wrong_seed, body).error_code, "SignatureDoesNotMatch");
  std::string changed_data = body;
  changed_data[200] = 'y';
  EXPECT_EQ(decode_all(config, changed_data).error_code, "SignatureDoesNotMatch");
  // Dropping the signature extension is not an unsigned upload in disguise.
  EXPECT_EQ(decode_all(config, "5\r\nhello\r\n0\r\n\r\n").error_code, "SignatureDoesNotMatch");
  // A signed mode without a signing context cannot be decoded.
  AwsChunkedConfig unsigned_context = config;
  unsigned_context.signing.reset();
  EXPECT_EQ(decode_all(unsigned_context, body).error_code, "InvalidArgument");
}

TEST(AwsChunkedDecoder, SignedTrailerIsChainedFromTheLastChunk) {
  const std::string payload(9000, 'q');
  const auto encoder =
      encoder_config(PayloadMode::streaming_signed_trailer, ChecksumAlgorithm::crc32c);
  const auto config = decoder_config(PayloadMode::streaming_signed_trailer, payload.size(),
                                     ChecksumAlgorithm::crc32c);
  const std::string body = encode_aws_chunked(payload, 8192, encoder);
  EXPECT_EQ(body.size(), aws_chunked_encoded_length(payload.size(), 8192, encoder));
  ASSERT_NE(body.find("x-amz-trailer-signature:"), std::string::npos);
  ASSERT_EQ(decode_all(config, body).status, Status::done);
  std::string corrupted = body;
  corrupted[corrupted.find("x-amz-trailer-signature:") + 30] ^= 1;
  EXPECT_EQ(decode_all(config, corrupted).error_code, "SignatureDoesNotMatch");
  std::string unsigned_trailer = body;
  const std::size_t at = unsigned_trailer.find("x-amz-trailer-signature:");
  unsigned_trailer.erase(at, unsigned_trailer.find("\r\n", at) + 2 - at);
  EXPECT_EQ(decode_all(config, unsigned_trailer).error_code, "SignatureDoesNotMatch");
}

TEST(AwsChunkedDecoder, ConfigComesFromTheVerifiedHeaders) {
  VerifiedRequest verified;
  verified.payload_mode = PayloadMode::streaming_unsigned_trailer;
  const auto ok = aws_chunked_config(verified, {{"X-Amz-Decoded-Content-Length", "11"},
                                                {"X-Amz-Trailer", "x-amz-checksum-crc64nvme"}});
  ASSERT_TRUE(std::holds_alternative<AwsChunkedConfig>(ok));
  EXPECT_EQ(std::get<AwsChunkedConfig>(ok).decoded_length, 11u);
  EXPECT_EQ(std::get<AwsChunkedConfig>(ok).trailer_checksum, ChecksumAlgorithm::crc64nvme);
  auto code = [&](const HeaderList& headers) {
    const auto result = aws_chunked_config(verified, headers);
    return std::holds_alternative<S3Error>(result) ? std::get<S3Error>(result).code : "OK";
  };
  EXPECT_EQ(code({}), "MissingContentLength");
  EXPECT_EQ(code({{"x-amz-decoded-content-length", "-1"}}), "InvalidArgument");
  EXPECT_EQ(code({{"x-amz-decoded-content-length", "1"}, {"x-amz-trailer", "x-amz-checksum-md5"}}),
            "InvalidRequest");
  verified.payload_mode = PayloadMode::unsigned_payload;
  EXPECT_EQ(code({{"x-amz-decoded-content-length", "1"}}), "InvalidArgument");
}

// ---- properties ----

struct Case {
  PayloadMode mode;
  std::optional<ChecksumAlgorithm> checksum;
  std::string payload;
  std::string body;
};

// A random payload, mode and trailer, encoded with random chunk sizes of at least S3's minimum;
// the decoder's limits are the defaults.
Case generate_case(std::size_t payload_bytes_max) {
  Case generated;
  generated.mode =
      *rc::gen::element(PayloadMode::streaming_signed, PayloadMode::streaming_signed_trailer,
                        PayloadMode::streaming_unsigned_trailer);
  if (generated.mode != PayloadMode::streaming_signed) {
    generated.checksum = *rc::gen::element(ChecksumAlgorithm::crc32, ChecksumAlgorithm::crc32c,
                                           ChecksumAlgorithm::crc64nvme, ChecksumAlgorithm::sha1,
                                           ChecksumAlgorithm::sha256);
  }
  const auto size = *rc::gen::inRange<std::size_t>(0, payload_bytes_max + 1);
  const auto fill = *rc::gen::arbitrary<char>();
  generated.payload.resize(size);
  for (std::size_t i = 0; i < size; ++i) generated.payload[i] = static_cast<char>(fill + i * 7);
  const std::size_t chunk_min = 8192;  // S3's minimum for every chunk but the last
  AwsChunkedEncoder encoder(encoder_config(generated.mode, generated.checksum));
  std::size_t offset = 0;
  while (offset < size) {
    const std::size_t piece = *rc::gen::inRange<std::size_t>(chunk_min, chunk_min + 20000);
    generated.body += encoder.chunk(std::string_view(generated.payload).substr(offset, piece));
    offset += piece;
  }
  generated.body += encoder.finish();
  return generated;
}

TEST(AwsChunkedProperties, EncodeThenDecodeRoundTripsHoweverFed) {
  // Whatever the mode, trailer, chunk sizes and feeding pieces, the decoder returns the payload.
  check_property([] {
    const Case generated = generate_case(60000);
    const auto config =
        decoder_config(generated.mode, generated.payload.size(), generated.checksum);
    AwsChunkedDecoder decoder(config);
    std::string decoded;
    std::size_t offset = 0;
    while (offset < generated.body.size()) {
      const auto piece = *rc::gen::inRange<std::size_t>(1, 5000);
      decoder.feed(std::string_view(generated.body).substr(offset, piece), decoded);
      offset += piece;
    }
    RC_ASSERT(decoder.finish() == Status::done);
    RC_ASSERT(decoded == generated.payload);
    RC_ASSERT(decoder.decoded_bytes() == generated.payload.size());
  });
}

TEST(AwsChunkedProperties, EveryTruncationIsIncompleteNeverSuccess) {
  // Cutting the body at every byte offset gives a failure at finish(), never done.
  check_property(
      [] {
        const Case generated = generate_case(9000);
        const auto config =
            decoder_config(generated.mode, generated.payload.size(), generated.checksum);
        for (std::size_t cut = 0; cut < generated.body.size(); ++cut) {
          AwsChunkedDecoder decoder(config);
          std::string decoded;
          decoder.feed(std::string_view(generated.body).substr(0, cut), decoded);
          RC_ASSERT(decoder.status() == Status::need_more);
          RC_ASSERT(decoder.finish() == Status::failed);
          RC_ASSERT(decoder.error()->code == "IncompleteBody");
        }
      },
      20);
}

TEST(AwsChunkedProperties, CorruptionIsRejectedOrHarmless) {
  // One changed byte anywhere: the decoder either fails, or (for a change it cannot see, such as
  // the case of a hex digit) returns exactly the original payload. In signed modes a change to
  // the data always fails.
  check_property(
      [] {
        const Case generated = generate_case(20000);
        const auto config =
            decoder_config(generated.mode, generated.payload.size(), generated.checksum);
        std::string body = generated.body;
        const auto at = *rc::gen::inRange<std::size_t>(0, body.size());
        const auto delta = *rc::gen::inRange(1, 256);
        body[at] = static_cast<char>(body[at] + delta);
        const Decoded decoded = decode_all(config, body);
        if (decoded.status == Status::done) RC_ASSERT(decoded.bytes == generated.payload);
      },
      300);
}

}  // namespace
}  // namespace s3chaos::s3proto
