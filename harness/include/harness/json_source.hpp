// JSON documents that remember where each value came from, so a loader can say "file:line:column:
// expected ..." for a semantic error (an unknown field, a wrong type, a value out of range), not
// only for a syntax error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace s3chaos::harness {

// A position in a text file, both 1-based.
struct SourcePosition {
  std::uint32_t line = 1;
  std::uint32_t column = 1;
};

// A load error that names the file, line and column and what was expected.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, SourcePosition position, const std::string& message);
  const std::string& file() const { return file_; }
  SourcePosition position() const { return position_; }
  // The bare message, without the "file:line:column: " prefix.
  const std::string& detail() const { return detail_; }

 private:
  std::string file_;
  SourcePosition position_;
  std::string detail_;
};

// A parsed JSON document plus the position of every value, keyed by JSON pointer
// ("" for the root, "/workload/photo_bytes/min", "/faults/rules/3/effect", ...).
class JsonSource {
 public:
  // Parses `text` (named `file` in errors). Throws InputError with the position of the first
  // syntax error. Documents over text_bytes_max are refused.
  static JsonSource parse(std::string file, std::string_view text);
  // Reads and parses a file; a missing or unreadable file is an InputError at 1:1.
  static JsonSource load(const std::string& path);

  static constexpr std::size_t text_bytes_max = 64u << 20;

  const nlohmann::json& root() const { return root_; }
  const std::string& file() const { return file_; }
  // The position of the value at `pointer`, or of the nearest enclosing value known.
  SourcePosition position(const std::string& pointer) const;
  // An InputError at the value `pointer` names.
  InputError error_at(const std::string& pointer, const std::string& message) const;

 private:
  std::string file_;
  nlohmann::json root_;
  std::map<std::string, SourcePosition> positions_;
};

// Escapes one JSON pointer reference token ("~" -> "~0", "/" -> "~1").
std::string json_pointer_token(std::string_view token);

}  // namespace s3chaos::harness
