// One run's report: verdict first, then the timeline, the lost photos, the counterexample, the
// events, and what it takes to replay the run.
#include <algorithm>
#include <string>

#include "model.hpp"
#include "page.hpp"
#include "reports/report.hpp"
#include "timeline.hpp"

namespace s3chaos::reports {
namespace {

using detail::format_bytes;
using detail::format_count;
using detail::format_duration;
using detail::RunModel;
using nlohmann::json;

std::string e(std::string_view text) {
  return escape_html(text);
}

std::string count_item(std::uint64_t value, const std::string& label, bool bad = false) {
  return std::string("<li") + (bad ? " class=\"bad\"" : "") + "><span class=\"number\">" +
         format_count(value) + "</span><span class=\"label\">" + label + "</span></li>";
}

std::string verdict_section(const RunModel& model) {
  std::string out = std::string("<section id=\"verdict\" class=\"verdict ") +
                    (model.holds ? "holds" : "violated") + "\">";
  std::size_t failed = 0;
  for (const auto& check : model.checks) failed += check.holds ? 0 : 1;
  out += "<h1 id=\"verdict-headline\">";
  if (model.holds) {
    out += "<span class=\"badge holds\">HOLDS</span>Every check holds";
  } else {
    out += "<span class=\"badge violated\">VIOLATED</span>" + format_count(failed) + " of " +
           format_count(model.checks.size()) + " checks failed";
    if (model.counts.lost > 0) {
      out += ": " + format_count(model.counts.lost) + " acknowledged photo" +
             (model.counts.lost == 1 ? "" : "s") + " lost";
    }
  }
  out += "</h1>";
  out += "<p class=\"meta\"><span>scenario <strong>" + e(model.scenario_name) +
         "</strong></span><span>policy <strong>" + e(model.policy) +
         "</strong></span><span>seed <strong class=\"mono\">" + std::to_string(model.seed) +
         "</strong></span><span>simulated " + e(format_duration(model.duration_ms)) + "</span></p>";
  out += "<ul class=\"counts\" id=\"counts\">";
  out += count_item(model.counts.received, "received");
  out += count_item(model.counts.acknowledged, "acknowledged");
  out += count_item(model.counts.rejected, "rejected (retry later)");
  out += count_item(model.counts.uploaded, "uploaded (PUT 200 OK)");
  out += count_item(model.counts.verified, "verified (read back)");
  out += count_item(model.counts.cached_at_end, "only in the cache at the end",
                    model.counts.cached_at_end > 0);
  out += count_item(model.counts.lost, "lost", model.counts.lost > 0);
  out += "</ul>";

  out +=
      "<h2 id=\"checks\">Checks</h2><div class=\"table-wrap\"><table id=\"checks-table\">"
      "<thead><tr><th>check</th><th>result</th><th>what was found</th><th>side of the "
      "contract</th></tr></thead><tbody>";
  for (const auto& check : model.checks) {
    out += std::string("<tr") + (check.holds ? "" : " class=\"failed\"") + "><td><strong>" +
           e(check.name) + "</strong></td><td>" +
           (check.holds ? "<span class=\"badge pass\">PASS</span>"
                        : "<span class=\"badge fail\">FAIL</span>") +
           "</td><td>" + e(check.detail) + "</td><td>";
    if (check.contract_side == "uploader") {
      out += "uploader: the store kept its contract";
    } else if (check.contract_side == "store") {
      out += "store: the store broke its contract (only a second vendor covers this)";
    }
    out += "</td></tr>";
  }
  out += "</tbody></table></div>";

  if (!model.lost.empty()) {
    // The ids up front, the details with the close-up: the timeline stays near the top.
    out += "<p id=\"lost-ids\"><strong>Lost photos:</strong> ";
    const std::size_t listed = std::min(model.lost.size(), lost_photos_listed_max);
    for (std::size_t i = 0; i < listed; ++i) {
      out += (i == 0 ? "<code>" : ", <code>") + e(model.lost[i].id) + "</code>";
    }
    if (model.lost.size() > listed) {
      out += " and " + format_count(model.lost.size() - listed) + " more";
    }
    out += " (<a href=\"#lost-photos\">details below</a>)</p>";
  }
  out += "</section>";
  return out;
}

std::string lost_table(const RunModel& model) {
  std::string out;
  {
    out +=
        "<h2 id=\"lost-photos\">Lost photos</h2><div class=\"table-wrap\">"
        "<table id=\"lost-table\"><thead><tr><th>photo</th><th>key</th><th class=\"num\">size"
        "</th><th>received</th><th>acknowledged</th><th>PUT 200 OK</th><th>copy deleted</th>"
        "<th>lost</th><th>why</th></tr></thead><tbody>";
    const auto when = [&](const std::optional<std::int64_t>& t) {
      return t ? e(model.clock.format(*t, true)) : std::string("\xE2\x80\x94");
    };
    const std::size_t listed = std::min(model.lost.size(), lost_photos_listed_max);
    for (std::size_t i = 0; i < listed; ++i) {
      const auto& photo = model.lost[i];
      std::string why = photo.loss_reason;
      if (photo.loss_side == "uploader") why = "[uploader side] " + why;
      if (photo.loss_side == "store") why = "[store side] " + why;
      out += "<tr><td class=\"mono\">" + e(photo.id) + "</td><td class=\"mono\">" + e(photo.key) +
             "</td><td class=\"num\">" + e(format_bytes(photo.size_bytes)) + "</td><td>" +
             when(photo.received_ms) + "</td><td>" + when(photo.acked_ms) + "</td><td>" +
             when(photo.put_ok_ms) + "</td><td>" + when(photo.evicted_ms) + "</td><td>" +
             when(photo.lost_ms) + "</td><td class=\"why\">" + e(why) + "</td></tr>";
    }
    out += "</tbody></table></div>";
    if (model.lost.size() > listed) {
      out += "<p class=\"note\">and " + format_count(model.lost.size() - listed) +
             " more lost photos; every id is in the run result.</p>";
    }
  }
  return out;
}

std::string timeline_section(const RunModel& model) {
  std::string out = "<section id=\"timeline\"><h2>Timeline</h2><figure>";
  out += detail::render_timeline_svg(model);
  out +=
      "<figcaption>The whole run, " + e(format_duration(model.duration_ms)) + " of simulated time";
  if (const auto& origin = model.clock.origin()) {
    out +=
        ", clock times at " + e(origin->utc_offset_label) + " from " + e(model.clock_origin_text);
  } else {
    out += ", times since the start of the run";
  }
  out += ". Curves are aggregated into " + std::to_string(timeline_bucket_count) +
         " intervals of " +
         e(format_duration(model.duration_ms / static_cast<std::int64_t>(timeline_bucket_count))) +
         "; the cache curve shows each interval's peak.</figcaption></figure>";
  out += detail::render_legend_html(false);
  out += "</section>";
  if (!model.lost.empty()) {
    out += "<section id=\"closeup\"><h2>Lost photos, close up</h2><figure>";
    out += detail::render_closeup_svg(model);
    const std::size_t drawn = std::min(model.lost.size(), lost_photo_lifecycles_drawn_max);
    out +=
        "<figcaption>Each lost photo's lifecycle: received and acknowledged, PUT answered "
        "200 OK, local copy deleted, lost. ";
    if (model.lost.size() > drawn) {
      out += "The first " + format_count(drawn) + " of " + format_count(model.lost.size()) +
             " lost photos, by PUT time. ";
    }
    out += "Hover a marker for its exact time.</figcaption></figure>";
    out += detail::render_legend_html(true);
    out += lost_table(model);
    out += "</section>";
  }
  return out;
}

// A fault rule as words: "kind" first, then name = value, with *_ms fields as clock times.
std::string describe_rule(const json& rule, const detail::ClockFormat& clock) {
  std::string out = "<strong>" + e(rule["kind"].get<std::string>()) + "</strong>";
  for (const auto& [name, value] : rule.items()) {
    if (name == "kind") continue;
    std::string shown;
    const bool time_like = name.size() > 3 && name.ends_with("_ms");
    if (time_like && value.is_number_unsigned()) {
      const auto ms = value.get<std::uint64_t>();
      const bool is_time = name == "at_ms" || name.starts_with("start") || name.starts_with("end");
      shown = is_time && ms <= static_cast<std::uint64_t>(duration_ms_max)
                  ? clock.format(static_cast<std::int64_t>(ms))
                  : format_duration(static_cast<std::int64_t>(
                        std::min<std::uint64_t>(ms, static_cast<std::uint64_t>(duration_ms_max))));
    } else if (value.is_string()) {
      shown = value.get<std::string>();
    } else {
      shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    out += ", " + e(name) + " = <code>" + e(shown) + "</code>";
  }
  return out;
}

std::string counterexample_section(const RunModel& model) {
  if (!model.counterexample) return {};
  const auto& counterexample = *model.counterexample;
  std::string out = "<section id=\"counterexample\"><h2>Minimal counterexample</h2>";
  out += "<p>The shrunk fault plan: " + format_count(counterexample.fault_plan.size()) + " rule" +
         (counterexample.fault_plan.size() == 1 ? "" : "s");
  if (counterexample.shrunk_from_rule_count) {
    out += ", shrunk from " + format_count(*counterexample.shrunk_from_rule_count);
  }
  out += ".</p><ol>";
  for (const json& rule : counterexample.fault_plan) {
    out += "<li>" + describe_rule(rule, model.clock) + "</li>";
  }
  out += "</ol><h3>What happens</h3><ol class=\"steps\" id=\"steps\">";
  for (const auto& step : counterexample.steps) {
    out += "<li>";
    if (step.at_ms) out += "<span class=\"when\">" + e(model.clock.format(*step.at_ms)) + "</span>";
    out += e(step.text) + "</li>";
  }
  out += "</ol>";
  if (!counterexample.replay_command.empty()) {
    out += "<p>Replay the shrunk case:</p><pre id=\"counterexample-replay\">" +
           e(counterexample.replay_command) + "</pre>";
  }
  out += "</section>";
  return out;
}

std::string events_section(const RunModel& model) {
  std::string out = "<section id=\"events\"><h2>Fault events and uploader crashes</h2>";
  if (model.faults.empty() && model.crashes.empty() && model.health.empty()) {
    return out + "<p>No fault was injected and the uploader never crashed.</p></section>";
  }
  out +=
      "<div class=\"table-wrap\"><table id=\"events-table\"><thead><tr><th></th><th>from</th>"
      "<th>to</th><th>what</th><th>detail</th></tr></thead><tbody>";
  for (const auto& band : model.health) {
    out += "<tr><td>S3</td><td>" + e(model.clock.format(band.start_ms)) + "</td><td>" +
           e(model.clock.format(band.end_ms)) + "</td><td>" +
           e(detail::health_state_label(band.state)) + "</td><td>" + e(band.note) + "</td></tr>";
  }
  for (std::size_t i = 0; i < model.faults.size() && i < event_markers_max; ++i) {
    const auto& fault = model.faults[i];
    out += "<tr><td>F" + std::to_string(i + 1) + "</td><td>" +
           e(model.clock.format(fault.start_ms)) + "</td><td>" +
           (fault.end_ms ? e(model.clock.format(*fault.end_ms)) : std::string("(instant)")) +
           "</td><td>" + e(fault.kind) + "</td><td>" + e(fault.description) + "</td></tr>";
  }
  for (std::size_t i = 0; i < model.crashes.size() && i < event_markers_max; ++i) {
    const auto& crash = model.crashes[i];
    out += "<tr><td>C" + std::to_string(i + 1) + "</td><td>" + e(model.clock.format(crash.at_ms)) +
           "</td><td>" +
           (crash.restart_ms ? e(model.clock.format(*crash.restart_ms))
                             : std::string("(not restarted)")) +
           "</td><td>uploader crash</td><td>" + e(crash.cause) + "</td></tr>";
  }
  out += "</tbody></table></div>";
  const std::size_t hidden =
      (model.faults.size() > event_markers_max ? model.faults.size() - event_markers_max : 0) +
      (model.crashes.size() > event_markers_max ? model.crashes.size() - event_markers_max : 0);
  if (hidden > 0) {
    out += "<p class=\"note\">and " + format_count(hidden) +
           " more events, not drawn or listed; all are in the run result.</p>";
  }
  out += "</section>";
  return out;
}

std::string replay_section(const RunModel& model) {
  std::string out = "<section id=\"replay\"><h2>Replay</h2><pre id=\"replay-command\">" +
                    e(model.replay_command) + "</pre><dl class=\"facts\">";
  out += "<dt>scenario</dt><dd>" + e(model.scenario_name) +
         (model.scenario_path.empty() ? "" : " (<code>" + e(model.scenario_path) + "</code>)") +
         "</dd>";
  out += "<dt>seed</dt><dd class=\"mono\">" + std::to_string(model.seed) + "</dd>";
  out += "<dt>policy</dt><dd>" + e(model.policy) + "</dd>";
  out += "<dt>trace hash</dt><dd class=\"mono\" id=\"trace-hash\">" + e(model.trace_hash) + "</dd>";
  out += "<dt>simulated time</dt><dd>" + e(format_duration(model.duration_ms)) + "</dd>";
  if (!model.clock_origin_text.empty()) {
    out += "<dt>clock origin</dt><dd>" + e(model.clock_origin_text) + "</dd>";
  }
  out += "</dl><details><summary>The scenario as run (JSON)</summary><pre id=\"scenario-json\">";
  // Keys come out sorted (nlohmann's default object), so the text is the same on every run.
  out += e(model.scenario_document->dump(2, ' ', false, json::error_handler_t::replace));
  out += "</pre></details></section>";
  return out;
}

}  // namespace

std::string render_run_report(const json& run_result) {
  auto errors = validate_run_result(run_result);
  if (!errors.empty()) throw InvalidInput(std::move(errors));
  const RunModel model = detail::read_run_model(run_result);
  std::string out =
      detail::page_begin((model.holds ? "HOLDS: " : "VIOLATED: ") + model.scenario_name + ", " +
                         model.policy + ", seed " + std::to_string(model.seed));
  out += verdict_section(model);
  out += timeline_section(model);
  out += counterexample_section(model);
  out += events_section(model);
  out += replay_section(model);
  out += detail::page_end();
  return out;
}

}  // namespace s3chaos::reports
