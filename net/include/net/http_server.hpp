// A generic HTTP/1.1 server (Boost.Beast underneath, none of it in this header).
//
// The server owns the sockets, the parsing, the time-outs and the limits; what a request means
// is up to an HttpHandler, which sees plain values and returns plain values. A request is
// handled in two steps so that a handler can refuse one before its body travels:
//
//   1. check_head(head): the header is complete. The handler answers at once (an error, or a
//      body-less request) or asks for the body, up to a byte limit it chooses. When the client
//      sent `Expect: 100-continue`, "100 Continue" goes out only when the body is asked for.
//   2. handle_request(head, body, state): the whole body arrived, exactly Content-Length bytes
//      (or a complete chunked body). A client that hangs up, stalls or sends fewer bytes never
//      reaches this step, so a half-sent body can never be acted on.
//
// A Reply is a response (optionally after a delay) or a transport failure: close the
// connection, reset it (RST), or hold it without answering until the client gives up or a
// bounded hold time passes. Handler calls happen on the server's I/O threads, several at once:
// a handler must be thread-safe. Handlers must not block for long; delays are expressed in
// the Reply, never slept.
#pragma once

#include <any>
#include <chrono>
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

// The first header named `name` (case-insensitive) in `fields`, or nullopt.
std::optional<std::string_view> find_header_field(const HeaderFields& fields,
                                                  std::string_view name);

struct RequestHead {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // the raw request-target, percent-encoded as on the wire
  HeaderFields headers;
  unsigned version = 11;  // 10 or 11
  std::optional<std::uint64_t> content_length;
  bool chunked = false;          // Transfer-Encoding: chunked
  bool expect_continue = false;  // Expect: 100-continue
  std::string remote_address;    // the peer's address and port, for logs
};

struct Response {
  int status = 200;
  // Sent as given, in order. Content-Length is taken from here when present (a HEAD response
  // announces the object's length without a body); otherwise it is the body's size.
  HeaderFields headers;
  std::string body;
};

struct Reply {
  enum class Kind {
    respond,  // send `response` after `delay`
    close,    // close the connection without answering (after `delay`)
    reset,    // reset the connection (TCP RST) without answering (after `delay`)
    hang,     // send nothing; close when the client gives up or after the server's hold limit
  };
  Kind kind = Kind::respond;
  Response response;
  std::chrono::nanoseconds delay{0};
  // Close the connection after this response even if the client asked for keep-alive.
  bool close_after = false;
  // Checked after the delay, just before the response is written: when it returns false the
  // connection is reset instead (the service died while the response was in flight).
  std::function<bool()> still_deliverable;

  static Reply respond_with(Response response) {
    Reply reply;
    reply.response = std::move(response);
    return reply;
  }
};

// What check_head decides.
struct HeadDecision {
  // Set: answer now without reading the body. If a body was announced, the connection is
  // closed after the answer (its bytes are never read).
  std::optional<Reply> reply;
  // Otherwise: read the body, refusing more than this many bytes (see body_too_large).
  std::uint64_t body_bytes_max = 0;
  // Carried to handle_request (e.g. the verified signature).
  std::any state;
};

enum class ProtocolError {
  malformed,         // not HTTP/1.1 as the parser reads it
  header_too_large,  // the request line and headers exceed header_bytes_max
  body_too_large,    // a chunked body grew past the handler's body_bytes_max
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual HeadDecision check_head(const RequestHead& head) = 0;
  virtual Reply handle_request(const RequestHead& head, std::string body, std::any& state) = 0;
  // The answer to a request the server could not parse; the connection closes after it.
  virtual Response protocol_error_response(ProtocolError error) = 0;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;                      // 0: the system picks a free port
  unsigned threads = 2;                        // I/O threads
  std::size_t connections_max = 512;           // further connections are closed at once
  std::uint32_t header_bytes_max = 64 * 1024;  // request line + header fields
  // A connection with no request in progress is closed after this long.
  std::chrono::milliseconds idle_timeout{60'000};
  // Each read of the header or body must make progress within this long (slow clients).
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds write_timeout{60'000};
  // How long a Reply::Kind::hang holds a connection at most.
  std::chrono::milliseconds hang_max{60'000};
  // stop(): requests in progress get this long to finish before connections are cut.
  std::chrono::milliseconds shutdown_grace{5'000};
};

class HttpServer {
 public:
  // Binds and listens at once (throws std::system_error naming host and port on failure);
  // serves after start(). The handler must outlive the server.
  HttpServer(HttpServerOptions options, HttpHandler& handler);
  ~HttpServer();  // stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the real one when options.port was 0).
  std::uint16_t port() const;
  const std::string& host() const;

  // Starts the I/O threads; returns at once.
  void start();
  // Graceful shutdown: stops accepting, closes idle connections, lets requests in progress
  // finish within shutdown_grace, then cuts what is left and joins the threads. Idempotent;
  // callable from any thread except an I/O thread of this server.
  void stop();

  // Connections open now (for tests and status).
  std::size_t connection_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Sans-I/O parse of one request from `bytes` (the same parser and limits the server uses), for
// the fuzz target and for tests. Returns nullopt and sets `error` when the bytes are not one
// complete request.
struct ParsedRequest {
  RequestHead head;
  std::string body;
};
std::optional<ParsedRequest> parse_request(std::string_view bytes, std::uint32_t header_bytes_max,
                                           std::uint64_t body_bytes_max, ProtocolError& error);

}  // namespace s3chaos::net
