// AWS Signature Version 4 for S3, sans-I/O: a signer for clients (Authorization header and
// presigned URLs) and a verifier for servers. Pure functions over strings; the current time is
// always passed in as "YYYYMMDDTHHMMSSZ", never read from a clock.
//
// S3 differs from other services in two ways that matter here: each path segment is
// URI-encoded exactly once (never twice), and the payload hash (x-amz-content-sha256) is a
// signed header that may also name a streaming mode instead of a hash.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace s3chaos::s3proto {

// Header fields as received or to be sent, names in any case. Repeated names are allowed (SigV4
// joins their values with commas).
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// Query parameters, decoded (not percent-encoded). A parameter without '=' has value "".
using QueryList = std::vector<std::pair<std::string, std::string>>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// An error as S3 reports it: HTTP status, the <Code> and a human <Message>.
struct S3Error {
  int http_status = 0;
  std::string code;
  std::string message;
};

// The x-amz-content-sha256 values that are not a hash.
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view streaming_signed_payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
inline constexpr std::string_view streaming_signed_payload_trailer =
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
inline constexpr std::string_view streaming_unsigned_payload_trailer =
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
// SHA-256 of the empty string, the payload hash of a body-less request.
inline constexpr std::string_view empty_payload_sha256_hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// How the body is protected, from x-amz-content-sha256.
enum class PayloadMode {
  sha256_hex,                  // the header is the hex SHA-256 of the whole body
  unsigned_payload,            // UNSIGNED-PAYLOAD (and every presigned URL without the header)
  streaming_signed,            // aws-chunked with a signature per chunk
  streaming_signed_trailer,    // aws-chunked, chunk signatures and a signed trailer
  streaming_unsigned_trailer,  // aws-chunked, no signatures, a checksum trailer
};

// Limits on what the verifier parses; inputs beyond them are rejected, never truncated.
inline constexpr std::size_t sigv4_header_value_bytes_max = 8 * 1024;
inline constexpr std::size_t sigv4_signed_header_count_max = 64;
inline constexpr std::size_t sigv4_target_bytes_max = 16 * 1024;
inline constexpr std::size_t sigv4_query_param_count_max = 256;
// S3 refuses presigned URLs valid for more than seven days.
inline constexpr std::int64_t presign_expires_seconds_max = 7 * 24 * 3600;
// S3 rejects requests whose time differs from its own by more than fifteen minutes.
inline constexpr std::int64_t clock_skew_seconds_max_default = 15 * 60;

// ---- building blocks (exposed for tests and for the chunk codec) ----

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) kept,
// every other byte as %XX upper-case; '/' kept only when `keep_slash`.
std::string uri_encode(std::string_view bytes, bool keep_slash);
// Strict percent-decoding; '+' stays '+' unless `plus_is_space`. nullopt on a malformed escape.
std::optional<std::string> uri_decode(std::string_view text, bool plus_is_space);
// S3's canonical URI for a decoded path: each segment encoded once, '/' kept; "" gives "/".
std::string canonical_uri(std::string_view decoded_path);
// Sorted by encoded name, then encoded value; "name=value" joined with '&'.
std::string canonical_query_string(const QueryList& decoded_params);
// Parses a raw query string ("a=1&b=%20") into decoded pairs ('+' read as space, as S3 does).
// nullopt on a malformed escape.
std::optional<QueryList> parse_query_string(std::string_view raw_query);

// The date, region, service and "aws4_request", joined with '/'.
std::string credential_scope(std::string_view date_yyyymmdd, std::string_view region,
                             std::string_view service);
// The raw 32-byte signing key derived from the secret.
std::string derive_signing_key(std::string_view secret_access_key, std::string_view date_yyyymmdd,
                               std::string_view region, std::string_view service);
// The canonical request. `signed_header_names` are lower case in the order to sign; each must be
// present in `headers` (a missing one contributes an empty value, which will not verify).
std::string canonical_request(std::string_view method, std::string_view canonical_uri_text,
                              std::string_view canonical_query, const HeaderList& headers,
                              const std::vector<std::string>& signed_header_names,
                              std::string_view payload_hash);
// "AWS4-HMAC-SHA256\n" amz_date "\n" scope "\n" hex(sha256(canonical request)).
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_text);
// Lower-case hex HMAC-SHA256 of `text` under `signing_key`.
std::string signature_hex(std::string_view signing_key, std::string_view text);

