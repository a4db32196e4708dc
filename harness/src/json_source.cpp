#include "harness/json_source.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace s3chaos::harness {
namespace {

// Records the position of every value of a document that nlohmann::json has already accepted,
// so it only needs to follow valid JSON: strings (with escapes), numbers, literals, arrays and
// objects. It walks the text once and names each value by its JSON pointer.
class PositionScanner {
 public:
  PositionScanner(std::string_view text, std::map<std::string, SourcePosition>& positions)
      : text_(text), positions_(positions) {}

  void scan() {
    skip_space();
    value("");
  }

 private:
  static constexpr int depth_max = 512;

  void value(const std::string& pointer) {
    if (++depth_ > depth_max || at_end()) return;
    positions_[pointer] = here();
    const char c = text_[offset_];
    if (c == '{') {
      advance();
      skip_space();
      if (peek() == '}') {
        advance();
      } else {
        while (!at_end()) {
          skip_space();
          const std::string key = string_token();
          skip_space();
          if (peek() == ':') advance();
          skip_space();
          value(pointer + "/" + json_pointer_token(key));
          skip_space();
          if (peek() == ',') {
            advance();
            continue;
          }
          if (peek() == '}') advance();
          break;
        }
      }
    } else if (c == '[') {
      advance();
      skip_space();
      if (peek() == ']') {
        advance();
      } else {
        for (std::size_t index = 0; !at_end(); ++index) {
          skip_space();
          value(pointer + "/" + std::to_string(index));
          skip_space();
          if (peek() == ',') {
            advance();
            continue;
          }
          if (peek() == ']') advance();
          break;
        }
      }
    } else if (c == '"') {
      string_token();
    } else {
      while (!at_end() && std::string_view(",]} \t\r\n").find(text_[offset_]) == std::string::npos)
        advance();
    }
    --depth_;
  }

  // Reads a string token and returns its decoded text (escapes other than \" and \\ kept as
  // written: keys with such escapes are rare, and nlohmann's own key then differs harmlessly).
  std::string string_token() {
    std::string decoded;
    if (peek() != '"') return decoded;
    advance();
    while (!at_end() && text_[offset_] != '"') {
      if (text_[offset_] == '\\' && offset_ + 1 < text_.size()) {
        advance();
        const char escaped = text_[offset_];
        decoded.push_back(escaped == '"' || escaped == '\\' || escaped == '/' ? escaped : '?');
        advance();
        continue;
      }
      decoded.push_back(text_[offset_]);
      advance();
    }
    advance();
    return decoded;
  }

  void skip_space() {
    while (!at_end() && std::string_view(" \t\r\n").find(text_[offset_]) != std::string::npos)
      advance();
  }
  char peek() const { return at_end() ? '\0' : text_[offset_]; }
  bool at_end() const { return offset_ >= text_.size(); }
  SourcePosition here() const { return {line_, column_}; }
  void advance() {
    if (at_end()) return;
    if (text_[offset_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(text_[offset_]) & 0xC0) != 0x80) {
      ++column_;  // Columns count characters, not UTF-8 continuation bytes.
    }
    ++offset_;
  }

  std::string_view text_;
  std::map<std::string, SourcePosition>& positions_;
  std::size_t offset_ = 0;
  std::uint32_t line_ = 1;
  std::uint32_t column_ = 1;
  int depth_ = 0;
};

SourcePosition position_of_offset(std::string_view text, std::size_t offset) {
  SourcePosition position;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++position.line;
      position.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++position.column;
    }
  }
  return position;
}

}  // namespace

InputError::InputError(const std::string& file, SourcePosition position, const std::string& message)
    : std::runtime_error(file + ":" + std::to_string(position.line) + ":" +
                         std::to_string(position.column) + ": " + message),
      file_(file),
      position_(position),
      detail_(message) {}

std::string json_pointer_token(std::string_view token) {
  std::string escaped;
  for (char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped.push_back(c);
    }
  }
  return escaped;
}

JsonSource JsonSource::parse(std::string file, std::string_view text) {
  JsonSource source;
  source.file_ = std::move(file);
  if (text.size() > text_bytes_max) {
    throw InputError(source.file_, {1, 1},
                     "file is larger than " + std::to_string(text_bytes_max) + " bytes");
  }
  try {
    source.root_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& error) {
    // nlohmann's byte is the 1-based offset just past the offending character.
    const std::size_t offset = error.byte > 0 ? error.byte - 1 : 0;
    std::string what = error.what();
    const auto cut = what.find("syntax error");
    throw InputError(source.file_, position_of_offset(text, offset),
                     "invalid JSON: " + (cut == std::string::npos ? what : what.substr(cut)));
  }
  PositionScanner(text, source.positions_).scan();
  return source;
}

JsonSource JsonSource::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, {1, 1}, "cannot open the file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(path, {1, 1}, "cannot read the file");
  return parse(path, buffer.str());
}

SourcePosition JsonSource::position(const std::string& pointer) const {
  std::string prefix = pointer;
  while (true) {
    if (auto it = positions_.find(prefix); it != positions_.end()) return it->second;
    const auto slash = prefix.rfind('/');
    if (slash == std::string::npos) return {1, 1};
    prefix.resize(slash);
  }
}

InputError JsonSource::error_at(const std::string& pointer, const std::string& message) const {
  return InputError(file_, position(pointer), message);
}

}  // namespace s3chaos::harness
