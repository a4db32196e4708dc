// The HTTP/1.1 server of http_server.hpp on Boost.Beast: one session per connection, each on
// its own strand, several I/O threads. The only place sockets of a server are touched.
#include "net/http_server.hpp"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "request_head.hpp"

namespace s3chaos::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// What a hanging connection reads (and drops) at a time while it waits for the client to leave.
constexpr std::size_t hang_read_buffer_bytes = 4096;
// What an idle connection reads when its next request begins.
constexpr std::size_t first_read_bytes = 16 * 1024;

struct Session;

// Everything a session needs of its server (HttpServer::Impl is private to the class).
struct ServerCore {
  // Declared before the io_context: sessions destroyed by its destructor still unregister here.
  HttpServerOptions options;
  HttpHandler& handler;
  mutable std::mutex sessions_mutex;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_session_id = 1;
  std::atomic<bool> stopping{false};
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::mutex stop_mutex;

  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;
  std::vector<std::thread> threads;

  ServerCore(HttpServerOptions opts, HttpHandler& h)
      : options(std::move(opts)),
        handler(h),
        io(static_cast<int>(std::max(1u, options.threads))),
        acceptor(io) {}

  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void unregister(std::uint64_t id) {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(id);
  }
};

struct Session : std::enable_shared_from_this<Session> {
  ServerCore& server;
  std::uint64_t id;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  RequestHead head;
  std::any state;
  bool keep_alive = true;
  bool idle = true;  // waiting for the first byte of a request
  asio::steady_timer timer;
  std::shared_ptr<http::response<http::string_body>> response;
  std::array<char, hang_read_buffer_bytes> hang_buffer{};
  bool hanging = false;

  Session(ServerCore& s, std::uint64_t session_id, tcp::socket socket)
      : server(s), id(session_id), stream(std::move(socket)), timer(stream.get_executor()) {}

  ~Session() { server.unregister(id); }

  void start() {
    beast::error_code ec;
    const auto endpoint = stream.socket().remote_endpoint(ec);
    if (!ec)
      head.remote_address = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    read_header();
  }

  // Called on the session's strand at shutdown: an idle connection closes now; a busy one
  // closes after its response.
  void on_shutdown() {
    keep_alive = false;
    if (idle && buffer.size() == 0) close();
  }

  void read_header() {
    if (server.stopping) return close();
    parser.emplace();
    parser->header_limit(server.options.header_bytes_max);
    parser->body_limit(boost::none);  // the handler decides per request
    state.reset();
    idle = buffer.size() == 0;
    if (idle) {
      // Between requests the idle time-out applies; once a request has begun, the header must
      // keep arriving within the read time-out (slow clients).
      stream.expires_after(server.options.idle_timeout);
      stream.async_read_some(buffer.prepare(first_read_bytes),
                             [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                               if (ec) return self->close();
                               self->buffer.commit(n);
                               self->idle = false;
                               self->read_header_rest();
                             });
      return;
    }
    read_header_rest();
  }

  void read_header_rest() {
    stream.expires_after(server.options.read_timeout);
    http::async_read_header(stream, buffer, *parser,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    idle = false;
    if (ec == http::error::header_limit) return protocol_error(ProtocolError::header_too_large);
    if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
        ec == asio::error::operation_aborted || ec == beast::error::timeout ||
        ec == asio::error::connection_reset || ec == asio::error::eof) {
      return close();
    }
    if (ec) return protocol_error(ProtocolError::malformed);
    const std::string remote = std::move(head.remote_address);
    head = detail::head_from_parser(*parser);
    head.remote_address = remote;
    keep_alive = parser->get().keep_alive() && !server.stopping;
    HeadDecision decision;
    try {
      decision = server.handler.check_head(head);
    } catch (const std::exception&) {
      return internal_error();
    }
    state = std::move(decision.state);
    const bool body_announced = head.chunked || (head.content_length && *head.content_length > 0);
    if (decision.reply) {
      // The body (if any) is never read: the connection cannot be reused.
      if (body_announced) keep_alive = false;
      return deliver(std::move(*decision.reply));
    }
    const bool body_complete = parser->is_done();
    if (!body_complete && head.content_length && *head.content_length > decision.body_bytes_max) {
      return protocol_error(ProtocolError::body_too_large);
    }
    if (!body_complete) parser->body_limit(decision.body_bytes_max);
    // A client that asked for 100 Continue gets it even when there is no body to send
    // (Content-Length: 0): botocore, answered with the final status alone, misreads the next
    // response on that pooled connection and stalls until the server closes it.
    if (head.expect_continue) return send_continue(body_complete);
    if (body_complete) return handle();
    read_body();
  }

