// SigV4 as S3 implements it. The verifier rebuilds the canonical request from the raw target
// the same way the signer builds it from decoded parts: decode, then encode once. That is why a
// client that sends "/a$b" unencoded but signed "/a%24b" still verifies, as it does on S3.
#include "s3proto/sigv4.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "s3proto/checksum.hpp"

namespace s3chaos::s3proto {
namespace {

constexpr std::string_view algorithm_name = "AWS4-HMAC-SHA256";
constexpr std::string_view scope_terminator = "aws4_request";

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// SigV4's "trimall": outer whitespace removed, inner runs of spaces collapsed to one.
std::string trim_all(std::string_view value) {
  value = trim(value);
  std::string out;
  out.reserve(value.size());
  bool previous_space = false;
  for (char c : value) {
    const bool space = c == ' ';
    if (space && previous_space) continue;
    out.push_back(c);
    previous_space = space;
  }
  return out;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

bool is_hex_any_case(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return hex_digit_value(c) >= 0; });
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// All values of a header (case-insensitive name), in order of appearance.
std::vector<std::string_view> header_values(const HeaderList& headers, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [header_name, value] : headers) {
    if (iequals(header_name, name)) values.push_back(value);
  }
  return values;
}

std::optional<std::string_view> single_header(const HeaderList& headers, std::string_view name) {
  const auto values = header_values(headers, name);
  if (values.size() != 1) return std::nullopt;
  return values.front();
}

S3Error make_error(int http_status, std::string_view code, std::string_view message) {
  return S3Error{http_status, std::string(code), std::string(message)};
}

S3Error signature_mismatch() {
  return make_error(403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.");
}

S3Error header_malformed(std::string_view detail) {
  return make_error(400, "AuthorizationHeaderMalformed",
                    std::string("The authorization header is malformed; ") + std::string(detail));
}

S3Error query_parameters_error(std::string_view message) {
  return make_error(400, "AuthorizationQueryParametersError", message);
}

S3Error invalid_uri() {
  return make_error(400, "InvalidURI", "Couldn't parse the specified URI.");
}

std::optional<PayloadMode> payload_mode_of(std::string_view value) {
  if (value == unsigned_payload) return PayloadMode::unsigned_payload;
  if (value == streaming_signed_payload) return PayloadMode::streaming_signed;
  if (value == streaming_signed_payload_trailer) return PayloadMode::streaming_signed_trailer;
  if (value == streaming_unsigned_payload_trailer) return PayloadMode::streaming_unsigned_trailer;
  if (is_hex_any_case(value, 64)) return PayloadMode::sha256_hex;
  return std::nullopt;
}

S3Error invalid_content_sha256() {
  return make_error(400, "InvalidArgument",
                    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                    "STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.");
}

struct ParsedCredential {
  std::string access_key_id;
  std::string date;
  std::string region;
  std::string service;
};

// "AKID/YYYYMMDD/region/service/aws4_request".
std::optional<ParsedCredential> parse_credential(std::string_view text) {
  const auto parts = split(text, '/');
  if (parts.size() != 5) return std::nullopt;
  for (std::string_view part : parts) {
    if (part.empty()) return std::nullopt;
  }
  if (parts[1].size() != 8 ||
      !std::all_of(parts[1].begin(), parts[1].end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (parts[4] != scope_terminator) return std::nullopt;
  return ParsedCredential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2]),
                          std::string(parts[3])};
}

// "host;range;x-amz-date": lower-case, non-empty names without whitespace.
std::optional<std::vector<std::string>> parse_signed_headers(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::vector<std::string> names;
  for (std::string_view name : split(text, ';')) {
    if (name.empty() || names.size() >= sigv4_signed_header_count_max) return std::nullopt;
    for (char c : name) {
      if (c <= ' ' || c >= 0x7f || c == ':' || (c >= 'A' && c <= 'Z')) return std::nullopt;
    }
    names.emplace_back(name);
  }
  return names;
}

std::string join(const std::vector<std::string>& names, char separator) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out.push_back(separator);
    out += name;
  }
  return out;
}

