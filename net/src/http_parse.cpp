// The sans-I/O request parser (see http_server.hpp): Beast's parser fed from a buffer.
#include <boost/beast/core/string.hpp>

#include "request_head.hpp"

namespace s3chaos::net {

std::optional<std::string_view> find_header_field(const HeaderFields& fields,
                                                  std::string_view name) {
  for (const auto& [field_name, value] : fields) {
    if (boost::beast::iequals(field_name, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<ParsedRequest> parse_request(std::string_view bytes, std::uint32_t header_bytes_max,
                                           std::uint64_t body_bytes_max, ProtocolError& error) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(header_bytes_max);
  parser.body_limit(body_bytes_max);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t offset = 0;
  // put() may consume less than it is given (it stops after the header); bounded because every
  // round either consumes bytes or stops.
  while (offset < bytes.size() && !parser.is_done()) {
    const std::size_t used =
        parser.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    if (ec == http::error::need_more) {
      ec = {};
      if (used == 0) break;
    }
    if (ec) break;
    offset += used;
    if (used == 0) break;
  }
  if (!ec && !parser.is_done()) {
    // put_eof on a parser that saw no byte at all is a precondition violation in Beast.
    if (parser.got_some()) {
      parser.put_eof(ec);
    } else {
      ec = http::error::partial_message;
    }
  }
  if (ec || !parser.is_done()) {
    error = ec == http::error::header_limit ? ProtocolError::header_too_large
            : ec == http::error::body_limit ? ProtocolError::body_too_large
                                            : ProtocolError::malformed;
    return std::nullopt;
  }
  ParsedRequest parsed;
  parsed.head = detail::head_from_parser(parser);
  parsed.body = parser.release().body();
  return parsed;
}

}  // namespace s3chaos::net
