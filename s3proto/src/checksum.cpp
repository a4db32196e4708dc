#include "s3proto/checksum.hpp"

#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <cctype>
#include <variant>

namespace s3chaos::s3proto {
namespace {

// CRC parameters as S3 defines them: CRC32 (IEEE, reflected), CRC32C (Castagnoli) and
// CRC64NVME (the NVMe polynomial 0xad93d23594c93659, reflected, all-ones init and xor-out).
//
// CRC32 and CRC32C run on ISA-L, which uses the CPU's CRC and carry-less multiply instructions
// (Boost.CRC's byte table was a twentieth of a simulated day); ISA-L 2.30 has no CRC64NVME, so
// that one stays on Boost.CRC. The tests check all three against Boost.CRC and S3's vectors.

// CRC32C: ISA-L's crc32_iscsi neither inverts the start value nor the result, so the
// accumulator keeps the raw register and inverts at the ends, as the parameters above say.
struct Crc32c {
  std::uint32_t reg = 0xFFFFFFFFu;
  void process_bytes(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    // crc32_iscsi takes an int length: feed it in chunks it can hold.
    constexpr std::size_t chunk_max = std::size_t{1} << 30;
    while (size > 0) {
      const std::size_t chunk = std::min(size, chunk_max);
      reg = crc32_iscsi(const_cast<unsigned char*>(bytes), static_cast<int>(chunk), reg);
      bytes += chunk;
      size -= chunk;
    }
  }
  std::uint32_t checksum() const { return ~reg; }
};

// CRC32: ISA-L's crc32_gzip_refl inverts on the way in and out (as zlib's crc32 does), so
// the running value is the finished CRC of the bytes so far and chains from 0.
struct Crc32 {
  std::uint32_t value = 0;
  void process_bytes(const void* data, std::size_t size) {
    value = crc32_gzip_refl(value, static_cast<const unsigned char*>(data), size);
  }
  std::uint32_t checksum() const { return value; }
};

using Crc64Nvme = boost::crc_optimal<64, 0xad93d23594c93659ULL, 0xFFFFFFFFFFFFFFFFULL,
                                     0xFFFFFFFFFFFFFFFFULL, true, true>;

template <typename Integer>
std::string big_endian_bytes(Integer value) {
  std::string bytes(sizeof(Integer), '\0');
  for (std::size_t i = 0; i < sizeof(Integer); ++i) {
    bytes[sizeof(Integer) - 1 - i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return bytes;
}

std::string_view as_chars(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

struct ChecksumAccumulator::State {
  std::variant<Crc32, Crc32c, Crc64Nvme, SHA_CTX, SHA256_CTX> engine;
};

std::optional<ChecksumAlgorithm> parse_checksum_algorithm(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (ChecksumAlgorithm algorithm : all_checksum_algorithms) {
    if (checksum_algorithm_name(algorithm) == upper) return algorithm;
  }
  return std::nullopt;
}

std::string_view checksum_algorithm_name(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::crc32:
      return "CRC32";
    case ChecksumAlgorithm::crc32c:
      return "CRC32C";
    case ChecksumAlgorithm::crc64nvme:
      return "CRC64NVME";
    case ChecksumAlgorithm::sha1:
      return "SHA1";
    case ChecksumAlgorithm::sha256:
      return "SHA256";
  }
  return "CRC32";
}

std::string_view checksum_header_name(ChecksumAlgorithm algorithm) {
  switch (algorithm) {
    case ChecksumAlgorithm::crc32:
      return "x-amz-checksum-crc32";
    case ChecksumAlgorithm::crc32c:
      return "x-amz-checksum-crc32c";
    case ChecksumAlgorithm::crc64nvme:
      return "x-amz-checksum-crc64nvme";
    case ChecksumAlgorithm::sha1:
      return "x-amz-checksum-sha1";
    case ChecksumAlgorithm::sha256:
      return "x-amz-checksum-sha256";
  }
  return "x-amz-checksum-crc32";
}

// The SHA_CTX / SHA256_CTX low-level API is deprecated in OpenSSL 3 but is the only one that
// copies by value, which keeps the accumulator copyable without heap-allocated EVP contexts.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
ChecksumAccumulator::ChecksumAccumulator(ChecksumAlgorithm algorithm)
    : algorithm_(algorithm), state_(new State) {
  switch (algorithm) {
    case ChecksumAlgorithm::crc32:
      state_->engine = Crc32{};
      break;
    case ChecksumAlgorithm::crc32c:
      state_->engine = Crc32c{};
      break;
    case ChecksumAlgorithm::crc64nvme:
      state_->engine = Crc64Nvme{};
      break;
    case ChecksumAlgorithm::sha1: {
      SHA_CTX context;
      SHA1_Init(&context);
      state_->engine = context;
      break;
    }
    case ChecksumAlgorithm::sha256: {
      SHA256_CTX context;
      SHA256_Init(&context);
      state_->engine = context;
      break;
    }
  }
}

ChecksumAccumulator::ChecksumAccumulator(const ChecksumAccumulator& other)
    : algorithm_(other.algorithm_), state_(new State(*other.state_)) {}

ChecksumAccumulator& ChecksumAccumulator::operator=(const ChecksumAccumulator& other) {
  if (this != &other) {
    *state_ = *other.state_;
    algorithm_ = other.algorithm_;
  }
  return *this;
}

ChecksumAccumulator::~ChecksumAccumulator() {
  delete state_;
}

void ChecksumAccumulator::update(std::string_view bytes) {
  std::visit(
      [&](auto& engine) {
        using Engine = std::decay_t<decltype(engine)>;
        if constexpr (std::is_same_v<Engine, SHA_CTX>) {
          SHA1_Update(&engine, bytes.data(), bytes.size());
        } else if constexpr (std::is_same_v<Engine, SHA256_CTX>) {
          SHA256_Update(&engine, bytes.data(), bytes.size());
        } else {
          engine.process_bytes(bytes.data(), bytes.size());
        }
      },
      state_->engine);
}

std::string ChecksumAccumulator::base64() const {
  return std::visit(
      [](const auto& engine) -> std::string {
        using Engine = std::decay_t<decltype(engine)>;
        if constexpr (std::is_same_v<Engine, SHA_CTX>) {
          SHA_CTX copy = engine;
          unsigned char digest[SHA_DIGEST_LENGTH];
          SHA1_Final(digest, &copy);
          return base64_encode(as_chars(digest, sizeof digest));
        } else if constexpr (std::is_same_v<Engine, SHA256_CTX>) {
          SHA256_CTX copy = engine;
          unsigned char digest[SHA256_DIGEST_LENGTH];
          SHA256_Final(digest, &copy);
          return base64_encode(as_chars(digest, sizeof digest));
        } else {
          return base64_encode(big_endian_bytes(engine.checksum()));
        }
      },
      state_->engine);
}
#pragma GCC diagnostic pop

std::string checksum_base64(ChecksumAlgorithm algorithm, std::string_view bytes) {
  ChecksumAccumulator accumulator(algorithm);
  accumulator.update(bytes);
  return accumulator.base64();
}

std::array<unsigned char, 16> md5(std::string_view bytes) {
  // Fetched from OpenSSL's provider once: EVP_Digest with EVP_md5() fetches it again on every
  // call (a measurable share of an MD5 of a few KiB).
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "MD5", nullptr);
  std::array<unsigned char, 16> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length,
             fetched != nullptr ? fetched : EVP_md5(), nullptr);
  return digest;
}

std::string md5_hex(std::string_view bytes) {
  const auto digest = md5(bytes);
  return hex_encode(as_chars(digest.data(), digest.size()));
}

std::string md5_base64(std::string_view bytes) {
  const auto digest = md5(bytes);
  return base64_encode(as_chars(digest.data(), digest.size()));
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return hex_encode(as_chars(digest, sizeof digest));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(as_chars(digest, length));
}

std::string hex_encode(std::string_view raw_bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(raw_bytes.size() * 2);
  for (unsigned char c : raw_bytes) {
    text.push_back(digits[c >> 4]);
    text.push_back(digits[c & 0x0f]);
  }
  return text;
}

std::string base64_encode(std::string_view raw_bytes) {
  if (raw_bytes.empty()) return {};
  std::string text(4 * ((raw_bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                      reinterpret_cast<const unsigned char*>(raw_bytes.data()),
                                      static_cast<int>(raw_bytes.size()));
  text.resize(static_cast<std::size_t>(written));
  return text;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty()) return std::string{};
  if (text.size() % 4 != 0) return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool alphabet = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
    const bool padding = c == '=' && i + 2 >= text.size();
    if (!alphabet && !padding) return std::nullopt;
  }
  if (text[text.size() - 2] == '=' && text.back() != '=') return std::nullopt;
  std::string raw(3 * text.size() / 4, '\0');
  const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()),
                                      static_cast<int>(text.size()));
  if (written < 0) return std::nullopt;
  std::size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text[text.size() - 2] == '=') ++padding;
  raw.resize(static_cast<std::size_t>(written) - padding);
  return raw;
}

}  // namespace s3chaos::s3proto