// S3 refuses x-amz-* headers that a header-authenticated request did not sign.
std::optional<S3Error> unsigned_amz_header(const HeaderList& headers,
                                           const std::vector<std::string>& signed_names) {
  std::vector<std::string> missing_names;
  auto note_if_unsigned = [&](const std::string& lower) {
    if (std::find(signed_names.begin(), signed_names.end(), lower) != signed_names.end()) return;
    if (std::find(missing_names.begin(), missing_names.end(), lower) != missing_names.end()) return;
    missing_names.push_back(lower);
  };
  note_if_unsigned("host");
  for (const auto& header : headers) {
    const std::string lower = to_lower(header.first);
    if (lower.rfind("x-amz-", 0) == 0) note_if_unsigned(lower);
  }
  const std::string missing = join(missing_names, ';');
  if (missing.empty()) return std::nullopt;
  // S3 answers this (and a missing date) with AccessDenied but status 400.
  return make_error(400, "AccessDenied",
                    "There were headers present in the request which were not signed: " + missing);
}

struct ParsedTarget {
  std::string decoded_path;
  QueryList query;
};

std::variant<ParsedTarget, S3Error> parse_target(std::string_view target) {
  if (target.empty() || target.size() > sigv4_target_bytes_max || target.front() != '/') {
    return invalid_uri();
  }
  const std::size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  const std::string_view raw_query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  auto path = uri_decode(raw_path, false);
  if (!path) return invalid_uri();
  auto query = parse_query_string(raw_query);
  if (!query) return invalid_uri();
  return ParsedTarget{std::move(*path), std::move(*query)};
}

// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
struct ParsedAuthorization {
  std::string credential;
  std::string signed_headers;
  std::string signature;
};

std::variant<ParsedAuthorization, S3Error> parse_authorization(std::string_view value) {
  value = trim(value);
  const std::size_t space = value.find(' ');
  const std::string_view scheme = value.substr(0, space);
  if (scheme != algorithm_name) {
    if (scheme == "AWS") {
      return make_error(400, "InvalidRequest",
                        "The authorization mechanism you have provided is not supported. Please "
                        "use AWS4-HMAC-SHA256.");
    }
    return make_error(400, "InvalidArgument", "Unsupported Authorization Type");
  }
  if (space == std::string_view::npos) {
    return header_malformed(
        "the authorization header requires three components: Credential, SignedHeaders, and "
        "Signature.");
  }
  std::optional<std::string> credential, signed_headers, signature;
  for (std::string_view component : split(value.substr(space + 1), ',')) {
    component = trim(component);
    const std::size_t equals = component.find('=');
    if (equals == std::string_view::npos) return header_malformed("Invalid format.");
    const std::string_view key = trim(component.substr(0, equals));
    const std::string_view field_value = trim(component.substr(equals + 1));
    std::optional<std::string>* slot = nullptr;
    if (key == "Credential") slot = &credential;
    if (key == "SignedHeaders") slot = &signed_headers;
    if (key == "Signature") slot = &signature;
    if (slot == nullptr || slot->has_value()) {
      return header_malformed("unexpected or repeated component '" + std::string(key) + "'.");
    }
    *slot = std::string(field_value);
  }
  if (!credential || !signed_headers || !signature) {
    return header_malformed(
        "the authorization header requires three components: Credential, SignedHeaders, and "
        "Signature.");
  }
  return ParsedAuthorization{std::move(*credential), std::move(*signed_headers),
                             std::move(*signature)};
}

// Checks shared by both forms once the credential is parsed: scope date, region, service.
std::optional<std::string> scope_problem(const ParsedCredential& credential,
                                         std::string_view amz_date, const VerifyOptions& options) {
  if (amz_date.substr(0, 8) != credential.date) {
    return "Invalid credential date. Date is not the same as X-Amz-Date.";
  }
  if (!options.expected_region.empty() && options.expected_region != credential.region) {
    return "the region '" + credential.region + "' is wrong; expecting '" +
           options.expected_region + "'";
  }
  if (credential.service != options.service) {
    return "incorrect service '" + credential.service + "'. This endpoint belongs to '" +
           std::string(options.service) + "'.";
  }
  return std::nullopt;
}

S3Error unknown_access_key() {
  return make_error(403, "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records.");
}

S3Error too_skewed() {
  return make_error(403, "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large.");
}

