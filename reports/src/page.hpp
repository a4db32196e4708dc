// The HTML page shell shared by run and sweep reports: one stylesheet inline, nothing fetched.
// The markup is XHTML-compatible (every element closed, attributes quoted, no named entities
// beyond XML's) so the tests can parse it as XML.
#pragma once

#include <string>
#include <string_view>

namespace s3chaos::reports::detail {

// "<!DOCTYPE html>...<body><main>"; title is plain text, escaped here.
std::string page_begin(std::string_view title);
// "</main></body></html>" with a footer that names the format, never a date.
std::string page_end();

// Counts code points, not bytes, for width estimates.
std::size_t display_chars(std::string_view text);
// Cuts text to at most max_chars code points, ending with "…" when cut.
std::string truncate_chars(std::string_view text, std::size_t max_chars);

}  // namespace s3chaos::reports::detail
