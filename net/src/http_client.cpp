#include "net/http_client.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <thread>

namespace s3chaos::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// net links nothing of ours, so its one invariant check is local; it stays on in every build.
void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_client: invariant violated: %s\n", what);
    std::abort();
  }
}

constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool has_header(const HeaderFields& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (equal_ignoring_case(key, name)) return true;
  }
  return false;
}

// A failure on a reused connection that says the server closed it while it sat idle.
bool stale_connection_error(const beast::error_code& error) {
  return error == http::error::end_of_stream || error == asio::error::eof ||
         error == asio::error::connection_reset || error == asio::error::broken_pipe ||
         error == asio::error::connection_aborted;
}

HttpClientResult failure(HttpClientError error, std::string message) {
  HttpClientResult result;
  result.error = error;
  result.message = std::move(message);
  return result;
}

// An error after the request began to be sent.
HttpClientResult exchange_failure(const beast::error_code& error, std::string_view stage) {
  if (error == beast::error::timeout || error == asio::error::operation_aborted) {
    return failure(HttpClientError::timeout, std::string(stage) + ": deadline passed");
  }
  if (error.category() == beast::error_code(http::error::end_of_stream).category() &&
      error != http::error::end_of_stream) {
    return failure(HttpClientError::protocol_error,
                   std::string(stage) + ": invalid HTTP response: " + error.message());
  }
  return failure(HttpClientError::connection_reset, std::string(stage) + ": " + error.message());
}

}  // namespace

std::string HttpEndpoint::host_header() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string name = ipv6 ? "[" + host + "]" : host;
  if (port != 80) name += ":" + std::to_string(port);
  return name;
}

std::optional<HttpEndpoint> parse_http_url(std::string_view url, std::string& path_prefix,
                                           std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    error = url.substr(0, 8) == "https://" ? "https is not supported (plain http only)"
                                           : "expected a URL starting with http://";
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  path_prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  if (!path_prefix.empty() && path_prefix.back() == '/') path_prefix.pop_back();
  HttpEndpoint endpoint;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed '[' in the URL's host";
      return std::nullopt;
    }
    endpoint.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "expected ':' after ']' in the URL";
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (endpoint.host.empty()) {
    error = "the URL has no host";
    return std::nullopt;
  }
  if (authority.find('@') != std::string_view::npos) {
    error = "credentials in the URL are not supported";
    return std::nullopt;
  }
  if (!port_text.empty() || authority.back() == ':') {
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      error = "the URL's port must be a number from 1 to 65535";
      return std::nullopt;
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  return endpoint;
}

std::optional<std::string> HttpClientResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equal_ignoring_case(key, name)) return value;
  }
  return std::nullopt;
}

std::string_view http_client_error_name(HttpClientError error) {
  switch (error) {
    case HttpClientError::none:
      return "none";
    case HttpClientError::connection_refused:
      return "connection_refused";
    case HttpClientError::resolve_failed:
      return "resolve_failed";
    case HttpClientError::timeout:
      return "timeout";
    case HttpClientError::connection_reset:
      return "connection_reset";
    case HttpClientError::protocol_error:
      return "protocol_error";
    case HttpClientError::client_stopped:
      return "client_stopped";
    case HttpClientError::queue_full:
      return "queue_full";
  }
  return "?";
}

struct HttpClient::Impl {
  struct Connection {
    Connection(asio::io_context& io, std::atomic<std::size_t>& open_count)
        : stream(io), open(open_count) {}
    ~Connection() { --open; }
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    std::atomic<std::size_t>& open;
  };

  struct Job {
    HttpEndpoint endpoint;
    HttpClientRequest request;
    Clock::time_point deadline;
    Callback done;
  };

  // A job waiting for a free connection slot, with the timer that fails it at its deadline.
  struct Waiting {
    Waiting(asio::io_context& io, Job j) : job(std::move(j)), timer(io, job.deadline) {}
    Job job;
    asio::steady_timer timer;
  };

  struct Pool {
    std::vector<std::unique_ptr<Connection>> idle;
    std::size_t busy = 0;
    std::list<std::shared_ptr<Waiting>> waiting;
  };

