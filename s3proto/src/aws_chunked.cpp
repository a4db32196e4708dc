// aws-chunked decoding and encoding. The decoder is a byte-driven state machine so a server can
// feed it whatever the socket delivered, however the chunk boundaries fall.
#include "s3proto/aws_chunked.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace s3chaos::s3proto {
namespace {

constexpr std::string_view chunk_signature_prefix = "chunk-signature=";
constexpr std::string_view trailer_signature_name = "x-amz-trailer-signature";
constexpr std::size_t signature_hex_length = 64;
constexpr std::size_t chunk_size_hex_digits_max = 16;
constexpr std::string_view content_length_mismatch =
    "You did not provide the number of bytes specified by the Content-Length HTTP header";
constexpr std::string_view malformed_trailer =
    "The request contained trailing data that was not well-formed or did not conform to our "
    "published schema.";

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_signed_mode(PayloadMode mode) {
  return mode == PayloadMode::streaming_signed || mode == PayloadMode::streaming_signed_trailer;
}

bool is_streaming_mode(PayloadMode mode) {
  return is_signed_mode(mode) || mode == PayloadMode::streaming_unsigned_trailer;
}

bool has_trailer_mode(PayloadMode mode) {
  return mode == PayloadMode::streaming_signed_trailer ||
         mode == PayloadMode::streaming_unsigned_trailer;
}

// Hex SHA-256 from the accumulator (which gives base64).
std::string sha256_hex_of(const ChecksumAccumulator& accumulator) {
  return hex_encode(base64_decode(accumulator.base64()).value_or(""));
}

std::string hex_size(std::uint64_t size) {
  char buffer[chunk_size_hex_digits_max + 1];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), size, 16);
  (void)error;  // 16 hex digits always hold a 64-bit value.
  return std::string(buffer, end);
}

std::string chained_string_to_sign(std::string_view prefix, const ChunkSigningContext& context,
                                   std::string_view previous_signature,
                                   std::string_view tail_hash_lines) {
  std::string text(prefix);
  text.append("\n").append(context.amz_date).append("\n").append(context.scope).append("\n");
  text.append(previous_signature).append("\n").append(tail_hash_lines);
  return text;
}

std::string chunk_signature_from_hash(const ChunkSigningContext& context,
                                      std::string_view previous_signature,
                                      std::string_view data_sha256_hex) {
  std::string tail(empty_payload_sha256_hex);
  tail.append("\n").append(data_sha256_hex);
  return signature_hex(
      context.signing_key,
      chained_string_to_sign("AWS4-HMAC-SHA256-PAYLOAD", context, previous_signature, tail));
}

}  // namespace

ChunkSigningContext chunk_signing_context(const VerifiedRequest& verified) {
  return {verified.signing_key, verified.amz_date, verified.scope, verified.signature};
}

ChunkSigningContext chunk_signing_context(const SignedRequest& signed_request) {
  return {signed_request.signing_key, signed_request.amz_date, signed_request.scope,
          signed_request.signature};
}

std::string chunk_signature(const ChunkSigningContext& context, std::string_view previous_signature,
                            std::string_view chunk_data) {
  return chunk_signature_from_hash(context, previous_signature, sha256_hex(chunk_data));
}

std::string trailer_signature(const ChunkSigningContext& context,
                              std::string_view previous_signature,
                              std::string_view canonical_trailers) {
  return signature_hex(context.signing_key,
                       chained_string_to_sign("AWS4-HMAC-SHA256-TRAILER", context,
                                              previous_signature, sha256_hex(canonical_trailers)));
}

std::variant<AwsChunkedConfig, S3Error> aws_chunked_config(const VerifiedRequest& verified,
                                                           const HeaderList& headers) {
  if (!is_streaming_mode(verified.payload_mode)) {
    return S3Error{400, "InvalidArgument",
                   "aws-chunked encoding is not supported with the specified "
                   "x-amz-content-sha256 value."};
  }
  AwsChunkedConfig config;
  config.mode = verified.payload_mode;
  if (is_signed_mode(config.mode)) config.signing = chunk_signing_context(verified);

  std::optional<std::string_view> decoded_length_text;
  std::optional<std::string_view> trailer_text;
  for (const auto& [name, value] : headers) {
    const std::string lower = to_lower(name);
    if (lower == "x-amz-decoded-content-length") decoded_length_text = value;
    if (lower == "x-amz-trailer") trailer_text = value;
  }
  if (!decoded_length_text) {
    return S3Error{411, "MissingContentLength", "You must provide the Content-Length HTTP header."};
  }
  std::uint64_t decoded_length = 0;
  const std::string_view length_text = trim(*decoded_length_text);
  const auto [end, error] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), decoded_length);
  if (error != std::errc() || end != length_text.data() + length_text.size() ||
      length_text.empty()) {
    return S3Error{400, "InvalidArgument", "x-amz-decoded-content-length is not a number."};
  }
  if (decoded_length > config.limits.decoded_bytes_max) {
    return S3Error{400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"};
  }
  config.decoded_length = decoded_length;
  if (trailer_text) {
    const std::string lower = to_lower(trim(*trailer_text));
    for (ChecksumAlgorithm algorithm : all_checksum_algorithms) {
      if (lower == checksum_header_name(algorithm)) config.trailer_checksum = algorithm;
    }
    if (!config.trailer_checksum || !has_trailer_mode(config.mode)) {
      return S3Error{400, "InvalidRequest",
                     "The value specified in the x-amz-trailer header is not supported"};
    }
  }
  return config;
}

