// http-load-bench: a closed-loop HTTP/1.1 load generator for small S3 objects, the one client
// bench/http_bench.py drives against fake-s3, s3rver and nginx so the three are measured the
// same way (same connections, same requests, same client costs). Unlike the other bench
// programs it is not a Google Benchmark program: it measures a server in another process.
//
// Each of --connections keep-alive connections sends one request, waits for the whole answer,
// and sends the next, for --warmup-seconds (not counted) and then --seconds (counted). A PUT
// or GET of an S3 object is signed with AWS Signature Version 4 (s3proto's signer, a fresh
// signature per request, the body's SHA-256 as the payload hash), as an SDK sends it; with
// --unsigned the request carries no authentication (nginx serving a static file). Every answer
// is checked: status 200, and for GET exactly --object-bytes bytes of body; anything else
// counts as an error and the run fails (exit 1).
//
// This is the one translation unit outside net/ that uses Boost.Beast directly (issue 6 allows
// it for the bench): going through net::HttpClient would add its queue and thread hand-off to
// every request and measure the client instead of the server.
//
// Output: one line of "name=value" fields (or JSON with --json): requests, errors, seconds,
// requests_per_second, latency_us_p50, latency_us_p99.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t response_body_bytes_max = 16 * 1024 * 1024;
constexpr std::chrono::seconds request_timeout{10};
// A connection that fails this many times in a row gives up (the server is gone).
constexpr int consecutive_errors_max = 20;
// Latency samples kept per connection; past this the run still counts requests.
constexpr std::size_t latency_samples_max_per_connection = 4'000'000;

struct Options {
  std::string url;
  std::string method = "GET";  // GET or PUT
  std::string bucket = "bench";
  std::string key_prefix = "object-";
  int key_count = 64;
  // Requests for a static file (--unsigned): this target instead of /bucket/key.
  std::string target;
  std::size_t object_bytes = 4096;
  int connections = 16;
  double warmup_seconds = 1.0;
  double seconds = 5.0;
  bool unsigned_requests = false;
  bool prepare = true;  // before a GET run, create the bucket and PUT the keys
  std::string access_key;
  std::string secret_key;
  std::string region = "us-east-1";
  bool json = false;
};

// "YYYYMMDDTHHMMSSZ" for now (UTC): the signer never reads a clock itself.
std::string amz_date_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// Builds the requests of one run. The body and its SHA-256 are computed once: the generator's
// own cost per request is signing, as for any SigV4 client that hashes a body it already has.
class RequestFactory {
 public:
  RequestFactory(const Options& options, std::string host_header)
      : options_(options), host_header_(std::move(host_header)) {
    body_.resize(options.object_bytes);
    for (std::size_t index = 0; index < body_.size(); ++index) {
      body_[index] = static_cast<char>('a' + (index * 7919) % 26);
    }
    body_sha256_hex_ = s3chaos::s3proto::sha256_hex(body_);
  }

  const std::string& body() const { return body_; }

  http::request<http::string_body> make(std::string_view method, const std::string& path,
                                        bool with_body) {
    http::request<http::string_body> request;
    request.method_string(method);
    request.version(11);
    request.set(http::field::host, host_header_);
    request.set(http::field::user_agent, "s3chaos-http-load-bench");
    if (with_body) request.body() = body_;
    if (options_.unsigned_requests) {
      request.target(options_.target.empty() ? path : options_.target);
    } else {
      refresh_date();
      s3chaos::s3proto::SigningRequest signing;
      signing.method = std::string(method);
      signing.path = path;
      signing.headers = {{"host", host_header_}};
      signing.payload_hash =
          with_body ? body_sha256_hex_ : std::string(s3chaos::s3proto::empty_payload_sha256_hex);
      const auto signed_request = s3chaos::s3proto::sign_request(
          signing, {options_.access_key, options_.secret_key}, options_.region, amz_date_);
      request.target(signed_request.request_target);
      request.set("x-amz-date", signed_request.amz_date);
      request.set("x-amz-content-sha256", signed_request.content_sha256);
      request.set(http::field::authorization, signed_request.authorization);
    }
    request.keep_alive(true);
    request.prepare_payload();
    return request;
  }

  std::string object_path(std::uint64_t counter) const {
    return "/" + options_.bucket + "/" + options_.key_prefix +
           std::to_string(counter % static_cast<std::uint64_t>(options_.key_count));
  }

 private:
  // The signing time changes once a second; std::time is cheap next to formatting.
  void refresh_date() {
    const std::time_t now = std::time(nullptr);
    if (now != date_second_) {
      date_second_ = now;
      amz_date_ = amz_date_now();
    }
  }

  const Options& options_;
  std::string host_header_;
  std::string body_;
  std::string body_sha256_hex_;
  std::time_t date_second_ = 0;
  std::string amz_date_;
};

