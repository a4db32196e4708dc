// A sweep's index page: every run with its verdict, seed and a link to its own report; for
// compare, the policies side by side on the same seeds.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "format.hpp"
#include "page.hpp"
#include "reports/report.hpp"

namespace s3chaos::reports {
namespace {

using detail::format_bytes;
using detail::format_count;
using detail::format_duration;
using nlohmann::json;

std::string e(std::string_view text) {
  return escape_html(text);
}

struct SweepRun {
  std::uint64_t seed = 0;
  std::string policy;
  bool holds = false;
  std::uint64_t photos_lost_count = 0;
  std::optional<std::uint64_t> drain_time_ms;
  std::uint64_t cache_peak_bytes = 0;
  std::string trace_hash;
  std::string report_href;
};

std::string text_or_empty(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<SweepRun> read_runs(const json& document) {
  std::vector<SweepRun> runs;
  for (const json& run : document["runs"]) {
    SweepRun out;
    out.seed = run["seed"].get<std::uint64_t>();
    out.policy = run["policy"].get<std::string>();
    out.holds = run["verdict"].get<std::string>() == "holds";
    out.photos_lost_count = run["photos_lost_count"].get<std::uint64_t>();
    if (const auto it = run.find("drain_time_ms"); it != run.end() && !it->is_null()) {
      out.drain_time_ms = it->get<std::uint64_t>();
    }
    out.cache_peak_bytes = run["cache_peak_bytes"].get<std::uint64_t>();
    out.trace_hash = text_or_empty(run, "trace_hash");
    out.report_href = text_or_empty(run, "report_href");
    runs.push_back(std::move(out));
  }
  return runs;
}

std::string verdict_badge(bool holds) {
  return holds ? "<span class=\"badge holds\">HOLDS</span>"
               : "<span class=\"badge violated\">VIOLATED</span>";
}

std::string drain_text(const std::optional<std::uint64_t>& drain_time_ms) {
  if (!drain_time_ms) return "never drained";
  return format_duration(static_cast<std::int64_t>(
      std::min<std::uint64_t>(*drain_time_ms, static_cast<std::uint64_t>(INT64_MAX))));
}

std::string report_link(const SweepRun& run, const std::string& text) {
  if (run.report_href.empty()) return e(text);
  return "<a href=\"" + e(run.report_href) + "\">" + e(text) + "</a>";
}

std::string runs_table(const std::vector<const SweepRun*>& runs, const std::string& id) {
  std::string out = "<div class=\"table-wrap\"><table id=\"" + id +
                    "\"><thead><tr><th class=\"num\">seed</th><th>policy</th><th>verdict</th>"
                    "<th class=\"num\">photos lost</th><th class=\"num\">time to drain</th>"
                    "<th class=\"num\">cache peak</th><th>trace hash</th><th>report</th></tr>"
                    "</thead><tbody>";
  const std::size_t listed = std::min(runs.size(), sweep_rows_max);
  for (std::size_t i = 0; i < listed; ++i) {
    const SweepRun& run = *runs[i];
    out += std::string("<tr") + (run.holds ? "" : " class=\"failed\"") +
           "><td class=\"num mono\">" + std::to_string(run.seed) + "</td><td>" + e(run.policy) +
           "</td><td>" + verdict_badge(run.holds) + "</td><td class=\"num\">" +
           format_count(run.photos_lost_count) + "</td><td class=\"num\">" +
           e(drain_text(run.drain_time_ms)) + "</td><td class=\"num\">" +
           e(format_bytes(run.cache_peak_bytes)) + "</td><td class=\"mono\">" +
           e(detail::truncate_chars(run.trace_hash, 16)) + "</td><td>" +
           (run.report_href.empty() ? std::string("\xE2\x80\x94") : report_link(run, "report")) +
           "</td></tr>";
  }
  out += "</tbody></table></div>";
  if (runs.size() > listed) {
    out += "<p class=\"note\">and " + format_count(runs.size() - listed) +
           " more runs, not listed; every run is in the sweep's JSON.</p>";
  }
  return out;
}

std::string compare_tables(const std::vector<SweepRun>& runs,
                           const std::vector<std::string>& policies) {
  // Per policy: how many runs, how many violated, total lost, worst drain, highest cache peak.
  std::string out =
      "<h2>Policies side by side</h2><div class=\"table-wrap\"><table "
      "id=\"policy-summary\"><thead><tr><th>policy</th><th class=\"num\">runs</th>"
      "<th class=\"num\">violated</th><th class=\"num\">photos lost</th>"
      "<th class=\"num\">slowest drain</th><th class=\"num\">highest cache peak</th>"
      "</tr></thead><tbody>";
  for (const std::string& policy : policies) {
    std::uint64_t count = 0;
    std::uint64_t violated = 0;
    std::uint64_t lost = 0;
    std::uint64_t slowest_ms = 0;
    bool never_drained = false;
    std::uint64_t peak = 0;
    for (const SweepRun& run : runs) {
      if (run.policy != policy) continue;
      ++count;
      violated += run.holds ? 0 : 1;
      lost += run.photos_lost_count;
      if (!run.drain_time_ms) {
        never_drained = true;
      } else {
        slowest_ms = std::max(slowest_ms, *run.drain_time_ms);
      }
      peak = std::max(peak, run.cache_peak_bytes);
    }
    out += std::string("<tr") + (violated > 0 ? " class=\"failed\"" : "") + "><td><strong>" +
           e(policy) + "</strong></td><td class=\"num\">" + format_count(count) +
           "</td><td class=\"num\">" + format_count(violated) + "</td><td class=\"num\">" +
           format_count(lost) + "</td><td class=\"num\">" +
           e(count == 0 ? std::string("\xE2\x80\x94")
                        : drain_text(never_drained ? std::nullopt : std::optional(slowest_ms))) +
           "</td><td class=\"num\">" + e(format_bytes(peak)) + "</td></tr>";
  }
  out += "</tbody></table></div>";

  // One row per seed (first-seen order), one group of columns per policy.
  std::vector<std::uint64_t> seeds;
  std::map<std::pair<std::uint64_t, std::string>, const SweepRun*> by_seed_policy;
  for (const SweepRun& run : runs) {
    if (by_seed_policy.emplace(std::make_pair(run.seed, run.policy), &run).second &&
        std::find(seeds.begin(), seeds.end(), run.seed) == seeds.end()) {
      seeds.push_back(run.seed);
    }
  }
  out +=
      "<h2>Same seeds, every policy</h2><div class=\"table-wrap\"><table "
      "id=\"compare-table\"><thead><tr><th rowspan=\"2\" class=\"num\">seed</th>";
  for (const std::string& policy : policies) {
    out += "<th colspan=\"4\">" + e(policy) + "</th>";
  }
  out += "</tr><tr>";
  for (std::size_t i = 0; i < policies.size(); ++i) {
    out +=
        "<th>verdict</th><th class=\"num\">lost</th><th class=\"num\">drain</th>"
        "<th class=\"num\">cache peak</th>";
  }
  out += "</tr></thead><tbody>";
  const std::size_t listed = std::min(seeds.size(), sweep_rows_max);
  for (std::size_t i = 0; i < listed; ++i) {
    out += "<tr><td class=\"num mono\">" + std::to_string(seeds[i]) + "</td>";
    for (const std::string& policy : policies) {
      const auto it = by_seed_policy.find({seeds[i], policy});
      if (it == by_seed_policy.end()) {
        out += "<td colspan=\"4\" class=\"note\">not run</td>";
        continue;
      }
      const SweepRun& run = *it->second;
      out += std::string(run.holds ? "<td>" : "<td class=\"bad\">") +
             report_link(run, run.holds ? "holds" : "VIOLATED") + "</td><td class=\"num\">" +
             format_count(run.photos_lost_count) + "</td><td class=\"num\">" +
             e(drain_text(run.drain_time_ms)) + "</td><td class=\"num\">" +
             e(format_bytes(run.cache_peak_bytes)) + "</td>";
    }
    out += "</tr>";
  }
  out += "</tbody></table></div>";
  if (seeds.size() > listed) {
    out += "<p class=\"note\">and " + format_count(seeds.size() - listed) +
           " more seeds, not listed.</p>";
  }
  return out;
}

}  // namespace

std::string render_sweep_report(const json& sweep) {
  auto errors = validate_sweep(sweep);
  if (!errors.empty()) throw InvalidInput(std::move(errors));
  const std::vector<SweepRun> runs = read_runs(sweep);
  std::vector<std::string> policies;
  for (const json& policy : sweep["policies"]) policies.push_back(policy.get<std::string>());
  const bool compare = sweep["kind"].get<std::string>() == "compare";
  const std::string scenario_name = sweep["scenario"]["name"].get<std::string>();
  const std::string scenario_path = text_or_empty(sweep["scenario"], "path");

  std::vector<const SweepRun*> violated;
  std::vector<const SweepRun*> all;
  for (const SweepRun& run : runs) {
    all.push_back(&run);
    if (!run.holds) violated.push_back(&run);
  }
  const bool holds = violated.empty();
  std::string out = detail::page_begin(std::string(holds ? "HOLDS: " : "VIOLATED: ") +
                                       (compare ? "compare " : "explore ") + scenario_name);
  out += std::string("<section id=\"verdict\" class=\"verdict ") + (holds ? "holds" : "violated") +
         "\"><h1 id=\"verdict-headline\">" + verdict_badge(holds) +
         (holds ? "Every run holds"
                : format_count(violated.size()) + " of " + format_count(runs.size()) +
                      " runs violated") +
         "</h1>";
  out += "<p class=\"meta\"><span>" + std::string(compare ? "compare" : "explore") +
         "</span><span>scenario <strong>" + e(scenario_name) + "</strong>" +
         (scenario_path.empty() ? "" : " (<code>" + e(scenario_path) + "</code>)") +
         "</span><span>" + format_count(runs.size()) + " runs</span><span>polic" +
         (policies.size() == 1 ? "y " : "ies ");
  for (std::size_t i = 0; i < policies.size(); ++i) {
    out += (i == 0 ? "<strong>" : ", <strong>") + e(policies[i]) + "</strong>";
  }
  out += "</span></p>";
  if (const std::string note = text_or_empty(sweep, "note"); !note.empty()) {
    out += "<p>" + e(note) + "</p>";
  }
  if (const std::string command = text_or_empty(sweep, "command"); !command.empty()) {
    out += "<pre id=\"sweep-command\">" + e(command) + "</pre>";
  }
  out += "</section>";
  if (compare) {
    out += "<section id=\"compare\">" + compare_tables(runs, policies) + "</section>";
  }
  if (!violated.empty()) {
    out += "<section id=\"violations\"><h2>Violations</h2>" +
           runs_table(violated, "violations-table") + "</section>";
  }
  out += "<section id=\"runs\"><h2>Every run</h2>" + runs_table(all, "runs-table") + "</section>";
  out += detail::page_end();
  return out;
}

}  // namespace s3chaos::reports