// ---- decoder ----

AwsChunkedDecoder::AwsChunkedDecoder(AwsChunkedConfig config) : config_(std::move(config)) {
  if (!is_streaming_mode(config_.mode) || (signed_chunks() && !config_.signing)) {
    fail(400, "InvalidArgument",
         "aws-chunked encoding is not supported with the specified x-amz-content-sha256 value.");
    return;
  }
  if (config_.signing) previous_signature_ = config_.signing->seed_signature;
  if (config_.trailer_checksum) payload_checksum_.emplace(*config_.trailer_checksum);
}

bool AwsChunkedDecoder::signed_chunks() const {
  return is_signed_mode(config_.mode);
}

AwsChunkedDecoder::Status AwsChunkedDecoder::fail(int http_status, std::string_view code,
                                                  std::string_view message) {
  if (status_ != Status::failed) {
    error_ = S3Error{http_status, std::string(code), std::string(message)};
    status_ = Status::failed;
  }
  return status_;
}

AwsChunkedDecoder::Status AwsChunkedDecoder::feed(std::string_view bytes,
                                                  std::string& decoded_out) {
  while (!bytes.empty() && status_ != Status::failed) {
    if (status_ == Status::done) {
      return fail(400, "IncompleteBody", content_length_mismatch);
    }
    switch (state_) {
      case State::chunk_data: {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(chunk_remaining_bytes_, bytes.size()));
        const std::string_view data = bytes.substr(0, take);
        decoded_out.append(data);
        if (chunk_sha256_) chunk_sha256_->update(data);
        if (payload_checksum_) payload_checksum_->update(data);
        chunk_remaining_bytes_ -= take;
        bytes.remove_prefix(take);
        if (chunk_remaining_bytes_ == 0) {
          state_ = State::chunk_data_end;
          data_end_bytes_seen_ = 0;
        }
        break;
      }
      case State::chunk_data_end: {
        const char expected = data_end_bytes_seen_ == 0 ? '\r' : '\n';
        if (bytes.front() != expected) {
          return fail(400, "IncompleteBody",
                      "The chunk data is longer than its size or lacks its CRLF.");
        }
        bytes.remove_prefix(1);
        if (++data_end_bytes_seen_ == 2) {
          on_chunk_complete();
        }
        break;
      }
      case State::chunk_header:
      case State::trailer: {
        const char c = bytes.front();
        bytes.remove_prefix(1);
        if (c == '\n') {
          if (line_.empty() || line_.back() != '\r') {
            return fail(400, "IncompleteBody", "aws-chunked line without CRLF.");
          }
          line_.pop_back();
          const std::string line = std::move(line_);
          line_.clear();
          on_line(line);
          break;
        }
        if (line_.size() > config_.limits.line_bytes_max) {
          return fail(400, "IncompleteBody", "aws-chunked line is too long.");
        }
        line_.push_back(c);
        break;
      }
      case State::end:
        return fail(400, "IncompleteBody", content_length_mismatch);
    }
  }
  return status_;
}

AwsChunkedDecoder::Status AwsChunkedDecoder::on_line(std::string_view line) {
  if (state_ == State::chunk_header) return on_chunk_header(line);
  return on_trailer_line(line);
}