  explicit Impl(HttpClientOptions o) : options(o), work(asio::make_work_guard(io)) {
    thread = std::thread([this] { io.run(); });
  }

  ~Impl() {
    work.reset();
    io.stop();
    thread.join();
    pools.clear();
  }

  static std::string pool_key(const HttpEndpoint& endpoint) {
    return endpoint.host + "|" + std::to_string(endpoint.port);
  }

  // On the I/O thread.
  void submit(Job job) {
    Pool& pool = pools[pool_key(job.endpoint)];
    if (pool.busy < options.connections_per_endpoint_max) {
      ++pool.busy;
      start(std::move(job));
      return;
    }
    if (pool.waiting.size() >= options.queued_requests_max) {
      job.done(failure(HttpClientError::queue_full,
                       "too many requests wait for a connection to " + job.endpoint.host_header()));
      return;
    }
    auto waiting = std::make_shared<Waiting>(io, std::move(job));
    pool.waiting.push_back(waiting);
    auto position = std::prev(pool.waiting.end());
    waiting->timer.async_wait([this, &pool, position, weak = std::weak_ptr<Waiting>(waiting)](
                                  const beast::error_code& error) {
      auto alive = weak.lock();
      if (error || !alive) return;  // Cancelled: the job got a connection.
      Job expired = std::move(alive->job);
      pool.waiting.erase(position);
      expired.done(failure(HttpClientError::timeout, "deadline passed waiting for a connection"));
    });
  }

  void start(Job job) { asio::co_spawn(io, run(std::move(job)), asio::detached); }

  // A slot of `pool` came free: hand it to the oldest waiting job.
  void release(Pool& pool) {
    check(pool.busy > 0, "a slot is released only while busy");
    --pool.busy;
    if (pool.waiting.empty()) return;
    std::shared_ptr<Waiting> next = pool.waiting.front();
    pool.waiting.pop_front();
    next->timer.cancel();
    ++pool.busy;
    start(std::move(next->job));
  }

  asio::awaitable<void> run(Job job) {
    const std::string key = pool_key(job.endpoint);
    HttpClientResult result = co_await exchange(job, pools[key]);
    Callback done = std::move(job.done);
    done(std::move(result));
    release(pools[key]);
  }

  asio::awaitable<std::unique_ptr<Connection>> connect(const Job& job, HttpClientResult& error) {
    auto resolver = std::make_shared<tcp::resolver>(io);
    auto timer = std::make_shared<asio::steady_timer>(io, job.deadline);
    timer->async_wait([resolver](const beast::error_code& ec) {
      if (!ec) resolver->cancel();
    });
    auto [resolve_error, endpoints] = co_await resolver->async_resolve(
        job.endpoint.host, std::to_string(job.endpoint.port), nothrow_awaitable);
    timer->cancel();
    if (resolve_error) {
      error =
          resolve_error == asio::error::operation_aborted
              ? failure(HttpClientError::timeout, "deadline passed resolving " + job.endpoint.host)
              : failure(HttpClientError::resolve_failed,
                        "resolving " + job.endpoint.host + ": " + resolve_error.message());
      co_return nullptr;
    }
    ++open_connections;
    auto connection = std::make_unique<Connection>(io, open_connections);
    connection->stream.expires_at(job.deadline);
    auto [connect_error, connected] =
        co_await connection->stream.async_connect(endpoints, nothrow_awaitable);
    if (connect_error) {
      error = connect_error == beast::error::timeout
                  ? failure(HttpClientError::timeout,
                            "deadline passed connecting to " + job.endpoint.host_header())
                  : failure(HttpClientError::connection_refused,
                            "connecting to " + job.endpoint.host_header() + ": " +
                                connect_error.message());
      co_return nullptr;
    }
    ++connections_opened;
    beast::error_code ignored;
    connection->stream.socket().set_option(tcp::no_delay(true), ignored);
    co_return connection;
  }

