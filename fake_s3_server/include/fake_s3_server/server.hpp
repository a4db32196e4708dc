// The fake-s3 server: the fake_s3 core (core.hpp, http.hpp, faults.hpp) behind real HTTP.
//
// Two layers:
// - Service: the sans-I/O driver. It authenticates (SigV4 headers and presigned URLs, checked
//   payload hashes, aws-chunked bodies with chunk signatures or checksum trailers), rewrites
//   virtual-hosted-style requests to path style, hands each request to fake_s3::FaultyS3 and
//   turns its Outcome into a reply (a response after the fault's latency, or a closed, reset
//   or held connection). It also serves the admin API under /_s3chaos/ (no bucket name can
//   start with '_'). It is a net::HttpHandler and never touches a socket: the fuzz target
//   drives it directly.
// - Server: a Service on a net::HttpServer, started on a background thread. This is what the
//   `fake-s3` program runs and what in-process tests start.
//
// Time. The core's TimeNs is real Unix time in nanoseconds (CoreSettings::epoch_unix_seconds
// is 0), taken from the wall clock at start and advanced by the monotonic clock, so it never
// goes back and Last-Modified, Date and the RequestTimeTooSkewed check are real. Times in a
// fault plan (window start_ms/end_ms, event at_ms) count from the moment the plan is loaded;
// request-sequence windows (first_request/last_request) count requests from 1 since then.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fake_s3/faults.hpp"
#include "net/http_server.hpp"
#include "s3proto/sigv4.hpp"

namespace s3chaos::fake_s3_server {

using fake_s3::TimeNs;

// The reserved path prefix of the admin API.
inline constexpr std::string_view admin_path_prefix = "/_s3chaos/";

struct ServiceOptions {
  // Accepted access keys. Empty with allow_anonymous false: every request is refused.
  std::vector<s3proto::Credentials> credentials;
  // Requests without any authentication are served (only when set explicitly).
  bool allow_anonymous = false;
  // The admin API's bearer token; empty disables the admin API (404).
  std::string admin_token;
  std::string region = "us-east-1";
  // Host names under which bucket.NAME is virtual-hosted style (Host: bucket.localhost:port).
  std::vector<std::string> virtual_host_domains = {"localhost"};
  std::int64_t clock_skew_seconds_max = s3proto::clock_skew_seconds_max_default;
  // Largest object body (decoded); larger is 400 EntityTooLarge before the body is read.
  std::uint64_t object_bytes_max = 1ull << 30;
  // Largest admin request body (a fault plan).
  std::uint64_t admin_body_bytes_max = 1 << 20;
  // Limits and region of the core (epoch_unix_seconds is forced to 0).
  fake_s3::CoreSettings core_settings = default_core_settings();
  fake_s3::FaultPlan fault_plan;
  std::uint64_t seed = 1;
  // Empty: in memory. Otherwise the directory of the persistent store (created if missing).
  std::string data_dir;

  static fake_s3::CoreSettings default_core_settings() {
    fake_s3::CoreSettings settings;
    settings.epoch_unix_seconds = 0;  // TimeNs is Unix time
    return settings;
  }
};

// Unix time in nanoseconds, never going back. The server's clock reads the wall clock once and
// then follows the monotonic clock; tests and the fuzz target pass their own.
using Clock = std::function<TimeNs()>;
Clock real_clock();

// Parses an AWS shared credentials file ("[profile]" sections with aws_access_key_id and
// aws_secret_access_key). Every profile's pair is returned. Throws std::runtime_error naming
// the file and line on a malformed file.
std::vector<s3proto::Credentials> read_credentials_file(const std::string& path);

class Service final : public net::HttpHandler {
 public:
  // Opens the store (data_dir) and loads the plan. Throws fake_s3::StorageError or
  // std::runtime_error with the reason.
  Service(ServiceOptions options, Clock clock);
  ~Service() override;

  net::HeadDecision check_head(const net::RequestHead& head) override;
  net::Reply handle_request(const net::RequestHead& head, std::string body,
                            std::any& state) override;
  net::Response protocol_error_response(net::ProtocolError error) override;

  // The same operations as the admin API, for in-process callers. Thread-safe.
  // Replaces the fault plan; its times count from now and its request numbers from 1.
  void replace_plan(fake_s3::FaultPlan plan);
  // A death now: every volatile write is lost. With down_ns the service refuses requests
  // that long; without, until restart().
  void trigger_death(std::optional<TimeNs> down_ns);
  // Brings a dead service back; on a live one, a crash-and-restart (volatile writes lost).
  void restart();
  fake_s3::TruthView truth() const;
  // The truth as the admin API returns it (JSON text).
  std::string truth_json() const;
  std::string status_json() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct ServerOptions {
  ServiceOptions service;
  net::HttpServerOptions http;
};

// A Service on a socket. start() listens and serves on background threads; port() is the
// bound port (the real one when the option was 0).
class Server {
 public:
  explicit Server(ServerOptions options, Clock clock = real_clock());
  ~Server();
  void start();
  void stop();
  std::uint16_t port() const;
  std::string endpoint_url() const;  // "http://HOST:PORT"
  Service& service() { return *service_; }

 private:
  std::unique_ptr<Service> service_;
  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace s3chaos::fake_s3_server
