// The aws-chunked body encoding (Content-Encoding: aws-chunked), sans-I/O:
//
//   hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//   [x-amz-checksum-<alg>:base64\r\n [x-amz-trailer-signature:sig\r\n]] \r\n
//
// A decoder that is fed bytes as they arrive and gives a verdict at the end, and an encoder for
// our own client and for tests. Both serve the four streaming x-amz-content-sha256 modes S3
// knows (see PayloadMode in sigv4.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace s3chaos::s3proto {

// What chunk signatures chain from: the request's signing key, time, scope and signature.
struct ChunkSigningContext {
  std::string signing_key;  // raw
  std::string amz_date;     // "YYYYMMDDTHHMMSSZ"
  std::string scope;        // "YYYYMMDD/region/s3/aws4_request"
  std::string seed_signature;
};

ChunkSigningContext chunk_signing_context(const VerifiedRequest& verified);
ChunkSigningContext chunk_signing_context(const SignedRequest& signed_request);

// The signature of one chunk, chained from the previous chunk's signature (the seed for the
// first one).
std::string chunk_signature(const ChunkSigningContext& context, std::string_view previous_signature,
                            std::string_view chunk_data);
// The signature of the trailer lines ("name:value\n" each), chained from the final chunk's.
std::string trailer_signature(const ChunkSigningContext& context,
                              std::string_view previous_signature,
                              std::string_view canonical_trailers);

struct AwsChunkedLimits {
  std::uint64_t chunk_bytes_max = 16 * 1024 * 1024;
  // S3: every chunk but the last must carry at least 8 KiB (InvalidChunkSizeError).
  std::uint64_t chunk_bytes_min_except_last = 8 * 1024;
  std::size_t line_bytes_max = 4 * 1024;  // a chunk header or a trailer line, without CRLF
  std::size_t trailer_count_max = 8;
  std::uint64_t decoded_bytes_max = 5ull * 1024 * 1024 * 1024;  // S3's single PUT maximum
};

struct AwsChunkedConfig {
  PayloadMode mode = PayloadMode::streaming_unsigned_trailer;  // a streaming mode
  std::optional<ChunkSigningContext> signing;                  // required in the signed modes
  std::optional<std::uint64_t> decoded_length;        // x-amz-decoded-content-length, if sent
  std::optional<ChecksumAlgorithm> trailer_checksum;  // from x-amz-trailer, if sent
  AwsChunkedLimits limits;
};

// The decoder configuration for a verified streaming request, from x-amz-decoded-content-length
// and x-amz-trailer. Errors: 411 MissingContentLength without a decoded length, 400
// InvalidArgument for a malformed one, 400 InvalidRequest for an unsupported trailer, and 400
// InvalidArgument when the request is not a streaming mode.
std::variant<AwsChunkedConfig, S3Error> aws_chunked_config(const VerifiedRequest& verified,
                                                           const HeaderList& headers);

// Incremental decoder. Decoded bytes are handed out as they arrive and are provisional: the
// caller must keep them only if the verdict is `done` (a later chunk may fail its signature, the
// trailer its checksum, or the body may end early). Never crashes on any input; after an error
// it ignores further input.
class AwsChunkedDecoder {
 public:
  enum class Status { need_more, done, failed };

  explicit AwsChunkedDecoder(AwsChunkedConfig config);

  // Consumes all of `bytes`, appending decoded payload bytes to `decoded_out`. Bytes after the
  // end of the encoding are an error.
  Status feed(std::string_view bytes, std::string& decoded_out);
  // The transport ended (connection closed or Content-Length reached). Unless the encoding was
  // complete, this is a failure (IncompleteBody): a short body is never a success.
  Status finish();

  Status status() const { return status_; }
  // Set when status() is failed: the S3 error to return.
  const std::optional<S3Error>& error() const { return error_; }
  std::uint64_t decoded_bytes() const { return decoded_bytes_; }
  // The verified trailer checksum (base64) when one was sent.
  const std::optional<std::string>& trailer_checksum_base64() const { return trailer_value_; }

 private:
  enum class State { chunk_header, chunk_data, chunk_data_end, trailer, end };

  Status fail(int http_status, std::string_view code, std::string_view message);
  Status on_line(std::string_view line);
  Status on_chunk_header(std::string_view line);
  Status on_chunk_complete();
  Status on_trailer_line(std::string_view line);
  Status on_trailers_complete();
  bool signed_chunks() const;

  AwsChunkedConfig config_;
  State state_ = State::chunk_header;
  Status status_ = Status::need_more;
  std::optional<S3Error> error_;
  std::string line_;  // the header or trailer line being read
  std::uint64_t chunk_remaining_bytes_ = 0;
  std::uint64_t chunk_size_bytes_ = 0;
  std::uint64_t decoded_bytes_ = 0;
  std::uint64_t chunk_count_ = 0;
  bool previous_chunk_small_ = false;
  bool final_chunk_seen_ = false;
  std::string chunk_signature_claimed_;
  std::string previous_signature_;
  std::optional<ChecksumAccumulator> chunk_sha256_;
  std::optional<ChecksumAccumulator> payload_checksum_;
  std::size_t trailer_line_count_ = 0;
  std::optional<std::string> trailer_value_;
  std::optional<std::string> trailer_signature_claimed_;
  std::string canonical_trailers_;
  std::size_t data_end_bytes_seen_ = 0;  // of the CRLF after chunk data
};

struct AwsChunkedEncoderConfig {
  PayloadMode mode = PayloadMode::streaming_unsigned_trailer;  // a streaming mode
  std::optional<ChunkSigningContext> signing;                  // required in the signed modes
  std::optional<ChecksumAlgorithm> trailer_checksum;           // sent as a trailer when set
};

// Incremental encoder: chunk() per piece of payload, then finish() once.
class AwsChunkedEncoder {
 public:
  explicit AwsChunkedEncoder(AwsChunkedEncoderConfig config);
  // One chunk for `data` (empty data is skipped: a zero-length chunk would end the body).
  std::string chunk(std::string_view data);
  // The zero-length final chunk and the trailers.
  std::string finish();

 private:
  AwsChunkedEncoderConfig config_;
  std::string previous_signature_;
  std::optional<ChecksumAccumulator> payload_checksum_;
};

// Encodes `payload` in chunks of `chunk_bytes` (the last may be shorter); chunk_bytes > 0.
std::string encode_aws_chunked(std::string_view payload, std::size_t chunk_bytes,
                               const AwsChunkedEncoderConfig& config);
// The encoded length of that, for the Content-Length header, without encoding.
std::uint64_t aws_chunked_encoded_length(std::uint64_t payload_bytes, std::size_t chunk_bytes,
                                         const AwsChunkedEncoderConfig& config);

}  // namespace s3chaos::s3proto
