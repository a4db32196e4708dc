// Private to net/: turning a Beast request header into a RequestHead, shared by the server and
// the sans-I/O parse_request.
#pragma once

#include <boost/beast/http.hpp>

#include "net/http_server.hpp"

namespace s3chaos::net {
namespace http = boost::beast::http;
}

namespace s3chaos::net::detail {

template <class Parser>
RequestHead head_from_parser(const Parser& parser) {
  const auto& message = parser.get();
  RequestHead head;
  head.method = std::string(message.method_string());
  head.target = std::string(message.target());
  head.version = message.version();
  head.headers.reserve(16);
  for (const auto& field : message) {
    head.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (auto length = parser.content_length()) head.content_length = *length;
  head.chunked = parser.chunked();
  if (auto expect = find_header_field(head.headers, "expect")) {
    head.expect_continue = boost::beast::iequals(*expect, "100-continue");
  }
  return head;
}

}  // namespace s3chaos::net::detail
