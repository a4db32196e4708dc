// The HTTP client against net's own server on 127.0.0.1: keep-alive reuses one connection,
// every request meets its deadline (a server that never answers), refused connections and
// HEAD answers come back right, a connection the server closed while idle is retried once,
// and the per-endpoint limit queues requests instead of opening more connections.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "net/http_client.hpp"
#include "net/http_server.hpp"

namespace s3chaos::net {
namespace {

using namespace std::chrono_literals;

// Answers "echo:<method> <target> <body>"; /hang never answers; /slow answers after 200 ms;
// HEAD announces a length without a body.
class EchoHandler final : public HttpHandler {
 public:
  std::atomic<int> requests{0};
  HeadDecision check_head(const RequestHead&) override {
    HeadDecision decision;
    decision.body_bytes_max = 1 << 20;
    return decision;
  }
  Reply handle_request(const RequestHead& head, std::string body, std::any&) override {
    ++requests;
    Reply reply;
    if (head.target == "/hang") {
      reply.kind = Reply::Kind::hang;
      return reply;
    }
    reply.response.status = 200;
    if (head.method == "HEAD") {
      reply.response.headers.emplace_back("Content-Length", "12345");
      return reply;
    }
    if (head.target == "/slow") reply.delay = 200ms;
    reply.response.body = "echo:" + head.method + " " + head.target + " " + body;
    return reply;
  }
  Response protocol_error_response(ProtocolError) override { return Response{400, {}, ""}; }
};

struct Server {
  explicit Server(std::chrono::milliseconds idle_timeout = 60s)
      : server(options(idle_timeout), handler) {
    server.start();
  }
  ~Server() { server.stop(); }
  static HttpServerOptions options(std::chrono::milliseconds idle_timeout) {
    HttpServerOptions o;
    o.idle_timeout = idle_timeout;
    o.hang_max = 5s;
    return o;
  }
  HttpEndpoint endpoint() const { return {"127.0.0.1", server.port()}; }
  EchoHandler handler;
  HttpServer server;
};

HttpClientRequest request(std::string method, std::string target, std::string body = "") {
  HttpClientRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

TEST(HttpClient, KeepAliveReusesOneConnection) {
  Server server;
  HttpClient client;
  for (int i = 0; i < 20; ++i) {
    const auto result =
        client.send_and_wait(server.endpoint(), request("PUT", "/k" + std::to_string(i), "b"), 5s);
    ASSERT_EQ(result.error, HttpClientError::none) << result.message;
    EXPECT_EQ(result.response.status, 200);
    EXPECT_EQ(result.response.body, "echo:PUT /k" + std::to_string(i) + " b");
  }
  EXPECT_EQ(client.connections_opened_total(), 1u);
}

TEST(HttpClient, HeadReadsNoBody) {
  Server server;
  HttpClient client;
  const auto result = client.send_and_wait(server.endpoint(), request("HEAD", "/x"), 5s);
  ASSERT_EQ(result.error, HttpClientError::none) << result.message;
  EXPECT_EQ(result.response.header("content-length"), "12345");
  EXPECT_TRUE(result.response.body.empty());
  // The connection is still usable after the body-less answer.
  const auto next = client.send_and_wait(server.endpoint(), request("GET", "/y"), 5s);
  EXPECT_EQ(next.response.body, "echo:GET /y ");
  EXPECT_EQ(client.connections_opened_total(), 1u);
}

TEST(HttpClient, EveryRequestMeetsItsDeadline) {
  Server server;
  HttpClient client;
  const auto start = std::chrono::steady_clock::now();
  const auto result = client.send_and_wait(server.endpoint(), request("GET", "/hang"), 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.error, HttpClientError::timeout);
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
  // The timed-out connection is not reused: the next request works.
  const auto next = client.send_and_wait(server.endpoint(), request("GET", "/after"), 5s);
  EXPECT_EQ(next.error, HttpClientError::none) << next.message;
}

TEST(HttpClient, RefusedConnectionSaysSo) {
  std::uint16_t closed_port = 0;
  {
    Server server;
    closed_port = server.server.port();
  }
  HttpClient client;
  const auto result = client.send_and_wait({"127.0.0.1", closed_port}, request("GET", "/"), 2s);
  EXPECT_EQ(result.error, HttpClientError::connection_refused) << result.message;
  const auto unresolved =
      client.send_and_wait({"no-such-host.invalid", 80}, request("GET", "/"), 5s);
  EXPECT_NE(unresolved.error, HttpClientError::none);
}

TEST(HttpClient, StaleIdleConnectionIsRetriedOnce) {
  Server server(200ms);
  HttpClient client;
  ASSERT_EQ(client.send_and_wait(server.endpoint(), request("GET", "/1"), 5s).error,
            HttpClientError::none);
  std::this_thread::sleep_for(600ms);  // the server closes the idle connection
  const auto result = client.send_and_wait(server.endpoint(), request("GET", "/2"), 5s);
  EXPECT_EQ(result.error, HttpClientError::none) << result.message;
  EXPECT_EQ(result.response.body, "echo:GET /2 ");
  EXPECT_EQ(client.connections_opened_total(), 2u);
}

TEST(HttpClient, ConcurrencyPerEndpointIsBounded) {
  Server server;
  HttpClientOptions options;
  options.connections_per_endpoint_max = 2;
  HttpClient client(options);
  std::vector<std::future<HttpClientResult>> results;
  for (int i = 0; i < 6; ++i) {
    auto promise = std::make_shared<std::promise<HttpClientResult>>();
    results.push_back(promise->get_future());
    client.send(server.endpoint(), request("GET", "/slow"), 5s,
                [promise](HttpClientResult r) { promise->set_value(std::move(r)); });
  }
  for (auto& result : results) EXPECT_EQ(result.get().error, HttpClientError::none);
  EXPECT_LE(client.connections_opened_total(), 2u);
  // Queued requests still meet their deadline when the slots stay busy.
  std::vector<std::future<HttpClientResult>> hung;
  for (int i = 0; i < 3; ++i) {
    auto promise = std::make_shared<std::promise<HttpClientResult>>();
    hung.push_back(promise->get_future());
    client.send(server.endpoint(), request("GET", "/hang"), 300ms,
                [promise](HttpClientResult r) { promise->set_value(std::move(r)); });
  }
  for (auto& result : hung) EXPECT_EQ(result.get().error, HttpClientError::timeout);
}

}  // namespace
}  // namespace s3chaos::net
