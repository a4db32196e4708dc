// Unit tests of the report generator: escaping of every user-provided string, deterministic
// bytes, bounded size for large runs, clear schema errors, well-formed self-contained output.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "reports/report.hpp"
#include "source_dir.hpp"
#include "xhtml_check.hpp"

namespace s3chaos::reports {
namespace {

using nlohmann::json;
using testing::parse_xhtml;
using testing::ParsedDocument;

std::string source_dir() {
  return test::source_dir().string();
}

json load_example(const std::string& name) {
  const std::string path = source_dir() + "/reports/examples/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return json::parse(in);
}

// The elements a self-contained report may use: anything that can fetch or run is absent.
const std::set<std::string>& allowed_elements() {
  static const std::set<std::string> names = {
      "html",       "head",    "meta",  "title",  "style",   "body",    "main", "section", "h1",
      "h2",         "h3",      "p",     "span",   "strong",  "code",    "pre",  "ul",      "ol",
      "li",         "table",   "thead", "tbody",  "tr",      "th",      "td",   "div",     "figure",
      "figcaption", "dl",      "dt",    "dd",     "details", "summary", "a",    "footer",  "svg",
      "defs",       "pattern", "rect",  "circle", "path",    "line",    "text", "g"};
  return names;
}

// Returns why html is not a well-formed, self-contained report, or "" when it is.
std::string self_contained_problem(const std::string& html, ParsedDocument* parsed = nullptr) {
  ParsedDocument document = parse_xhtml(html);
  if (!document.error.empty()) return "not well-formed: " + document.error;
  for (const auto& element : document.elements) {
    if (!allowed_elements().contains(element.name)) return "element <" + element.name + ">";
    for (const auto& [name, value] : element.attributes) {
      if (name == "src" || name == "srcset" || name == "xlink:href" || name == "style" ||
          name.starts_with("on")) {
        return "attribute " + name + " on <" + element.name + ">";
      }
      // As URLs parse: a colon before any '/', '?' or '#' starts a scheme (http:, javascript:).
      const std::size_t colon = value.find(':');
      const bool has_scheme = colon != std::string::npos && colon < value.find_first_of("/?#");
      if (name == "href" && (has_scheme || value.starts_with("/") || value.starts_with("\\"))) {
        return "href leaves the folder: " + value;
      }
    }
  }
  // The stylesheet fetches nothing either.
  const std::size_t style = html.find("<style>");
  const std::string css = html.substr(style, html.find("</style>") - style);
  if (css.find("@import") != std::string::npos) return "@import in the stylesheet";
  for (std::size_t at = css.find("url("); at != std::string::npos; at = css.find("url(", at + 1)) {
    if (css.compare(at, 5, "url(#") != 0) return "url() in the stylesheet";
  }
  if (parsed != nullptr) *parsed = std::move(document);
  return "";
}

std::size_t element_count(const std::string& html) {
  return parse_xhtml(html).elements.size();
}

// A small valid run result with photo_count photos, the first lost_count of them lost in a
// life/death window, built in code so tests can vary sizes and strings.
json make_run(std::size_t photo_count, std::size_t lost_count) {
  constexpr std::int64_t duration_ms = 36'000'000;
  json photos = json::array();
  for (std::size_t i = 0; i < photo_count; ++i) {
    const auto received_ms = static_cast<std::int64_t>(i) * (duration_ms - 60'000) /
                             static_cast<std::int64_t>(std::max<std::size_t>(photo_count, 1));
    json photo = {
        {"id", "p-" + std::to_string(i)},     {"key", "photos/p-" + std::to_string(i) + ".jpg"},
        {"size_bytes", 1'000'000 + i % 1000}, {"received_ms", received_ms},
        {"acked_ms", received_ms + 100},      {"put_ok_ms", received_ms + 2000},
        {"evicted_ms", received_ms + 2010},   {"outcome", "stored"}};
    if (i < lost_count) {
      // Lost ones are uploaded inside the window, 08:44 to 08:49 on the example's clock.
      const std::int64_t window_ms = 2'640'000 + static_cast<std::int64_t>(i % 290) * 1000;
      photo["received_ms"] = window_ms;
      photo["acked_ms"] = window_ms + 100;
      photo["put_ok_ms"] = window_ms + 2000;
      photo["evicted_ms"] = window_ms + 2010;
      photo["lost_ms"] = 2'940'000;
      photo["outcome"] = "lost";
      photo["loss_side"] = "uploader";
      photo["loss_reason"] = "evicted before the durability lag had passed";
    }
    photos.push_back(std::move(photo));
  }
  return {{"format", "s3chaos.run_result"},
          {"format_version", 1},
          {"scenario",
           {{"name", "synthetic"},
            {"path", "scenarios/synthetic.json"},
            {"document", {{"name", "synthetic"}, {"duration_ms", duration_ms}}}}},
          {"seed", 7},
          {"policy", "naive-2008"},
          {"trace_hash", "00ff"},
          {"replay_command", "s3chaos run scenarios/synthetic.json --seed 7"},
          {"duration_ms", duration_ms},
          {"clock_origin", "2008-07-20T08:00:00-07:00"},
          {"verdict", lost_count > 0 ? "violated" : "holds"},
          {"checks", {{{"name", "safety"}, {"holds", lost_count == 0}}}},
          {"s3_health",
           {{{"start_ms", 0}, {"end_ms", 2'640'000}, {"state", "up"}},
            {{"start_ms", 2'640'000}, {"end_ms", 2'940'000}, {"state", "life_death_window"}},
            {{"start_ms", 2'940'000}, {"end_ms", 20'000'000}, {"state", "dead"}},
            {{"start_ms", 20'000'000}, {"end_ms", duration_ms}, {"state", "up"}}}},
          {"faults", {{{"start_ms", 2'640'000}, {"end_ms", 2'940'000}, {"kind", "ack_then_lose"}}}},
          {"uploader_crashes", {{{"at_ms", 10'000'000}, {"restart_ms", 10'040'000}}}},
          {"photos", std::move(photos)}};
}

TEST(RunReport, ExamplesRenderWellFormedAndSelfContained) {
  // Proves the committed examples are valid run results and render to well-formed XHTML that
  // uses no element or attribute able to fetch or run anything.
  for (const std::string name :
       {"photoshare-2008-07-20-naive-2008.json", "photoshare-2008-07-20-protected.json"}) {
    SCOPED_TRACE(name);
    const json run = load_example(name);
    EXPECT_EQ(format_schema_errors(validate_run_result(run)), "");
    const std::string html = render_run_report(run);
    EXPECT_EQ(self_contained_problem(html), "");
    EXPECT_EQ(html.find("http://"), std::string::npos);
    EXPECT_EQ(html.find("https://"), std::string::npos);
  }
}

TEST(RunReport, VerdictComesFirstAndNamesTheLostPhotos) {
  // Proves a violated run opens with its verdict, failed check and the lost photos by id, and a
  // holding run opens with HOLDS; the timeline, legend and close-up come after the verdict.
  const std::string naive =
      render_run_report(load_example("photoshare-2008-07-20-naive-2008.json"));
  const std::size_t verdict = naive.find("id=\"verdict\"");
  ASSERT_NE(verdict, std::string::npos);
  EXPECT_LT(verdict, naive.find("id=\"timeline-svg\""));
  EXPECT_LT(naive.find("id=\"timeline-svg\""), naive.find("id=\"closeup-svg\""));
  EXPECT_NE(naive.find(">VIOLATED</span>"), std::string::npos);
  EXPECT_NE(naive.find("5 acknowledged photos lost"), std::string::npos);
  EXPECT_NE(naive.find("<span class=\"badge fail\">FAIL</span>"), std::string::npos);
  EXPECT_NE(naive.find("id=\"legend\""), std::string::npos);
  EXPECT_NE(naive.find("id=\"counterexample\""), std::string::npos);
  for (const std::string id : {"p-000414", "p-000432", "p-000427", "p-000440", "p-000431"}) {
    EXPECT_LT(naive.find("<code>" + id + "</code>"), naive.find("id=\"timeline\"")) << id;
  }
  EXPECT_NE(naive.find("life/death window 08:44\xE2\x80\x93"
                       "08:49"),
            std::string::npos);
  EXPECT_NE(naive.find("s3chaos run scenarios/photoshare-2008-07-20.json --seed 20080720 "
                       "--policy naive-2008"),
            std::string::npos);

  const std::string protected_run =
      render_run_report(load_example("photoshare-2008-07-20-protected.json"));
  EXPECT_NE(protected_run.find(">HOLDS</span>Every check holds"), std::string::npos);
  EXPECT_EQ(protected_run.find("id=\"closeup-svg\""), std::string::npos);
  EXPECT_EQ(protected_run.find("<span class=\"badge fail\">"), std::string::npos);
}

TEST(RunReport, SameInputSameBytes) {
  // Proves rendering is deterministic: twice, and after a JSON round trip that rebuilds every
  // object, the bytes are identical.
  const json run = load_example("photoshare-2008-07-20-naive-2008.json");
  const std::string first = render_run_report(run);
  EXPECT_EQ(first, render_run_report(run));
  EXPECT_EQ(first, render_run_report(json::parse(run.dump())));
  const json sweep = load_example("photoshare-2008-07-20-compare.json");
  EXPECT_EQ(render_sweep_report(sweep), render_sweep_report(json::parse(sweep.dump())));
}

TEST(RunReport, FiftyThousandPhotosDrawAsManyNodesAsFifty) {
  // Proves aggregation: the curves use a fixed number of buckets, so 50,000 photos give exactly
  // as many elements as 50 (the same five lost ones drawn individually), and the file stays
  // small.
  const std::string small = render_run_report(make_run(50, 5));
  const std::string large = render_run_report(make_run(50'000, 5));
  EXPECT_EQ(self_contained_problem(large), "");
  EXPECT_EQ(element_count(small), element_count(large));
  EXPECT_LT(element_count(large), 1500u);
  EXPECT_LT(large.size(), 200'000u);
}

TEST(RunReport, ManyLostPhotosStayBounded) {
  // Proves the lost photos are capped too: 20,000 lost photos draw at most
  // lost_photo_lifecycles_drawn_max lifecycles and list at most lost_photos_listed_max rows.
  const std::string html = render_run_report(make_run(30'000, 20'000));
  EXPECT_EQ(self_contained_problem(html), "");
  std::size_t lifecycles = 0;
  for (std::size_t at = html.find("class=\"lifecycle\""); at != std::string::npos;
       at = html.find("class=\"lifecycle\"", at + 1)) {
    ++lifecycles;
  }
  EXPECT_EQ(lifecycles, lost_photo_lifecycles_drawn_max);
  EXPECT_NE(html.find("and 19,800 more lost photos"), std::string::npos);
  EXPECT_LT(element_count(html), 8000u);
}

// Every user-provided string in a run result, set to a distinct hostile payload.
const std::string evil_prefix = "</pre></td><script>alert(1)</script><x-evil a=\"1\" b='2'>&amp;";
std::string evil(int n) {
  return evil_prefix + "#" + std::to_string(n) + "]]>";
}

TEST(RunReport, EveryUserStringIsEscaped) {
  // Proves escaping: with a script tag, quotes, ampersands and a fake element in every free-text
  // field, the page stays well-formed, contains no element but ours, and shows each string
  // verbatim as text (decoding the page's text gives the original back).
  json run = make_run(20, 2);
  int n = 0;
  std::vector<std::string> shown;
  const auto set = [&](json& where, const char* field) {
    where[field] = evil(++n);
    shown.push_back(evil(n));
  };
  set(run["scenario"], "name");
  set(run["scenario"], "path");
  run["scenario"]["document"] = {{evil(100), evil(101)}};
  set(run, "policy");
  set(run, "trace_hash");
  set(run, "replay_command");
  set(run["checks"][0], "name");
  set(run["checks"][0], "detail");
  set(run["s3_health"][1], "note");
  set(run["faults"][0], "kind");
  set(run["faults"][0], "description");
  set(run["uploader_crashes"][0], "cause");
  for (int i = 0; i < 2; ++i) {
    set(run["photos"][i], "id");
    set(run["photos"][i], "key");
    set(run["photos"][i], "loss_reason");
  }
  run["counterexample"] = {
      {"fault_plan", {{{"kind", evil(200)}, {evil(201), evil(202)}, {"start_ms", 5}}}},
      {"steps", {{{"at_ms", 1}, {"photo_id", evil(203)}, {"text", evil(204)}}}},
      {"replay_command", evil(205)}};
  for (const int i : {200, 202, 204, 205}) shown.push_back(evil(i));
  ASSERT_EQ(format_schema_errors(validate_run_result(run)), "");
  const std::string html = render_run_report(run);
  ParsedDocument parsed;
  ASSERT_EQ(self_contained_problem(html, &parsed), "");
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<x-evil"), std::string::npos);
  for (const std::string& text : shown) {
    EXPECT_NE(parsed.text.find(text), std::string::npos) << "not shown verbatim: " << text;
  }
  // The embedded scenario is JSON text: the strings appear JSON-quoted, still escaped for HTML.
  EXPECT_NE(parsed.text.find(json(evil(100)).dump()), std::string::npos);
  EXPECT_NE(parsed.text.find(json(evil(101)).dump()), std::string::npos);
  EXPECT_NE(parsed.text.find(evil(201)), std::string::npos);
}

TEST(SweepReport, EveryUserStringIsEscapedAndLinksStayRelative) {
  // Proves the sweep page escapes scenario, policies, command, note and link targets, and that
  // a link target is written as an escaped relative href.
  json sweep = load_example("photoshare-2008-07-20-compare.json");
  sweep["scenario"]["name"] = evil(1);
  sweep["scenario"]["path"] = evil(2);
  sweep["command"] = evil(3);
  sweep["note"] = evil(4);
  sweep["policies"][0] = evil(5);
  for (auto& run : sweep["runs"]) {
    if (run["policy"] == "naive-2008") run["policy"] = evil(5);
    run["trace_hash"] = evil(6);
    run["report_href"] = "runs/a b\"<x-evil>&'.html";
  }
  ASSERT_EQ(format_schema_errors(validate_sweep(sweep)), "");
  const std::string html = render_sweep_report(sweep);
  ParsedDocument parsed;
  ASSERT_EQ(self_contained_problem(html, &parsed), "");
  EXPECT_EQ(html.find("<x-evil"), std::string::npos);
  for (int i = 1; i <= 5; ++i) EXPECT_NE(parsed.text.find(evil(i)), std::string::npos) << i;
  bool found_href = false;
  for (const auto& element : parsed.elements) {
    for (const auto& [name, value] : element.attributes) {
      found_href = found_href || (name == "href" && value == "runs/a b\"<x-evil>&'.html");
    }
  }
  EXPECT_TRUE(found_href);
}

TEST(SweepReport, ComparePutsPoliciesSideBySide) {
  // Proves a compare sweep shows one row per seed with a column group per policy, the per-policy
  // summary, and a link to every run's report.
  const json sweep = load_example("photoshare-2008-07-20-compare.json");
  const std::string html = render_sweep_report(sweep);
  EXPECT_EQ(self_contained_problem(html), "");
  EXPECT_NE(html.find("id=\"compare-table\""), std::string::npos);
  EXPECT_NE(html.find("id=\"policy-summary\""), std::string::npos);
  EXPECT_NE(html.find("<th colspan=\"4\">naive-2008</th><th colspan=\"4\">protected</th>"),
            std::string::npos);
  for (const auto& run : sweep["runs"]) {
    const std::string href = run["report_href"].get<std::string>();
    EXPECT_NE(html.find("href=\"" + href + "\""), std::string::npos) << href;
  }
  EXPECT_NE(html.find("4 of 8 runs violated"), std::string::npos);
}

TEST(SweepReport, ExploreListsEveryRunAndViolationsFirst) {
  // Proves an explore sweep (one policy, no side-by-side table) lists the violated runs in
  // their own table ahead of every run, each with its seed and a link to its report.
  json sweep = load_example("photoshare-2008-07-20-compare.json");
  sweep["kind"] = "explore";
  sweep["policies"] = {"naive-2008"};
  json runs = json::array();
  for (const auto& run : sweep["runs"]) {
    if (run["policy"] == "naive-2008") runs.push_back(run);
  }
  runs[1]["verdict"] = "holds";
  runs[1]["photos_lost_count"] = 0;
  runs[1].erase("drain_time_ms");
  sweep["runs"] = runs;
  sweep["note"] = "stopped at the first violation (seed 20080720)";
  ASSERT_EQ(format_schema_errors(validate_sweep(sweep)), "");
  const std::string html = render_sweep_report(sweep);
  EXPECT_EQ(self_contained_problem(html), "");
  EXPECT_EQ(html.find("id=\"compare-table\""), std::string::npos);
  EXPECT_LT(html.find("id=\"violations-table\""), html.find("id=\"runs-table\""));
  EXPECT_NE(html.find("3 of 4 runs violated"), std::string::npos);
  EXPECT_NE(html.find("never drained"), std::string::npos);
  EXPECT_NE(html.find("href=\"runs/naive-2008-20080721.html\""), std::string::npos);
}

struct BrokenCase {
  const char* what;
  std::function<void(json&)> mutate;
  std::string pointer;
  std::string message_part;
};

TEST(Validation, BrokenRunResultsGetClearErrors) {
  // Proves each kind of malformed run result is rejected with the JSON pointer of the field and
  // what was expected, and that rendering throws InvalidInput carrying the same message.
  const std::vector<BrokenCase> cases = {
      {"not an object", [](json& j) { j = json::array(); }, "/", "expected an object"},
      {"missing seed", [](json& j) { j.erase("seed"); }, "/seed", "missing required field"},
      {"seed negative", [](json& j) { j["seed"] = -1; }, "/seed", "expected an integer"},
      {"wrong format", [](json& j) { j["format"] = "other"; }, "/format",
       "expected \"s3chaos.run_result\""},
      {"future version", [](json& j) { j["format_version"] = 2; }, "/format_version", "expected 1"},
      {"unknown field", [](json& j) { j["colour"] = 1; }, "/colour", "unknown field"},
      {"time as string", [](json& j) { j["photos"][3]["acked_ms"] = "soon"; }, "/photos/3/acked_ms",
       "expected an integer number of milliseconds in [0, 36000000]"},
      {"time past the end", [](json& j) { j["photos"][3]["received_ms"] = 36'000'001; },
       "/photos/3/received_ms", "in [0, 36000000], got 36000001"},
      {"duplicate id", [](json& j) { j["photos"][4]["id"] = "p-3"; }, "/photos/4/id",
       "duplicate photo id"},
      {"lost without lost_ms", [](json& j) { j["photos"][0].erase("lost_ms"); },
       "/photos/0/lost_ms", "needs lost_ms"},
      {"bad outcome", [](json& j) { j["photos"][5]["outcome"] = "gone"; }, "/photos/5/outcome",
       "expected one of \"stored\""},
      {"verdict contradicts checks", [](json& j) { j["verdict"] = "holds"; }, "/verdict",
       "a check is violated"},
      {"no checks", [](json& j) { j["checks"] = json::array(); }, "/checks", "non-empty"},
      {"overlapping health", [](json& j) { j["s3_health"][2]["start_ms"] = 100; },
       "/s3_health/2/start_ms", "sorted and not overlap"},
      {"bad state", [](json& j) { j["s3_health"][0]["state"] = "meh"; }, "/s3_health/0/state",
       "\"life_death_window\""},
      {"bad clock origin", [](json& j) { j["clock_origin"] = "08:00"; }, "/clock_origin",
       "YYYY-MM-DDTHH:MM:SS"},
      {"zero duration", [](json& j) { j["duration_ms"] = 0; }, "/duration_ms", "positive"},
      {"null required", [](json& j) { j["policy"] = nullptr; }, "/policy", "is null"},
      {"scenario not embedded", [](json& j) { j["scenario"]["document"] = "x"; },
       "/scenario/document", "expected the scenario as an object"},
      {"step without text",
       [](json& j) {
         j["counterexample"] = {{"fault_plan", json::array()}, {"steps", {{{"at_ms", 1}}}}};
       },
       "/counterexample/steps/0/text", "missing required field"},
  };
  for (const BrokenCase& broken : cases) {
    SCOPED_TRACE(broken.what);
    json run = make_run(10, 1);
    broken.mutate(run);
    const auto errors = validate_run_result(run);
    ASSERT_FALSE(errors.empty());
    bool matched = false;
    for (const auto& error : errors) {
      matched = matched || (error.pointer == broken.pointer &&
                            error.message.find(broken.message_part) != std::string::npos);
    }
    EXPECT_TRUE(matched) << format_schema_errors(errors);
    try {
      render_run_report(run);
      ADD_FAILURE() << "render_run_report accepted a broken run result";
    } catch (const InvalidInput& error) {
      EXPECT_NE(std::string(error.what()).find(broken.pointer + ": "), std::string::npos);
    }
  }
}

TEST(Validation, BrokenSweepsGetClearErrors) {
  // Proves sweep errors name the field: a link with a scheme, an unlisted policy, a seed twice
  // for one policy in a compare.
  const std::vector<BrokenCase> cases = {
      {"javascript link", [](json& j) { j["runs"][0]["report_href"] = "javascript:alert(1)"; },
       "/runs/0/report_href", "relative path"},
      {"absolute link", [](json& j) { j["runs"][0]["report_href"] = "/etc/passwd"; },
       "/runs/0/report_href", "relative path"},
      {"web link", [](json& j) { j["runs"][0]["report_href"] = "https://example.com/r.html"; },
       "/runs/0/report_href", "relative path"},
      {"unlisted policy", [](json& j) { j["runs"][0]["policy"] = "other"; }, "/runs/0/policy",
       "not listed in /policies"},
      {"seed twice", [](json& j) { j["runs"][2] = j["runs"][0]; }, "/runs/2", "appears twice"},
      {"bad kind", [](json& j) { j["kind"] = "sweep"; }, "/kind", "\"compare\""},
  };
  for (const BrokenCase& broken : cases) {
    SCOPED_TRACE(broken.what);
    json sweep = load_example("photoshare-2008-07-20-compare.json");
    broken.mutate(sweep);
    const auto errors = validate_sweep(sweep);
    bool matched = false;
    for (const auto& error : errors) {
      matched = matched || (error.pointer == broken.pointer &&
                            error.message.find(broken.message_part) != std::string::npos);
    }
    EXPECT_TRUE(matched) << format_schema_errors(errors);
    EXPECT_THROW(render_sweep_report(sweep), InvalidInput);
  }
}

TEST(Validation, ErrorsAreCapped) {
  // Proves a document broken everywhere yields at most schema_errors_max errors, not thousands.
  json run = make_run(500, 0);
  for (auto& photo : run["photos"]) photo["received_ms"] = "x";
  EXPECT_EQ(validate_run_result(run).size(), schema_errors_max);
}

// Valid UTF-8 text free of the control characters XML forbids round-trips through escaping.
bool xml_safe_utf8(const std::string& text) {
  const std::string escaped = escape_html(text);
  return escaped.find("\xEF\xBF\xBD") == std::string::npos ||
         text.find("\xEF\xBF\xBD") != std::string::npos;
}

RC_GTEST_PROP(Escape, OutputIsInertTextThatDecodesBack, (const std::string& text)) {
  // Proves for any bytes: the escaped text has no markup characters, only XML entities, parses
  // as text, and decodes back to the input whenever the input was XML-safe UTF-8.
  const std::string escaped = escape_html(text);
  RC_ASSERT(escaped.find_first_of("<>\"'") == std::string::npos);
  std::string decoded;
  RC_ASSERT(testing::decode_entities(escaped, decoded));
  const ParsedDocument parsed = parse_xhtml("<p>" + escaped + "</p>");
  RC_ASSERT(parsed.error.empty());
  if (xml_safe_utf8(text)) RC_ASSERT(decoded == text);
}

RC_GTEST_PROP(RunReport, AnyNamesGiveAWellFormedPage,
              (const std::string& name, const std::string& id)) {
  // Proves that arbitrary strings (any bytes) as scenario name and lost photo id still give a
  // well-formed, self-contained page that shows them as text.
  json run = make_run(5, 1);
  run["scenario"]["name"] = name.empty() ? "x" : name;
  run["photos"][0]["id"] = id.empty() ? "y" : id;
  const std::string html = render_run_report(run);
  ParsedDocument parsed;
  RC_ASSERT(self_contained_problem(html, &parsed) == "");
  if (!name.empty() && xml_safe_utf8(name)) RC_ASSERT(parsed.text.find(name) != std::string::npos);
}

RC_GTEST_PROP(Validation, NeverThrowsAndValidMeansRenderable, ()) {
  // Proves robustness: replacing any field of a valid run result with any JSON value never
  // makes validation throw, and whatever validation accepts renders to a well-formed page.
  json run = make_run(4, 1);
  run["counterexample"] = {{"fault_plan", {{{"kind", "x"}, {"start_ms", 1}}}},
                           {"steps", {{{"text", "t"}}}}};
  const auto value = *rc::gen::oneOf(
      rc::gen::just(json(nullptr)), rc::gen::just(json::array()), rc::gen::just(json::object()),
      rc::gen::map(rc::gen::arbitrary<std::int64_t>(), [](std::int64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<double>(), [](double v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](std::string v) { return json(v); }));
  // Pick a path: a top-level field, or a field of a nested object.
  std::vector<json::json_pointer> pointers;
  const json flat = run.flatten();
  for (const auto& [path, unused] : flat.items()) {
    json::json_pointer pointer(path);
    while (!pointer.empty()) {
      pointers.push_back(pointer);
      pointer = pointer.parent_pointer();
    }
  }
  std::sort(pointers.begin(), pointers.end(),
            [](const auto& a, const auto& b) { return a.to_string() < b.to_string(); });
  pointers.erase(std::unique(pointers.begin(), pointers.end()), pointers.end());
  const auto index = *rc::gen::inRange<std::size_t>(0, pointers.size());
  run[pointers[index]] = value;
  std::vector<SchemaError> errors;
  try {
    errors = validate_run_result(run);
  } catch (const std::exception& error) {
    RC_FAIL(std::string("validate threw: ") + error.what());
  }
  if (errors.empty()) {
    RC_ASSERT(self_contained_problem(render_run_report(run)) == "");
  }
}

RC_GTEST_PROP(Validation, SweepNeverThrowsAndValidMeansRenderable, ()) {
  // Proves the same robustness for sweeps: any JSON value in any field of a valid sweep never
  // makes validation throw, and an accepted sweep renders to a well-formed page.
  json sweep = load_example("photoshare-2008-07-20-compare.json");
  const auto value = *rc::gen::oneOf(
      rc::gen::just(json(nullptr)), rc::gen::just(json::array()), rc::gen::just(json::object()),
      rc::gen::map(rc::gen::arbitrary<std::int64_t>(), [](std::int64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<std::uint64_t>(), [](std::uint64_t v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool v) { return json(v); }),
      rc::gen::map(rc::gen::arbitrary<std::string>(), [](std::string v) { return json(v); }));
  std::vector<std::string> paths;
  const json flat = sweep.flatten();  // items() refers into it: it must outlive the loop
  for (const auto& [path, unused] : flat.items()) {
    json::json_pointer pointer(path);
    while (!pointer.empty()) {
      paths.push_back(pointer.to_string());
      pointer = pointer.parent_pointer();
    }
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  sweep[json::json_pointer(paths[*rc::gen::inRange<std::size_t>(0, paths.size())])] = value;
  std::vector<SchemaError> errors;
  try {
    errors = validate_sweep(sweep);
  } catch (const std::exception& error) {
    RC_FAIL(std::string("validate threw: ") + error.what());
  }
  if (errors.empty()) RC_ASSERT(self_contained_problem(render_sweep_report(sweep)) == "");
}

}  // namespace
}  // namespace s3chaos::reports
