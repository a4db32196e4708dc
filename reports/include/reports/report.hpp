// reports: turns a run result or a sweep (formats in docs/run_result.md) into one
// self-contained HTML file: inline CSS and SVG, nothing fetched, no script, and the same input
// always gives the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace s3chaos::reports {

// The timeline aggregates every curve into this many time buckets, whatever the number of
// photos, so a report of 50,000 photos has as many SVG nodes as a report of 50.
inline constexpr std::size_t timeline_bucket_count = 240;
// Lost photos whose lifecycle is drawn on the close-up, and lost photos listed by id; the rest
// are counted ("and 12 more"), and every id stays in the run result.
inline constexpr std::size_t lost_photo_lifecycles_drawn_max = 24;
inline constexpr std::size_t lost_photos_listed_max = 200;
// Fault events and uploader crashes drawn as markers and listed in the event table.
inline constexpr std::size_t event_markers_max = 200;
// Runs listed in a sweep's tables.
inline constexpr std::size_t sweep_rows_max = 2000;
// Validation stops after this many errors: the first ones are what a reader fixes first.
inline constexpr std::size_t schema_errors_max = 20;
// Input limits: a run longer than a year or a count beyond these is a broken file.
inline constexpr std::int64_t duration_ms_max = 366LL * 24 * 60 * 60 * 1000;
inline constexpr std::size_t photos_max = 5'000'000;
inline constexpr std::size_t health_bands_max = 100'000;

// One problem in an input document: where (a JSON pointer such as "/photos/17/acked_ms") and
// what was expected.
struct SchemaError {
  std::string pointer;
  std::string message;
};

// Formats errors one per line: "<pointer>: <message>".
std::string format_schema_errors(const std::vector<SchemaError>& errors);

// Thrown by the render functions when the input is not a valid document; what() holds every
// error found (up to schema_errors_max), one per line.
class InvalidInput : public std::runtime_error {
 public:
  explicit InvalidInput(std::vector<SchemaError> errors);
  const std::vector<SchemaError>& errors() const { return errors_; }

 private:
  std::vector<SchemaError> errors_;
};

// Checks a run result against docs/run_result.md. Returns no errors for a valid document, else
// at most schema_errors_max errors in document order. Never throws for any JSON value.
std::vector<SchemaError> validate_run_result(const nlohmann::json& run_result);

// Checks a sweep (explore or compare) against docs/run_result.md, like validate_run_result.
std::vector<SchemaError> validate_sweep(const nlohmann::json& sweep);

// Renders one run's report: verdict and checks first, then the timeline, the lost photos, the
// minimal counterexample, the events, and the seed, policy, trace hash, replay command and
// embedded scenario. Deterministic: the same document gives the same bytes. Every string of the
// input is escaped. Throws InvalidInput when validate_run_result finds errors.
std::string render_run_report(const nlohmann::json& run_result);

// Renders a sweep's index page: every run with its verdict, seed and a link to its report; for
// a compare sweep, the policies side by side on the same seeds (photos lost, time to drain,
// cache peak). Deterministic and escaped like render_run_report. Throws InvalidInput when
// validate_sweep finds errors.
std::string render_sweep_report(const nlohmann::json& sweep);

// Escapes text for HTML text and quoted attribute values: & < > " ' become entities, control
// characters that XML forbids and invalid UTF-8 become U+FFFD. Exposed for the tests.
std::string escape_html(std::string_view text);

}  // namespace s3chaos::reports
