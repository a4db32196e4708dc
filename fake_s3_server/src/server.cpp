// Server: a Service on a net::HttpServer (see server.hpp).
#include "fake_s3_server/server.hpp"

namespace s3chaos::fake_s3_server {

Server::Server(ServerOptions options, Clock clock)
    : service_(std::make_unique<Service>(std::move(options.service), std::move(clock))),
      http_(std::make_unique<net::HttpServer>(std::move(options.http), *service_)) {}

Server::~Server() {
  stop();
}

void Server::start() {
  http_->start();
}

void Server::stop() {
  if (http_) http_->stop();
}

std::uint16_t Server::port() const {
  return http_->port();
}

std::string Server::endpoint_url() const {
  return "http://" + http_->host() + ":" + std::to_string(http_->port());
}

}  // namespace s3chaos::fake_s3_server