struct ConnectionResult {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::vector<std::uint32_t> latencies_us;
  std::string first_error;
};

struct Run {
  const Options* options = nullptr;
  RequestFactory* factory = nullptr;
  tcp::endpoint endpoint;
  Clock::time_point measure_from;
  Clock::time_point end;
  std::uint64_t next_key = 0;
};

// One keep-alive connection sending requests back to back until the run ends.
asio::awaitable<void> connection_loop(Run& run, ConnectionResult& result) {
  const auto executor = co_await asio::this_coro::executor;
  const Options& options = *run.options;
  const bool put = options.method == "PUT";
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  int consecutive_errors = 0;
  const auto record_error = [&](std::string what) {
    if (Clock::now() >= run.measure_from) ++result.errors;
    if (result.first_error.empty()) result.first_error = std::move(what);
    ++consecutive_errors;
    stream.reset();
  };
  while (Clock::now() < run.end && consecutive_errors < consecutive_errors_max) {
    if (!stream) {
      stream.emplace(executor);
      stream->expires_after(request_timeout);
      const auto [error] = co_await stream->async_connect(run.endpoint, nothrow_awaitable);
      if (error) {
        record_error("connect: " + error.message());
        continue;
      }
      stream->socket().set_option(tcp::no_delay(true));
      buffer.clear();
    }
    const auto path = run.factory->object_path(run.next_key++);
    auto request = run.factory->make(options.method, path, put);
    const auto started = Clock::now();
    stream->expires_after(request_timeout);
    const auto [write_error, written] =
        co_await http::async_write(*stream, request, nothrow_awaitable);
    if (write_error) {
      record_error("write: " + write_error.message());
      continue;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(response_body_bytes_max);
    const auto [read_error, read] =
        co_await http::async_read(*stream, buffer, parser, nothrow_awaitable);
    if (read_error) {
      record_error("read: " + read_error.message());
      continue;
    }
    const auto finished = Clock::now();
    const auto& response = parser.get();
    const bool ok =
        response.result_int() == 200 && (put || response.body().size() == options.object_bytes);
    if (!ok) {
      record_error("HTTP " + std::to_string(response.result_int()) + " for " +
                   std::string(options.method) + " " + path + " (" +
                   std::to_string(response.body().size()) +
                   " body bytes): " + response.body().substr(0, 300));
      continue;
    }
    consecutive_errors = 0;
    if (started >= run.measure_from && finished <= run.end) {
      ++result.requests;
      if (result.latencies_us.size() < latency_samples_max_per_connection) {
        result.latencies_us.push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(finished - started).count()));
      }
    }
    if (!response.keep_alive()) stream.reset();
  }
  if (stream) {
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
}

// One request on its own connection, for preparing a GET run. Returns the status (0 on a
// transport failure).
int send_one(asio::io_context& io, const tcp::endpoint& endpoint,
             http::request<http::string_body> request, std::string& body_out) {
  beast::tcp_stream stream(io);
  stream.expires_after(request_timeout);
  beast::error_code error;
  stream.socket().connect(endpoint, error);
  if (error) return 0;
  http::write(stream.socket(), request, error);
  if (error) return 0;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream.socket(), buffer, response, error);
  if (error) return 0;
  body_out = response.body();
  return response.result_int();
}

