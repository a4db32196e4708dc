// photo-uploader: the real PhotoShare app server (docs/photo_uploader.md). Parses flags, wires
// the Runtime, its ingest endpoint and the S3 client together, and waits for SIGTERM/SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <random>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "photo_uploader/photo_uploader.hpp"
#include "uploader/policy.hpp"

namespace {

using namespace s3chaos;

// Builds one S3 endpoint from a URL; exits with status 2 and a message naming `flag` if bad.
std::optional<photo_uploader::S3Endpoint> endpoint_from(const std::string& flag,
                                                        const std::string& url,
                                                        const std::string& region,
                                                        const s3proto::Credentials& credentials,
                                                        bool virtual_hosted) {
  std::string prefix;
  std::string error;
  auto http = net::parse_http_url(url, prefix, error);
  if (!http.has_value()) {
    std::cerr << "photo-uploader: " << flag << " " << url << ": " << error << "\n";
    return std::nullopt;
  }
  photo_uploader::S3Endpoint endpoint;
  endpoint.endpoint = *http;
  endpoint.path_prefix = prefix;
  endpoint.region = region;
  endpoint.credentials = credentials;
  endpoint.virtual_hosted = virtual_hosted;
  return endpoint;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "photo-uploader: accepts photos on 127.0.0.1, acknowledges each once it is durable on "
      "local disk, moves it to S3 and deletes the local copy only after a read-back at least "
      "--settle-seconds after the store's 200 confirms it."};
  std::uint16_t listen_port = 0;
  std::string data_dir;
  std::string endpoint_url;
  std::string bucket;
  std::string region = "us-east-1";
  std::string second_endpoint_url;
  std::string second_bucket;
  std::size_t targets_required = 0;
  std::string access_key;
  std::string secret_key;
  std::string policy_name = "protected";
  double settle_seconds = 60;
  double request_timeout_seconds = 30;
  std::uint64_t cache_megabytes = 1024;
  std::uint64_t photo_megabytes_max = 32;
  std::size_t requests_in_flight = 8;
  unsigned server_threads = 8;
  bool virtual_hosted = false;
  std::string verify = "head";

