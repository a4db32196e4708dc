// A strict, small XML well-formedness checker for the reports' XHTML-compatible output, used by
// the reports tests. It also decodes the document's text, so a test can prove a hostile string
// came out as text (escaped), never as markup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace s3chaos::reports::testing {

struct Element {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // values decoded
};

struct ParsedDocument {
  std::string error;  // empty when well-formed
  std::vector<Element> elements;
  std::string text;  // every text node and attribute value, decoded, separated by '\n'
};

inline void append_utf8(std::string& out, std::uint32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// Decodes XML's five entities and numeric references; returns false on anything else.
inline bool decode_entities(std::string_view raw, std::string& out) {
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      out += raw[i];
      continue;
    }
    const std::size_t end = raw.find(';', i);
    if (end == std::string_view::npos || end - i > 12) return false;
    const std::string_view name = raw.substr(i + 1, end - i - 1);
    if (name == "amp") {
      out += '&';
    } else if (name == "lt") {
      out += '<';
    } else if (name == "gt") {
      out += '>';
    } else if (name == "quot") {
      out += '"';
    } else if (name == "apos") {
      out += '\'';
    } else if (name.size() >= 2 && name[0] == '#') {
      const bool hex = name[1] == 'x';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      if (digits.empty()) return false;
      std::uint32_t value = 0;
      for (const char c : digits) {
        int digit = -1;
        if (c >= '0' && c <= '9') digit = c - '0';
        if (hex && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        if (hex && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        if (digit < 0 || value > 0x10FFFF) return false;
        value = value * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
      }
      if (value == 0 || value > 0x10FFFF) return false;
      append_utf8(out, value);
    } else {
      return false;
    }
    i = end;
  }
  return true;
}

inline bool is_name_char(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return letter || (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

// Parses doc as XML (after an optional "<!DOCTYPE html>"): tags balanced and properly nested,
// attributes quoted and unique, only XML entities, one root element, no raw '<' or '&' in text.
inline ParsedDocument parse_xhtml(std::string_view doc) {
  ParsedDocument result;
  std::vector<std::string> open;
  std::size_t i = 0;
  std::size_t roots = 0;
  const auto fail = [&](const std::string& why) {
    result.error = why + " at byte " + std::to_string(i);
    return result;
  };
  constexpr std::string_view doctype = "<!DOCTYPE html>";
  if (doc.substr(0, doctype.size()) == doctype) i = doctype.size();
  while (i < doc.size()) {
    if (doc[i] != '<') {
      const std::size_t next = doc.find('<', i);
      const std::string_view raw =
          doc.substr(i, next == std::string_view::npos ? std::string_view::npos : next - i);
      if (open.empty() && raw.find_first_not_of(" \t\r\n") != std::string_view::npos) {
        return fail("text outside the root element");
      }
      std::string decoded;
      if (!decode_entities(raw, decoded)) return fail("bad entity in text");
      for (const char c : decoded) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          return fail("control character in text");
        }
      }
      result.text += decoded;
      result.text += '\n';
      i = next == std::string_view::npos ? doc.size() : next;
      continue;
    }
    if (doc.substr(i, 4) == "<!--") {
      const std::size_t end = doc.find("-->", i);
      if (end == std::string_view::npos) return fail("unterminated comment");
      i = end + 3;
      continue;
    }
    const bool closing = doc.substr(i, 2) == "</";
    std::size_t j = i + (closing ? 2 : 1);
    if (j >= doc.size() || !is_name_char(doc[j], true)) return fail("'<' that starts no tag");
    const std::size_t name_start = j;
    while (j < doc.size() && is_name_char(doc[j], false)) ++j;
    std::string name(doc.substr(name_start, j - name_start));
    if (closing) {
      while (j < doc.size() && (doc[j] == ' ' || doc[j] == '\n')) ++j;
      if (j >= doc.size() || doc[j] != '>') return fail("malformed end tag </" + name);
      if (open.empty() || open.back() != name) {
        return fail("end tag </" + name + "> does not close <" +
                    (open.empty() ? std::string("nothing") : open.back()) + ">");
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    Element element{name, {}};
    bool self_closing = false;
    while (true) {
      const std::size_t before = j;
      while (j < doc.size() && (doc[j] == ' ' || doc[j] == '\n' || doc[j] == '\t')) ++j;
      if (j >= doc.size()) return fail("unterminated tag <" + name);
      if (doc[j] == '>') break;
      if (doc.substr(j, 2) == "/>") {
        self_closing = true;
        ++j;
        break;
      }
      if (j == before) return fail("attributes of <" + name + "> need spaces between them");
      const std::size_t attribute_start = j;
      if (!is_name_char(doc[j], true)) return fail("bad attribute name in <" + name + ">");
      while (j < doc.size() && is_name_char(doc[j], false)) ++j;
      std::string attribute(doc.substr(attribute_start, j - attribute_start));
      if (j + 1 >= doc.size() || doc[j] != '=' || (doc[j + 1] != '"' && doc[j + 1] != '\'')) {
        return fail("attribute " + attribute + " of <" + name + "> is not name=\"value\"");
      }
      const char quote = doc[j + 1];
      const std::size_t value_start = j + 2;
      const std::size_t value_end = doc.find(quote, value_start);
      if (value_end == std::string_view::npos) return fail("unterminated attribute value");
      const std::string_view raw = doc.substr(value_start, value_end - value_start);
      if (raw.find('<') != std::string_view::npos) return fail("'<' in an attribute value");
      std::string decoded;
      if (!decode_entities(raw, decoded)) return fail("bad entity in an attribute value");
      for (const auto& [existing, unused] : element.attributes) {
        if (existing == attribute) return fail("duplicate attribute " + attribute);
      }
      result.text += decoded;
      result.text += '\n';
      element.attributes.emplace_back(std::move(attribute), std::move(decoded));
      j = value_end + 1;
    }
    if (open.empty()) {
      if (++roots > 1) return fail("more than one root element");
    }
    result.elements.push_back(std::move(element));
    if (!self_closing) open.push_back(name);
    i = j + 1;
  }
  if (!open.empty()) {
    i = doc.size();
    return fail("<" + open.back() + "> is never closed");
  }
  if (roots != 1) return fail("expected one root element");
  return result;
}

}  // namespace s3chaos::reports::testing
