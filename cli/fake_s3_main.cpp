// fake-s3: the fake_s3 core as a real S3 endpoint on 127.0.0.1 (see fake_s3_server/server.hpp
// and docs/fake_s3_server.md). Thin: it parses flags, starts a fake_s3_server::Server, prints
// one "listening on http://HOST:PORT" line and serves until SIGTERM or SIGINT.
//
// Exit codes: 0 after a clean shutdown, 2 on bad usage or input (a flag, the plan, the
// credentials, the data directory, a port in use).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "fake_s3/faults.hpp"
#include "fake_s3_server/server.hpp"

namespace {

constexpr int exit_clean = 0;
constexpr int exit_bad_input = 2;

constexpr const char* admin_api_help = R"(
Admin API (same address; every request needs "Authorization: Bearer TOKEN" or
"x-s3chaos-admin-token: TOKEN" with the --admin-token value; disabled without it):
  GET  /_s3chaos/status            {"up", "epoch", "requests_to_core", ...}
  GET  /_s3chaos/truth             what the store really holds: durable_objects, pending
                                   (acknowledged, still volatile) and lost versions, each with
                                   bucket, key, etag, size_bytes, sha256, times and durability
  GET  /_s3chaos/plan              the fault plan in force (JSON, docs/fault_plan.md)
  PUT  /_s3chaos/plan              replace the plan with the JSON body; its times count from
                                   now and its request numbers (first_request, last_request)
                                   from 1
  POST /_s3chaos/death[?down_ms=N] the service dies now: every volatile write is lost; it
                                   refuses requests (closes connections) for N ms, or until
                                   a restart when down_ms is absent
  POST /_s3chaos/restart           a dead service comes back; a live one crashes and comes
                                   back at once (volatile writes lost)
Fates (--faults) follow the plan, the seed and the request sequence: the same requests in
the same order get the same fates. refuse closes the connection, reset sends a TCP reset,
hang holds the connection without an answer until the client leaves (at most --hang-max-ms).
)";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  namespace server = s3chaos::fake_s3_server;
  CLI::App app{"fake-s3: a fake Amazon S3 endpoint with fault injection, over HTTP/1.1"};
  app.footer(admin_api_help);
  server::ServerOptions options;
  std::string faults_path;
  std::string credentials_path;
  std::string access_key;
  std::string secret_key;
  std::uint64_t hang_max_ms = 60'000;
  std::uint64_t idle_timeout_ms = 60'000;
  std::uint64_t read_timeout_ms = 30'000;
  app.add_option("--host", options.http.host, "Numeric address to listen on")
      ->capture_default_str();
  app.add_option("--port", options.http.port, "Port to listen on; 0 picks a free port")
      ->capture_default_str();
  app.add_option("--data-dir", options.service.data_dir,
                 "Keep buckets and objects in this directory (crash-safe); in memory if absent");
  app.add_option("--faults", faults_path, "Fault plan JSON file (docs/fault_plan.md)");
  app.add_option("--seed", options.service.seed, "Seed of the fault plan's random draws")
      ->capture_default_str();
  app.add_option("--access-key", access_key,
                 "Access key id accepted (default: $AWS_ACCESS_KEY_ID)");
  app.add_option("--secret-key", secret_key,
                 "Its secret access key (default: $AWS_SECRET_ACCESS_KEY)");
  app.add_option("--credentials-file", credentials_path,
                 "AWS shared credentials file; every profile's key pair is accepted");
  app.add_flag("--allow-anonymous", options.service.allow_anonymous,
               "Serve requests that carry no authentication at all");
  app.add_option("--admin-token", options.service.admin_token,
                 "Bearer token of the admin API under /_s3chaos/ (disabled if absent)");
  app.add_option("--region", options.service.region, "Region of the signing scope")
      ->capture_default_str();
  app.add_option("--virtual-host-domain", options.service.virtual_host_domains,
                 "Domain under which Host: BUCKET.DOMAIN is virtual-hosted style (repeatable)")
      ->capture_default_str();
  app.add_option("--max-object-bytes", options.service.object_bytes_max,
                 "Largest object or part body; larger is 400 EntityTooLarge")
      ->capture_default_str();
  app.add_option("--threads", options.http.threads, "I/O threads")->capture_default_str();
  app.add_option("--max-connections", options.http.connections_max,
                 "Connections served at once; more are closed at once")
      ->capture_default_str();
  app.add_option("--max-header-bytes", options.http.header_bytes_max,
                 "Largest request line plus headers; larger is 400 RequestHeaderSectionTooLarge")
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", idle_timeout_ms,
                 "Close a connection with no request in progress after this long")
      ->capture_default_str();
  app.add_option("--read-timeout-ms", read_timeout_ms,
                 "Close a connection whose request makes no progress for this long")
      ->capture_default_str();
  app.add_option("--hang-max-ms", hang_max_ms,
                 "Longest a 'hang' fault holds a connection before closing it")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? exit_clean : exit_bad_input;
  }
  options.http.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  options.http.read_timeout = std::chrono::milliseconds(read_timeout_ms);
  options.http.hang_max = std::chrono::milliseconds(hang_max_ms);
  options.service.core_settings.region = options.service.region;

  try {
    if (!faults_path.empty()) {
      options.service.fault_plan = s3chaos::fake_s3::parse_fault_plan(read_file(faults_path));
    }
  } catch (const std::exception& error) {
    std::cerr << "fake-s3: --faults " << faults_path << ": " << error.what() << "\n";
    return exit_bad_input;
  }
  try {
    if (!credentials_path.empty()) {
      options.service.credentials = server::read_credentials_file(credentials_path);
    }
  } catch (const std::exception& error) {
    std::cerr << "fake-s3: --credentials-file: " << error.what() << "\n";
    return exit_bad_input;
  }
  if (access_key.empty() != secret_key.empty()) {
    std::cerr << "fake-s3: --access-key and --secret-key go together\n";
    return exit_bad_input;
  }
  if (access_key.empty() && credentials_path.empty()) {
    const char* env_key = std::getenv("AWS_ACCESS_KEY_ID");
    const char* env_secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (env_key && env_secret && *env_key && *env_secret) {
      access_key = env_key;
      secret_key = env_secret;
    }
  }
  if (!access_key.empty()) options.service.credentials.push_back({access_key, secret_key});
  if (options.service.credentials.empty() && !options.service.allow_anonymous) {
    std::cerr << "fake-s3: no credentials: give --access-key/--secret-key, --credentials-file, "
                 "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --allow-anonymous\n";
    return exit_bad_input;
  }

  // SIGTERM and SIGINT are taken synchronously by this thread; the server's threads inherit
  // the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<server::Server> instance;
  try {
    instance = std::make_unique<server::Server>(std::move(options));
    instance->start();
  } catch (const std::exception& error) {
    std::cerr << "fake-s3: " << error.what() << "\n";
    return exit_bad_input;
  }
  std::printf("listening on %s\n", instance->endpoint_url().c_str());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "fake-s3: " << (received == SIGTERM ? "SIGTERM" : "SIGINT") << ": shutting down\n";
  instance->stop();
  return exit_clean;
}
