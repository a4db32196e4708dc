#include "timeline.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "page.hpp"
#include "reports/report.hpp"

namespace s3chaos::reports::detail {
namespace {

// Geometry in SVG user units. The viewBox is view_width wide; the browser scales it to fit.
constexpr std::int64_t view_width = 1200;
constexpr std::int64_t plot_left = 160;
constexpr std::int64_t plot_right = 1180;
constexpr std::int64_t plot_width = plot_right - plot_left;
// Average glyph width of a 12-unit sans-serif label, rounded up, for fit and overlap tests.
constexpr std::int64_t label_char_width = 7;
constexpr std::int64_t label_padding = 8;
constexpr std::size_t axis_ticks_max = 12;
constexpr std::size_t callout_rows = 2;
constexpr std::size_t fault_rows = 4;
constexpr std::size_t lane_label_chars_max = 22;
constexpr std::size_t band_note_chars_max = 60;
// Distinct loss moments marked with a vertical line on the close-up.
constexpr std::size_t loss_lines_max = 3;
// Markers closer than this share one label on the close-up's first row.
constexpr std::int64_t label_merge_distance = 30;

struct Palette {
  const char* fill;
  const char* text;
  const char* pattern;  // id suffix of an overlay pattern, or nullptr
};

Palette palette(HealthState state) {
  switch (state) {
    case HealthState::up:
      return {"#e3f2e6", "#1e4d2b", nullptr};
    case HealthState::brownout:
      return {"#ffd166", "#4d3800", "dots"};
    case HealthState::outage:
      return {"#f08a5d", "#3d1200", "stripes"};
    case HealthState::life_death_window:
      return {"#b5179e", "#ffffff", "cross"};
    case HealthState::dead:
      return {"#343a40", "#ffffff", nullptr};
  }
  return {"#e3f2e6", "#1e4d2b", nullptr};
}

// Integer tenths of a user unit, printed as "123.4".
std::string n(std::int64_t tenths) {
  return format_tenths(tenths);
}
std::string u(std::int64_t units) {
  return std::to_string(units);
}

// Maps simulated time in [from_ms, to_ms] to x in tenths of a unit.
class TimeScale {
 public:
  TimeScale(std::int64_t from_ms, std::int64_t to_ms)
      : from_ms_(from_ms), span_ms_(std::max<std::int64_t>(1, to_ms - from_ms)) {}
  std::int64_t x_tenths(std::int64_t t_ms) const {
    const std::int64_t clamped = std::clamp(t_ms - from_ms_, std::int64_t{0}, span_ms_);
    return plot_left * 10 + clamped * (plot_width * 10) / span_ms_;
  }
  std::int64_t from_ms() const { return from_ms_; }
  std::int64_t to_ms() const { return from_ms_ + span_ms_; }
  std::int64_t span_ms() const { return span_ms_; }

 private:
  std::int64_t from_ms_;
  std::int64_t span_ms_;
};

std::string pattern_defs(const std::string& prefix) {
  std::string out = "<defs>";
  out += "<pattern id=\"" + prefix +
         "dots\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><rect width=\"6\" "
         "height=\"6\" fill=\"#ffd166\"/><circle cx=\"3\" cy=\"3\" r=\"1\" "
         "fill=\"#8a6500\"/></pattern>";
  out += "<pattern id=\"" + prefix +
         "stripes\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" "
         "patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"#f08a5d\"/><rect "
         "width=\"2\" height=\"8\" fill=\"#c4552b\"/></pattern>";
  out += "<pattern id=\"" + prefix +
         "cross\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\"><rect width=\"6\" "
         "height=\"6\" fill=\"#b5179e\"/><path d=\"M0,0L6,6M6,0L0,6\" stroke=\"#f7c6ec\" "
         "stroke-width=\"1\"/></pattern>";
  out += "</defs>";
  return out;
}

std::string band_fill(HealthState state, const std::string& prefix) {
  const Palette p = palette(state);
  if (p.pattern != nullptr) return "url(#" + prefix + p.pattern + ")";
  return p.fill;
}

// Picks a tick step so there are at most axis_ticks_max ticks, aligned to clock time.
std::int64_t tick_step_ms(std::int64_t span_ms) {
  static constexpr std::array<std::int64_t, 24> steps = {1000,
                                                         2000,
                                                         5000,
                                                         10'000,
                                                         15'000,
                                                         30'000,
                                                         60'000,
                                                         120'000,
                                                         300'000,
                                                         600'000,
                                                         900'000,
                                                         1'800'000,
                                                         3'600'000,
                                                         7'200'000,
                                                         10'800'000,
                                                         21'600'000,
                                                         43'200'000,
                                                         86'400'000,
                                                         2 * 86'400'000LL,
                                                         7 * 86'400'000LL,
                                                         14 * 86'400'000LL,
                                                         28 * 86'400'000LL,
                                                         91 * 86'400'000LL,
                                                         182 * 86'400'000LL};
  for (const std::int64_t step : steps) {
    if (span_ms / step <= static_cast<std::int64_t>(axis_ticks_max)) return step;
  }
  return steps.back() * 2;
}

// Ticks, gridlines and labels along the bottom, from grid_top to axis_y.
std::string axis(const TimeScale& scale, const ClockFormat& clock, std::int64_t grid_top,
                 std::int64_t axis_y) {
  std::string out = "<g class=\"axis\">";
  const std::int64_t step = tick_step_ms(scale.span_ms());
  const std::int64_t origin_ms = clock.origin() ? clock.origin()->second_of_day * 1000 : 0;
  // First tick at or after from_ms where clock time is a multiple of step.
  const std::int64_t clock_from = origin_ms + scale.from_ms();
  const std::int64_t first = ((clock_from + step - 1) / step) * step - origin_ms;
  out += "<line x1=\"" + u(plot_left) + "\" y1=\"" + u(axis_y) + "\" x2=\"" + u(plot_right) +
         "\" y2=\"" + u(axis_y) + "\" stroke=\"#6a737d\" stroke-width=\"1\"/>";
  for (std::int64_t t = first; t <= scale.to_ms(); t += step) {
    const std::string x = n(scale.x_tenths(t));
    out += "<line x1=\"" + x + "\" y1=\"" + u(grid_top) + "\" x2=\"" + x + "\" y2=\"" +
           u(axis_y + 5) + "\" stroke=\"#c9ced4\" stroke-width=\"0.8\"/>";
    const std::string label = step >= 60'000 ? clock.format_short(t) : clock.format(t);
    out += "<text x=\"" + x + "\" y=\"" + u(axis_y + 20) +
           "\" text-anchor=\"middle\" font-size=\"12\" fill=\"#3d444d\">" + escape_html(label) +
           "</text>";
  }
  out += "</g>";
  return out;
}

std::string lane_label(std::int64_t y, const std::string& text, const std::string& sub = {}) {
  std::string out = "<text x=\"" + u(plot_left - 10) + "\" y=\"" + u(y) +
                    "\" text-anchor=\"end\" font-size=\"13\" font-weight=\"600\" "
                    "fill=\"#1b1f24\">" +
                    escape_html(truncate_chars(text, lane_label_chars_max)) + "</text>";
  if (!sub.empty()) {
    out += "<text x=\"" + u(plot_left - 10) + "\" y=\"" + u(y + 15) +
           "\" text-anchor=\"end\" font-size=\"11\" fill=\"#49515a\">" +
           escape_html(truncate_chars(sub, lane_label_chars_max)) + "</text>";
  }
  return out;
}

// Horizontal extents already taken in one row of labels, for greedy non-overlapping placement.
class LabelRows {
 public:
  explicit LabelRows(std::size_t rows) : taken_(rows) {}
  // Returns the first row where [from, to] is free and takes it, or rows() when none is.
  std::size_t place(std::int64_t from, std::int64_t to) {
    for (std::size_t row = 0; row < taken_.size(); ++row) {
      bool free = true;
      for (const auto& [a, b] : taken_[row]) free = free && (to < a || from > b);
      if (free) {
        taken_[row].emplace_back(from, to);
        return row;
      }
    }
    return taken_.size();
  }
  std::size_t rows() const { return taken_.size(); }