// "YYYYMMDDTHHMMSSZ" to seconds since 1970 (UTC). nullopt unless exactly that shape and a real
// calendar time.
std::optional<std::int64_t> parse_amz_date(std::string_view amz_date);

// ---- signer (clients) ----

struct SigningRequest {
  std::string method;  // "GET", "PUT", ...
  // Decoded path as the object key's bytes with its leading '/', e.g. "/bucket/a b$c".
  std::string path;
  QueryList query;     // decoded
  HeaderList headers;  // must hold "host"; every header here is signed
  // Hex SHA-256 of the body, or one of the non-hash values above.
  std::string payload_hash = std::string(unsigned_payload);
};

struct SignedRequest {
  std::string authorization;   // value of the Authorization header
  std::string amz_date;        // value of x-amz-date (added to the signed headers)
  std::string content_sha256;  // value of x-amz-content-sha256 (added to the signed headers)
  std::string request_target;  // encoded path and query, exactly as signed: send this
  std::string signature;       // hex; the seed signature for aws-chunked bodies
  std::string signing_key;     // raw; for chunk signatures
  std::string scope;
};

// Signs `request` at `amz_date` ("YYYYMMDDTHHMMSSZ"). Adds x-amz-date and x-amz-content-sha256
// to the signed headers (the caller sends them with the returned values); other headers are
// signed as given. Never reads a clock. Precondition: amz_date is well-formed.
SignedRequest sign_request(const SigningRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           std::string_view service = "s3");

// A presigned URL's request target ("/path?X-Amz-Algorithm=...&X-Amz-Signature=..."), valid for
// `expires_seconds` from `amz_date`, payload UNSIGNED-PAYLOAD. `request.headers` must hold "host"
// and are all signed; `request.payload_hash` is ignored.
std::string presign_target(const SigningRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           std::int64_t expires_seconds, std::string_view service = "s3");

// ---- verifier (servers) ----

struct VerifyRequest {
  std::string_view method;
  // The raw request-target: percent-encoded path, optional '?' and raw query.
  std::string_view target;
  const HeaderList* headers = nullptr;  // names in any case
};

// Returns the secret for an access key, or nullopt when the key is unknown.
using SecretLookup = std::function<std::optional<std::string>(std::string_view access_key_id)>;

struct VerifyOptions {
  std::string_view now_amz_date;  // the server's current time, "YYYYMMDDTHHMMSSZ"
  std::int64_t clock_skew_seconds_max = clock_skew_seconds_max_default;
  std::string_view service = "s3";
  // When set, a credential scope naming another region is AuthorizationHeaderMalformed.
  // (Empty accepts any region. A string, not an optional: g++ 12 warns falsely on the latter
  // under sanitizers.)
  std::string expected_region;
};

struct VerifiedRequest {
  std::string access_key_id;
  std::string region;
  std::string amz_date;     // the request's signing time
  std::string scope;        // credential scope, for chunk signatures
  std::string signing_key;  // raw, for chunk signatures
  std::string signature;    // hex; the seed signature of an aws-chunked body
  PayloadMode payload_mode = PayloadMode::unsigned_payload;
  std::string payload_sha256_hex;  // set when payload_mode is sha256_hex: check it on the body
  bool presigned = false;
};

using VerifyResult = std::variant<VerifiedRequest, S3Error>;

// Verifies header (Authorization: AWS4-HMAC-SHA256 ...) or presigned-query authentication.
// Errors as S3 gives them: 403 SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed,
// AccessDenied ("Request has expired", or no authentication at all); 400 AccessDenied (missing
// x-amz-date, unsigned host or x-amz-* headers, as S3 does); 400 AuthorizationHeaderMalformed,
// AuthorizationQueryParametersError, InvalidArgument, InvalidRequest, InvalidURI. It checks the
// signature, not the body: the caller compares payload_sha256_hex with the body or feeds an
// aws-chunked body to AwsChunkedDecoder. Never throws on malformed input; compares signatures in
// constant time.
VerifyResult verify_request(const VerifyRequest& request, const SecretLookup& lookup_secret,
                            const VerifyOptions& options);

// True when the request carries SigV4 (or any) authentication; false means anonymous.
bool has_authentication(std::string_view target, const HeaderList& headers);

// The S3 error for a body whose SHA-256 differs from the signed x-amz-content-sha256.
S3Error content_sha256_mismatch_error();

}  // namespace s3chaos::s3proto