VerifyResult finish_verification(const VerifyRequest& request, const ParsedTarget& target,
                                 const HeaderList& headers, const ParsedCredential& credential,
                                 const std::string& secret, std::string_view amz_date,
                                 const std::vector<std::string>& signed_names,
                                 std::string_view payload_hash, std::string_view signature,
                                 bool presigned) {
  const std::string scope =
      credential_scope(credential.date, credential.region, credential.service);
  std::string key =
      derive_signing_key(secret, credential.date, credential.region, credential.service);
  QueryList query_without_signature;
  for (const auto& param : target.query) {
    if (presigned && param.first == "X-Amz-Signature") continue;
    query_without_signature.push_back(param);
  }
  const std::string canonical = canonical_request(
      request.method, canonical_uri(target.decoded_path),
      canonical_query_string(query_without_signature), headers, signed_names, payload_hash);
  std::string expected = signature_hex(key, string_to_sign(amz_date, scope, canonical));
  if (!constant_time_equals(expected, signature)) return signature_mismatch();

  VerifiedRequest verified;
  verified.access_key_id = credential.access_key_id;
  verified.region = credential.region;
  verified.amz_date = std::string(amz_date);
  verified.scope = scope;
  verified.signing_key = std::move(key);
  verified.signature = std::move(expected);
  verified.payload_mode = payload_mode_of(payload_hash).value_or(PayloadMode::unsigned_payload);
  if (verified.payload_mode == PayloadMode::sha256_hex) {
    verified.payload_sha256_hex = to_lower(payload_hash);
  }
  verified.presigned = presigned;
  return verified;
}

