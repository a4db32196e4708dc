// Digests and checksums as S3 carries them on the wire.
//
// - ETag of a single-part object: the hex MD5 of its bytes, in double quotes.
// - Content-MD5: the base64 of the 16 raw MD5 bytes.
// - x-amz-checksum-<algorithm>: the base64 of the big-endian checksum (CRC32, CRC32C,
//   CRC64NVME) or of the raw digest (SHA1, SHA256).
// CRCs come from Boost.CRC, digests from OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace s3chaos::s3proto {

enum class ChecksumAlgorithm { crc32, crc32c, crc64nvme, sha1, sha256 };

inline constexpr std::array<ChecksumAlgorithm, 5> all_checksum_algorithms = {
    ChecksumAlgorithm::crc32, ChecksumAlgorithm::crc32c, ChecksumAlgorithm::crc64nvme,
    ChecksumAlgorithm::sha1, ChecksumAlgorithm::sha256};

// "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256" (as in x-amz-checksum-algorithm and
// x-amz-sdk-checksum-algorithm); case-insensitive. nullopt for anything else.
std::optional<ChecksumAlgorithm> parse_checksum_algorithm(std::string_view name);
// The upper-case name, e.g. "CRC32C".
std::string_view checksum_algorithm_name(ChecksumAlgorithm algorithm);
// The header that carries it, lower case, e.g. "x-amz-checksum-crc32c".
std::string_view checksum_header_name(ChecksumAlgorithm algorithm);

// The checksum of `bytes`, base64-encoded as in the x-amz-checksum-* header.
std::string checksum_base64(ChecksumAlgorithm algorithm, std::string_view bytes);

// Incremental form, for bodies that arrive in pieces (aws-chunked, multipart).
class ChecksumAccumulator {
 public:
  explicit ChecksumAccumulator(ChecksumAlgorithm algorithm);
  ChecksumAccumulator(const ChecksumAccumulator&);
  ChecksumAccumulator& operator=(const ChecksumAccumulator&);
  ~ChecksumAccumulator();
  void update(std::string_view bytes);
  // The base64 value of everything seen so far. Does not reset the accumulator.
  std::string base64() const;
  ChecksumAlgorithm algorithm() const { return algorithm_; }

 private:
  struct State;
  ChecksumAlgorithm algorithm_;
  State* state_;
};

// Raw 16-byte MD5 digest.
std::array<unsigned char, 16> md5(std::string_view bytes);
// Lower-case hex MD5 (the ETag of a single-part object, without quotes).
std::string md5_hex(std::string_view bytes);
// Base64 MD5 (the Content-MD5 header value).
std::string md5_base64(std::string_view bytes);
// Lower-case hex SHA-256 (SigV4 payload hashes).
std::string sha256_hex(std::string_view bytes);
// Raw HMAC-SHA256 (SigV4 signing keys and signatures).
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string hex_encode(std::string_view raw_bytes);
// Standard base64 with padding.
std::string base64_encode(std::string_view raw_bytes);
// Strict standard base64 (padding required, no whitespace). nullopt on malformed input.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace s3chaos::s3proto
