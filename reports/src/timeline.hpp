// The SVG figures of a run report. Each has a fixed size in user units and a viewBox, so it
// scales to the page's width; every series is aggregated into timeline_bucket_count buckets.
#pragma once

#include <string>

#include "model.hpp"

namespace s3chaos::reports::detail {

// The whole simulated run: S3 health bands, faults, uploader crashes, local cache size, photos
// acknowledged and drained, and where the lost photos were uploaded.
std::string render_timeline_svg(const RunModel& model);

// A close-up of the lost photos' lifecycles (received, acked, PUT 200, evicted, lost) over the
// health bands around them. Empty when nothing was lost.
std::string render_closeup_svg(const RunModel& model);

// The legend of the timeline, or of the close-up (health and lifecycle symbols only), as an
// HTML list with small inline swatches; it has id="legend" on the timeline only.
std::string render_legend_html(bool closeup);

}  // namespace s3chaos::reports::detail
