// A small blocking HTTP/1.1 client over plain sockets for the fake-s3 server tests: it sends
// exactly the bytes a test writes (so tests can send truncated bodies, floods and garbage) and
// reads one response. Plus SigV4 signing of test requests with s3proto's signer.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "s3proto/aws_chunked.hpp"
#include "s3proto/checksum.hpp"
#include "s3proto/sigv4.hpp"

namespace raw_http {

namespace s3proto = s3chaos::s3proto;

struct Connection {
  int fd = -1;
  std::string pending;  // bytes read past the last response

  Connection() = default;
  explicit Connection(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  Connection(Connection&& other) noexcept : fd(other.fd), pending(std::move(other.pending)) {
    other.fd = -1;
  }
  ~Connection() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  bool ok() const { return fd >= 0; }

  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (sent <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  // Reads more bytes into `pending`; false on end of stream, error or time-out.
  bool fill(int timeout_ms) {
    pollfd poll_fd{fd, POLLIN, 0};
    if (::poll(&poll_fd, 1, timeout_ms) <= 0) return false;
    char buffer[65536];
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) return false;
    pending.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  // True when the peer closed (or reset) the connection within the time-out.
  bool closed_by_peer(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd poll_fd{fd, POLLIN, 0};
      if (::poll(&poll_fd, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) return true;
    }
    return false;
  }
};

struct Response {
  int status = 0;  // 0: no response (closed, reset or timed out)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [field, value] : headers) {
      if (field.size() == name.size() &&
          std::equal(field.begin(), field.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        return value;
      }
    }
    return std::nullopt;
  }
  // The text of <Code> in an S3 error body.
  std::string error_code() const {
    const auto open = body.find("<Code>");
    const auto close = body.find("</Code>");
    if (open == std::string::npos || close == std::string::npos) return "";
    return body.substr(open + 6, close - open - 6);
  }
};

// Reads one response (the head, then Content-Length bytes unless `head_request`).
inline Response read_response(Connection& connection, bool head_request = false,
                              int timeout_ms = 10'000) {
  Response response;
  std::size_t end = std::string::npos;
  while ((end = connection.pending.find("\r\n\r\n")) == std::string::npos) {
    if (!connection.fill(timeout_ms)) return {};
  }
  const std::string head = connection.pending.substr(0, end);
  connection.pending.erase(0, end + 4);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return {};
  response.status = std::stoi(status_line.substr(9, 3));
  while (line_end != std::string::npos) {
    const std::size_t start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string line =
        head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    response.headers.emplace_back(line.substr(0, colon), value);
  }
  if (head_request || response.status == 100 || response.status == 204 || response.status == 304) {
    return response;
  }
  const std::size_t length = std::stoull(response.header("content-length").value_or("0"));
  while (connection.pending.size() < length) {
    if (!connection.fill(timeout_ms)) return {};
  }
  response.body = connection.pending.substr(0, length);
  connection.pending.erase(0, length);
  return response;
}

inline std::string amz_date_now(std::int64_t offset_seconds = 0) {
  const std::time_t now = std::time(nullptr) + offset_seconds;
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &parts);
  return buffer;
}

struct Request {
  std::string method = "GET";
  std::string path = "/";  // decoded, e.g. "/bucket/key"
  s3proto::QueryList query;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, signed
  std::string body;
};

// The wire bytes of a request signed with `credentials` (payload hash: the body's SHA-256
// unless `payload_hash` is given), with Content-Length = body size unless `content_length`.
inline std::string signed_request(const Request& request, std::uint16_t port,
                                  const s3proto::Credentials& credentials,
                                  std::optional<std::string> payload_hash = std::nullopt,
                                  std::optional<std::uint64_t> content_length = std::nullopt,
                                  const std::string& amz_date = amz_date_now(),
                                  std::string host = "") {
  if (host.empty()) host = "127.0.0.1:" + std::to_string(port);
  s3proto::SigningRequest signing;
  signing.method = request.method;
  signing.path = request.path;
  signing.query = request.query;
  signing.headers = request.headers;
  signing.headers.emplace_back("host", host);
  signing.payload_hash = payload_hash.value_or(s3proto::sha256_hex(request.body));
  const auto signed_request = s3proto::sign_request(signing, credentials, "us-east-1", amz_date);
  std::string wire = request.method + " " + signed_request.request_target + " HTTP/1.1\r\n";
  wire += "Host: " + host + "\r\n";
  for (const auto& [name, value] : request.headers) wire += name + ": " + value + "\r\n";
  wire += "x-amz-date: " + signed_request.amz_date + "\r\n";
  wire += "x-amz-content-sha256: " + signed_request.content_sha256 + "\r\n";
  wire += "Authorization: " + signed_request.authorization + "\r\n";
  wire += "Content-Length: " + std::to_string(content_length.value_or(request.body.size())) +
          "\r\n\r\n";
  return wire;
}

}  // namespace raw_http