  http::request<http::string_body> build(const Job& job) {
    http::request<http::string_body> request;
    request.method_string(job.request.method);
    request.target(job.request.target);
    request.version(11);
    for (const auto& [name, value] : job.request.headers) request.insert(name, value);
    if (!has_header(job.request.headers, "host")) {
      request.set(http::field::host, job.endpoint.host_header());
    }
    request.body() = job.request.body;
    if (!has_header(job.request.headers, "content-length")) {
      const bool bodyless = job.request.body.empty() &&
                            (job.request.method == "GET" || job.request.method == "HEAD" ||
                             job.request.method == "DELETE");
      if (!bodyless) request.content_length(job.request.body.size());
    }
    if (!has_header(job.request.headers, "connection")) request.keep_alive(true);
    return request;
  }

  asio::awaitable<HttpClientResult> exchange(Job& job, Pool& pool) {
    const bool head = job.request.method == "HEAD";
    auto request = build(job);
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::unique_ptr<Connection> connection;
      bool reused = false;
      if (attempt == 0 && !pool.idle.empty()) {
        connection = std::move(pool.idle.back());
        pool.idle.pop_back();
        reused = true;
      }
      if (!connection) {
        if (Clock::now() >= job.deadline) {
          co_return failure(HttpClientError::timeout, "deadline passed before connecting");
        }
        HttpClientResult error;
        connection = co_await connect(job, error);
        if (!connection) co_return error;
      }
      connection->stream.expires_at(job.deadline);
      auto [write_error, written] =
          co_await http::async_write(connection->stream, request, nothrow_awaitable);
      if (write_error) {
        if (reused && stale_connection_error(write_error)) continue;
        co_return exchange_failure(write_error, "sending the request");
      }
      http::response_parser<http::string_body> parser;
      parser.body_limit(options.response_body_bytes_max);
      parser.header_limit(64 * 1024);
      if (head) parser.skip(true);
      auto [read_error, read] = co_await http::async_read(connection->stream, connection->buffer,
                                                          parser, nothrow_awaitable);
      if (read_error) {
        if (reused && read == 0 && stale_connection_error(read_error)) continue;
        co_return exchange_failure(read_error, "reading the response");
      }
      auto response = parser.release();
      HttpClientResult result;
      result.response.status = static_cast<int>(response.result_int());
      for (const auto& field : response) {
        result.response.headers.emplace_back(std::string(field.name_string()),
                                             std::string(field.value()));
      }
      const bool keep = response.keep_alive() && !parser.need_eof();
      result.response.body = std::move(response.body());
      if (keep && pool.idle.size() < options.connections_per_endpoint_max) {
        connection->stream.expires_never();
        connection->buffer.consume(connection->buffer.size());
        pool.idle.push_back(std::move(connection));
      }
      co_return result;
    }
    co_return failure(HttpClientError::connection_reset,
                      "the connection closed before the response, twice");
  }

  HttpClientOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;
  std::map<std::string, Pool> pools;  // I/O thread only
  std::atomic<std::size_t> open_connections{0};
  std::atomic<std::uint64_t> connections_opened{0};
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>(options)) {}

HttpClient::~HttpClient() = default;

void HttpClient::send(const HttpEndpoint& endpoint, HttpClientRequest request,
                      std::chrono::milliseconds timeout, Callback done) {
  Impl::Job job{endpoint, std::move(request), Clock::now() + timeout, std::move(done)};
  asio::post(impl_->io, [impl = impl_.get(), job = std::move(job)]() mutable {
    impl->submit(std::move(job));
  });
}

HttpClientResult HttpClient::send_and_wait(const HttpEndpoint& endpoint, HttpClientRequest request,
                                           std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<HttpClientResult>>();
  auto future = promise->get_future();
  send(endpoint, std::move(request), timeout,
       [promise](HttpClientResult result) { promise->set_value(std::move(result)); });
  return future.get();
}

std::size_t HttpClient::open_connection_count() const {
  return impl_->open_connections.load();
}

std::uint64_t HttpClient::connections_opened_total() const {
  return impl_->connections_opened.load();
}

}  // namespace s3chaos::net