AwsChunkedDecoder::Status AwsChunkedDecoder::on_chunk_header(std::string_view line) {
  const std::size_t semicolon = line.find(';');
  const std::string_view size_text = line.substr(0, semicolon);
  if (size_text.empty() || size_text.size() > chunk_size_hex_digits_max) {
    return fail(400, "IncompleteBody", "The chunk size is not a hex number.");
  }
  std::uint64_t size = 0;
  const auto [end, error] =
      std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
  if (error != std::errc() || end != size_text.data() + size_text.size()) {
    return fail(400, "IncompleteBody", "The chunk size is not a hex number.");
  }
  if (size > config_.limits.chunk_bytes_max) {
    return fail(400, "EntityTooLarge", "The chunk is larger than this server accepts.");
  }
  // S3 allows only the last chunk under 8 KiB (signed or not); a small chunk followed by another
  // data chunk is refused. SDKs know this error and tell users to buffer their streams.
  if (previous_chunk_small_ && size > 0) {
    return fail(400, "InvalidChunkSizeError",
                "Only the last chunk is allowed to have a size less than 8192 bytes");
  }
  chunk_signature_claimed_.clear();
  if (semicolon != std::string_view::npos) {
    const std::string_view extension = line.substr(semicolon + 1);
    if (extension.substr(0, chunk_signature_prefix.size()) == chunk_signature_prefix) {
      chunk_signature_claimed_ = std::string(extension.substr(chunk_signature_prefix.size()));
    } else if (signed_chunks()) {
      return fail(400, "IncompleteBody", "Unexpected aws-chunked chunk extension.");
    }
  }
  if (signed_chunks() && !is_lower_hex(chunk_signature_claimed_, signature_hex_length)) {
    return fail(403, "SignatureDoesNotMatch", "The chunk signature is missing or malformed.");
  }
  if (config_.decoded_length && size > *config_.decoded_length - decoded_bytes_) {
    return fail(400, "IncompleteBody", content_length_mismatch);
  }
  if (size > config_.limits.decoded_bytes_max - decoded_bytes_) {
    return fail(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size");
  }
  chunk_size_bytes_ = size;
  chunk_remaining_bytes_ = size;
  decoded_bytes_ += size;
  ++chunk_count_;
  previous_chunk_small_ = size < config_.limits.chunk_bytes_min_except_last;
  if (signed_chunks()) chunk_sha256_.emplace(ChecksumAlgorithm::sha256);
  if (size == 0) {
    final_chunk_seen_ = true;
    return on_chunk_complete();
  }
  state_ = State::chunk_data;
  return status_;
}

AwsChunkedDecoder::Status AwsChunkedDecoder::on_chunk_complete() {
  if (signed_chunks()) {
    const std::string expected = chunk_signature_from_hash(
        *config_.signing, previous_signature_, chunk_sha256_ ? sha256_hex_of(*chunk_sha256_) : "");
    if (!constant_time_equals(expected, chunk_signature_claimed_)) {
      return fail(403, "SignatureDoesNotMatch",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.");
    }
    previous_signature_ = expected;
  }
  if (!final_chunk_seen_) {
    state_ = State::chunk_header;
    return status_;
  }
  if (config_.decoded_length && decoded_bytes_ != *config_.decoded_length) {
    return fail(400, "IncompleteBody", content_length_mismatch);
  }
  state_ = State::trailer;
  return status_;
}

AwsChunkedDecoder::Status AwsChunkedDecoder::on_trailer_line(std::string_view line) {
  if (line.empty()) return on_trailers_complete();
  if (++trailer_line_count_ > config_.limits.trailer_count_max) {
    return fail(400, "MalformedTrailerError", malformed_trailer);
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return fail(400, "MalformedTrailerError", malformed_trailer);
  }
  const std::string name = to_lower(trim(line.substr(0, colon)));
  const std::string_view value = trim(line.substr(colon + 1));
  if (trailer_signature_claimed_) {
    return fail(400, "MalformedTrailerError", malformed_trailer);
  }
  if (name == trailer_signature_name && config_.mode == PayloadMode::streaming_signed_trailer) {
    trailer_signature_claimed_ = std::string(value);
    return status_;
  }
  if (config_.trailer_checksum && name == checksum_header_name(*config_.trailer_checksum) &&
      !trailer_value_) {
    trailer_value_ = std::string(value);
    canonical_trailers_.append(name).append(":").append(value).append("\n");
    return status_;
  }
  return fail(400, "MalformedTrailerError", malformed_trailer);
}

AwsChunkedDecoder::Status AwsChunkedDecoder::on_trailers_complete() {
  if (config_.trailer_checksum) {
    const std::string header(checksum_header_name(*config_.trailer_checksum));
    if (!trailer_value_) {
      return fail(400, "MalformedTrailerError", malformed_trailer);
    }
    const std::string expected = payload_checksum_->base64();
    const auto raw = base64_decode(*trailer_value_);
    if (!raw || raw->size() != base64_decode(expected).value_or("").size()) {
      return fail(400, "InvalidRequest", "Value for " + header + " trailing header is invalid.");
    }
    if (!constant_time_equals(expected, *trailer_value_)) {
      return fail(400, "BadDigest",
                  "The " + std::string(checksum_algorithm_name(*config_.trailer_checksum)) +
                      " you specified did not match the calculated checksum.");
    }
  }
  if (config_.mode == PayloadMode::streaming_signed_trailer) {
    if (!trailer_signature_claimed_) {
      return fail(403, "SignatureDoesNotMatch", "The trailer signature is missing.");
    }
    const std::string expected =
        trailer_signature(*config_.signing, previous_signature_, canonical_trailers_);
    if (!constant_time_equals(expected, *trailer_signature_claimed_)) {
      return fail(403, "SignatureDoesNotMatch",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.");
    }
  }
  state_ = State::end;
  status_ = Status::done;
  return status_;
}

AwsChunkedDecoder::Status AwsChunkedDecoder::finish() {
  if (status_ == Status::need_more) {
    return fail(400, "IncompleteBody", "The request body terminated unexpectedly");
  }
  return status_;
}

// ---- encoder ----

AwsChunkedEncoder::AwsChunkedEncoder(AwsChunkedEncoderConfig config) : config_(std::move(config)) {
  if (config_.signing) previous_signature_ = config_.signing->seed_signature;
  if (config_.trailer_checksum) payload_checksum_.emplace(*config_.trailer_checksum);
}

std::string AwsChunkedEncoder::chunk(std::string_view data) {
  if (data.empty()) return "";
  if (payload_checksum_) payload_checksum_->update(data);
  std::string out = hex_size(data.size());
  if (is_signed_mode(config_.mode) && config_.signing) {
    previous_signature_ = chunk_signature(*config_.signing, previous_signature_, data);
    out.append(";").append(chunk_signature_prefix).append(previous_signature_);
  }
  out.append("\r\n").append(data).append("\r\n");
  return out;
}

std::string AwsChunkedEncoder::finish() {
  std::string out = "0";
  const bool signed_mode = is_signed_mode(config_.mode) && config_.signing;
  if (signed_mode) {
    previous_signature_ = chunk_signature(*config_.signing, previous_signature_, "");
    out.append(";").append(chunk_signature_prefix).append(previous_signature_);
  }
  out.append("\r\n");
  if (has_trailer_mode(config_.mode) && payload_checksum_) {
    const std::string line = std::string(checksum_header_name(*config_.trailer_checksum)) + ":" +
                             payload_checksum_->base64();
    out.append(line).append("\r\n");
    if (config_.mode == PayloadMode::streaming_signed_trailer && signed_mode) {
      const std::string signature =
          trailer_signature(*config_.signing, previous_signature_, line + "\n");
      out.append(trailer_signature_name).append(":").append(signature).append("\r\n");
    }
  }
  out.append("\r\n");
  return out;
}

std::string encode_aws_chunked(std::string_view payload, std::size_t chunk_bytes,
                               const AwsChunkedEncoderConfig& config) {
  AwsChunkedEncoder encoder(config);
  std::string out;
  const std::size_t step = std::max<std::size_t>(chunk_bytes, 1);
  for (std::size_t offset = 0; offset < payload.size(); offset += step) {
    out += encoder.chunk(payload.substr(offset, step));
  }
  out += encoder.finish();
  return out;
}

std::uint64_t aws_chunked_encoded_length(std::uint64_t payload_bytes, std::size_t chunk_bytes,
                                         const AwsChunkedEncoderConfig& config) {
  const std::uint64_t step = std::max<std::size_t>(chunk_bytes, 1);
  const bool signed_mode = is_signed_mode(config.mode) && config.signing;
  const std::uint64_t signature_extension =
      signed_mode ? 1 + chunk_signature_prefix.size() + signature_hex_length : 0;
  auto chunk_length = [&](std::uint64_t size) {
    return hex_size(size).size() + signature_extension + 2 + size + (size > 0 ? 2 : 0);
  };
  const std::uint64_t full_chunks = payload_bytes / step;
  const std::uint64_t last_chunk = payload_bytes % step;
  std::uint64_t total = full_chunks * chunk_length(step) + chunk_length(0);
  if (last_chunk > 0) total += chunk_length(last_chunk);
  if (has_trailer_mode(config.mode) && config.trailer_checksum) {
    total += checksum_header_name(*config.trailer_checksum).size() + 1 +
             checksum_base64(*config.trailer_checksum, "").size() + 2;
    if (config.mode == PayloadMode::streaming_signed_trailer && signed_mode) {
      total += trailer_signature_name.size() + 1 + signature_hex_length + 2;
    }
  }
  return total + 2;
}

}  // namespace s3chaos::s3proto