 private:
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> taken_;
};

std::int64_t text_width(const std::string& text, std::int64_t char_width = label_char_width) {
  return static_cast<std::int64_t>(display_chars(text)) * char_width;
}

// The health lane: one rect per band with its label inside when it fits, else in a callout
// above the lane with a leader line. Gaps between bands are "unknown".
std::string health_lane(const std::vector<HealthBand>& health, const TimeScale& scale,
                        const ClockFormat& clock, const std::string& prefix, std::int64_t lane_top,
                        std::int64_t lane_height, std::int64_t callout_top) {
  std::string out = "<g class=\"health\">";
  out += "<rect x=\"" + u(plot_left) + "\" y=\"" + u(lane_top) + "\" width=\"" + u(plot_width) +
         "\" height=\"" + u(lane_height) +
         "\" fill=\"#ffffff\" stroke=\"#adb5bd\" stroke-dasharray=\"3 3\"><title>unknown</title>"
         "</rect>";
  LabelRows callouts(callout_rows);
  for (const HealthBand& band : health) {
    if (band.end_ms <= scale.from_ms() || band.start_ms >= scale.to_ms()) continue;
    const std::int64_t x0 = scale.x_tenths(band.start_ms);
    const std::int64_t x1 = scale.x_tenths(band.end_ms);
    const std::int64_t width = std::max<std::int64_t>(x1 - x0, 10);
    const Palette p = palette(band.state);
    const std::string name = health_state_label(band.state);
    const std::string span = clock.format(band.start_ms) + " to " + clock.format(band.end_ms);
    out += "<rect class=\"band band-" + std::string(health_state_name(band.state)) + "\" x=\"" +
           n(x0) + "\" y=\"" + u(lane_top) + "\" width=\"" + n(width) + "\" height=\"" +
           u(lane_height) + "\" fill=\"" + band_fill(band.state, prefix) + "\"><title>" +
           escape_html(name + ", " + span + (band.note.empty() ? "" : ": " + band.note)) +
           "</title></rect>";
    const std::string note = truncate_chars(band.note, band_note_chars_max);
    const std::string long_label = note.empty() ? name : name + ": " + note;
    const std::int64_t width_units = width / 10;
    std::string inside;
    if (text_width(long_label) + label_padding <= width_units) {
      inside = long_label;
    } else if (text_width(name) + label_padding <= width_units) {
      inside = name;
    }
    const std::int64_t center = (x0 + x0 + width) / 2;
    if (!inside.empty()) {
      out += "<text x=\"" + n(center) + "\" y=\"" + u(lane_top + lane_height / 2 + 4) +
             "\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" fill=\"" + p.text +
             "\" stroke=\"" + p.fill + "\" stroke-width=\"3\" paint-order=\"stroke\">" +
             escape_html(inside) + "</text>";
      continue;
    }
    // A narrow band (the life/death window is minutes in a day): label above, with a leader.
    const std::string callout = name + " " + clock.format_short(band.start_ms) + "\xE2\x80\x93" +
                                clock.format_short(band.end_ms);
    const std::int64_t half = text_width(callout) / 2 + 2;
    const std::int64_t text_x =
        std::clamp(center / 10, plot_left - 60 + half, view_width - half - 2);
    const std::size_t row = callouts.place(text_x - half, text_x + half);
    if (row == callouts.rows()) continue;  // the legend and the tables still name it
    const std::int64_t text_y = callout_top + 14 + static_cast<std::int64_t>(row) * 15;
    out += "<line x1=\"" + n(center) + "\" y1=\"" + u(text_y + 3) + "\" x2=\"" + n(center) +
           "\" y2=\"" + u(lane_top) + "\" stroke=\"#1b1f24\" stroke-width=\"1\"/>";
    out += "<text x=\"" + u(text_x) + "\" y=\"" + u(text_y) +
           "\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" fill=\"#1b1f24\" "
           "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">" +
           escape_html(callout) + "</text>";
  }
  out += "</g>";
  return out;
}

// Faint health shading behind the other lanes, as Jepsen shades fault periods on every plot.
std::string health_shading(const std::vector<HealthBand>& health, const TimeScale& scale,
                           std::int64_t top, std::int64_t bottom) {
  std::string out = "<g class=\"shading\" opacity=\"0.22\">";
  for (const HealthBand& band : health) {
    if (band.state == HealthState::up) continue;
    if (band.end_ms <= scale.from_ms() || band.start_ms >= scale.to_ms()) continue;
    const std::int64_t x0 = scale.x_tenths(band.start_ms);
    const std::int64_t width = std::max<std::int64_t>(scale.x_tenths(band.end_ms) - x0, 10);
    out += "<rect x=\"" + n(x0) + "\" y=\"" + u(top) + "\" width=\"" + n(width) + "\" height=\"" +
           u(bottom - top) + "\" fill=\"" + palette(band.state).fill + "\"/>";
  }
  out += "</g>";
  return out;
}

struct Buckets {
  std::int64_t bucket_ms = 1;
  std::vector<std::uint64_t> cache_peak_bytes;    // per bucket
  std::vector<std::uint64_t> acked_cumulative;    // at bucket end
  std::vector<std::uint64_t> drained_cumulative;  // at bucket end
  std::uint64_t cache_peak_overall = 0;
};

std::size_t bucket_of(std::int64_t t_ms, std::int64_t duration_ms) {
  const auto index = static_cast<std::size_t>(static_cast<__int128>(t_ms) * timeline_bucket_count /
                                              std::max<std::int64_t>(duration_ms, 1));
  return std::min(index, timeline_bucket_count - 1);
}

// Aggregates every photo into timeline_bucket_count buckets: the work is linear in photos (plus
// one sort for the cache curve) and the output size does not depend on their number.
Buckets aggregate(const RunModel& model) {
  Buckets buckets;
  const std::size_t count = timeline_bucket_count;
  buckets.cache_peak_bytes.assign(count, 0);
  std::vector<std::uint64_t> acked(count, 0);
  std::vector<std::uint64_t> drained(count, 0);
  for (const PhotoTimes& photo : model.photos) {
    if (photo.acked_ms) ++acked[bucket_of(*photo.acked_ms, model.duration_ms)];
    if (photo.evicted_ms) ++drained[bucket_of(*photo.evicted_ms, model.duration_ms)];
  }
  buckets.acked_cumulative.resize(count);
  buckets.drained_cumulative.resize(count);
  std::uint64_t acked_total = 0;
  std::uint64_t drained_total = 0;
  for (std::size_t i = 0; i < count; ++i) {
    acked_total += acked[i];
    drained_total += drained[i];
    buckets.acked_cumulative[i] = acked_total;
    buckets.drained_cumulative[i] = drained_total;
  }
  if (!model.cache_samples.empty()) {
    // Measured by the runner: the bucket's highest sample, carried forward over empty buckets.
    std::vector<bool> seen(count, false);
    for (const CacheSample& sample : model.cache_samples) {
      const std::size_t i = bucket_of(sample.t_ms, model.duration_ms);
      buckets.cache_peak_bytes[i] =
          seen[i] ? std::max(buckets.cache_peak_bytes[i], sample.bytes) : sample.bytes;
      seen[i] = true;
    }
    for (std::size_t i = 1; i < count; ++i) {
      if (!seen[i]) buckets.cache_peak_bytes[i] = buckets.cache_peak_bytes[i - 1];
    }
  } else {
    // Derived: a photo occupies the cache from received until evicted. Events at one instant
    // apply removals first so a photo replaced at once does not count twice.
    std::vector<std::pair<std::int64_t, std::int64_t>> events;
    events.reserve(model.photos.size() * 2);
    for (const PhotoTimes& photo : model.photos) {
      const auto size = static_cast<std::int64_t>(photo.size_bytes);
      events.emplace_back(photo.received_ms, size);
      if (photo.evicted_ms)
        events.emplace_back(std::max(*photo.evicted_ms, photo.received_ms), -size);
    }
    std::sort(events.begin(), events.end());
    std::int64_t level = 0;
    std::size_t next = 0;
    for (std::size_t i = 0; i < count; ++i) {
      std::int64_t peak = level;
      const std::int64_t end_ms =
          static_cast<std::int64_t>(static_cast<__int128>(model.duration_ms) * (i + 1) / count);
      while (next < events.size() && (events[next].first < end_ms || i + 1 == count)) {
        level += events[next].second;
        peak = std::max(peak, level);
        ++next;
      }
      buckets.cache_peak_bytes[i] = static_cast<std::uint64_t>(std::max<std::int64_t>(peak, 0));
    }
  }
  for (const std::uint64_t bytes : buckets.cache_peak_bytes) {
    buckets.cache_peak_overall = std::max(buckets.cache_peak_overall, bytes);
  }
  return buckets;
}

std::int64_t bucket_start_ms(std::size_t i, std::int64_t duration_ms) {
  return static_cast<std::int64_t>(static_cast<__int128>(duration_ms) * i / timeline_bucket_count);
}

// y in tenths for value in [0, max] drawn in a lane from top to top + height.
std::int64_t y_tenths(std::uint64_t value, std::uint64_t max, std::int64_t top,
                      std::int64_t height) {
  if (max == 0) return (top + height) * 10;
  return (top + height) * 10 -
         static_cast<std::int64_t>(static_cast<__int128>(value) * height * 10 / max);
}

std::string cumulative_path(const std::vector<std::uint64_t>& values, std::uint64_t max,
                            const TimeScale& scale, std::int64_t duration_ms, std::int64_t top,
                            std::int64_t height) {
  std::string d = "M" + n(scale.x_tenths(0)) + "," + n(y_tenths(0, max, top, height));
  for (std::size_t i = 0; i < values.size(); ++i) {
    d += "L" + n(scale.x_tenths(bucket_start_ms(i + 1, duration_ms))) + "," +
         n(y_tenths(values[i], max, top, height));
  }
  return d;
}

}  // namespace

std::string render_timeline_svg(const RunModel& model) {
  // Lane positions, top to bottom.
  constexpr std::int64_t callout_top = 0;
  constexpr std::int64_t health_top = 36;
  constexpr std::int64_t health_height = 38;
  constexpr std::int64_t faults_top = 86;
  constexpr std::int64_t fault_row_height = 12;
  constexpr std::int64_t crashes_top = faults_top + fault_rows * fault_row_height + 8;
  constexpr std::int64_t crashes_height = 22;
  constexpr std::int64_t cache_top = crashes_top + crashes_height + 18;
  constexpr std::int64_t cache_height = 96;
  constexpr std::int64_t photos_top = cache_top + cache_height + 22;
  constexpr std::int64_t photos_height = 110;
  constexpr std::int64_t lost_top = photos_top + photos_height + 16;
  constexpr std::int64_t lost_height = 26;
  constexpr std::int64_t axis_y = lost_top + lost_height + 8;
  constexpr std::int64_t view_height = axis_y + 30;

  const TimeScale scale(0, model.duration_ms);
  const Buckets buckets = aggregate(model);
  const std::string prefix = "tl-";
  std::string out;
  out += "<svg id=\"timeline-svg\" viewBox=\"0 0 " + u(view_width) + " " + u(view_height) +
         "\" role=\"img\" aria-labelledby=\"timeline-title\" "
         "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', "
         "'Liberation Sans', 'DejaVu Sans', Arial, sans-serif\">";
  out +=
      "<title id=\"timeline-title\">Timeline of the whole run: S3 health, faults, uploader "
      "crashes, local cache size, photos acknowledged and drained, lost photos</title>";
  out += pattern_defs(prefix);
  out += health_shading(model.health, scale, faults_top - 4, lost_top + lost_height);
  out += axis(scale, model.clock, health_top, axis_y);
  out += lane_label(health_top + 23, "S3 health");
  out +=
      health_lane(model.health, scale, model.clock, prefix, health_top, health_height, callout_top);

  // Faults: bars (or a triangle for an instant), numbered F1, F2, ... as in the event table.
  out += lane_label(faults_top + 14, "Faults",
                    model.faults.empty() ? "none" : format_count(model.faults.size()));
  out += "<g class=\"faults\">";
  LabelRows fault_rows_taken(fault_rows);
  for (std::size_t i = 0; i < model.faults.size() && i < event_markers_max; ++i) {
    const FaultEvent& fault = model.faults[i];
    const std::int64_t x0 = scale.x_tenths(fault.start_ms);
    const std::int64_t x1 =
        fault.end_ms ? std::max(scale.x_tenths(*fault.end_ms), x0 + 20) : x0 + 20;
    const std::string label = "F" + std::to_string(i + 1);
    std::size_t row = fault_rows_taken.place(x0 / 10 - 5, x1 / 10 + text_width(label, 6) + 4);
    const bool labelled = row != fault_rows_taken.rows();
    if (!labelled) row = fault_rows - 1;
    const std::int64_t y = faults_top + static_cast<std::int64_t>(row) * fault_row_height;
    const std::string title = label + " " + fault.kind + ", " + model.clock.format(fault.start_ms) +
                              (fault.end_ms ? " to " + model.clock.format(*fault.end_ms) : "") +
                              (fault.description.empty() ? "" : ": " + fault.description);
    if (fault.end_ms) {
      out += "<rect x=\"" + n(x0) + "\" y=\"" + u(y + 2) + "\" width=\"" + n(x1 - x0) +
             "\" height=\"8\" rx=\"2\" fill=\"#5c6670\"><title>" + escape_html(title) +
             "</title></rect>";
    } else {
      out += "<path d=\"M" + n(x0 - 50) + "," + u(y + 1) + "L" + n(x0 + 50) + "," + u(y + 1) + "L" +
             n(x0) + "," + u(y + 11) + "Z\" fill=\"#1b1f24\"><title>" + escape_html(title) +
             "</title></path>";
    }
    if (labelled) {
      out += "<text x=\"" + n(x1 + 30) + "\" y=\"" + u(y + 10) +
             "\" font-size=\"10\" fill=\"#1b1f24\">" + label + "</text>";
    }
  }
  out += "</g>";

  // Uploader crashes: a red cross at the crash, a light bar while it is down.
  out += lane_label(crashes_top + 15, "Uploader",
                    model.crashes.empty() ? "no crash"
                                          : format_count(model.crashes.size()) + " crash" +
                                                (model.crashes.size() == 1 ? "" : "es"));
  out += "<g class=\"crashes\">";
  for (std::size_t i = 0; i < model.crashes.size() && i < event_markers_max; ++i) {
    const UploaderCrash& crash = model.crashes[i];
    const std::int64_t x = scale.x_tenths(crash.at_ms);
    const std::int64_t cy = crashes_top + crashes_height / 2;
    const std::string title =
        "C" + std::to_string(i + 1) + " uploader crash at " + model.clock.format(crash.at_ms) +
        (crash.restart_ms ? ", restarted " + model.clock.format(*crash.restart_ms) : "") +
        (crash.cause.empty() ? "" : ": " + crash.cause);
    if (crash.restart_ms) {
      out += "<rect x=\"" + n(x) + "\" y=\"" + u(cy - 4) + "\" width=\"" +
             n(std::max<std::int64_t>(scale.x_tenths(*crash.restart_ms) - x, 10)) +
             "\" height=\"8\" fill=\"#ffc9c9\"/>";
    }
    out += "<path d=\"M" + n(x - 50) + "," + u(cy - 5) + "L" + n(x + 50) + "," + u(cy + 5) + "M" +
           n(x + 50) + "," + u(cy - 5) + "L" + n(x - 50) + "," + u(cy + 5) +
           "\" stroke=\"#c92a2a\" stroke-width=\"2.5\"><title>" + escape_html(title) +
           "</title></path>";
    out += "<text x=\"" + n(x + 80) + "\" y=\"" + u(cy + 4) +
           "\" font-size=\"11\" fill=\"#a61e1e\">crash C" + std::to_string(i + 1) + "</text>";
  }
  out += "</g>";

  // Local cache size: the peak of each bucket, as a step area.
  const std::uint64_t cache_max = buckets.cache_peak_overall;
  out += lane_label(cache_top + 14, "Local cache", "peak " + format_bytes(cache_max));
  {
    std::string d = "M" + n(scale.x_tenths(0)) + "," + u(cache_top + cache_height);
    for (std::size_t i = 0; i < timeline_bucket_count; ++i) {
      const std::int64_t y =
          y_tenths(buckets.cache_peak_bytes[i], cache_max, cache_top, cache_height);
      d += "L" + n(scale.x_tenths(bucket_start_ms(i, model.duration_ms))) + "," + n(y);
      d += "L" + n(scale.x_tenths(bucket_start_ms(i + 1, model.duration_ms))) + "," + n(y);
    }
    d += "L" + n(scale.x_tenths(model.duration_ms)) + "," + u(cache_top + cache_height) + "Z";
    out += "<path class=\"cache\" d=\"" + d +
           "\" fill=\"#74c0fc\" fill-opacity=\"0.55\" stroke=\"#1864ab\" stroke-width=\"1.5\">"
           "<title>local cache size (peak per interval of " +
           escape_html(format_duration(model.duration_ms /
                                       static_cast<std::int64_t>(timeline_bucket_count))) +
           ")</title></path>";
    out += "<line x1=\"" + u(plot_left) + "\" y1=\"" + u(cache_top + cache_height) + "\" x2=\"" +
           u(plot_right) + "\" y2=\"" + u(cache_top + cache_height) +
           "\" stroke=\"#6a737d\" stroke-width=\"0.8\"/>";
    out += "<text x=\"" + u(plot_left + 4) + "\" y=\"" + u(cache_top + 10) +
           "\" font-size=\"11\" fill=\"#49515a\">" + escape_html(format_bytes(cache_max)) +
           "</text>";
  }

  // Photos acknowledged and drained (evicted from the cache), cumulative.
  const std::uint64_t photos_max_count = std::max<std::uint64_t>(model.counts.received, 1);
  out += lane_label(photos_top + 14, "Photos", "cumulative");
  out += "<line x1=\"" + u(plot_left) + "\" y1=\"" + u(photos_top + photos_height) + "\" x2=\"" +
         u(plot_right) + "\" y2=\"" + u(photos_top + photos_height) +
         "\" stroke=\"#6a737d\" stroke-width=\"0.8\"/>";
  out += "<text x=\"" + u(plot_left + 4) + "\" y=\"" + u(photos_top + 10) +
         "\" font-size=\"11\" fill=\"#49515a\">" + format_count(photos_max_count) + "</text>";
  out += "<path class=\"acked\" d=\"" +
         cumulative_path(buckets.acked_cumulative, photos_max_count, scale, model.duration_ms,
                         photos_top, photos_height) +
         "\" fill=\"none\" stroke=\"#1b1f24\" stroke-width=\"2.2\"><title>photos acknowledged"
         "</title></path>";
  out += "<path class=\"drained\" d=\"" +
         cumulative_path(buckets.drained_cumulative, photos_max_count, scale, model.duration_ms,
                         photos_top, photos_height) +
         "\" fill=\"none\" stroke=\"#2b8a3e\" stroke-width=\"2.2\" stroke-dasharray=\"7 4\">"
         "<title>photos drained from the local cache</title></path>";
  {
    // Direct labels on the lines, where the gap between them is widest, so colour is not the
    // only cue.
    std::size_t widest = timeline_bucket_count / 2;
    std::uint64_t widest_gap = 0;
    for (std::size_t i = 0; i < timeline_bucket_count; ++i) {
      const std::uint64_t gap =
          buckets.acked_cumulative[i] -
          std::min(buckets.acked_cumulative[i], buckets.drained_cumulative[i]);
      if (gap > widest_gap) {
        widest_gap = gap;
        widest = i;
      }
    }
    // The acknowledged curve rises to the right: its label sits above-left of the point, the
    // drained label below-right, so neither crosses its own line.
    const std::int64_t x =
        std::clamp(scale.x_tenths(bucket_start_ms(widest + 1, model.duration_ms)) / 10,
                   plot_left + 170, plot_right - 150);
    const std::int64_t acked_y =
        y_tenths(buckets.acked_cumulative[widest], photos_max_count, photos_top, photos_height) /
        10;
    const std::int64_t drained_y =
        y_tenths(buckets.drained_cumulative[widest], photos_max_count, photos_top, photos_height) /
        10;
    const std::int64_t acked_label_y = std::max(acked_y - 9, photos_top + 22);
    const std::int64_t drained_label_y =
        std::min(std::max(drained_y + 16, acked_label_y + 15), photos_top + photos_height - 4);
    out += "<text x=\"" + u(x - 6) + "\" y=\"" + u(acked_label_y) +
           "\" text-anchor=\"end\" font-size=\"12\" font-weight=\"600\" fill=\"#1b1f24\" "
           "stroke=\"#ffffff\" "
           "stroke-width=\"3\" paint-order=\"stroke\">acknowledged (" +
           format_count(model.counts.acknowledged) + ")</text>";
    out += "<text x=\"" + u(x + 6) + "\" y=\"" + u(drained_label_y) +
           "\" font-size=\"12\" font-weight=\"600\" fill=\"#2b8a3e\" stroke=\"#ffffff\" "
           "stroke-width=\"3\" paint-order=\"stroke\">drained (" +
           format_count(buckets.drained_cumulative.back()) + ")</text>";
  }

  // Lost photos: one diamond per bucket where lost photos got their PUT 200 (or arrived).
  out += lane_label(lost_top + 17, "Lost photos",
                    model.counts.lost == 0 ? "none" : format_count(model.counts.lost));
  out += "<g class=\"lost\">";
  if (model.lost.empty()) {
    out += "<text x=\"" + u(plot_left + 6) + "\" y=\"" + u(lost_top + 17) +
           "\" font-size=\"12\" fill=\"#2b8a3e\">no photo lost</text>";
  } else {
    std::vector<std::uint64_t> per_bucket(timeline_bucket_count, 0);
    std::int64_t first_ms = model.duration_ms;
    std::int64_t last_ms = 0;
    for (const LostPhoto& photo : model.lost) {
      const std::int64_t t = photo.put_ok_ms.value_or(photo.received_ms);
      ++per_bucket[bucket_of(t, model.duration_ms)];
      first_ms = std::min(first_ms, t);
      last_ms = std::max(last_ms, t);
    }
    const std::int64_t cy = lost_top + lost_height / 2;
    std::int64_t rightmost = plot_left;
    for (std::size_t i = 0; i < timeline_bucket_count; ++i) {
      if (per_bucket[i] == 0) continue;
      const std::int64_t x = (scale.x_tenths(bucket_start_ms(i, model.duration_ms)) +
                              scale.x_tenths(bucket_start_ms(i + 1, model.duration_ms))) /
                             2;
      rightmost = std::max(rightmost, x / 10);
      out += "<path d=\"M" + n(x) + "," + u(cy - 7) + "L" + n(x + 60) + "," + u(cy) + "L" + n(x) +
             "," + u(cy + 7) + "L" + n(x - 60) + "," + u(cy) +
             "Z\" fill=\"#e03131\" stroke=\"#7a0f0f\" stroke-width=\"1\"><title>" +
             format_count(per_bucket[i]) + " lost photo" + (per_bucket[i] == 1 ? "" : "s") +
             " uploaded " + escape_html(model.clock.format(bucket_start_ms(i, model.duration_ms))) +
             " to " + escape_html(model.clock.format(bucket_start_ms(i + 1, model.duration_ms))) +
             "</title></path>";
    }
    const std::string summary = format_count(model.counts.lost) + " lost: PUT 200 OK between " +
                                model.clock.format(first_ms) + " and " +
                                model.clock.format(last_ms) + " (close-up below)";
    const bool right_side = rightmost + 14 + text_width(summary) <= plot_right;
    out += "<text x=\"" + u(right_side ? rightmost + 14 : plot_right) + "\" y=\"" + u(cy + 4) +
           "\" text-anchor=\"" + (right_side ? "start" : "end") +
           "\" font-size=\"12\" font-weight=\"600\" fill=\"#a61e1e\">" + escape_html(summary) +
           "</text>";
  }
  out += "</g>";
  out += "</svg>";
  return out;
}

std::string render_closeup_svg(const RunModel& model) {
  if (model.lost.empty()) return {};
  const std::size_t drawn = std::min(model.lost.size(), lost_photo_lifecycles_drawn_max);
  std::int64_t from_ms = model.lost.front().received_ms;
  std::int64_t to_ms = 0;
  std::set<std::int64_t> loss_moments;
  for (std::size_t i = 0; i < drawn; ++i) {
    const LostPhoto& photo = model.lost[i];
    from_ms = std::min(from_ms, photo.received_ms);
    to_ms = std::max(to_ms, photo.lost_ms);
    loss_moments.insert(photo.lost_ms);
  }
  const std::int64_t pad_ms = std::max<std::int64_t>((to_ms - from_ms) / 12, 5000);
  from_ms = std::max<std::int64_t>(0, from_ms - pad_ms);
  to_ms = std::min(model.duration_ms, to_ms + pad_ms);
  const TimeScale scale(from_ms, to_ms);

  constexpr std::int64_t callout_top = 0;
  constexpr std::int64_t health_top = 36;
  constexpr std::int64_t health_height = 30;
  constexpr std::int64_t first_label_top = health_top + health_height + 6;
  constexpr std::int64_t rows_top = first_label_top + 34;
  constexpr std::int64_t row_height = 24;
  const std::int64_t rows_bottom = rows_top + static_cast<std::int64_t>(drawn) * row_height;
  const std::int64_t axis_y = rows_bottom + 6;
  const std::int64_t view_height = axis_y + 30;
  const std::string prefix = "cu-";

  std::string out;
  out += "<svg id=\"closeup-svg\" viewBox=\"0 0 " + u(view_width) + " " + u(view_height) +
         "\" role=\"img\" aria-labelledby=\"closeup-title\" "
         "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', "
         "'Liberation Sans', 'DejaVu Sans', Arial, sans-serif\">";
  out += "<title id=\"closeup-title\">Close-up of the lost photos' lifecycles from " +
         escape_html(model.clock.format(from_ms)) + " to " +
         escape_html(model.clock.format(to_ms)) + "</title>";
  out += pattern_defs(prefix);
  out += health_shading(model.health, scale, first_label_top, rows_bottom);
  out += axis(scale, model.clock, health_top, axis_y);
  out += lane_label(health_top + 20, "S3 health");
  out +=
      health_lane(model.health, scale, model.clock, prefix, health_top, health_height, callout_top);

  // The moment each copy disappeared (S3 dying, usually one instant for all of them).
  std::size_t lines = 0;
  for (const std::int64_t t : loss_moments) {
    if (lines++ == loss_lines_max) break;
    const std::string x = n(scale.x_tenths(t));
    out += "<line x1=\"" + x + "\" y1=\"" + u(first_label_top) + "\" x2=\"" + x + "\" y2=\"" +
           u(rows_bottom) + "\" stroke=\"#c92a2a\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>";
  }

  for (std::size_t i = 0; i < drawn; ++i) {
    const LostPhoto& photo = model.lost[i];
    const std::int64_t cy = rows_top + static_cast<std::int64_t>(i) * row_height + row_height / 2;
    out += "<g class=\"lifecycle\">";
    out += "<text x=\"" + u(plot_left - 10) + "\" y=\"" + u(cy + 4) +
           "\" text-anchor=\"end\" font-size=\"12\" class=\"mono\" fill=\"#1b1f24\">" +
           escape_html(truncate_chars(photo.id, lane_label_chars_max)) + "</text>";
    const std::int64_t x_received = scale.x_tenths(photo.received_ms);
    const std::int64_t x_lost = scale.x_tenths(photo.lost_ms);
    const std::int64_t local_end_ms = photo.evicted_ms.value_or(photo.lost_ms);
    const std::int64_t x_local_end = scale.x_tenths(local_end_ms);
    // Solid: the uploader holds a local copy. Dashed: only S3 holds it (not yet durable).
    out += "<line x1=\"" + n(x_received) + "\" y1=\"" + u(cy) + "\" x2=\"" + n(x_local_end) +
           "\" y2=\"" + u(cy) + "\" stroke=\"#1864ab\" stroke-width=\"4\"/>";
    if (x_local_end < x_lost) {
      out += "<line x1=\"" + n(x_local_end) + "\" y1=\"" + u(cy) + "\" x2=\"" + n(x_lost) +
             "\" y2=\"" + u(cy) +
             "\" stroke=\"#c2255c\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>";
    }
    const std::string who = photo.id + " ";
    const auto title = [&](const std::string& what, std::int64_t t) {
      return "<title>" + escape_html(who + what + " at " + model.clock.format(t, true)) +
             "</title>";
    };
    out += "<circle cx=\"" + n(x_received) + "\" cy=\"" + u(cy) +
           "\" r=\"5.5\" fill=\"#ffffff\" stroke=\"#1b1f24\" stroke-width=\"1.5\">" +
           title("received", photo.received_ms) + "</circle>";
    if (photo.acked_ms) {
      out += "<circle cx=\"" + n(scale.x_tenths(*photo.acked_ms)) + "\" cy=\"" + u(cy) +
             "\" r=\"2.8\" fill=\"#1b1f24\">" + title("acknowledged", *photo.acked_ms) +
             "</circle>";
    }
    if (photo.put_ok_ms) {
      const std::int64_t x = scale.x_tenths(*photo.put_ok_ms);
      out += "<rect x=\"" + n(x - 45) + "\" y=\"" + u(cy - 5) +
             "\" width=\"9\" height=\"9\" fill=\"#2f9e44\" stroke=\"#1b1f24\" "
             "stroke-width=\"1\">" +
             title("PUT answered 200 OK", *photo.put_ok_ms) + "</rect>";
    }
    if (photo.evicted_ms) {
      const std::int64_t x = scale.x_tenths(*photo.evicted_ms);
      out += "<path d=\"M" + n(x - 45) + "," + u(cy - 9) + "L" + n(x + 45) + "," + u(cy - 1) + "M" +
             n(x + 45) + "," + u(cy - 9) + "L" + n(x - 45) + "," + u(cy - 1) +
             "\" stroke=\"#e8590c\" stroke-width=\"2.2\">" +
             title("local copy deleted", *photo.evicted_ms) + "</path>";
    }
    out += "<path d=\"M" + n(x_lost) + "," + u(cy - 7) + "L" + n(x_lost + 70) + "," + u(cy) + "L" +
           n(x_lost) + "," + u(cy + 7) + "L" + n(x_lost - 70) + "," + u(cy) +
           "Z\" fill=\"#e03131\" stroke=\"#7a0f0f\" stroke-width=\"1\">" +
           title("lost", photo.lost_ms) + "</path>";
    out += "</g>";
  }

  // Words over the first row's markers, so the picture reads without the legend. Markers
  // closer than label_merge_distance share a label; labels that would overlap go to a second
  // line, and one that fits nowhere is left out (the legend and the table still say it).
  {
    const LostPhoto& first = model.lost.front();
    std::vector<std::pair<std::int64_t, std::string>> marks;
    marks.emplace_back(scale.x_tenths(first.received_ms) / 10, "received");
    if (first.acked_ms) marks.emplace_back(scale.x_tenths(*first.acked_ms) / 10, "acked");
    if (first.put_ok_ms) marks.emplace_back(scale.x_tenths(*first.put_ok_ms) / 10, "PUT 200 OK");
    if (first.evicted_ms) {
      marks.emplace_back(scale.x_tenths(*first.evicted_ms) / 10, "copy deleted");
    }
    std::stable_sort(marks.begin(), marks.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::pair<std::int64_t, std::string>> groups;
    for (const auto& [x, label] : marks) {
      if (!groups.empty() && x - groups.back().first < label_merge_distance) {
        groups.back().second += ", " + label;
      } else {
        groups.emplace_back(x, label);
      }
    }
    LabelRows rows(2);
    const std::int64_t lost_x = scale.x_tenths(first.lost_ms) / 10;
    const std::string lost_label = "lost " + model.clock.format(first.lost_ms);
    rows.place(lost_x - text_width(lost_label, 6) - 6, lost_x + 2);
    out += "<text x=\"" + u(lost_x - 4) + "\" y=\"" + u(first_label_top + 12) +
           "\" text-anchor=\"end\" font-size=\"11\" font-weight=\"700\" fill=\"#a61e1e\">" +
           escape_html(lost_label) + "</text>";
    for (const auto& [x, label] : groups) {
      const std::int64_t half = text_width(label, 6) / 2 + 2;
      const std::int64_t text_x = std::clamp(x, plot_left + half, view_width - half);
      const std::size_t row = rows.place(text_x - half, text_x + half);
      if (row == rows.rows()) continue;
      const std::int64_t text_y = first_label_top + 12 + static_cast<std::int64_t>(row) * 13;
      out += "<line x1=\"" + u(x) + "\" y1=\"" + u(text_y + 3) + "\" x2=\"" + u(x) + "\" y2=\"" +
             u(rows_top + row_height / 2 - 7) + "\" stroke=\"#868e96\" stroke-width=\"0.8\"/>";
      out += "<text x=\"" + u(text_x) + "\" y=\"" + u(text_y) +
             "\" text-anchor=\"middle\" font-size=\"11\" fill=\"#1b1f24\" stroke=\"#ffffff\" "
             "stroke-width=\"3\" paint-order=\"stroke\">" +
             escape_html(label) + "</text>";
    }
  }
  out += "</svg>";
  return out;
}

std::string render_legend_html(bool closeup) {
  const auto swatch = [](const std::string& body, const std::string& label) {
    return "<li><svg width=\"30\" height=\"16\" viewBox=\"0 0 30 16\" aria-hidden=\"true\">" +
           body + "</svg>" + label + "</li>";
  };
  const auto band = [&](HealthState state, const std::string& hatch, const std::string& label) {
    const Palette p = palette(state);
    return swatch("<rect x=\"1\" y=\"1\" width=\"28\" height=\"14\" fill=\"" + std::string(p.fill) +
                      "\" stroke=\"#6a737d\" stroke-width=\"0.8\"/>" + hatch,
                  label);
  };
  std::string out = std::string("<ul class=\"legend\" id=\"") +
                    (closeup ? "closeup-legend" : "legend") + "\" aria-label=\"legend\">";
  out += band(HealthState::up, "", "S3 up");
  out += band(HealthState::brownout,
              "<circle cx=\"7\" cy=\"5\" r=\"1\" fill=\"#8a6500\"/><circle cx=\"15\" cy=\"11\" "
              "r=\"1\" fill=\"#8a6500\"/><circle cx=\"23\" cy=\"5\" r=\"1\" fill=\"#8a6500\"/>",
              "brownout (some requests fail)");
  out += band(HealthState::outage,
              "<path d=\"M4,15L15,1M14,15L25,1M24,15L29,8\" stroke=\"#c4552b\" "
              "stroke-width=\"2\"/>",
              "outage (requests fail)");
  out += band(HealthState::life_death_window,
              "<path d=\"M2,2L14,14M14,2L2,14M16,2L28,14M28,2L16,14\" stroke=\"#f7c6ec\" "
              "stroke-width=\"1\"/>",
              "life/death window (200 OK, then lost)");
  out += band(HealthState::dead, "", "dead (S3 down, volatile writes gone)");
  out += swatch(
      "<rect x=\"1\" y=\"1\" width=\"28\" height=\"14\" fill=\"#ffffff\" "
      "stroke=\"#adb5bd\" stroke-dasharray=\"3 3\"/>",
      "unknown");
  if (!closeup) {
    out += swatch("<rect x=\"2\" y=\"4\" width=\"26\" height=\"8\" rx=\"2\" fill=\"#5c6670\"/>",
                  "fault (F1, F2, ... in the event table)");
    out += swatch("<path d=\"M10,3L20,13M20,3L10,13\" stroke=\"#c92a2a\" stroke-width=\"2.5\"/>",
                  "uploader crash");
    out += swatch(
        "<rect x=\"1\" y=\"3\" width=\"28\" height=\"12\" fill=\"#74c0fc\" "
        "fill-opacity=\"0.55\" stroke=\"#1864ab\" stroke-width=\"1.5\"/>",
        "local cache size");
    out += swatch("<path d=\"M1,8L29,8\" stroke=\"#1b1f24\" stroke-width=\"2.2\"/>",
                  "photos acknowledged");
    out += swatch(
        "<path d=\"M1,8L29,8\" stroke=\"#2b8a3e\" stroke-width=\"2.2\" "
        "stroke-dasharray=\"7 4\"/>",
        "photos drained from the cache");
  }
  out += swatch("<path d=\"M15,1L22,8L15,15L8,8Z\" fill=\"#e03131\" stroke=\"#7a0f0f\"/>",
                "lost photo");
  if (closeup) {
    out += swatch(
        "<circle cx=\"15\" cy=\"8\" r=\"5.5\" fill=\"#ffffff\" stroke=\"#1b1f24\" "
        "stroke-width=\"1.5\"/><circle cx=\"15\" cy=\"8\" r=\"2.8\" fill=\"#1b1f24\"/>",
        "received, acknowledged");
    out += swatch(
        "<rect x=\"10\" y=\"3\" width=\"9\" height=\"9\" fill=\"#2f9e44\" "
        "stroke=\"#1b1f24\"/>",
        "PUT answered 200 OK");
    out += swatch("<path d=\"M10,3L20,11M20,3L10,11\" stroke=\"#e8590c\" stroke-width=\"2.2\"/>",
                  "local copy deleted");
    out += swatch("<path d=\"M1,8L29,8\" stroke=\"#1864ab\" stroke-width=\"4\"/>",
                  "the uploader holds a copy");
    out += swatch(
        "<path d=\"M1,8L29,8\" stroke=\"#c2255c\" stroke-width=\"2\" "
        "stroke-dasharray=\"5 3\"/>",
        "only S3 holds it, not yet durable");
  }
  out += "</ul>";
  return out;
}

}  // namespace s3chaos::reports::detail