  void send_continue(bool body_complete) {
    auto interim =
        std::make_shared<http::response<http::empty_body>>(http::status::continue_, head.version);
    stream.expires_after(server.options.write_timeout);
    http::async_write(stream, *interim,
                      [self = shared_from_this(), interim, body_complete](
                          beast::error_code write_ec, std::size_t) {
                        if (write_ec) return self->close();
                        if (body_complete) return self->handle();
                        self->read_body();
                      });
  }

  void read_body() {
    stream.expires_after(server.options.read_timeout);
    http::async_read_some(stream, buffer, *parser,
                          beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec == http::error::body_limit) return protocol_error(ProtocolError::body_too_large);
    // A client that hangs up, stalls or sends a malformed body: the request is dropped whole.
    if (ec) return close();
    if (!parser->is_done()) return read_body();
    handle();
  }

  void handle() {
    std::string body = parser->release().body();
    parser.reset();
    Reply reply;
    try {
      reply = server.handler.handle_request(head, std::move(body), state);
    } catch (const std::exception&) {
      return internal_error();
    }
    deliver(std::move(reply));
  }

  void internal_error() {
    Response error;
    error.status = 500;
    keep_alive = false;
    write_response(std::move(error));
  }

  void protocol_error(ProtocolError error) {
    keep_alive = false;
    Response answer;
    try {
      answer = server.handler.protocol_error_response(error);
    } catch (const std::exception&) {
      answer = Response{400, {}, {}};
    }
    write_response(std::move(answer));
  }

  void deliver(Reply reply) {
    if (reply.close_after) keep_alive = false;
    if (reply.delay.count() > 0) {
      timer.expires_after(reply.delay);
      auto shared = std::make_shared<Reply>(std::move(reply));
      // The stream's own timer would cut the connection during a long delay.
      stream.expires_never();
      timer.async_wait([self = shared_from_this(), shared](beast::error_code ec) {
        if (ec) return self->close();
        self->deliver_now(std::move(*shared));
      });
      return;
    }
    deliver_now(std::move(reply));
  }

  void deliver_now(Reply reply) {
    if (reply.still_deliverable && !reply.still_deliverable()) return reset();
    switch (reply.kind) {
      case Reply::Kind::respond:
        return write_response(std::move(reply.response));
      case Reply::Kind::close:
        return close();
      case Reply::Kind::reset:
        return reset();
      case Reply::Kind::hang:
        return hang();
    }
  }

  void write_response(Response answer) {
    response = std::make_shared<http::response<http::string_body>>();
    auto& message = *response;
    message.version(head.version == 10 ? 10 : 11);
    message.result(static_cast<unsigned>(answer.status));
    bool has_length = false;
    for (auto& [name, value] : answer.headers) {
      if (beast::iequals(name, "content-length")) has_length = true;
      if (beast::iequals(name, "connection")) continue;
      message.insert(name, value);
    }
    message.body() = std::move(answer.body);
    if (!has_length) message.content_length(message.body().size());
    if (server.stopping) keep_alive = false;
    message.keep_alive(keep_alive);
    stream.expires_after(server.options.write_timeout);
    http::async_write(stream, message,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->response.reset();
                        if (ec || !self->keep_alive) return self->close();
                        self->read_header();
                      });
  }

  void close() {
    timer.cancel();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
  }

  void reset() {
    timer.cancel();
    beast::error_code ignored;
    stream.socket().set_option(asio::socket_base::linger(true, 0), ignored);
    stream.socket().close(ignored);
  }

  // Holds the connection: reads (and drops) whatever the client still sends, until it closes
  // or the hold limit passes.
  void hang() {
    hanging = true;
    stream.expires_never();
    timer.expires_after(server.options.hang_max);
    timer.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close();
    });
    hang_read();
  }

  void hang_read() {
    stream.socket().async_read_some(asio::buffer(hang_buffer),
                                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                      if (ec) return self->close();
                                      self->hang_read();
                                    });
  }
};