  app.add_option("--listen-port", listen_port, "Port on 127.0.0.1 (0: a free port)")
      ->capture_default_str();
  app.add_option("--data-dir", data_dir, "Directory for the journal and local photo copies")
      ->required();
  app.add_option("--endpoint", endpoint_url, "S3-compatible endpoint, http://host[:port]")
      ->required();
  app.add_option("--bucket", bucket, "Bucket at --endpoint")->required();
  app.add_option("--region", region, "Region for SigV4 signing")->capture_default_str();
  app.add_option("--second-endpoint", second_endpoint_url,
                 "A second S3-compatible endpoint (another vendor) holding a second copy");
  app.add_option("--second-bucket", second_bucket,
                 "Bucket for the second copy (at --second-endpoint, or at --endpoint)");
  app.add_option("--targets-required", targets_required,
                 "Verified copies needed before a local copy is deleted (default: every target)");
  app.add_option("--access-key", access_key, "Access key id (default: $AWS_ACCESS_KEY_ID)");
  app.add_option("--secret-key", secret_key, "Secret access key (default: $AWS_SECRET_ACCESS_KEY)");
  app.add_option("--policy", policy_name,
                 "protected, or a known-unsafe variant for experiments (docs/uploader.md)")
      ->capture_default_str();
  app.add_option("--settle-seconds", settle_seconds,
                 "Time between the store's 200 and the verification read")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  app.add_option("--request-timeout-seconds", request_timeout_seconds, "Per store request")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  app.add_option("--cache-mb", cache_megabytes, "Local cache limit; beyond it photos get 503")
      ->capture_default_str();
  app.add_option("--photo-mb-max", photo_megabytes_max, "Largest photo accepted")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--requests-in-flight", requests_in_flight, "Store requests at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--server-threads", server_threads, "Ingest endpoint I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--verify", verify, "Verification read: head (ETag and size) or get (checksum)")
      ->capture_default_str()
      ->check(CLI::IsMember({"head", "get"}));
  app.add_flag("--virtual-hosted", virtual_hosted,
               "Address buckets as bucket.host (default: path style, host/bucket)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }

  if (access_key.empty()) {
    if (const char* value = std::getenv("AWS_ACCESS_KEY_ID")) access_key = value;
  }
  if (secret_key.empty()) {
    if (const char* value = std::getenv("AWS_SECRET_ACCESS_KEY")) secret_key = value;
  }
  if (access_key.empty() || secret_key.empty()) {
    std::cerr << "photo-uploader: credentials missing: pass --access-key and --secret-key or set "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n";
    return 2;
  }
  const auto policy = uploader::policy_by_name(policy_name);
  if (!policy.has_value()) {
    std::cerr << "photo-uploader: --policy " << policy_name << ": unknown; one of:";
    for (auto name : uploader::policy_names()) std::cerr << " " << name;
    std::cerr << "\n";
    return 2;
  }
  const s3proto::Credentials credentials{access_key, secret_key};

  photo_uploader::RuntimeConfig config;
  config.data_directory = data_dir;
  config.random_seed = std::random_device{}();
  config.store_connections_max = requests_in_flight;
  auto first = endpoint_from("--endpoint", endpoint_url, region, credentials, virtual_hosted);
  if (!first.has_value()) return 2;
  config.endpoints.push_back(*first);
  uploader::Settings& settings = config.settings;
  settings.targets = {uploader::Target{"primary", bucket}};
  if (!second_endpoint_url.empty() || !second_bucket.empty()) {
    if (second_bucket.empty()) {
      std::cerr << "photo-uploader: --second-endpoint needs --second-bucket\n";
      return 2;
    }
    auto second = endpoint_from("--second-endpoint",
                                second_endpoint_url.empty() ? endpoint_url : second_endpoint_url,
                                region, credentials, virtual_hosted);
    if (!second.has_value()) return 2;
    config.endpoints.push_back(*second);
    settings.targets.push_back(uploader::Target{"secondary", second_bucket});
  }
  settings.targets_required = targets_required == 0 ? settings.targets.size() : targets_required;
  settings.policy = *policy;
  settings.settle_time_ns = static_cast<sim::TimeNs>(settle_seconds * 1e9);
  settings.request_timeout_ns = static_cast<sim::TimeNs>(request_timeout_seconds * 1e9);
  settings.cache_bytes_max = cache_megabytes << 20;
  settings.photo_bytes_max = photo_megabytes_max << 20;
  settings.requests_in_flight_max = requests_in_flight;
  settings.verify_method =
      verify == "get" ? uploader::VerifyMethod::get : uploader::VerifyMethod::head;
  if (auto error = uploader::settings_error(settings)) {
    std::cerr << "photo-uploader: " << *error << "\n";
    return 2;
  }

  // Signals are taken synchronously by this thread; every thread started below inherits the
  // blocked mask, so SIGTERM never interrupts an fsync or an I/O thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  photo_uploader::Runtime runtime(config);
  if (auto error = runtime.start()) {
    std::cerr << "photo-uploader: " << *error << "\n";
    return 1;
  }
  photo_uploader::IngestHandler handler(runtime, settings.photo_bytes_max);
  net::HttpServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = listen_port;
  server_options.threads = server_threads;
  std::unique_ptr<net::HttpServer> server;
  try {
    server = std::make_unique<net::HttpServer>(server_options, handler);
  } catch (const std::exception& error) {
    std::cerr << "photo-uploader: " << error.what() << "\n";
    return 1;
  }
  server->start();
  std::cout << "listening on http://" << server->host() << ":" << server->port() << std::endl;

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "photo-uploader: signal " << signal_number << ", stopping\n";
  // Stop taking photos first (requests in progress finish), then the core.
  server->stop();
  runtime.stop();
  return 0;
}