VerifyResult verify_header_auth(const VerifyRequest& request, const ParsedTarget& target,
                                const HeaderList& headers, std::string_view authorization,
                                const SecretLookup& lookup_secret, const VerifyOptions& options,
                                std::int64_t now_seconds) {
  if (authorization.size() > sigv4_header_value_bytes_max) {
    return header_malformed("the header is too long.");
  }
  auto parsed_or_error = parse_authorization(authorization);
  if (auto* error = std::get_if<S3Error>(&parsed_or_error)) return *error;
  const auto& parsed = std::get<ParsedAuthorization>(parsed_or_error);

  const auto credential = parse_credential(parsed.credential);
  if (!credential) {
    return header_malformed(
        "the Credential is mal-formed; expecting "
        "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
  }
  const auto signed_names = parse_signed_headers(parsed.signed_headers);
  if (!signed_names) return header_malformed("the SignedHeaders component is malformed.");

  const auto amz_date = single_header(headers, "x-amz-date");
  const auto request_seconds = amz_date ? parse_amz_date(*amz_date) : std::nullopt;
  if (!request_seconds) {
    return make_error(400, "AccessDenied",
                      "AWS authentication requires a valid Date or x-amz-date header");
  }
  if (auto problem = scope_problem(*credential, *amz_date, options)) {
    return header_malformed(*problem);
  }
  const auto content_sha256_values = header_values(headers, "x-amz-content-sha256");
  if (content_sha256_values.empty()) {
    return make_error(400, "InvalidRequest",
                      "Missing required header for this request: x-amz-content-sha256");
  }
  if (content_sha256_values.size() != 1 || !payload_mode_of(content_sha256_values.front())) {
    return invalid_content_sha256();
  }
  if (auto error = unsigned_amz_header(headers, *signed_names)) return *error;

  const auto secret = lookup_secret ? lookup_secret(credential->access_key_id) : std::nullopt;
  if (!secret) return unknown_access_key();
  const std::int64_t skew = *request_seconds - now_seconds;
  if (skew > options.clock_skew_seconds_max || -skew > options.clock_skew_seconds_max) {
    return too_skewed();
  }
  return finish_verification(request, target, headers, *credential, *secret, *amz_date,
                             *signed_names, content_sha256_values.front(), parsed.signature, false);
}

std::optional<std::string_view> single_param(const QueryList& query, std::string_view name,
                                             bool& repeated) {
  std::optional<std::string_view> found;
  for (const auto& [key, value] : query) {
    if (key != name) continue;
    if (found) repeated = true;
    found = value;
  }
  return found;
}

VerifyResult verify_query_auth(const VerifyRequest& request, const ParsedTarget& target,
                               const HeaderList& headers, const SecretLookup& lookup_secret,
                               const VerifyOptions& options, std::int64_t now_seconds) {
  bool repeated = false;
  const auto algorithm = single_param(target.query, "X-Amz-Algorithm", repeated);
  const auto credential_text = single_param(target.query, "X-Amz-Credential", repeated);
  const auto signature = single_param(target.query, "X-Amz-Signature", repeated);
  const auto amz_date = single_param(target.query, "X-Amz-Date", repeated);
  const auto signed_headers_text = single_param(target.query, "X-Amz-SignedHeaders", repeated);
  const auto expires_text = single_param(target.query, "X-Amz-Expires", repeated);
  if (!algorithm || !credential_text || !signature || !amz_date || !signed_headers_text ||
      !expires_text || repeated) {
    return query_parameters_error(
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
  }
  if (*algorithm != algorithm_name) {
    return query_parameters_error("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
  }
  const auto credential = parse_credential(*credential_text);
  if (!credential) {
    return query_parameters_error(
        "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "
        "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".");
  }
  const auto request_seconds = parse_amz_date(*amz_date);
  if (!request_seconds) {
    return query_parameters_error(
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  }
  std::int64_t expires_seconds = -1;
  const char* expires_end = expires_text->data() + expires_text->size();
  const auto [end, parse_error] =
      std::from_chars(expires_text->data(), expires_end, expires_seconds);
  if (parse_error != std::errc() || end != expires_end || expires_seconds < 0) {
    return query_parameters_error("X-Amz-Expires should be a number");
  }
  if (expires_seconds > presign_expires_seconds_max) {
    return query_parameters_error(
        "X-Amz-Expires must be less than a week (in seconds) that is; 604800");
  }
  if (auto problem = scope_problem(*credential, *amz_date, options)) {
    return query_parameters_error("Error parsing the X-Amz-Credential parameter; " + *problem);
  }
  const auto signed_names = parse_signed_headers(*signed_headers_text);
  if (!signed_names) {
    return query_parameters_error("Error parsing the X-Amz-SignedHeaders parameter.");
  }
  if (std::find(signed_names->begin(), signed_names->end(), "host") == signed_names->end()) {
    return make_error(400, "AccessDenied",
                      "There were headers present in the request which were not signed: host");
  }
  // A presigned request may still carry a payload hash header; without one the payload is
  // unsigned, as S3 documents for query authentication.
  std::string_view payload_hash = unsigned_payload;
  const auto content_sha256_values = header_values(headers, "x-amz-content-sha256");
  if (!content_sha256_values.empty()) {
    if (content_sha256_values.size() != 1 || !payload_mode_of(content_sha256_values.front())) {
      return invalid_content_sha256();
    }
    payload_hash = content_sha256_values.front();
  }

  const auto secret = lookup_secret ? lookup_secret(credential->access_key_id) : std::nullopt;
  if (!secret) return unknown_access_key();
  if (now_seconds > *request_seconds + expires_seconds) {
    return make_error(403, "AccessDenied", "Request has expired");
  }
  if (*request_seconds - now_seconds > options.clock_skew_seconds_max) {
    return make_error(403, "AccessDenied", "Request is not valid yet");
  }
  return finish_verification(request, target, headers, *credential, *secret, *amz_date,
                             *signed_names, payload_hash, *signature, true);
}

bool query_has_presign(const QueryList& query) {
  return std::any_of(query.begin(), query.end(), [](const auto& param) {
    return param.first == "X-Amz-Algorithm" || param.first == "X-Amz-Signature" ||
           param.first == "X-Amz-Credential";
  });
}

bool query_has_v2_presign(const QueryList& query) {
  return std::any_of(query.begin(), query.end(), [](const auto& param) {
    return param.first == "Signature" || param.first == "AWSAccessKeyId";
  });
}

}  // namespace

std::string uri_encode(std::string_view bytes, bool keep_slash) {
  static constexpr char hex_digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (is_unreserved(byte) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex_digits[byte >> 4]);
      out.push_back(hex_digits[byte & 0x0f]);
    }
  }
  return out;
}

std::optional<std::string> uri_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_digit_value(text[i + 1]);
      const int low = hex_digit_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string canonical_uri(std::string_view decoded_path) {
  if (decoded_path.empty()) return "/";
  return uri_encode(decoded_path, true);
}

std::string canonical_query_string(const QueryList& decoded_params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(decoded_params.size());
  for (const auto& [key, value] : decoded_params) {
    encoded.emplace_back(uri_encode(key, false), uri_encode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += key;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::optional<QueryList> parse_query_string(std::string_view raw_query) {
  QueryList params;
  if (raw_query.empty()) return params;
  for (std::string_view piece : split(raw_query, '&')) {
    if (piece.empty()) continue;
    if (params.size() >= sigv4_query_param_count_max) return std::nullopt;
    const std::size_t equals = piece.find('=');
    auto key = uri_decode(piece.substr(0, equals), true);
    auto value = equals == std::string_view::npos ? std::optional<std::string>("")
                                                  : uri_decode(piece.substr(equals + 1), true);
    if (!key || !value) return std::nullopt;
    params.emplace_back(std::move(*key), std::move(*value));
  }
  return params;
}

std::string credential_scope(std::string_view date_yyyymmdd, std::string_view region,
                             std::string_view service) {
  std::string scope;
  scope.reserve(date_yyyymmdd.size() + region.size() + service.size() + 16);
  scope.append(date_yyyymmdd).append("/").append(region).append("/").append(service);
  scope.append("/").append(scope_terminator);
  return scope;
}

std::string derive_signing_key(std::string_view secret_access_key, std::string_view date_yyyymmdd,
                               std::string_view region, std::string_view service) {
  const std::string date_key = hmac_sha256("AWS4" + std::string(secret_access_key), date_yyyymmdd);
  const std::string region_key = hmac_sha256(date_key, region);
  const std::string service_key = hmac_sha256(region_key, service);
  return hmac_sha256(service_key, scope_terminator);
}

std::string canonical_request(std::string_view method, std::string_view canonical_uri_text,
                              std::string_view canonical_query, const HeaderList& headers,
                              const std::vector<std::string>& signed_header_names,
                              std::string_view payload_hash) {
  std::string out;
  out.append(method).append("\n").append(canonical_uri_text).append("\n");
  out.append(canonical_query).append("\n");
  for (const std::string& name : signed_header_names) {
    std::string joined;
    bool first = true;
    for (std::string_view value : header_values(headers, name)) {
      if (!first) joined.push_back(',');
      joined += trim_all(value);
      first = false;
    }
    out.append(name).append(":").append(joined).append("\n");
  }
  out.append("\n").append(join(signed_header_names, ';')).append("\n").append(payload_hash);
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_text) {
  std::string out(algorithm_name);
  out.append("\n").append(amz_date).append("\n").append(scope).append("\n");
  out.append(sha256_hex(canonical_request_text));
  return out;
}

std::string signature_hex(std::string_view signing_key, std::string_view text) {
  return hex_encode(hmac_sha256(signing_key, text));
}

std::optional<std::int64_t> parse_amz_date(std::string_view amz_date) {
  if (amz_date.size() != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z') return std::nullopt;
  auto number = [&](std::size_t offset, std::size_t length) -> std::optional<int> {
    int value = 0;
    for (std::size_t i = offset; i < offset + length; ++i) {
      if (amz_date[i] < '0' || amz_date[i] > '9') return std::nullopt;
      value = value * 10 + (amz_date[i] - '0');
    }
    return value;
  };
  const auto year = number(0, 4), month = number(4, 2), day = number(6, 2);
  const auto hour = number(9, 2), minute = number(11, 2), second = number(13, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *hour > 23 || *minute > 59 || *second > 59) {
    return std::nullopt;
  }
  const bool leap = (*year % 4 == 0 && *year % 100 != 0) || *year % 400 == 0;
  static constexpr std::array<int, 12> month_days = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  const int days_in_month = month_days[*month - 1] + ((*month == 2 && leap) ? 1 : 0);
  if (*day > days_in_month) return std::nullopt;
  // Days from civil date (Howard Hinnant's algorithm), valid for the proleptic Gregorian calendar.
  const int y = *year - (*month <= 2 ? 1 : 0);
  const int era = y / 400;
  const int year_of_era = y - era * 400;
  const int month_shifted = *month > 2 ? *month - 3 : *month + 9;
  const int day_of_year = (153 * month_shifted + 2) / 5 + *day - 1;
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + day_of_era - 719468;
  return days * 86400 + *hour * 3600 + *minute * 60 + *second;
}

namespace {

// The headers to sign and their sorted, unique, lower-case names.
std::vector<std::string> signed_names_of(const HeaderList& headers) {
  std::vector<std::string> names;
  for (const auto& header : headers) names.push_back(to_lower(header.first));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

HeaderList without(const HeaderList& headers, std::string_view name) {
  HeaderList out;
  for (const auto& header : headers) {
    if (!iequals(header.first, name)) out.push_back(header);
  }
  return out;
}

}  // namespace

SignedRequest sign_request(const SigningRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           std::string_view service) {
  HeaderList headers = without(without(request.headers, "x-amz-date"), "x-amz-content-sha256");
  headers.emplace_back("x-amz-date", std::string(amz_date));
  headers.emplace_back("x-amz-content-sha256", request.payload_hash);
  const std::vector<std::string> names = signed_names_of(headers);

  SignedRequest signed_request;
  signed_request.amz_date = std::string(amz_date);
  signed_request.content_sha256 = request.payload_hash;
  const std::string date = std::string(amz_date.substr(0, 8));
  signed_request.scope = credential_scope(date, region, service);
  signed_request.signing_key =
      derive_signing_key(credentials.secret_access_key, date, region, service);
  const std::string uri = canonical_uri(request.path);
  const std::string query = canonical_query_string(request.query);
  const std::string canonical =
      canonical_request(request.method, uri, query, headers, names, request.payload_hash);
  signed_request.signature = signature_hex(
      signed_request.signing_key, string_to_sign(amz_date, signed_request.scope, canonical));
  signed_request.authorization = std::string(algorithm_name) +
                                 " Credential=" + credentials.access_key_id + "/" +
                                 signed_request.scope + ", SignedHeaders=" + join(names, ';') +
                                 ", Signature=" + signed_request.signature;
  signed_request.request_target = query.empty() ? uri : uri + "?" + query;
  return signed_request;
}

std::string presign_target(const SigningRequest& request, const Credentials& credentials,
                           std::string_view region, std::string_view amz_date,
                           std::int64_t expires_seconds, std::string_view service) {
  const std::string date = std::string(amz_date.substr(0, 8));
  const std::string scope = credential_scope(date, region, service);
  const std::vector<std::string> names = signed_names_of(request.headers);
  QueryList query = request.query;
  query.emplace_back("X-Amz-Algorithm", std::string(algorithm_name));
  query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + scope);
  query.emplace_back("X-Amz-Date", std::string(amz_date));
  query.emplace_back("X-Amz-Expires", std::to_string(expires_seconds));
  query.emplace_back("X-Amz-SignedHeaders", join(names, ';'));
  const std::string uri = canonical_uri(request.path);
  const std::string canonical_query = canonical_query_string(query);
  const std::string canonical = canonical_request(request.method, uri, canonical_query,
                                                  request.headers, names, unsigned_payload);
  const std::string key = derive_signing_key(credentials.secret_access_key, date, region, service);
  const std::string signature = signature_hex(key, string_to_sign(amz_date, scope, canonical));
  return uri + "?" + canonical_query + "&X-Amz-Signature=" + signature;
}

VerifyResult verify_request(const VerifyRequest& request, const SecretLookup& lookup_secret,
                            const VerifyOptions& options) {
  static const HeaderList no_headers;
  const HeaderList& headers = request.headers != nullptr ? *request.headers : no_headers;
  const auto now_seconds = parse_amz_date(options.now_amz_date);
  if (!now_seconds) {
    return make_error(500, "InternalError", "The server's current time is not a valid date.");
  }
  auto target_or_error = parse_target(request.target);
  if (auto* error = std::get_if<S3Error>(&target_or_error)) return *error;
  const auto& target = std::get<ParsedTarget>(target_or_error);

  const auto authorizations = header_values(headers, "authorization");
  const bool presigned = query_has_presign(target.query);
  if ((!authorizations.empty() && presigned) || authorizations.size() > 1) {
    return make_error(400, "InvalidArgument",
                      "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                      "parameter, Signature query string parameter or the Authorization header "
                      "should be specified");
  }
  if (!authorizations.empty()) {
    return verify_header_auth(request, target, headers, authorizations.front(), lookup_secret,
                              options, *now_seconds);
  }
  if (presigned) {
    return verify_query_auth(request, target, headers, lookup_secret, options, *now_seconds);
  }
  if (query_has_v2_presign(target.query)) {
    return make_error(400, "InvalidRequest",
                      "The authorization mechanism you have provided is not supported. Please "
                      "use AWS4-HMAC-SHA256.");
  }
  return make_error(403, "AccessDenied", "Access Denied");
}

bool has_authentication(std::string_view target, const HeaderList& headers) {
  if (!header_values(headers, "authorization").empty()) return true;
  const std::size_t question = target.find('?');
  if (question == std::string_view::npos) return false;
  const auto query = parse_query_string(target.substr(question + 1));
  // A query we cannot parse is not anonymous access: let the verifier report it.
  if (!query) return true;
  return query_has_presign(*query) || query_has_v2_presign(*query);
}

S3Error content_sha256_mismatch_error() {
  return make_error(400, "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was "
                    "computed.");
}

}  // namespace s3chaos::s3proto
