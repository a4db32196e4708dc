#include "page.hpp"

#include "reports/report.hpp"

namespace s3chaos::reports::detail {
namespace {

// No "<" or "&" anywhere in the stylesheet, so the page stays well-formed XML. Fonts are the
// system's own; nothing is fetched.
constexpr std::string_view stylesheet = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1b1f24;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans",
    "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 24px 48px; }
h1 { font-size: 26px; line-height: 1.25; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 0 0 12px; }
h3 { font-size: 16px; margin: 16px 0 8px; }
p { margin: 6px 0; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono",
  "Liberation Mono", monospace; font-size: 13px; }
pre { background: #1f2328; color: #f0f3f6; padding: 12px 14px; border-radius: 6px;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: 6px 0 12px; }
section { background: #ffffff; border: 1px solid #d8dde3; border-radius: 8px; padding: 18px 22px;
  margin: 0 0 18px; }
.verdict { border-left: 10px solid #2b8a3e; }
.verdict.violated { border-left-color: #c92a2a; }
.badge { display: inline-block; font-weight: 700; letter-spacing: 0.04em; padding: 2px 10px;
  border-radius: 4px; color: #ffffff; font-size: 14px; vertical-align: middle; }
.badge.holds, .badge.pass { background: #2b8a3e; }
.badge.violated, .badge.fail { background: #c92a2a; }
.verdict h1 .badge { font-size: 18px; padding: 3px 12px; margin-right: 10px; }
.meta { color: #49515a; margin: 0; }
.meta span { margin-right: 18px; white-space: nowrap; }
.counts { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 4px; padding: 0;
  list-style: none; }
.counts li { flex: 1 1 130px; background: #f4f5f7; border: 1px solid #e1e5ea; border-radius: 6px;
  padding: 8px 12px; }
.counts .number { display: block; font-size: 24px; font-weight: 700;
  font-variant-numeric: tabular-nums; }
.counts .label { color: #49515a; font-size: 13px; }
.counts li.bad { background: #fff0f0; border-color: #f1aeb5; }
.counts li.bad .number { color: #b02a2a; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e1e5ea;
  vertical-align: top; }
th { font-size: 13px; color: #49515a; font-weight: 600; background: #f8f9fa; }
td.num, th.num { text-align: right; }
tr.failed td { background: #fff5f5; }
td.mono { white-space: nowrap; }
td.why { min-width: 280px; }
td.bad, td.bad a { color: #b02a2a; font-weight: 700; }
.table-wrap + h2, .table-wrap + p + h2 { margin-top: 22px; }
.table-wrap { overflow-x: auto; }
figure { margin: 0; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { color: #49515a; font-size: 13px; margin-top: 6px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; list-style: none; padding: 0;
  margin: 12px 0 0; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { flex: none; }
.note { color: #49515a; font-size: 13px; }
ol.steps { padding-left: 22px; margin: 6px 0; }
ol.steps li { margin: 4px 0; }
ol.steps .when { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 13px; color: #49515a; margin-right: 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { color: #49515a; }
dl.facts dd { margin: 0; word-break: break-all; }
details summary { cursor: pointer; color: #1c5fb8; margin: 8px 0; }
a { color: #1c5fb8; }
footer { color: #6a737d; font-size: 12px; text-align: center; margin-top: 8px; }
@media (max-width: 720px) { main { padding: 12px; } section { padding: 14px; } }
)css";

}  // namespace

std::string page_begin(std::string_view title) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  // Belt and braces for "nothing fetched": even a future bug that emitted a URL could not load
  // it, and no script could run.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\"/>\n";
  out += "<title>" + escape_html(title) + "</title>\n<style>";
  out += stylesheet;
  out += "</style>\n</head>\n<body>\n<main>\n";
  return out;
}

std::string page_end() {
  return "<footer>s3chaos report, format 1. Self-contained: no script, nothing fetched. The same "
         "input gives the same file.</footer>\n</main>\n</body>\n</html>\n";
}

std::size_t display_chars(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

std::string truncate_chars(std::string_view text, std::size_t max_chars) {
  if (display_chars(text) <= max_chars) return std::string(text);
  if (max_chars == 0) return std::string();
  std::size_t count = 0;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (count == max_chars - 1) break;
      ++count;
    }
  }
  return std::string(text.substr(0, i)) + "\xE2\x80\xA6";
}

}  // namespace s3chaos::reports::detail
