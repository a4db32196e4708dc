// Proves the wire encodings of digests and checksums against published check values: the CRC
// catalogue's check value for "123456789", RFC 1321 / FIPS 180 digests, and base64 round trips.
#include "s3proto/checksum.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/crc.hpp>
#include <cstdio>

namespace s3chaos::s3proto {
namespace {

std::string hex_of_base64(const std::string& text) {
  const auto raw = base64_decode(text);
  EXPECT_TRUE(raw.has_value()) << text;
  return hex_encode(raw.value_or(""));
}

TEST(Checksum, CrcCheckValuesFromTheCatalogue) {
  // "check" values of CRC-32/ISO-HDLC, CRC-32/ISCSI and CRC-64/NVME for the ASCII "123456789".
  EXPECT_EQ(hex_of_base64(checksum_base64(ChecksumAlgorithm::crc32, "123456789")), "cbf43926");
  EXPECT_EQ(hex_of_base64(checksum_base64(ChecksumAlgorithm::crc32c, "123456789")), "e3069283");
  EXPECT_EQ(hex_of_base64(checksum_base64(ChecksumAlgorithm::crc64nvme, "123456789")),
            "ae8b14860a799888");
}

TEST(Checksum, DigestsMatchPublishedVectors) {
  EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of_base64(checksum_base64(ChecksumAlgorithm::sha1, "abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(checksum_base64(ChecksumAlgorithm::sha256, "abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

TEST(Checksum, HmacSha256MatchesRfc4231Case2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Checksum, AlgorithmNamesRoundTrip) {
  for (ChecksumAlgorithm algorithm : all_checksum_algorithms) {
    EXPECT_EQ(parse_checksum_algorithm(checksum_algorithm_name(algorithm)), algorithm);
  }
  EXPECT_EQ(parse_checksum_algorithm("crc32c"), ChecksumAlgorithm::crc32c);
  EXPECT_FALSE(parse_checksum_algorithm("MD5").has_value());
  EXPECT_EQ(checksum_header_name(ChecksumAlgorithm::crc64nvme), "x-amz-checksum-crc64nvme");
}

TEST(Base64, RejectsMalformedText) {
  EXPECT_FALSE(base64_decode("abc").has_value());
  EXPECT_FALSE(base64_decode("ab=c").has_value());
  EXPECT_FALSE(base64_decode("a b=").has_value());
  EXPECT_EQ(base64_decode("YQ=="), std::optional<std::string>("a"));
}

RC_GTEST_PROP(Base64, RoundTrips, (const std::string& raw)) {
  RC_ASSERT(base64_decode(base64_encode(raw)) == std::optional<std::string>(raw));
}

// Feeding the bytes in any split gives the same checksum as feeding them at once.
RC_GTEST_PROP(Checksum, IncrementalEqualsOneShot, (const std::string& bytes, std::size_t cut)) {
  for (ChecksumAlgorithm algorithm : all_checksum_algorithms) {
    ChecksumAccumulator accumulator(algorithm);
    const std::size_t split = bytes.empty() ? 0 : cut % (bytes.size() + 1);
    accumulator.update(std::string_view(bytes).substr(0, split));
    ChecksumAccumulator copy = accumulator;
    accumulator.update(std::string_view(bytes).substr(split));
    copy.update(std::string_view(bytes).substr(split));
    RC_ASSERT(accumulator.base64() == checksum_base64(algorithm, bytes));
    RC_ASSERT(copy.base64() == accumulator.base64());
  }
}

// CRC32 and CRC32C run on ISA-L's hardware paths, which switch strategy with the length (folding
// 64-byte blocks, then a byte tail): they agree with Boost.CRC's byte table at every length,
// including lengths long enough for the folding loops.
RC_GTEST_PROP(Checksum, HardwareCrcsAgreeWithBoostCrc, ()) {
  const auto bytes = *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(0, 5000),
                                                      rc::gen::arbitrary<char>());
  boost::crc_32_type crc32;
  crc32.process_bytes(bytes.data(), bytes.size());
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> crc32c;
  crc32c.process_bytes(bytes.data(), bytes.size());
  const auto as_hex = [](std::uint32_t value) {
    char text[9];
    std::snprintf(text, sizeof text, "%08x", value);
    return std::string(text);
  };
  RC_ASSERT(hex_of_base64(checksum_base64(ChecksumAlgorithm::crc32, bytes)) ==
            as_hex(crc32.checksum()));
  RC_ASSERT(hex_of_base64(checksum_base64(ChecksumAlgorithm::crc32c, bytes)) ==
            as_hex(crc32c.checksum()));
}

}  // namespace
}  // namespace s3chaos::s3proto
