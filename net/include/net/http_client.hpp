// A generic asynchronous HTTP/1.1 client (Boost.Beast underneath, none of it in this header).
//
// One HttpClient owns one I/O thread. send() may be called from any thread; the completion
// callback runs on the client's I/O thread exactly once per request (unless the client is
// destroyed first: then pending callbacks are dropped, never called). Callbacks must not block:
// hand the result to your own thread or queue.
//
// Connections are pooled per endpoint (host, port) with keep-alive: a request takes an idle
// connection or opens one, up to connections_per_endpoint_max at once; further requests wait
// in a first-in first-out queue. Every request has a deadline (its timeout) covering the wait
// for a connection, connecting, writing and reading the whole response; at the deadline the
// request fails with HttpClientError::timeout and its connection is closed.
//
// A request sent on a reused idle connection that the server had meanwhile closed (an error on
// write, or end of stream before the first byte of the answer) is retried once on a fresh
// connection, as browsers and curl do: nothing of it was answered, and the server closed the
// connection without reading a new request. Every other failure is reported, never retried.
//
// Plain HTTP only (no TLS).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace s3chaos::net {

using HeaderFields = std::vector<std::pair<std::string, std::string>>;

// Where requests go. host is a name or a numeric address (no brackets for IPv6).
struct HttpEndpoint {
  std::string host;
  std::uint16_t port = 80;

  // "host:port", also the Host header's value (":port" omitted for 80).
  std::string host_header() const;
  friend bool operator==(const HttpEndpoint&, const HttpEndpoint&) = default;
};

// Parses "http://host[:port][/...]" (the path part is returned in `path_prefix`, "" if none).
// nullopt with a reason in `error` for anything else (https, a missing host, a bad port).
std::optional<HttpEndpoint> parse_http_url(std::string_view url, std::string& path_prefix,
                                           std::string& error);

struct HttpClientRequest {
  std::string method = "GET";
  // The request-target exactly as sent: an encoded path and optional "?query".
  std::string target = "/";
  // Sent as given (repeats allowed). Host, Content-Length and Connection are set by the client
  // unless present here.
  HeaderFields headers;
  std::string body;
};

struct HttpClientResponse {
  int status = 0;
  HeaderFields headers;
  std::string body;

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

enum class HttpClientError {
  none,
  connection_refused,  // Nothing was sent: the connection could not be made.
  resolve_failed,      // Nothing was sent: the host name did not resolve.
  timeout,             // The deadline passed; the request may or may not have been acted on.
  connection_reset,    // The connection broke after the request began to be sent.
  protocol_error,      // The answer was not valid HTTP/1.1 (or its body exceeded the limit).
  client_stopped,      // The client is shutting down.
  queue_full,          // Nothing was sent: too many requests already wait for a connection.
};

std::string_view http_client_error_name(HttpClientError error);

struct HttpClientResult {
  HttpClientError error = HttpClientError::none;
  // A human explanation when error != none.
  std::string message;
  // Valid when error == none.
  HttpClientResponse response;
};

struct HttpClientOptions {
  std::size_t connections_per_endpoint_max = 8;
  // Responses larger than this fail with protocol_error (bodies are held in memory).
  std::uint64_t response_body_bytes_max = 64ull << 20;
  // Requests waiting for a connection, per endpoint; more fail at once with queue_full.
  std::size_t queued_requests_max = 100'000;
};

class HttpClient {
 public:
  using Callback = std::function<void(HttpClientResult)>;

  explicit HttpClient(HttpClientOptions options = {});
  // Stops the I/O thread; pending requests are abandoned and their callbacks never run.
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` to `endpoint`; `done` runs on the I/O thread with the outcome, at the
  // latest shortly after `timeout`. Thread-safe. A HEAD's response is read without a body.
  void send(const HttpEndpoint& endpoint, HttpClientRequest request,
            std::chrono::milliseconds timeout, Callback done);

  // Blocking convenience for tools and tests: send() and wait. Never call it from a callback.
  HttpClientResult send_and_wait(const HttpEndpoint& endpoint, HttpClientRequest request,
                                 std::chrono::milliseconds timeout);

  // Connections currently open (idle or busy), over all endpoints. Thread-safe.
  std::size_t open_connection_count() const;
  // Connections made since construction. Thread-safe (tests use it to see keep-alive work).
  std::uint64_t connections_opened_total() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3chaos::net