std::uint32_t percentile(std::vector<std::uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto index = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

int run_bench(const Options& options) {
  std::string host;
  std::uint16_t port = 0;
  {
    std::string_view url = options.url;
    if (!url.starts_with("http://"))
      throw CLI::ValidationError("--url", "must be http://HOST:PORT");
    url.remove_prefix(7);
    if (url.ends_with('/')) url.remove_suffix(1);
    const auto colon = url.rfind(':');
    if (colon == std::string_view::npos) throw CLI::ValidationError("--url", "needs a port");
    host = std::string(url.substr(0, colon));
    port = static_cast<std::uint16_t>(std::stoi(std::string(url.substr(colon + 1))));
  }
  asio::io_context io(1);
  const tcp::endpoint endpoint(asio::ip::make_address(host), port);
  RequestFactory factory(options, host + ":" + std::to_string(port));

  if (options.method == "GET" && !options.unsigned_requests && options.prepare) {
    std::string body;
    const int created =
        send_one(io, endpoint, factory.make("PUT", "/" + options.bucket, false), body);
    if (created != 200 && created != 409) {
      std::cerr << "http-load-bench: creating bucket " << options.bucket << " gave HTTP " << created
                << ": " << body.substr(0, 300) << "\n";
      return 1;
    }
    for (int key = 0; key < options.key_count; ++key) {
      const int status =
          send_one(io, endpoint, factory.make("PUT", factory.object_path(key), true), body);
      if (status != 200) {
        std::cerr << "http-load-bench: preparing " << factory.object_path(key) << " gave HTTP "
                  << status << ": " << body.substr(0, 300) << "\n";
        return 1;
      }
    }
  } else if (options.method == "PUT" && options.prepare) {
    std::string body;
    const int created =
        send_one(io, endpoint, factory.make("PUT", "/" + options.bucket, false), body);
    if (created != 200 && created != 409) {
      std::cerr << "http-load-bench: creating bucket " << options.bucket << " gave HTTP " << created
                << ": " << body.substr(0, 300) << "\n";
      return 1;
    }
  }

  Run run;
  run.options = &options;
  run.factory = &factory;
  run.endpoint = endpoint;
  const auto start = Clock::now();
  run.measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.warmup_seconds));
  run.end = run.measure_from + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(options.seconds));
  std::vector<ConnectionResult> results(static_cast<std::size_t>(options.connections));
  for (auto& result : results) {
    result.latencies_us.reserve(1 << 16);
    asio::co_spawn(io, connection_loop(run, result), asio::detached);
  }
  io.run();

  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  std::vector<std::uint32_t> latencies;
  for (auto& result : results) {
    requests += result.requests;
    errors += result.errors;
    if (first_error.empty()) first_error = result.first_error;
    latencies.insert(latencies.end(), result.latencies_us.begin(), result.latencies_us.end());
  }
  std::sort(latencies.begin(), latencies.end());
  const double requests_per_second = static_cast<double>(requests) / options.seconds;
  const auto p50 = percentile(latencies, 0.50);
  const auto p99 = percentile(latencies, 0.99);
  if (options.json) {
    nlohmann::json out = {{"method", options.method},
                          {"connections", options.connections},
                          {"object_bytes", options.object_bytes},
                          {"signed", !options.unsigned_requests},
                          {"requests", requests},
                          {"errors", errors},
                          {"seconds", options.seconds},
                          {"requests_per_second", requests_per_second},
                          {"latency_us_p50", p50},
                          {"latency_us_p99", p99},
                          {"first_error", first_error}};
    std::cout << out.dump() << "\n";
  } else {
    std::printf(
        "method=%s connections=%d requests=%llu errors=%llu seconds=%.1f "
        "requests_per_second=%.0f latency_us_p50=%u latency_us_p99=%u\n",
        options.method.c_str(), options.connections, static_cast<unsigned long long>(requests),
        static_cast<unsigned long long>(errors), options.seconds, requests_per_second, p50, p99);
  }
  if (!first_error.empty()) std::cerr << "http-load-bench: first error: " << first_error << "\n";
  return errors == 0 && requests > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{
      "Closed-loop HTTP/1.1 load generator for 4 KiB S3 PUT/GET (SigV4-signed) or a "
      "static file (unsigned); see bench/http_bench.py"};
  app.add_option("--url", options.url, "server, http://HOST:PORT")->required();
  app.add_option("--method", options.method, "GET or PUT")->check(CLI::IsMember({"GET", "PUT"}));
  app.add_option("--bucket", options.bucket, "bucket of the objects");
  app.add_option("--key-prefix", options.key_prefix, "object keys are PREFIX0..PREFIX(N-1)");
  app.add_option("--keys", options.key_count, "how many distinct keys")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--target", options.target, "with --unsigned: the request target to GET");
  app.add_option("--object-bytes", options.object_bytes, "body size of PUT and expected GET")
      ->check(CLI::Range(0, 64 * 1024 * 1024));
  app.add_option("--connections", options.connections, "concurrent keep-alive connections")
      ->check(CLI::Range(1, 1024));
  app.add_option("--warmup-seconds", options.warmup_seconds, "not counted")
      ->check(CLI::Range(0.0, 60.0));
  app.add_option("--seconds", options.seconds, "measured duration")->check(CLI::Range(0.1, 600.0));
  app.add_flag("--unsigned", options.unsigned_requests, "send no authentication");
  app.add_flag("!--no-prepare", options.prepare, "GET existing keys; create nothing first");
  app.add_option("--access-key", options.access_key, "SigV4 access key")
      ->envname("AWS_ACCESS_KEY_ID");
  app.add_option("--secret-key", options.secret_key, "SigV4 secret key")
      ->envname("AWS_SECRET_ACCESS_KEY");
  app.add_option("--region", options.region, "SigV4 region");
  app.add_flag("--json", options.json, "print one JSON object");
  try {
    app.parse(argc, argv);
    if (!options.unsigned_requests && (options.access_key.empty() || options.secret_key.empty())) {
      throw CLI::ValidationError("--access-key/--secret-key",
                                 "needed for signed requests (or pass --unsigned)");
    }
    if (options.unsigned_requests && options.method == "PUT") {
      throw CLI::ValidationError("--unsigned", "only for GET of a static file");
    }
    return run_bench(options);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  } catch (const std::exception& error) {
    std::cerr << "http-load-bench: " << error.what() << "\n";
    return 2;
  }
}