void ServerCore::do_accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void ServerCore::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stopping) return;
  if (!ec) {
    std::shared_ptr<Session> session;
    {
      std::lock_guard lock(sessions_mutex);
      if (sessions.size() < options.connections_max) {
        const std::uint64_t id = next_session_id++;
        session = std::make_shared<Session>(*this, id, std::move(socket));
        sessions.emplace(id, session);
      }
    }
    if (session) {
      asio::dispatch(session->stream.get_executor(), [session] { session->start(); });
    } else {
      beast::error_code ignored;
      socket.close(ignored);
    }
  }
  do_accept();
}

}  // namespace

struct HttpServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler& handler)
    : impl_(std::make_shared<Impl>(std::move(options), handler)) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  const std::string where = impl_->options.host + ":" + std::to_string(impl_->options.port);
  if (ec) throw std::system_error(ec, "not a numeric address: " + where);
  const tcp::endpoint endpoint(address, impl_->options.port);
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + where);
  impl_->bound_port = impl_->acceptor.local_endpoint().port();
}

HttpServer::~HttpServer() {
  stop();
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port;
}
const std::string& HttpServer::host() const {
  return impl_->options.host;
}

std::size_t HttpServer::connection_count() const {
  std::lock_guard lock(impl_->sessions_mutex);
  return impl_->sessions.size();
}

void HttpServer::start() {
  if (impl_->started.exchange(true)) return;
  impl_->work.emplace(impl_->io.get_executor());
  asio::post(impl_->io, [impl = impl_.get()] { impl->do_accept(); });
  const unsigned count = std::max(1u, impl_->options.threads);
  for (unsigned i = 0; i < count; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
  }
}

void HttpServer::stop() {
  std::lock_guard stop_lock(impl_->stop_mutex);
  if (impl_->stopped.exchange(true)) return;
  impl_->stopping = true;
  if (impl_->started) {
    std::promise<void> closed;
    asio::post(impl_->io, [impl = impl_.get(), &closed] {
      beast::error_code ignored;
      impl->acceptor.close(ignored);
      closed.set_value();
    });
    closed.get_future().wait();
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard lock(impl_->sessions_mutex);
      for (auto& [id, weak] : impl_->sessions) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    for (auto& session : live) {
      asio::post(session->stream.get_executor(), [session] { session->on_shutdown(); });
    }
    live.clear();
    // Bounded wait for requests in progress; polled because sessions end on I/O threads.
    const auto deadline = std::chrono::steady_clock::now() + impl_->options.shutdown_grace;
    while (connection_count() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    impl_->work.reset();
    impl_->io.stop();
    for (auto& thread : impl_->threads) thread.join();
    impl_->threads.clear();
    // No I/O thread runs now: cut what is left (requests past the grace, connections accepted
    // but not yet started) and let the aborted operations complete, so no socket outlives stop().
    std::vector<std::shared_ptr<Session>> rest;
    {
      std::lock_guard lock(impl_->sessions_mutex);
      for (auto& [id, weak] : impl_->sessions) {
        if (auto session = weak.lock()) rest.push_back(std::move(session));
      }
    }
    for (auto& session : rest) session->close();
    rest.clear();
    impl_->io.restart();
    impl_->io.poll();
  }
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace s3chaos::net
