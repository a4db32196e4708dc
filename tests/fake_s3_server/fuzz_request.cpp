// libFuzzer target for the fake-s3 server's sans-I/O request path: bytes are parsed as one
// HTTP/1.1 request by net::parse_request (the server's parser and limits), then driven through
// fake_s3_server::Service (authentication, aws-chunked decoding, virtual-host rewriting,
// routing into FaultyS3 and the core, the admin API) exactly as the socket server does, but
// without sockets. Built and run by scripts/fuzz-fake-s3 (clang, -fsanitize=fuzzer).
//
// The first input byte picks how the request is authenticated, so the fuzzer reaches past
// the signature check: 'S' signs the parsed request with the test key (as a client would),
// 'A' sends it to a service that allows anonymous access, anything else sends it as it is.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fake_s3/http.hpp"
#include "fake_s3_server/server.hpp"
#include "net/http_server.hpp"
#include "s3proto/sigv4.hpp"

namespace {

using namespace s3chaos;

const s3proto::Credentials credentials{"AKIDFUZZ", "fuzz-secret"};
constexpr std::uint32_t header_bytes_max = 64 * 1024;
constexpr std::uint64_t object_bytes_max = 64 * 1024;
// The services are rebuilt now and then so the store stays small over millions of inputs.
constexpr int inputs_per_service = 2000;

// A deterministic clock: 2026-01-01 plus one millisecond per reading.
fake_s3_server::Clock fuzz_clock() {
  auto now = std::make_shared<fake_s3_server::TimeNs>(1767225600LL * 1'000'000'000LL);
  return [now] { return *now += 1'000'000; };
}

std::unique_ptr<fake_s3_server::Service> make_service(bool anonymous) {
  fake_s3_server::ServiceOptions options;
  options.credentials = {credentials};
  options.allow_anonymous = anonymous;
  options.admin_token = "fuzz-admin";
  options.object_bytes_max = object_bytes_max;
  options.core_settings.part_size_min_bytes = 16;
  return std::make_unique<fake_s3_server::Service>(options, fuzz_clock());
}

std::string amz_date_of(fake_s3_server::TimeNs unix_ns) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000LL);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &parts);
  return buffer;
}

// Replaces the request's authentication by a valid SigV4 header signature over its method,
// path, query and every header it has; the payload hash it claims is kept.
void sign(net::RequestHead& head) {
  const std::string_view target = head.target;
  const auto question = target.find('?');
  auto path = fake_s3::percent_decode(target.substr(0, question), false);
  if (!path || path->empty() || path->front() != '/') return;
  s3proto::QueryList query;
  if (question != std::string_view::npos) {
    auto parsed = s3proto::parse_query_string(target.substr(question + 1));
    if (!parsed) return;
    query = std::move(*parsed);
  }
  s3proto::SigningRequest request;
  request.method = head.method;
  request.path = *path;
  request.query = query;
  std::string payload_hash(s3proto::unsigned_payload);
  for (const auto& [name, value] : head.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "authorization" || lower == "x-amz-date") continue;
    if (lower == "x-amz-content-sha256") {
      payload_hash = value;
      continue;
    }
    if (lower == "content-length" || lower == "transfer-encoding" || lower == "expect") continue;
    request.headers.emplace_back(lower, value);
  }
  if (!net::find_header_field(head.headers, "host")) return;
  const auto signed_request = s3proto::sign_request(request, credentials, "us-east-1",
                                                    amz_date_of(1767225600LL * 1'000'000'000LL));
  std::erase_if(head.headers, [](const auto& field) {
    std::string lower = field.first;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower == "authorization" || lower == "x-amz-date" || lower == "x-amz-content-sha256";
  });
  head.target = signed_request.request_target;
  head.headers.emplace_back("Authorization", signed_request.authorization);
  head.headers.emplace_back("x-amz-date", signed_request.amz_date);
  head.headers.emplace_back("x-amz-content-sha256", signed_request.content_sha256);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<fake_s3_server::Service> strict;
  static std::unique_ptr<fake_s3_server::Service> anonymous;
  static int inputs = 0;
  if (inputs++ % inputs_per_service == 0) {
    strict = make_service(false);
    anonymous = make_service(true);
  }
  if (size == 0) return 0;
  const char mode = static_cast<char>(data[0]);
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  net::ProtocolError error{};
  auto parsed = net::parse_request(bytes, header_bytes_max, object_bytes_max * 2, error);
  fake_s3_server::Service& service = mode == 'A' ? *anonymous : *strict;
  if (!parsed) {
    const net::Response response = service.protocol_error_response(error);
    if (response.status != 400) __builtin_trap();
    return 0;
  }
  if (mode == 'S') sign(parsed->head);
  net::HeadDecision decision = service.check_head(parsed->head);
  if (decision.reply) return 0;
  if (parsed->body.size() > decision.body_bytes_max) return 0;  // the server would refuse it
  const net::Reply reply =
      service.handle_request(parsed->head, std::move(parsed->body), decision.state);
  if (reply.kind == net::Reply::Kind::respond &&
      (reply.response.status < 200 || reply.response.status > 599)) {
    __builtin_trap();  // every answer is a real HTTP status
  }
  return 0;
}
